"""Render a case's findings as one self-contained HTML file a case worker can hand on.

The report travels: it is mailed to police, attached to a platform complaint, opened on an office
laptop without network. So it is a single file with inline CSS, images as `data:` URIs and no script,
and a Content-Security-Policy that forbids loading anything from outside even if a string slipped
through. It shows sexualised images of a real person, so thumbnails are blurred *by the renderer*:
by default the clear image is not in the file at all, not merely hidden by CSS.

All layout decisions (sorting, dedup, counting, chart geometry) are made here in plain Python on
view dataclasses; the Jinja2 template only formats them, with autoescape on. Every fixed string
comes from `i18n.py` in the report's language, so the same view feeds the HTML and the PDF (`pdf.py`).
"""

from __future__ import annotations

import base64
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from PIL import Image

from ncii_shield import __version__
from ncii_shield.evidence.i18n import strings
from ncii_shield.evidence.model import Copy, ReportData, Sighting
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.media.thumbs import _open_thumbnail, blur_thumbnail
from ncii_shield.signals.registry import BY_NAME, KINDS
from ncii_shield.store.files import atomic_write

__all__ = [
    "FACE_SAME_PERSON_THRESHOLD",
    "PDQ_MATCH_THRESHOLD",
    "ReportView",
    "build_view",
    "explain_kind",
    "render_report",
    "write_report",
]

# Thresholds quoted to the reader next to each distance, so a distance is never shown without the
# line it is judged against. Taken from the signal modules so the report states what the matcher used.
PDQ_MATCH_THRESHOLD = BY_NAME["pdq"].threshold  # Hamming distance out of 256 bits
FACE_SAME_PERSON_THRESHOLD = BY_NAME["face"].threshold  # euclidean distance of 128-d embeddings


_TEMPLATES = Path(__file__).with_name("templates")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_NONE = "—"


# --------------------------------------------------------------------------------------------
# Thumbnails
# --------------------------------------------------------------------------------------------


def _clear_thumbnail(jpeg: bytes) -> bytes:
    """The clear thumbnail to embed on explicit request: the stored bytes if they are a JPEG.

    Kept verbatim so what the report shows is exactly what the store holds; anything else is
    re-encoded as JPEG so the data: URI's declared type is true.
    """
    with Image.open(BytesIO(jpeg)) as im:
        if im.format == "JPEG":
            return jpeg
    out = BytesIO()
    _open_thumbnail(jpeg).save(out, format="JPEG", quality=85)
    return out.getvalue()


def _data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def _utc(d: datetime) -> datetime:
    """Dates are UTC in the store; a naive one is taken as UTC rather than as local time."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _fmt_dt(d: datetime | None, L: Mapping[str, str]) -> str:
    return L["unknown"] if d is None else _utc(d).strftime("%Y-%m-%d %H:%M:%S")


def _iso_dt(d: datetime | None) -> str | None:
    return None if d is None else _utc(d).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: object) -> Markup:
    """Jinja filter: escape user text, and mark Korean text lang="ko" for proper line breaking."""
    s = str(value)
    if _HANGUL.search(s):
        return Markup('<span lang="ko">{}</span>').format(s)
    return escape(s)


def _or_none(value: object | None) -> str:
    return _NONE if value is None or value == "" else str(value)


def explain_kind(kind: str, distance: float | None, *, language: str = "en") -> str:
    """One plain-language line per match kind, with the distance and the threshold it is judged by."""
    L = strings(language)
    spec = BY_NAME.get(kind)
    if spec is None or f"kind_{kind}" not in L:
        return L["kind_other"].format(kind=kind)
    if distance is not None and f"kind_{kind}_distance" in L:
        return L[f"kind_{kind}_distance"].format(distance=distance, threshold=spec.threshold)
    return L[f"kind_{kind}"]


def kind_legend(language: str = "en") -> tuple[tuple[str, str], ...]:
    """The "how to read" lines per match kind, thresholds filled in from the matcher's own constants."""
    L = strings(language)
    fill = {k.name: k.threshold for k in KINDS}
    return tuple((k.name, L[f"legend_{k.name}"].format(**fill)) for k in KINDS if f"legend_{k.name}" in L)


KIND_LEGEND: tuple[tuple[str, str], ...] = kind_legend("en")


# --------------------------------------------------------------------------------------------
# View model: everything the template shows, already sorted and formatted
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


@dataclass(frozen=True)
class Stat:
    label: str
    value: str


def _sighting_key(s: Sighting) -> tuple[object, ...]:
    """Chronological, undated last, then by provenance: output never depends on input order."""
    return (
        s.date is None,
        _utc(s.date) if s.date is not None else datetime.min.replace(tzinfo=UTC),
        s.source,
        s.chat or "",
        s.message_id if s.message_id is not None else -1,
        s.item_id,
        s.media_path or "",
    )


def _sighting_view(s: Sighting, L: Mapping[str, str], *, first_seen: bool) -> SightingView:
    return SightingView(
        date=_fmt_dt(s.date, L),
        date_iso=_iso_dt(s.date),
        source=s.source,
        chat=s.chat if s.chat else L["no_chat"],
        chat_type=s.chat_type,
        message_id=_or_none(s.message_id),
        sender=_or_none(s.sender),
        forwarded_from=s.forwarded_from or None,
        reply_to=_or_none(s.reply_to),
        media_path=_or_none(s.media_path),
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
            clear = _data_uri(_clear_thumbnail(copy.thumbnail_jpeg)) if reveal else None
            thumb = Thumb(_data_uri(blurred), clear, "", blurred)
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
        first_seen=_fmt_dt(first.date if first else None, L),
        first_seen_known=first is not None,
        sightings=tuple(_sighting_view(s, L, first_seen=s is first) for s in ordered),
    )


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


def _chart(dates: Iterable[datetime], language: str = "en") -> Chart | None:
    """Bars of sightings per day as inline SVG geometry; per week/month when the span is long.

    Daily bars over a year would be a few px wide and unreadable, so the bin grows with the span;
    the axis title says which bin is used.
    """
    L = strings(language)
    days = sorted(_utc(d).date() for d in dates)
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


@dataclass(frozen=True)
class ReportView:
    """Everything the template needs, in display order."""

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


def build_view(data: ReportData, *, language: str = "en", reveal_thumbnails: bool = False) -> ReportView:
    """Sort, deduplicate, count and format `data` for display: the one place the report's facts are derived.

    Both renderers (HTML here, PDF in pdf.py) format this view, so they cannot disagree on an order,
    a count or a first-seen date. Raises ValueError for an unsupported language.
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

    spread_acc: dict[tuple[str, str | None], list[tuple[Sighting, str]]] = defaultdict(list)
    for (_, sha), (s, _a, _t) in entries:
        spread_acc[(s.source, s.chat)].append((s, sha))
    spread_rows: list[tuple[tuple[object, ...], SpreadRow]] = []
    for (source, chat), rows in spread_acc.items():
        chat_dates = [_utc(s.date) for s, _ in rows if s.date is not None]
        first, last = (min(chat_dates), max(chat_dates)) if chat_dates else (None, None)
        chat_type = next((s.chat_type for s, _ in rows if s.chat_type), None)
        row = SpreadRow(
            source=source,
            chat=chat if chat else L["no_chat"],
            chat_type=chat_type,
            sightings=len(rows),
            copies=len({sha for _, sha in rows}),
            forwarded=sum(1 for s, _ in rows if s.forwarded_from),
            first=_fmt_dt(first, L),
            last=_fmt_dt(last, L),
        )
        sort_key = (first is None, first or datetime.min.replace(tzinfo=UTC), source, chat or "")
        spread_rows.append((sort_key, row))
    spread = tuple(row for _, row in sorted(spread_rows, key=lambda kr: kr[0]))

    counts = data.counts_by_kind or kind_counts
    order = {name: i for i, name in enumerate(KIND_ORDER)}
    counts_by_kind = tuple(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    stats = (
        Stat(L["stat_copies"], str(len(copies_seen))),
        Stat(L["stat_sightings"], str(len(sightings))),
        Stat(L["stat_chats"], str(len(spread))),
        Stat(L["stat_first"], _fmt_dt(min(map(_utc, dated)) if dated else None, L)),
        Stat(L["stat_last"], _fmt_dt(max(map(_utc, dated)) if dated else None, L)),
    )
    return ReportView(
        data=data,
        language=language,
        strings=L,
        generated_at=_fmt_dt(data.generated_at, L),
        generated_iso=_iso_dt(data.generated_at),
        reveal=reveal,
        groups=tuple(groups),
        stats=stats,
        counts_by_kind=counts_by_kind,
        timeline=timeline,
        undated=len(sightings) - len(dated),
        chart=_chart(dated, language),
        spread=spread,
        legend=kind_legend(language),
        version=__version__,
        several_sources=len({s.source for s in sightings}) > 1,
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,  # every string in a report may come from a hostile chat
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["t"] = _text
    return env


def _translator(L: Mapping[str, str]) -> Callable[..., str]:
    """The template's `t_(key, **fields)`: a missing key fails the render instead of printing nothing.

    It returns a plain str, so autoescape escapes the filled-in string as a whole, user fields included.
    """

    def t_(key: str, /, **fields: object) -> str:
        return L[key].format(**fields) if fields else L[key]

    return t_


def render_report(data: ReportData, *, reveal_thumbnails: bool = False, language: str = "en") -> str:
    """Return the whole report as one HTML document (str), in `language` ("en" or "ko").

    Output depends only on `data` (no clock, no randomness), so the same data renders to the same
    bytes and a report can be re-generated and compared. With `reveal_thumbnails` the clear
    thumbnails are embedded too, behind a click, and the report says so at the top.
    Raises ValueError for an unsupported language.
    """
    view = build_view(data, language=language, reveal_thumbnails=reveal_thumbnails)
    template = _environment().get_template("report.html.j2")
    return template.render(r=view, t_=_translator(view.strings))


def write_report(
    data: ReportData, out: Path, *, reveal_thumbnails: bool = False, language: str = "en"
) -> Path:
    """Render and write the report atomically; return `out`.

    The file goes to a temporary file in the same directory and is moved over `out` with
    os.replace, so a reader (or a crash) never sees half a report. The temporary file is created
    owner-only (0600) and keeps that mode: the report identifies a victim.
    """
    html = render_report(data, reveal_thumbnails=reveal_thumbnails, language=language).encode("utf-8")
    return atomic_write(Path(out), html)
