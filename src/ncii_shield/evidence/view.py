"""The report's facts derived once (order, dedup, counts, first-seen dates), for both the HTML and the PDF.

All layout decisions are made here in plain Python on view dataclasses; the renderers (`report.py` for
HTML, `pdf.py` for PDF) only format them, so they cannot disagree on an order, a count or a date.
Every fixed string comes from `i18n.py` in the report's language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from ncii_shield import __version__
from ncii_shield.evidence.chart import Chart, build_chart
from ncii_shield.evidence.i18n import strings
from ncii_shield.evidence.model import Copy, ReportData, Sighting
from ncii_shield.evidence.present import (
    clear_thumbnail,
    data_uri,
    date_order,
    explain_kind,
    fmt_dt,
    iso_dt,
    kind_legend,
    or_none,
    utc,
)
from ncii_shield.evidence.takedown_view import TakedownView, build_takedown_view
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.media.thumbs import blur_thumbnail

__all__ = [
    "Badge",
    "CopyView",
    "GroupView",
    "ReportView",
    "SightingView",
    "SpreadRow",
    "Stat",
    "Thumb",
    "TimelineRow",
    "build_view",
]


# --------------------------------------------------------------------------------------------
# View model: everything the renderers show, already sorted and formatted
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SightingView:
    date: str
    date_iso: str | None
    source: str
    chat: str
    chat_type: str | None
    message_id: str
    sender: str
    forwarded_from: str | None
    reply_to: str
    media_path: str
    excerpt: str
    first_seen: bool


@dataclass(frozen=True)
class Badge:
    kind: str
    explanation: str


@dataclass(frozen=True)
class Thumb:
    blurred_uri: str | None  # None: no image kept / unreadable
    clear_uri: str | None  # only with reveal_thumbnails=True
    placeholder: str
    blurred_jpeg: bytes | None = None  # the bytes behind blurred_uri, for the PDF


@dataclass(frozen=True)
class CopyView:
    anchor: str
    sha256: str
    badges: tuple[Badge, ...]
    nudity: str | None
    dimensions: str | None
    thumb: Thumb
    first_seen: str
    first_seen_known: bool
    sightings: tuple[SightingView, ...]


@dataclass(frozen=True)
class GroupView:
    anchor: str
    title: str
    reference_label: str | None
    copies: tuple[CopyView, ...]


@dataclass(frozen=True)
class TimelineRow:
    sighting: SightingView
    copy_anchor: str
    copy_sha256: str
    groups: str


@dataclass(frozen=True)
class SpreadRow:
    source: str
    chat: str
    chat_type: str | None
    sightings: int
    copies: int
    forwarded: int
    first: str
    last: str


@dataclass(frozen=True)
class Stat:
    label: str
    value: str


@dataclass(frozen=True)
class ReportView:
    """Everything the renderers need, in display order."""

    data: ReportData
    language: str
    strings: Mapping[str, str]
    generated_at: str
    generated_iso: str | None
    reveal: bool
    groups: tuple[GroupView, ...]
    stats: tuple[Stat, ...]
    counts_by_kind: tuple[tuple[str, int], ...]
    timeline: tuple[TimelineRow, ...]
    undated: int
    chart: Chart | None
    spread: tuple[SpreadRow, ...]
    legend: tuple[tuple[str, str], ...]
    version: str
    several_sources: bool  # show the source on each row only when it tells rows apart
    takedown: TakedownView | None = None  # each notice's steps and clock (evidence/takedown_view.py)


# --------------------------------------------------------------------------------------------
# Per copy and per sighting
# --------------------------------------------------------------------------------------------


def _sighting_key(s: Sighting) -> tuple[object, ...]:
    """Chronological, undated last, then by provenance: output never depends on input order."""
    return (
        *date_order(s.date),
        s.source,
        s.chat or "",
        s.message_id if s.message_id is not None else -1,
        s.item_id,
        s.media_path or "",
    )


def _sighting_view(s: Sighting, L: Mapping[str, str], *, first_seen: bool) -> SightingView:
    return SightingView(
        date=fmt_dt(s.date, L),
        date_iso=iso_dt(s.date),
        source=s.source,
        chat=s.chat if s.chat else L["no_chat"],
        chat_type=s.chat_type,
        message_id=or_none(s.message_id),
        sender=or_none(s.sender),
        forwarded_from=s.forwarded_from or None,
        reply_to=or_none(s.reply_to),
        media_path=or_none(s.media_path),
        excerpt=s.text_excerpt,
        first_seen=first_seen,
    )


def _sorted_sightings(copy: Copy) -> list[Sighting]:
    """Sightings by date; an item listed twice (e.g. by a duplicated join) is shown once."""
    ordered: list[Sighting] = []
    items: set[int] = set()
    for s in sorted(copy.sightings, key=_sighting_key):
        if s.item_id not in items:
            items.add(s.item_id)
            ordered.append(s)
    return ordered


def _thumb(copy: Copy, reveal: bool, cache: dict[str, Thumb], L: Mapping[str, str]) -> Thumb:
    if copy.media_sha256 in cache:
        return cache[copy.media_sha256]
    if copy.thumbnail_jpeg is None:
        thumb = Thumb(None, None, L["thumb_none"])
    else:
        try:
            blurred = blur_thumbnail(copy.thumbnail_jpeg)
            clear = data_uri(clear_thumbnail(copy.thumbnail_jpeg)) if reveal else None
            thumb = Thumb(data_uri(blurred), clear, "", blurred)
        except ValueError:
            thumb = Thumb(None, None, L["thumb_unreadable"])
    cache[copy.media_sha256] = thumb
    return thumb


def _copy_view(copy: Copy, anchor: str, reveal: bool, cache: dict[str, Thumb], language: str) -> CopyView:
    L = strings(language)
    ordered = _sorted_sightings(copy)
    first = ordered[0] if ordered and ordered[0].date is not None else None
    badges = tuple(
        Badge(kind, explain_kind(kind, copy.best_distance if i == 0 else None, language=language))
        for i, kind in enumerate(copy.kinds)
    )
    dims = f"{copy.width} × {copy.height} px" if copy.width and copy.height else None
    nudity = None if copy.nudity is None else f"{copy.nudity:.2f}"
    return CopyView(
        anchor=anchor,
        sha256=copy.media_sha256,
        badges=badges,
        nudity=nudity,
        dimensions=dims,
        thumb=_thumb(copy, reveal, cache, L),
        first_seen=fmt_dt(first.date if first else None, L),
        first_seen_known=first is not None,
        sightings=tuple(_sighting_view(s, L, first_seen=s is first) for s in ordered),
    )


# --------------------------------------------------------------------------------------------
# The whole report
# --------------------------------------------------------------------------------------------


def _spread(entries: list[tuple[Sighting, str]], L: Mapping[str, str]) -> tuple[SpreadRow, ...]:
    """One row per chat: how often and how early the copies were seen there, earliest chat first."""
    spread_acc: dict[tuple[str, str | None], list[tuple[Sighting, str]]] = defaultdict(list)
    for s, sha in entries:
        spread_acc[(s.source, s.chat)].append((s, sha))
    spread_rows: list[tuple[tuple[object, ...], SpreadRow]] = []
    for (source, chat), rows in spread_acc.items():
        chat_dates = [utc(s.date) for s, _ in rows if s.date is not None]
        first, last = (min(chat_dates), max(chat_dates)) if chat_dates else (None, None)
        chat_type = next((s.chat_type for s, _ in rows if s.chat_type), None)
        row = SpreadRow(
            source=source,
            chat=chat if chat else L["no_chat"],
            chat_type=chat_type,
            sightings=len(rows),
            copies=len({sha for _, sha in rows}),
            forwarded=sum(1 for s, _ in rows if s.forwarded_from),
            first=fmt_dt(first, L),
            last=fmt_dt(last, L),
        )
        spread_rows.append(((*date_order(first), source, chat or ""), row))
    return tuple(row for _, row in sorted(spread_rows, key=lambda kr: kr[0]))


def build_view(data: ReportData, *, language: str = "en", reveal_thumbnails: bool = False) -> ReportView:
    """Sort, deduplicate, count and format `data` for display: the one place the report's facts are derived.

    Both renderers (HTML in report.py, PDF in pdf.py) format this view, so they cannot disagree on an
    order, a count or a first-seen date. Raises ValueError for an unsupported language.
    """
    L = strings(language)
    reveal = reveal_thumbnails
    cache: dict[str, Thumb] = {}
    groups: list[GroupView] = []
    # One timeline row per (item, media): a copy matched by two groups was still seen once there.
    seen: dict[tuple[int, str], tuple[Sighting, str, list[str]]] = {}
    copies_seen: set[str] = set()
    kind_counts: dict[str, int] = defaultdict(int)

    for gi, group in enumerate(data.groups, start=1):
        copy_views: list[CopyView] = []
        for ci, copy in enumerate(group.copies, start=1):
            anchor = f"copy-{gi}-{ci}"
            copy_views.append(_copy_view(copy, anchor, reveal, cache, language))
            if copy.media_sha256 not in copies_seen:
                copies_seen.add(copy.media_sha256)
                for kind in copy.kinds:
                    kind_counts[kind] += 1
            for s in copy.sightings:
                key = (s.item_id, copy.media_sha256)
                if key not in seen:
                    seen[key] = (s, anchor, [])
                if group.title not in seen[key][2]:
                    seen[key][2].append(group.title)
        groups.append(GroupView(f"group-{gi}", group.title, group.reference_label, tuple(copy_views)))

    entries = sorted(seen.items(), key=lambda kv: (*_sighting_key(kv[1][0]), kv[0][1]))
    timeline = tuple(
        TimelineRow(_sighting_view(s, L, first_seen=False), anchor, sha, "; ".join(titles))
        for (_, sha), (s, anchor, titles) in entries
    )
    sightings = [s for _, (s, _a, _t) in entries]
    dated = [s.date for s in sightings if s.date is not None]
    spread = _spread([(s, sha) for (_, sha), (s, _a, _t) in entries], L)

    counts = data.counts_by_kind or kind_counts
    order = {name: i for i, name in enumerate(KIND_ORDER)}
    counts_by_kind = tuple(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    stats = (
        Stat(L["stat_copies"], str(len(copies_seen))),
        Stat(L["stat_sightings"], str(len(sightings))),
        Stat(L["stat_chats"], str(len(spread))),
        Stat(L["stat_first"], fmt_dt(min(map(utc, dated)) if dated else None, L)),
        Stat(L["stat_last"], fmt_dt(max(map(utc, dated)) if dated else None, L)),
    )
    return ReportView(
        data=data,
        language=language,
        strings=L,
        generated_at=fmt_dt(data.generated_at, L),
        generated_iso=iso_dt(data.generated_at),
        reveal=reveal,
        groups=tuple(groups),
        stats=stats,
        counts_by_kind=counts_by_kind,
        timeline=timeline,
        undated=len(sightings) - len(dated),
        chart=build_chart(dated, language),
        spread=spread,
        legend=kind_legend(language),
        version=__version__,
        several_sources=len({s.source for s in sightings}) > 1,
        takedown=build_takedown_view(data.takedown, L),
    )
