"""The audit log as a person reads it: the latest entries (whether the chain holds is store/chain.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.store.models import AuditEvent


@dataclass(frozen=True)
class AuditRow:
    seq: int | None
    at: datetime
    actor: str
    action: str
    case_id: int | None


def recent_events(session: Session, limit: int = 300) -> list[AuditRow]:
    """The latest ``limit`` entries of the chain, newest first."""
    return [
        AuditRow(e.seq, e.at, e.actor, e.action, e.case_id)
        for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit))
    ]
