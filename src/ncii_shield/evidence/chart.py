"""The sightings-over-time chart as plain geometry, so the template only draws the SVG it is given."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ncii_shield.evidence.i18n import strings
from ncii_shield.evidence.present import utc

__all__ = ["Bar", "Chart", "Tick", "build_chart"]


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    label: str  # tooltip: "2024-08-24: 3 sightings"


@dataclass(frozen=True)
class Tick:
    pos: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    unit: str  # "Day (UTC)", ...
    bars: tuple[Bar, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    description: str


def _nice_step(max_count: int) -> int:
    """An integer tick step (1, 2, 5, 10, 20, …) giving at most ~5 ticks."""
    raw = max(1.0, max_count / 4)
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * magnitude >= raw:
            return int(mult * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def _bin_start(d: date, unit: str) -> date:
    if unit == "week":
        return d - timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    return d


def _next_bin(d: date, unit: str) -> date:
    if unit == "week":
        return d + timedelta(days=7)
    if unit == "month":
        return (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return d + timedelta(days=1)


def build_chart(dates: Iterable[datetime], language: str = "en") -> Chart | None:
    """Bars of sightings per day as inline SVG geometry; per week/month when the span is long.

    Daily bars over a year would be a few px wide and unreadable, so the bin grows with the span;
    the axis title says which bin is used. None when there is no date to chart.
    """
    L = strings(language)
    days = sorted(utc(d).date() for d in dates)
    if not days:
        return None
    span = (days[-1] - days[0]).days + 1
    unit = "day" if span <= 92 else "week" if span <= 7 * 104 else "month"
    counts: dict[date, int] = defaultdict(int)
    for d in days:
        counts[_bin_start(d, unit)] += 1
    bins: list[date] = []
    cur = _bin_start(days[0], unit)
    while cur <= days[-1]:
        bins.append(cur)
        cur = _next_bin(cur, unit)

    width, height = 720, 220
    left, right, top, bottom = 48, width - 12, 12, height - 44
    top_count = max(counts.values())
    step = _nice_step(top_count)
    y_max = step * math.ceil(top_count / step)
    plot_w, plot_h = right - left, bottom - top
    slot = plot_w / len(bins)
    bar_w = min(48.0, max(1.0, slot * 0.8))
    fmt = "%Y-%m" if unit == "month" else "%Y-%m-%d"
    bar_key = "chart_bar_week" if unit == "week" else "chart_bar"

    bars: list[Bar] = []
    for i, b in enumerate(bins):
        n = counts.get(b, 0)
        h = plot_h * n / y_max
        bars.append(
            Bar(
                x=f"{left + i * slot + (slot - bar_w) / 2:.1f}",
                y=f"{bottom - h:.1f}",
                width=f"{bar_w:.1f}",
                height=f"{h:.1f}",
                label=L[f"{bar_key}_{'one' if n == 1 else 'other'}"].format(when=b.strftime(fmt), n=n),
            )
        )
    y_ticks = tuple(
        Tick(pos=f"{bottom - plot_h * v / y_max:.1f}", label=str(v)) for v in range(0, y_max + 1, step)
    )
    every = max(1, math.ceil(len(bins) / 7))
    x_ticks = tuple(
        Tick(pos=f"{left + i * slot + slot / 2:.1f}", label=b.strftime(fmt))
        for i, b in enumerate(bins)
        if i % every == 0
    )
    unit_title = L[f"chart_unit_{unit}"]
    description = L[f"chart_desc_{unit}"].format(
        start=days[0].isoformat(), end=days[-1].isoformat(), n=len(days), top=top_count
    )
    return Chart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        unit=unit_title,
        bars=tuple(bars),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        description=description,
    )
