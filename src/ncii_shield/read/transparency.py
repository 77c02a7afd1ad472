"""Transparency statistics per platform: how fast each removes what it is sent, and how often it comes back.

Computed here, once, for every screen that shows them: `takedown stats [--case N] --json`, the web app's
transparency pages, /api/v1 and the evidence bundle (its takedown timeline and HTML report).

Definitions (``WITHIN_HOURS`` = 48, the TAKE IT DOWN Act's clock), per platform (``Notice.platform_id``):

- **notices_sent**: notices to the platform that were sent (``Notice.sent_at`` set: by SMTP, by the worker
  or marked sent by hand). Drafted and queued notices are not counted anywhere.
- **items_reported**: the reported items (``NoticeItem`` rows) of those notices; an item reported in two
  notices counts twice, once per notice.
- **clock**: each item's clock starts at its notice's *first* send (``sent_at``, stamped with the
  database's clock once; re-sends never move it) and stops at the removal recorded for it
  (``NoticeItem.removed_at``: the recheck that first found it gone, by the same database clock).
  ``hours to removal = (removed_at − sent_at)`` in hours.
- **clock skew**: a removal recorded *before* the first send (a clock set wrong, a row edited by hand)
  is clamped to 0 hours and counted in ``clock_skew``, so it is both usable and visible.
- **removed**: items with a removal recorded (status ``removed``, or ``reappeared`` after it).
- **median_hours**: the median of the removed items' hours (an even count: the mean of the two middle
  values); None with no removal.
- **p90_hours**: the 90th percentile by the *nearest-rank* method: sorted ascending, the value at rank
  ⌈0.9 × n⌉ (1-based); one removal gives that removal, ten give the 9th; None with no removal.
- **within_48h**: removed items whose hours are ≤ 48. **settled_48h**: the items whose 48 hours are decided:
  every removed item, and every item never removed whose notice was first sent ≥ 48 h before ``as_of``
  (an item sent 30 h ago and still up counts on neither side yet). **share_within_48h** =
  within_48h / settled_48h; None when nothing is settled. Items never removed thus count as *not* removed
  within 48 h once their 48 h have passed.
- **still_up**: reported items with no removal recorded (still up, not yet rechecked, or rechecks that
  could not tell); **share_still_up** = still_up / items_reported.
- **reappeared**: removed items whose image family was seen again after the removal (status
  ``reappeared``, set by takedown/events.py); **reupload_rate** = reappeared / removed; None with no removal.
- **escalations**: notices to the platform escalated to the regulator (``Notice.escalated_at`` set).

Hours are rounded to 2 decimals and shares to 4, after computing. ``overall`` is the same computation
over every platform's notices together.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.read.cases import get_case_ref
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Case, Notice, NoticeItem
from ncii_shield.takedown.clocks import db_now
from ncii_shield.takedown.events import detect_reappearance

WITHIN_HOURS = 48.0
ALL_PLATFORMS = "*"


@dataclass(frozen=True)
class SentItem:
    """One reported item of a sent notice, as the statistics see it."""

    removed_at: datetime | None
    status: str


@dataclass(frozen=True)
class SentNotice:
    """One sent notice, as the statistics see it: its platform, its first send, its items."""

    platform_id: str
    sent_at: datetime
    escalated_at: datetime | None
    items: tuple[SentItem, ...]


@dataclass(frozen=True)
class PlatformTransparency:
    """How one platform handled what it was sent (definitions: read/transparency.py)."""

    platform_id: Annotated[str, Doc('the platform ("*": every platform together)')]
    notices_sent: Annotated[int, Doc("notices sent to it (drafted and queued ones are not counted)")]
    items_reported: Annotated[int, Doc("reported items of those notices")]
    removed: Annotated[int, Doc("items with a removal recorded")]
    median_hours: Annotated[float | None, Doc("median hours from the first send to the removal")]
    p90_hours: Annotated[float | None, Doc("90th percentile of those hours, nearest-rank method")]
    within_48h: Annotated[int, Doc("items removed within 48 h of the first send")]
    settled_48h: Annotated[int, Doc("items whose 48 h are decided: removed, or sent ≥ 48 h ago")]
    share_within_48h: Annotated[float | None, Doc("within_48h / settled_48h")]
    still_up: Annotated[int, Doc("items with no removal recorded")]
    share_still_up: Annotated[float | None, Doc("still_up / items_reported")]
    reappeared: Annotated[int, Doc("removed items whose image came back (a re-upload)")]
    reupload_rate: Annotated[float | None, Doc("reappeared / removed")]
    escalations: Annotated[int, Doc("notices escalated to the regulator after the deadline")]
    clock_skew: Annotated[int, Doc("removals recorded before the first send, counted as 0 h")]


@dataclass(frozen=True)
class Transparency:
    """The statistics over a set of cases (one case, or every case the caller may see)."""

    as_of: Annotated[datetime, Doc("the database's time the statistics were computed at")]
    cases: Annotated[int, Doc("cases covered")]
    within_hours: Annotated[float, Doc("the clock the within-share uses (the TAKE IT DOWN Act's 48 h)")]
    platforms: list[PlatformTransparency]
    overall: Annotated[PlatformTransparency | None, Doc("every platform together; None with no notice sent")]

    def as_json(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "cases": self.cases,
            "within_hours": self.within_hours,
            "platforms": [p.__dict__ for p in self.platforms],
            "overall": self.overall.__dict__ if self.overall else None,
        }


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile (0 < q ≤ 1) by nearest rank: sorted, the value at rank ⌈q·n⌉ (1-based)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def hours_to_removal(sent_at: datetime, removed_at: datetime) -> tuple[float, bool]:
    """Hours from a notice's first send to its item's removal, and whether the clocks were skewed (a
    removal recorded before the send counts as 0 h): the one definition the board and the statistics use."""
    hours = (removed_at - sent_at).total_seconds() / 3600
    return (0.0, True) if hours < 0 else (hours, False)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def platform_stats(platform_id: str, notices: Iterable[SentNotice], as_of: datetime) -> PlatformTransparency:
    """The statistics of one platform's sent notices, as the module docstring defines them."""
    notices = list(notices)
    settle_by = as_of - timedelta(hours=WITHIN_HOURS)
    hours: list[float] = []
    items = within = settled = reappeared = skew = 0
    for notice in notices:
        for item in notice.items:
            items += 1
            if item.removed_at is None:
                settled += notice.sent_at <= settle_by
                continue
            h, skewed = hours_to_removal(notice.sent_at, item.removed_at)
            skew += skewed
            hours.append(h)
            settled += 1
            within += h <= WITHIN_HOURS
            reappeared += item.status == "reappeared"
    removed = len(hours)
    return PlatformTransparency(
        platform_id=platform_id,
        notices_sent=len(notices),
        items_reported=items,
        removed=removed,
        median_hours=round(statistics.median(hours), 2) if hours else None,
        p90_hours=round(nearest_rank(hours, 0.9), 2) if hours else None,
        within_48h=within,
        settled_48h=settled,
        share_within_48h=_share(within, settled),
        still_up=items - removed,
        share_still_up=_share(items - removed, items),
        reappeared=reappeared,
        reupload_rate=_share(reappeared, removed),
        escalations=sum(n.escalated_at is not None for n in notices),
        clock_skew=skew,
    )


def compute(notices: Iterable[SentNotice], as_of: datetime, cases: int) -> Transparency:
    """Per platform (sorted by id) and overall, from the sent notices alone: no database needed."""
    notices = list(notices)
    by_platform: dict[str, list[SentNotice]] = defaultdict(list)
    for n in notices:
        by_platform[n.platform_id].append(n)
    return Transparency(
        as_of=as_of,
        cases=cases,
        within_hours=WITHIN_HOURS,
        platforms=[platform_stats(p, ns, as_of) for p, ns in sorted(by_platform.items())],
        overall=platform_stats(ALL_PLATFORMS, notices, as_of) if notices else None,
    )


def sent_notices(session: Session, case_ids: Sequence[int] | None) -> list[SentNotice]:
    """The sent notices of these cases (None: every case), read by column (no sealed field is opened)."""
    where = [Notice.sent_at.is_not(None)]
    if case_ids is not None:
        where.append(Notice.case_id.in_(list(case_ids)))
    heads = session.execute(
        select(Notice.id, Notice.platform_id, Notice.sent_at, Notice.escalated_at).where(*where)
    ).all()
    items: dict[int, list[SentItem]] = defaultdict(list)
    for notice_id, removed_at, status in session.execute(
        select(NoticeItem.notice_id, NoticeItem.removed_at, NoticeItem.status)
        .join(Notice)
        .where(*where)
        .order_by(NoticeItem.id)
    ):
        items[notice_id].append(SentItem(removed_at, status))
    return [SentNotice(p, sent, esc, tuple(items[i])) for i, p, sent, esc in heads]


def transparency(
    session: Session, case_ids: Sequence[int] | None = None, *, as_of: datetime | None = None
) -> Transparency:
    """The statistics over `case_ids` (None: every case), as of the database's time now (or `as_of`)."""
    as_of = as_of or db_now(session)
    if case_ids is None:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
    else:
        cases = len(set(case_ids))
    return compute(sent_notices(session, case_ids), as_of, cases)


def case_transparency(session: Session, case_id: int, *, as_of: datetime | None = None) -> Transparency:
    """One case's statistics (NotFound: no case), after looking for re-uploads as the board does, so the
    re-upload rate is current."""
    get_case_ref(session, case_id)
    detect_reappearance(session, case_id)
    return transparency(session, [case_id], as_of=as_of)
