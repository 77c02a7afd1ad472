"""Append-only audit events. Every command that changes or reveals something records one.

The events form a hash chain with signed checkpoints; see store/chain.py."""

from __future__ import annotations

import getpass
from contextvars import ContextVar

from sqlalchemy.orm import Session

from ncii_shield.config import Settings, read_setting
from ncii_shield.store.chain import new_details
from ncii_shield.store.models import AuditEvent, utcnow

_web_actor: ContextVar[str | None] = ContextVar("ncii_web_actor", default=None)


def act_as(actor: str) -> None:
    """Who is behind what the current request does, as the audit log names them ("web:alice",
    "token:ingest"), set once the caller is known; per request (a context variable), never shared."""
    _web_actor.set(actor)


def current_actor(session: Session | None = None) -> str:
    """Who is acting: the web user of this request, else NCII_ACTOR (service accounts), else the OS user.

    NCII_ACTOR comes from the settings of the session's store (`Store` puts them in each session's
    ``info``), or, for a caller with no such session, from the environment as it is now."""
    if (web := _web_actor.get()) is not None:
        return web
    settings: Settings | None = session.info.get("settings") if session is not None else None
    try:
        return (settings.actor if settings is not None else read_setting("actor")) or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(session: Session, action: str, *, case_id: int | None = None, **details: object) -> AuditEvent:
    """Append one event; it is linked into the hash chain when the session flushes (store/chain.py)."""
    event = AuditEvent(
        actor=current_actor(session),
        action=action,
        case_id=case_id,
        details=new_details(details),
        at=utcnow(),
    )
    session.add(event)
    session.info["audit_appended"] = True
    session.info.setdefault("audit_order", []).append(event)  # chain order = the order they were recorded
    return event
