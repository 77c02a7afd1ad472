"""A case's takedown as evidence: for each notice, every recorded step with its time, and its clock's verdict.

The steps are the notice's takedown events (takedown/events.py: drafted, queued, sending, sent, resent,
send_failed, acknowledged, removed / still_up / unknown from each recheck, escalated, reappeared, closed…),
in the order they happened, each with who did it and the part of its evidence a reader needs (the
Message-ID of a send, the HTTP status and body hash of a recheck, where an escalation went). The clock is
the notice's deadline (takedown/clocks.py: from the first send) and how it ended:

- ``met``: every reported item was removed by the deadline;
- ``late``: every item was removed, the last one after the deadline;
- ``overdue``: past the deadline with an item still up;
- ``running``: before the deadline, with an item still up;
- ``unsent``: never sent, so no clock runs.

The evidence bundle writes it as ``takedown-timeline.json`` (covered by the signed manifest) and the HTML
report shows it, with the case's transparency statistics (read/transparency.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.read.shape import Doc
from ncii_shield.read.transparency import Transparency, case_transparency
from ncii_shield.store.models import Notice, TakedownEvent
from ncii_shield.takedown.clocks import db_now, notice_clocks
from ncii_shield.takedown.registry import Registry

# What of an event's evidence the timeline shows: enough to check it, nothing of a worker's host.
KEPT = ("message_id", "channel", "reminder", "resend", "note", "to", "notices", "new_item", "retry_at",
        "attempt", "error", "due_at", "items")  # fmt: skip
KEPT_RESPONSE = ("http_status", "final_url", "body_sha256", "marker", "error", "checked_at")
VERDICTS = ("met", "late", "overdue", "running", "unsent")


@dataclass(frozen=True)
class TimelineStep:
    """One recorded step of a notice or of one of its items."""

    at: datetime
    step: Annotated[str, Doc("the event: drafted, queued, sent, resent, removed, escalated…")]
    actor: str
    item_id: Annotated[int | None, Doc("the reported message, for a step about one item")]
    detail: dict[str, object]


@dataclass(frozen=True)
class ReportedItem:
    item_id: int
    url: str | None
    status: str
    removed_at: datetime | None
    hours_to_removal: Annotated[float | None, Doc("from the notice's first send; 0 if recorded before it")]


@dataclass(frozen=True)
class NoticeTimeline:
    notice_id: int
    platform_id: str
    channel: str
    status: str
    created_at: datetime
    sent_at: Annotated[datetime | None, Doc("the first send: the clock starts here")]
    due_at: datetime | None
    clock_hours: float
    clock_basis: str
    clock_en: str
    clock_ko: str
    verdict: Annotated[str, Doc("met | late | overdue | running | unsent")]
    resends: int
    escalated_at: datetime | None
    items: list[ReportedItem]
    steps: list[TimelineStep]


@dataclass(frozen=True)
class CaseTimeline:
    case_id: int
    as_of: datetime
    notices: list[NoticeTimeline]
    transparency: Transparency

    def as_json(self) -> dict[str, object]:
        def plain(value: object) -> object:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return {
            "case_id": self.case_id,
            "as_of": self.as_of.isoformat(),
            "verdicts": list(VERDICTS),
            "notices": [plain(asdict(n)) for n in self.notices],
            "transparency": self.transparency.as_json(),
        }


def verdict(
    sent_at: datetime | None, due_at: datetime | None, removals: list[datetime | None], now: datetime
) -> str:
    """How a notice's clock ended, or stands (see the module docstring)."""
    if sent_at is None or due_at is None:
        return "unsent"
    if removals and all(r is not None for r in removals):
        return "met" if max(r for r in removals if r is not None) <= due_at else "late"
    return "overdue" if now > due_at else "running"


def _detail(evidence: dict[str, object]) -> dict[str, object]:
    out = {k: evidence[k] for k in KEPT if evidence.get(k) not in (None, "")}
    response = evidence.get("response")
    if isinstance(response, dict):
        out.update({k: response[k] for k in KEPT_RESPONSE if response.get(k) not in (None, "")})
    return out


def case_timeline(session: Session, case_id: int, registry: Registry | None = None) -> CaseTimeline:
    """Every notice of the case with its steps and clock, and the case's statistics (NotFound: no case)."""
    now = db_now(session)
    stats = case_transparency(session, case_id, as_of=now)  # NotFound; looks for re-uploads first
    clocks = {c.notice_id: c for c in notice_clocks(session, case_id, registry)}
    notices = session.scalars(select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)).all()
    item_of = {i.id: i.item_id for n in notices for i in n.items}
    steps: dict[int, list[TimelineStep]] = defaultdict(list)
    for e in session.scalars(
        select(TakedownEvent)
        .where(TakedownEvent.notice_id.in_([n.id for n in notices]))
        .order_by(TakedownEvent.at, TakedownEvent.id)
    ):
        item = item_of.get(e.notice_item_id) if e.notice_item_id is not None else None
        steps[e.notice_id].append(
            TimelineStep(e.at, e.status, e.actor, item, _detail(dict(e.evidence or {})))
        )
    out = []
    for n in notices:
        c = clocks[n.id]
        items = [
            ReportedItem(
                i.item_id,
                i.url,
                i.status,
                i.removed_at,
                None
                if i.removed_at is None or n.sent_at is None
                else round(max(0.0, (i.removed_at - n.sent_at).total_seconds() / 3600), 2),
            )
            for i in sorted(n.items, key=lambda i: i.id)
        ]
        out.append(
            NoticeTimeline(
                notice_id=n.id,
                platform_id=n.platform_id,
                channel=n.channel,
                status=n.status,
                created_at=n.created_at,
                sent_at=n.sent_at,
                due_at=n.due_at,
                clock_hours=c.clock_hours,
                clock_basis=c.clock_basis,
                clock_en=c.clock_en,
                clock_ko=c.clock_ko,
                verdict=verdict(n.sent_at, n.due_at, [i.removed_at for i in n.items], now),
                resends=n.resends,
                escalated_at=n.escalated_at,
                items=items,
                steps=steps[n.id],
            )
        )
    return CaseTimeline(case_id, now, out, stats)
