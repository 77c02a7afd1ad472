"""The audit log as a person reads it: filtered, paged, newest first (whether the chain holds is
store/chain.py). Details are sealed at rest; they are opened only when the caller may see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from ncii_shield.store.models import AuditEvent

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditRow:
    seq: int | None
    at: datetime
    actor: str
    action: str
    case_id: int | None
    details: dict[str, object] | None = None  # None: not shown to this reader


@dataclass(frozen=True)
class AuditFilter:
    """What the reader narrowed the log to; every field is optional."""

    actor: str | None = None  # part of the actor, e.g. "web:kim" or "token:"
    action: str | None = None  # an action, or a family ending in "." such as "user."
    case_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select) -> Select:  # type: ignore[type-arg]
        if self.actor:
            query = query.where(AuditEvent.actor.contains(self.actor, autoescape=True))
        if self.action:
            if self.action.endswith("."):
                query = query.where(AuditEvent.action.startswith(self.action, autoescape=True))
            else:
                query = query.where(AuditEvent.action == self.action)
        if self.case_id is not None:
            query = query.where(AuditEvent.case_id == self.case_id)
        if self.since is not None:
            query = query.where(AuditEvent.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.at < self.until)
        return query


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int  # entries matching the filter
    page: int  # 1-based
    pages: int
    actions: list[str] = field(default_factory=list)  # every action in the log, for the filter's choices


def audit_page(
    session: Session, where: AuditFilter | None = None, *, page: int = 1, with_details: bool = False
) -> AuditPage:
    """One page of the entries matching `where`, newest first."""
    where = where or AuditFilter()
    total = session.scalar(where.apply(select(func.count()).select_from(AuditEvent))) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    events = session.scalars(
        where.apply(select(AuditEvent))
        .order_by(AuditEvent.seq.desc().nulls_last(), AuditEvent.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    rows = [
        AuditRow(e.seq, e.at, e.actor, e.action, e.case_id, dict(e.details or {}) if with_details else None)
        for e in events
    ]
    actions = list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    return AuditPage(rows, total, page, pages, actions)


def recent_events(session: Session, limit: int = 300) -> list[AuditRow]:
    """The latest ``limit`` entries of the chain, newest first."""
    return [
        AuditRow(e.seq, e.at, e.actor, e.action, e.case_id)
        for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit))
    ]
