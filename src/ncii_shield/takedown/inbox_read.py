"""What the screens show of inbound replies: the unmatched ones a human must place, the replies to one
notice, and a notice's items as a case worker marks them (the CLI and web pages render these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import InboxMessage, Notice, NoticeItem, TakedownEvent


@dataclass(frozen=True)
class InboxRow:
    """One inbound message, as a person deciding what it is about needs it."""

    id: int
    received_at: datetime
    date: Annotated[datetime | None, Doc("its Date header")]
    sender: str
    subject: str
    snippet: Annotated[str, Doc("the start of its plain text ('' for HTML-only or too-large mail)")]
    status: Annotated[str, Doc("matched | unmatched | attached | dismissed | duplicate")]
    kind: Annotated[str, Doc("acknowledged | removal_claimed | declined | bounce | delay | reply")]
    reason: Annotated[str | None, Doc("why unmatched: no_reference, bad_reference, html_only, too_large…")]
    ticket: str | None
    notice_id: int | None
    suggested_notice_id: Annotated[int | None, Doc("the notice its headers name, when kept for a human")]
    size: int

    def as_json(self) -> dict[str, object]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ItemRow:
    """One reported item of a notice: where it is, and whether it can still be marked removed."""

    id: int
    item_id: int
    url: str | None
    status: str
    removed_at: datetime | None
    checked_at: datetime | None


@dataclass(frozen=True)
class NoticeDetail:
    """A notice's state beyond its text: items, the platform's ticket, replies read for it."""

    notice_id: int
    status: str
    sent_at: datetime | None
    ticket: str | None
    items: list[ItemRow]
    replies: list[InboxRow]


def _row(m: InboxMessage) -> InboxRow:
    return InboxRow(
        m.id,
        m.received_at,
        m.sent_date,
        m.from_addr,
        m.subject,
        m.snippet,
        m.status,
        m.kind,
        m.reason,
        m.ticket,
        m.notice_id,
        m.suggested_notice_id,
        m.size,
    )


def unmatched_messages(session: Session, limit: int = 500) -> list[InboxRow]:
    """Inbound messages waiting for a human (oldest first): attach each to a notice, or dismiss it."""
    query = select(InboxMessage).where(InboxMessage.status == "unmatched").order_by(InboxMessage.id)
    return [_row(m) for m in session.scalars(query.limit(limit))]


def inbox_message(session: Session, inbox_id: int) -> InboxRow:
    """One inbound message (NotFound: none)."""
    found = session.get(InboxMessage, inbox_id)
    if found is None:
        raise NotFound(f"no inbound message {inbox_id}")
    return _row(found)


def notice_detail(session: Session, notice_id: int) -> NoticeDetail:
    """The notice's items, its ticket number (the latest acknowledgement's), and its replies."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    ticket = None
    for event in session.scalars(
        select(TakedownEvent)
        .where(TakedownEvent.notice_id == notice_id, TakedownEvent.status == "acknowledged")
        .order_by(TakedownEvent.id)
    ):
        ticket = (event.evidence or {}).get("ticket") or ticket  # type: ignore[assignment]
    items = [
        ItemRow(i.id, i.item_id, i.url, i.status, i.removed_at, i.checked_at)
        for i in session.scalars(
            select(NoticeItem).where(NoticeItem.notice_id == notice_id).order_by(NoticeItem.id)
        )
    ]
    replies = [
        _row(m)
        for m in session.scalars(
            select(InboxMessage).where(InboxMessage.notice_id == notice_id).order_by(InboxMessage.id)
        )
    ]
    return NoticeDetail(notice_id, notice.status, notice.sent_at, ticket, items, replies)
