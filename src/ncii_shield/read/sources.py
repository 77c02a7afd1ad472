"""What was collected: the sources scanned (each chat as that export showed it), the items whose media
could not be analysed, and the scans a case started."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Item, Scan, Source, SourceChat


@dataclass(frozen=True)
class SourceChatRow:
    """One chat as one export showed it."""

    chat_id: str
    title: str | None
    messages: Annotated[int, Doc("messages read in this export")]
    new: Annotated[int, Doc("messages not in any earlier export")]
    changed: Annotated[int, Doc("messages in an earlier export, with other media")]
    first_date: datetime | None
    last_date: datetime | None


@dataclass(frozen=True)
class SourceRow:
    """One source (an export, a folder) scanned so far."""

    id: int
    kind: str
    name: str
    location: str
    items: Annotated[int, Doc("items stored from this source")]
    added: datetime
    exported_on: str | None
    assumed_timezone: Annotated[str | None, Doc("the zone dates without one were read in")]
    chats: tuple[SourceChatRow, ...]


@dataclass(frozen=True)
class SkippedItem:
    """An item whose media could not be analysed, and why."""

    item_id: int
    source_id: int
    chat: str | None
    message_id: int | None
    media_path: str | None
    reason: str | None


@dataclass(frozen=True)
class ScanRow:
    """One scan a case started."""

    id: int
    source: str
    status: Annotated[str, Doc("running | done | partial | interrupted")]
    started_at: datetime
    items: Annotated[int, Doc("items seen")]


def list_sources(session: Session) -> list[SourceRow]:
    """Every source with its chats as that export showed them, oldest first."""
    counts = dict(session.execute(select(Item.source_id, func.count()).group_by(Item.source_id)).all())
    chats: dict[int, list[SourceChatRow]] = defaultdict(list)
    for row in session.scalars(select(SourceChat).order_by(SourceChat.source_id, SourceChat.id)):
        chats[row.source_id].append(
            SourceChatRow(
                chat_id=row.chat_id,
                title=row.chat_title,
                messages=row.messages,
                new=row.new,
                changed=row.changed,
                first_date=row.first_date,
                last_date=row.last_date,
            )
        )
    return [
        SourceRow(
            id=s.id,
            kind=s.kind,
            name=s.name,
            location=s.location,
            items=counts.get(s.id, 0),
            added=s.created_at,
            exported_on=s.exported_on,
            assumed_timezone=s.assumed_timezone,
            chats=tuple(chats.get(s.id, [])),
        )
        for s in session.scalars(select(Source).order_by(Source.id))
    ]


def skipped_items(session: Session, source_id: int | None = None) -> list[SkippedItem]:
    """Items kept with a skip reason (of one source, if given), in the order they were stored."""
    query = select(Item).where(Item.skip_reason.is_not(None)).order_by(Item.id)
    if source_id is not None:
        query = query.where(Item.source_id == source_id)
    return [
        SkippedItem(i.id, i.source_id, i.chat_title, i.message_id, i.media_path, i.skip_reason)
        for i in session.scalars(query)
    ]


def case_scans(session: Session, case_id: int) -> list[ScanRow]:
    """The scans started for a case, latest first."""
    return [
        ScanRow(scan.id, name, scan.status, scan.started_at, scan.items_seen)
        for scan, name in session.execute(
            select(Scan, Source.name).join(Source).where(Scan.case_id == case_id).order_by(Scan.id.desc())
        ).all()
    ]
