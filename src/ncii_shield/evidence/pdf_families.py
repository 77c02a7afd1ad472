"""The PDF report's "how far each photo spread" section: the HTML report's families, as printed pages.

Same content and order as the HTML section (report.html.j2 → families): one summary row per family (copies,
first appearance, first room, rooms, top spreader), then per family its rooms, the forward paths between rooms,
its most active spreaders, and the two drawings — the forward paths and the timeline — from the one builder
the web app and the HTML report use (evidence/spread_svg.py), placed as vector images. Long families are cut
to what a printed page can carry (``MAX_ROWS`` rooms, paths and spreaders each) with a line saying how many
more the HTML report and the bundle's manifest.json list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from io import BytesIO

from ncii_shield.evidence.pdf_layout import FAMILY, MUTED, ReportPDF
from ncii_shield.evidence.spread_svg import paths_svg, timeline_svg
from ncii_shield.read.families import Family

__all__ = ["families_section"]

MAX_ROWS = 30  # rooms, paths and spreaders per family in print
_FIG_WIDTH = 180.0  # mm: the text width


def _when(family: Family) -> str:
    first = family.first
    return f"{first.date:%Y-%m-%d %H:%M}" if first is not None and first.date else "—"


def _label(L: Mapping[str, str], family: Family) -> str:
    return L["family_messages"] if family.label == "messages" else family.label


def _more(pdf: ReportPDF, L: Mapping[str, str], shown: int, total: int) -> None:
    if total > shown:
        pdf.paragraph(L["pdf_more_rows"].format(n=total - shown), size=7.5, color=MUTED)


def _figure(pdf: ReportPDF, svg: str, title: str) -> bool:
    """A spread_svg drawing as a vector image the width of the text; skipped (with a note) if fpdf2 cannot
    read it, since the tables beside it carry the same figures."""
    if not svg:
        return False
    svg = re.sub(r"<title>.*?</title>", "", svg)  # hover text: nothing to hover on paper
    # fpdf2 draws text in the font named here: the report's, with Hangul.
    svg = svg.replace("<svg ", f'<svg font-family="{FAMILY}" font-size="11" ', 1)
    pdf.paragraph(title, size=8.5, color=MUTED)
    try:
        pdf.image(BytesIO(svg.encode("utf-8")), w=_FIG_WIDTH)
    except Exception:  # fpdf2's SVG reader is partial; the tables hold the same facts
        return False
    pdf.ln(2)
    return True


def families_section(pdf: ReportPDF, L: Mapping[str, str], families: tuple[Family, ...]) -> None:
    """Write the section (nothing when the case has no families)."""
    if not families:
        return
    pdf.heading(L["heading_families"], 2)
    pdf.paragraph(L["families_note"], size=8.5, color=MUTED)
    summary = [
        [
            _label(L, f),
            str(len(f.copies)),
            _when(f),
            (f.first.chat or f.first.chat_id or "—") if f.first else "—",
            str(len(f.rooms)),
            f"{f.top_spreader.name or f.top_spreader.key} ({f.top_spreader.copies})"
            if f.top_spreader
            else "—",
        ]
        for f in families
    ]
    heads = ("th_family", "th_copies", "th_first_appearance", "th_first_room", "th_rooms", "th_top_spreader")
    pdf.grid([L[h] for h in heads], (36.0, 16.0, 28.0, 42.0, 16.0, 42.0), summary)
    for f in families:
        pdf.heading(f"{_label(L, f)} — {len(f.copies)}", 3)
        rooms = [
            [
                r.chat,
                str(r.copies),
                f"{r.first_at:%Y-%m-%d %H:%M}" if r.first_at else "—",
                f"{r.last_at:%Y-%m-%d %H:%M}" if r.last_at else "—",
                str(r.posters),
                str(r.forwarded),
            ]
            for r in f.rooms[:MAX_ROWS]
        ]
        heads = ("th_chat", "th_copies", "th_first_seen", "th_last_seen", "th_posters", "th_forwarded")
        pdf.grid([L[h] for h in heads], (62.0, 18.0, 30.0, 30.0, 20.0, 20.0), rooms)
        _more(pdf, L, len(rooms), len(f.rooms))
        if f.paths:
            _figure(pdf, paths_svg(f, L["families_paths"]), L["families_paths"])
            paths = [[p.from_source, p.to_chat, str(p.copies)] for p in f.paths[:MAX_ROWS]]
            pdf.grid([L["th_forwarded_from"], L["th_chat"], L["th_copies"]], (80.0, 80.0, 20.0), paths)
            _more(pdf, L, len(paths), len(f.paths))
        if f.actors:
            actors = [
                [
                    a.name or a.key,
                    a.sender_id or "—",
                    str(a.copies),
                    str(a.rooms),
                    f"{a.first_at:%Y-%m-%d %H:%M}" if a.first_at else "—",
                ]
                for a in f.actors[:MAX_ROWS]
            ]
            heads = ("th_spreader", "th_sender_id", "th_copies", "th_rooms", "th_first_seen")
            pdf.grid([L[h] for h in heads], (54.0, 46.0, 20.0, 20.0, 40.0), actors)
            _more(pdf, L, len(actors), len(f.actors))
        _figure(pdf, timeline_svg(f, L["families_timeline"], L["families_first"]), L["families_timeline"])
