"""A case's takedown status with each notice's clocks beside it, as /api/v1 and `takedown status --json` send it.

The notice rows are read/takedown.py's, each with the fields of its :class:`NoticeClock`
(takedown/clocks.py) added: when it is due, whether it is overdue, when it is re-sent, rechecked,
escalated. The API's response models derive from these dataclasses (web/api_models.py), so its
OpenAPI schema documents every clock field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy.orm import Session

from ncii_shield.read.shape import Doc
from ncii_shield.read.takedown import AlertRow, NoticeStatus, PlatformStats, takedown_status
from ncii_shield.takedown.clocks import notice_clocks
from ncii_shield.takedown.registry import Registry


@dataclass(frozen=True)
class NoticeWithClock(NoticeStatus):
    """One notice, where its reported items are, and where it stands against its deadline."""

    due_at: Annotated[datetime | None, Doc("the deadline: first send + the clock's hours (DB time, UTC)")]
    overdue: Annotated[bool, Doc("past due_at with content still up")]
    seconds_left: Annotated[float | None, Doc("until due_at (negative: overdue by), by the DB's clock")]
    next_resend_at: Annotated[datetime | None, Doc("when the worker re-sends (None: done or not sent)")]
    next_check_at: Annotated[datetime | None, Doc("when the worker rechecks the reported URLs")]
    escalated_at: Annotated[datetime | None, Doc("when the regulator was told (past the deadline)")]
    resends: Annotated[int, Doc("reminders sent after the first send")]
    send_attempts: Annotated[int, Doc("failed sends since the last success (retried with back-off)")]
    done: Annotated[bool, Doc("every reported item removed, or the notice closed")]
    clock_hours: Annotated[float, Doc("the deadline's length in hours")]
    clock_basis: Annotated[str, Doc("law | platform | default")]
    clock_en: Annotated[str, Doc("what sets the deadline, in English")]
    clock_ko: Annotated[str, Doc("what sets the deadline, in Korean")]


@dataclass(frozen=True)
class TakedownWithClocks:
    notices: list[NoticeWithClock]
    platforms: list[PlatformStats]
    alerts: list[AlertRow]


CLOCK_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(NoticeWithClock)
    if f.name not in {g.name for g in dataclasses.fields(NoticeStatus)}
)


def takedown_with_clocks(
    session: Session, case_id: int, registry: Registry | None = None
) -> TakedownWithClocks:
    """takedown_status with each notice's clocks (NotFound: no case)."""
    found = takedown_status(session, case_id)
    clocks = {c.notice_id: c for c in notice_clocks(session, case_id, registry)}
    notices = [
        NoticeWithClock(
            **{f.name: getattr(n, f.name) for f in dataclasses.fields(NoticeStatus)},
            **{name: getattr(clocks[n.notice_id], name) for name in CLOCK_FIELDS},
        )
        for n in found.notices
    ]
    return TakedownWithClocks(notices, found.platforms, found.alerts)
