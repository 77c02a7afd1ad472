"""Each notice's clocks: when the platform's deadline falls, when to re-send, recheck and escalate.

Every time here is the database's, never a worker's own clock: two workers on machines a day apart agree
on what is due, and a clock shifted by a day neither sends early nor takes over a lease still held. The
deadline runs from the first send (the TAKE IT DOWN Act counts 48 hours from receipt of the request);
re-sends do not restart it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from weakref import WeakKeyDictionary

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ncii_shield.read.cases import get_case_ref
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Notice
from ncii_shield.takedown.registry import Matter, Registry, load_registry

log = logging.getLogger(__name__)
ZERO = timedelta(0)
DONE_ITEMS = frozenset({"removed", "reappeared"})  # an item no longer up where it was reported


def db_now(session: Session) -> datetime:
    """The database's clock, in UTC (SQLite: the machine holding the file; PostgreSQL: the server), moved
    by the store's test clock offset if the demo or a test set one (`set_clock_offset`; never in service)."""
    if session.get_bind().dialect.name == "sqlite":
        value = session.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        now = datetime.fromisoformat(value).replace(tzinfo=UTC)
    else:
        value = session.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one()
        now = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return now + clock_offset(session)


# ---------------------------------------------------------------------------------- the test clock
# The demo and the end-to-end test play two days of a takedown in seconds: they move the takedown clock of
# one open Store (never a setting, never an environment variable, so nothing in a deployment can skew real
# deadlines). Every event recorded while it is moved carries the offset in its evidence (events.py).
_OFFSETS: WeakKeyDictionary[object, timedelta] = WeakKeyDictionary()


def set_clock_offset(store: object, offset: timedelta) -> None:
    """Demo and tests only: this store's takedown clock reads the database's time plus `offset` (zero: real)."""
    if offset:
        log.info("takedown clock of %r moved by %s (demo/test clock)", store, offset)
        _OFFSETS[store] = offset
    else:
        _OFFSETS.pop(store, None)


def clock_offset(session: Session) -> timedelta:
    """The test clock offset of the store this session belongs to (zero unless the demo or a test set it)."""
    store = session.info.get("store")
    return _OFFSETS.get(store, ZERO) if store is not None else ZERO


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def matter_of(notice: Notice) -> Matter:
    """What the notice is about, which picks the laws whose deadlines apply (a row from before the column
    existed, or not yet flushed, is about intimate images)."""
    return "personal_information" if notice.matter == "personal_information" else "intimate_image"


def start_clocks(notice: Notice, now: datetime, registry: Registry) -> None:
    """A notice was sent (by SMTP or through a form, by hand): its deadline, re-send and recheck times."""
    platform = registry.platform(notice.platform_id)
    if notice.due_at is None:
        notice.due_at = now + hours(registry.clock(platform, matter_of(notice)).hours)
    notice.resend_at = now + hours(platform.resend_hours)
    notice.check_at = now + hours(platform.recheck_hours)
    if platform.escalate_to is not None and notice.escalated_at is None:
        notice.escalate_at = notice.due_at


def stop_clocks(notice: Notice) -> None:
    """Nothing left to chase: no more re-sends, rechecks or escalation (the deadline stays, as history)."""
    notice.resend_at = notice.check_at = notice.escalate_at = None


def is_done(notice: Notice) -> bool:
    """Nothing left to chase: closed by hand, or every reported item gone."""
    return notice.status == "closed" or (
        bool(notice.items) and all(i.status in DONE_ITEMS for i in notice.items)
    )


@dataclass(frozen=True)
class NoticeClock:
    """Where one notice stands against its deadline, as the board and `takedown status --json` show it."""

    notice_id: int
    status: str
    due_at: Annotated[datetime | None, Doc("the platform's deadline: first send + the clock's hours")]
    overdue: Annotated[bool, Doc("past due_at with content still up")]
    seconds_left: Annotated[float | None, Doc("until due_at (negative: overdue by), by the DB's clock")]
    next_resend_at: Annotated[datetime | None, Doc("when the worker re-sends (e-mail notices)")]
    next_check_at: datetime | None
    escalated_at: datetime | None
    resends: int
    send_attempts: Annotated[int, Doc("failed sends since the last success (retried with back-off)")]
    done: Annotated[bool, Doc("every reported item removed, or the notice closed")]
    clock_hours: float
    clock_basis: Annotated[str, Doc("law | platform | default")]
    clock_en: str
    clock_ko: str

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


def notice_clocks(session: Session, case_id: int, registry: Registry | None = None) -> list[NoticeClock]:
    """Every notice of a case with its clocks, by the database's time now (NotFound: no case)."""
    get_case_ref(session, case_id)
    registry = registry or load_registry()
    now = db_now(session)
    out = []
    for notice in session.scalars(select(Notice).where(Notice.case_id == case_id).order_by(Notice.id)):
        clock = registry.clock(registry.platform(notice.platform_id), matter_of(notice))
        done = is_done(notice)
        due = notice.due_at
        left = (due - now).total_seconds() if due is not None else None
        out.append(
            NoticeClock(
                notice_id=notice.id,
                status=notice.status,
                due_at=due,
                overdue=bool(left is not None and left < 0 and not done),
                seconds_left=round(left, 1) if left is not None else None,
                next_resend_at=None if done else notice.resend_at,
                next_check_at=None if done else notice.check_at,
                escalated_at=notice.escalated_at,
                resends=notice.resends,
                send_attempts=notice.send_attempts,
                done=done,
                clock_hours=clock.hours,
                clock_basis=clock.basis,
                clock_en=clock.label_en,
                clock_ko=clock.label_ko,
            )
        )
    return out


def span(seconds: float) -> str:
    """A duration as the board rounds it: minutes under an hour, hours under two days, then days."""
    value, unit = split_span(seconds)
    return f"{value} {unit}"


def split_span(seconds: float) -> tuple[int, str]:
    """(number, unit) with unit one of "min", "h", "d": the web page translates the unit."""
    seconds = max(seconds, 0.0)
    if seconds < 3600:
        return max(1, round(seconds / 60)), "min"
    if seconds < 48 * 3600:
        return round(seconds / 3600), "h"
    return round(seconds / 86400), "d"
