"""Append-only audit events. Every command that changes or reveals something records one."""

from __future__ import annotations

import getpass
import os

from sqlalchemy.orm import Session

from ncii_shield.store.models import AuditEvent


def current_actor() -> str:
    """Who is acting: NCII_ACTOR if set (service accounts, the web app later), else the OS user."""
    try:
        return os.environ.get("NCII_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(session: Session, action: str, *, case_id: int | None = None, **details: object) -> AuditEvent:
    event = AuditEvent(actor=current_actor(), action=action, case_id=case_id, details=details)
    session.add(event)
    return event
