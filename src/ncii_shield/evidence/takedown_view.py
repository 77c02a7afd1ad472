"""The report's takedown section, formatted once: each notice's steps and clock, and the platform table.

From read/takedown_timeline.py's :class:`CaseTimeline` (the same data the bundle writes as
``takedown-timeline.json``), with every fixed string in the report's language (i18n_takedown.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ncii_shield.evidence.present import fmt_dt, iso_dt

if TYPE_CHECKING:
    from ncii_shield.read.takedown_timeline import CaseTimeline, NoticeTimeline
    from ncii_shield.read.transparency import PlatformTransparency


@dataclass(frozen=True)
class StepRow:
    at: str
    at_iso: str | None
    step: str
    item: str
    actor: str
    detail: str


@dataclass(frozen=True)
class ItemRow:
    item: str
    url: str
    status: str
    removed_at: str
    hours: str


@dataclass(frozen=True)
class NoticeView:
    id: int
    platform: str
    channel: str
    status: str
    created: str
    sent: str
    due: str
    verdict: str  # met | late | overdue | running | unsent (the CSS class)
    verdict_text: str
    resends: int
    escalated: str | None
    items: tuple[ItemRow, ...]
    steps: tuple[StepRow, ...]


@dataclass(frozen=True)
class StatRow:
    platform: str
    total: bool
    cells: tuple[str, ...]  # notices, items, removed, median, p90, within, still up, re-uploads, escalated


@dataclass(frozen=True)
class TakedownView:
    as_of: str
    notices: tuple[NoticeView, ...]
    stats: tuple[StatRow, ...]
    skew: int


def _step(value: str, L: Mapping[str, str]) -> str:
    return L.get(f"td_{value}", value)


def _hours(value: float | None, L: Mapping[str, str]) -> str:
    return "—" if value is None else L["hours_value"].format(h=f"{value:g}")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _detail(detail: Mapping[str, object]) -> str:
    """The event's evidence, one "key: value" per field, values as in takedown-timeline.json."""
    shown = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in detail.items()}
    return "; ".join(f"{k}: {v}" for k, v in sorted(shown.items()))


def _notice(n: NoticeTimeline, L: Mapping[str, str]) -> NoticeView:
    clock = n.clock_ko if L["html_lang"] == "ko" else n.clock_en
    due = "—" if n.due_at is None else f"{fmt_dt(n.due_at, L)} ({clock}, {_hours(n.clock_hours, L)})"
    return NoticeView(
        id=n.notice_id,
        platform=n.platform_id,
        channel=L.get(f"channel_{n.channel}", n.channel),
        status=_step(n.status, L),
        created=fmt_dt(n.created_at, L),
        sent=fmt_dt(n.sent_at, L) if n.sent_at else "—",
        due=due,
        verdict=n.verdict,
        verdict_text=L[f"verdict_{n.verdict}"],
        resends=n.resends,
        escalated=fmt_dt(n.escalated_at, L) if n.escalated_at else None,
        items=tuple(
            ItemRow(
                str(i.item_id),
                i.url or "—",
                _step(i.status, L),
                fmt_dt(i.removed_at, L) if i.removed_at else "—",
                _hours(i.hours_to_removal, L),
            )
            for i in n.items
        ),
        steps=tuple(
            StepRow(
                fmt_dt(s.at, L),
                iso_dt(s.at),
                _step(s.step, L),
                "" if s.item_id is None else str(s.item_id),
                s.actor,
                _detail(s.detail),
            )
            for s in n.steps
        ),
    )


def _stat(p: PlatformTransparency, L: Mapping[str, str]) -> StatRow:
    total = p.platform_id == "*"
    return StatRow(
        L["tr_all"] if total else p.platform_id,
        total,
        (
            str(p.notices_sent),
            str(p.items_reported),
            str(p.removed),
            _hours(p.median_hours, L),
            _hours(p.p90_hours, L),
            f"{_pct(p.share_within_48h)} ({p.within_48h}/{p.settled_48h})",
            f"{_pct(p.share_still_up)} ({p.still_up})",
            f"{_pct(p.reupload_rate)} ({p.reappeared})",
            str(p.escalations),
        ),
    )


def build_takedown_view(timeline: CaseTimeline | None, L: Mapping[str, str]) -> TakedownView | None:
    """None when the report was made without the store's takedown record (a report from data alone)."""
    if timeline is None:
        return None
    stats = timeline.transparency
    rows = [*stats.platforms, *([stats.overall] if stats.overall and len(stats.platforms) > 1 else [])]
    return TakedownView(
        as_of=fmt_dt(timeline.as_of, L),
        notices=tuple(_notice(n, L) for n in timeline.notices),
        stats=tuple(_stat(p, L) for p in rows),
        skew=sum(p.clock_skew for p in stats.platforms),
    )
