"""A case's takedown as the screens show it: notices and their items' status, time to removal per
platform, re-upload alerts; and one notice as it will be sent.

Re-uploads are looked for first (takedown/events.py: ``detect_reappearance``), so the alerts shown are
current; that is the one write a read here makes, as before.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.read.cases import get_case_ref
from ncii_shield.read.shape import Doc
from ncii_shield.read.transparency import hours_to_removal
from ncii_shield.store.models import Alert, Notice
from ncii_shield.takedown.events import detect_reappearance


@dataclass(frozen=True)
class NoticeStatus:
    """One notice and where its reported items are."""

    notice_id: int
    platform_id: str
    language: str
    channel: Annotated[str, Doc("email | web_form")]
    to: Annotated[str, Doc("the address or form the notice goes to")]
    status: Annotated[str, Doc("drafted | sent | acknowledged | closed")]
    created_at: datetime
    sent_at: datetime | None
    items: Annotated[dict[str, int], Doc("reported items per status")]
    matter: Annotated[str, Doc("intimate_image | personal_information (messages exposing personal details)")]


@dataclass(frozen=True)
class PlatformStats:
    """Time to removal on one platform, over every notice of the case sent there."""

    platform_id: str
    notices: int
    items: int
    removed: int
    median_hours_to_removal: float | None
    max_hours_to_removal: float | None


@dataclass(frozen=True)
class AlertRow:
    """A removed image seen again: the new item, and the notice item that had it removed."""

    id: int
    item_id: int
    kind: str
    notice_item_id: int | None
    at: datetime
    seen: bool


@dataclass(frozen=True)
class TakedownStatus:
    notices: list[NoticeStatus]
    platforms: list[PlatformStats]
    alerts: list[AlertRow]


@dataclass(frozen=True)
class NoticeText:
    """A notice as it will be sent: to read, or to paste into a platform's web form."""

    notice_id: int
    case_id: int
    platform_id: str
    to: str
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"To: {self.to}\nSubject: {self.subject}\n\n{self.body}"


def takedown_status(session: Session, case_id: int) -> TakedownStatus:
    """Every notice and item status, time to removal per platform, and re-upload alerts (NotFound: no case)."""
    get_case_ref(session, case_id)
    detect_reappearance(session, case_id)
    notices = session.scalars(select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)).all()
    rows = []
    hours: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for n in notices:
        by_status: Counter[str] = Counter()
        for item in n.items:
            by_status[item.status] += 1
            if item.removed_at is not None and n.sent_at is not None:
                hours[n.platform_id].append(hours_to_removal(n.sent_at, item.removed_at)[0])
        counts[n.platform_id][0] += 1
        counts[n.platform_id][1] += len(n.items)
        counts[n.platform_id][2] += sum(1 for i in n.items if i.removed_at is not None)
        rows.append(
            NoticeStatus(
                n.id,
                n.platform_id,
                n.language,
                n.channel,
                n.to,
                n.status,
                n.created_at,
                n.sent_at,
                dict(by_status),
                matter=n.matter,
            )
        )
    platforms = [
        PlatformStats(
            p,
            c[0],
            c[1],
            c[2],
            round(statistics.median(hours[p]), 2) if hours[p] else None,
            round(max(hours[p]), 2) if hours[p] else None,
        )
        for p, c in sorted(counts.items())
    ]
    alerts = [
        AlertRow(a.id, a.item_id, a.kind, a.notice_item_id, a.at, a.seen)
        for a in session.scalars(select(Alert).where(Alert.case_id == case_id).order_by(Alert.id))
    ]
    return TakedownStatus(rows, platforms, alerts)


def notice_case(session: Session, notice_id: int) -> int | None:
    """The case a notice belongs to, or None if there is no such notice."""
    return session.scalar(select(Notice.case_id).where(Notice.id == notice_id))


def notice_text(session: Session, notice_id: int) -> NoticeText:
    """One notice as it will be sent (NotFound: no such notice)."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(
            f"no notice {notice_id}", hint="see the notices with: ncii-shield takedown status CASE"
        )
    return NoticeText(notice.id, notice.case_id, notice.platform_id, notice.to, notice.subject, notice.body)
