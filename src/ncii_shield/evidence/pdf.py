"""Render a case's findings as a PDF, in English or Korean, for recipients who will only take a PDF.

Police intake systems and platform complaint forms often accept PDF and nothing else, and a printed
HTML page loses its page numbers and case id. So this renders the same view as the HTML report
(`report.build_view`: same order, counts, first-seen dates and wording from `i18n.py`) with fpdf2:

- Text uses the bundled NanumGothic font, which covers Latin and the 2,350 common Hangul syllables.
  A character it lacks (a rare syllable, an emoji) is written as `[U+XXXX]` with a note, so evidence
  text is never silently dropped or shown as an empty box.
- Thumbnails are always the blurred ones from the HTML renderer; the PDF has no "reveal" option and
  the clear JPEG never enters the file.
- Every page carries the case id and "page X of Y", because pages get separated once printed.
- Output depends only on the data: the creation date is `generated_at`, so the same data gives the
  same bytes and a re-generated report can be compared with the one that was filed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from importlib import resources
from io import BytesIO
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import (
    Align,
    MethodReturnValue,
    TableBordersLayout,
    TextMode,
    VAlign,
    WrapMode,
    XPos,
    YPos,
)
from fpdf.table import Table
from PIL import Image

from ncii_shield import __version__
from ncii_shield.evidence.model import ReportData
from ncii_shield.evidence.report import CopyView, ReportView, SightingView, build_view
from ncii_shield.store.files import atomic_write

__all__ = ["render_pdf", "write_pdf"]

_FONT_FILE = "NanumGothicLight.ttf"
_FAMILY = "nanumgothic"  # the only font: no bold file ships, so emphasis is colour, size and a stroke

_INK = (31, 35, 40)
_MUTED = (87, 96, 106)
_ACCENT = (31, 58, 95)
_LINE = (208, 215, 222)
_ZEBRA = (246, 248, 250)
_HEAD_FILL = (238, 241, 244)
_WARN_FILL = (255, 244, 214)
_ALERT_INK = (122, 31, 31)
_PLACEHOLDER_FILL = (240, 242, 245)

_THUMB_BOX = 36.0  # mm, the longest side of a thumbnail on the page
_GAP = 4.0  # mm between the thumbnail and the facts beside it
_NONE = "—"
_LINE_FACTOR = 1.35  # table line height, in font sizes
_CELL_PAD_X = 1.2  # mm, left and right padding of a table cell
_MAX_ROW_LINES = 30  # a longer cell continues in the next row, so a long message does not leave a gap


class _ReportPDF(FPDF):
    """FPDF with the report's running head, page footer and a few typographic helpers."""

    def __init__(self, strings: Mapping[str, str], case_id: int, font_path: Path) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.L = strings
        self.case_id = case_id
        self.glyphs_replaced = False
        self.set_margins(left=15, top=20, right=15)
        self.set_auto_page_break(auto=True, margin=18)
        self.add_font(_FAMILY, "", font_path)
        self._cmap = self.fonts[_FAMILY].cmap
        self.set_font(_FAMILY, size=9.5)
        self.alias_nb_pages()

    # --- text that the font can show --------------------------------------------------------------

    def safe(self, value: object) -> str:
        """`value` as text the font can draw: missing glyphs become [U+XXXX] instead of vanishing.

        Line breaks are kept (excerpts have them), tabs become spaces and other control characters are
        shown by code point too: they can matter as evidence (e.g. text disguised with invisible marks).
        """
        text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
        out: list[str] = []
        for ch in text:
            code = ord(ch)
            if ch == "\n" or (code >= 0x20 and code in self._cmap):
                out.append(ch)
            else:
                out.append(f"[U+{code:04X}]")
                self.glyphs_replaced = True
        return "".join(out)

    # --- page furniture -------------------------------------------------------------------------------

    def header(self) -> None:
        with self.local_context(text_color=_MUTED, draw_color=_LINE, line_width=0.2):
            self.set_font(_FAMILY, size=7.5)
            self.set_xy(self.l_margin, 9)
            self.cell(0, 4, self.L["pdf_running_head"].format(case_id=self.case_id), align=Align.L)
            self.line(self.l_margin, 14, self.w - self.r_margin, 14)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        with self.local_context(text_color=_MUTED):
            self.set_font(_FAMILY, size=7.5)
            self.set_y(-12)
            label = self.L["pdf_page"].format(page=self.page_no(), pages=self.str_alias_nb_pages)
            self.cell(0, 4, label, align=Align.C)

    # --- blocks -----------------------------------------------------------------------------------------

    def space_for(self, height: float) -> None:
        """Start a new page unless `height` mm still fit: keeps a heading with what follows it."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()

    def heading(self, text: str, level: int, *, keep: float | None = None) -> None:
        """A section heading, moved to the next page unless `keep` mm of what follows fit below it."""
        size = {1: 16.0, 2: 13.0, 3: 11.0}[level]
        self.space_for(keep if keep is not None else {1: 20.0, 2: 40.0, 3: _THUMB_BOX + 40}[level])
        if level > 1:
            self.ln(3 if level == 2 else 2)
        with self.local_context(text_color=_ACCENT, draw_color=_ACCENT, line_width=size * 0.012):
            self.set_font(_FAMILY, size=size)
            self.text_mode = TextMode.FILL_STROKE  # a slightly heavier stroke stands in for bold
            self.multi_cell(
                0, size * 0.48, self.safe(text), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
            self.text_mode = TextMode.FILL
            if level == 2:
                self.set_line_width(0.5)
                self.line(self.l_margin, self.get_y() + 0.8, self.w - self.r_margin, self.get_y() + 0.8)
                self.ln(2.5)
        self.ln(1.2)

    def paragraph(
        self, text: str, *, size: float = 9.0, color: tuple[int, int, int] = _INK, after: float = 1.5
    ) -> None:
        with self.local_context(text_color=color):
            self.set_font(_FAMILY, size=size)
            self.multi_cell(
                0, size * 0.47, self.safe(text), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        self.ln(after)

    def notice(self, text: str, *, alert: bool = False) -> None:
        ink, fill = (_ALERT_INK, (251, 234, 234)) if alert else (_MUTED, _ZEBRA)
        with self.local_context(text_color=ink, fill_color=fill, draw_color=_LINE, line_width=0.2):
            self.set_font(_FAMILY, size=8.5)
            self.multi_cell(
                0,
                4.0,
                self.safe(text),
                border=1,
                fill=True,
                padding=(1.8, 2.5),
                align=Align.L,
                new_x=XPos.LMARGIN,
            )
        self.ln(2)

    @contextmanager
    def _table(
        self, col_widths: Sequence[float], *, headings: bool, width: float | None = None
    ) -> Iterator[Table]:
        """A table in the report's style; headings repeat on every page a long table runs onto."""
        with (
            self.local_context(draw_color=_LINE, line_width=0.2, text_color=_INK),
            self.table(
                col_widths=tuple(col_widths),
                width=width,
                align=Align.R if width is not None else Align.C,
                first_row_as_headings=headings,
                headings_style=FontFace(color=_INK, fill_color=_HEAD_FILL),
                borders_layout=TableBordersLayout.HORIZONTAL_LINES if headings else TableBordersLayout.NONE,
                line_height=self.font_size * _LINE_FACTOR,
                padding=(0.9, _CELL_PAD_X),
                text_align=Align.L,
                v_align=VAlign.T,
                wrapmode=WrapMode.WORD,  # breaks at spaces; a word longer than the cell is split by character
                repeat_headings=1,
            ) as table,
        ):
            yield table

    def facts(
        self, rows: Sequence[tuple[str, str]], *, width: float | None = None, size: float = 9.0
    ) -> None:
        """Label/value pairs as a borderless two-column table (the HTML's <dl class="facts">)."""
        self.set_font(_FAMILY, size=size)
        label_w = 38.0 if width is None else 28.0
        total = self.epw if width is None else width
        with self._table((label_w, total - label_w), headings=False, width=width) as table:
            for label, value in rows:
                row = table.row()
                row.cell(self.safe(label), style=FontFace(color=_MUTED))
                row.cell(self.safe(value))
        self.ln(1.5)

    def grid(
        self,
        headers: Sequence[str],
        widths: Sequence[float],
        rows: Sequence[Sequence[str]],
        *,
        highlight: Sequence[bool] = (),
        size: float = 7.5,
    ) -> None:
        """A data table; rows marked in `highlight` get a warm first cell (the "first seen" row)."""
        self.set_font(_FAMILY, size=size)
        with self._table(widths, headings=True) as table:
            head = table.row()
            for h in headers:
                head.cell(self.safe(h))
            for i, cells in enumerate(rows):
                # Zebra per logical row, so a row continued below keeps its colour.
                plain = FontFace(fill_color=_ZEBRA if i % 2 else (255, 255, 255))
                first = FontFace(fill_color=_WARN_FILL) if i < len(highlight) and highlight[i] else plain
                for part in self._page_sized(tuple(self.safe(v) for v in cells), widths):
                    row = table.row()
                    for j, value in enumerate(part):
                        row.cell(value, style=first if j == 0 else plain)
        self.ln(2)

    def _page_sized(self, cells: tuple[str, ...], widths: Sequence[float]) -> list[tuple[str, ...]]:
        """The row as one or more rows that each fit on a page, without dropping any text.

        fpdf2 refuses a table row taller than a page, and a report must not fail on one very long
        message. Such a row continues in the rows below it (at most _MAX_ROW_LINES lines each), split
        between wrapped lines, so no character is cut or lost; only line breaks show where.
        """
        page_lines = int((self.page_break_trigger - self.t_margin - 25) / (self.font_size * _LINE_FACTOR))
        max_lines = min(_MAX_ROW_LINES, page_lines)
        scale = self.epw / sum(widths)
        wrapped = [
            self.multi_cell(
                w * scale - 2 * _CELL_PAD_X,
                self.font_size,
                text,
                dry_run=True,
                output=MethodReturnValue.LINES,
                wrapmode=WrapMode.WORD,
            )
            for text, w in zip(cells, widths, strict=True)
        ]
        if max(len(lines) for lines in wrapped) <= max_lines:
            return [cells]
        parts = math.ceil(max(len(lines) for lines in wrapped) / max_lines)
        return [
            tuple("\n".join(lines[k * max_lines : (k + 1) * max_lines]) for lines in wrapped)
            for k in range(parts)
        ]

    def thumbnail(self, copy: CopyView, top: float) -> float:
        """Draw the blurred thumbnail (or a placeholder) at the left margin; return its bottom edge."""
        jpeg = copy.thumb.blurred_jpeg
        x = self.l_margin
        if jpeg is not None:
            with Image.open(BytesIO(jpeg)) as im:
                w_px, h_px = im.size
            scale = _THUMB_BOX / max(w_px, h_px)
            w, h = w_px * scale, h_px * scale
            alt = self.L["alt_blurred"].format(sha=copy.sha256[:12])
            self.image(BytesIO(jpeg), x=x, y=top, w=w, h=h, alt_text=alt)
            with self.local_context(draw_color=_LINE, line_width=0.2):
                self.rect(x, top, w, h)
            return top + h
        h = _THUMB_BOX * 0.75
        with self.local_context(fill_color=_PLACEHOLDER_FILL, draw_color=_LINE, line_width=0.2):
            self.set_dash_pattern(dash=1, gap=1)
            self.rect(x, top, _THUMB_BOX, h, style="DF")
            self.set_dash_pattern()
        with self.local_context(text_color=_MUTED):
            self.set_font(_FAMILY, size=7.5)
            self.set_xy(x + 1.5, top + h / 2 - 3)
            self.multi_cell(_THUMB_BOX - 3, 3.4, self.safe(copy.thumb.placeholder), align=Align.C)
        return top + h


# ---------------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------------


def _case_header(pdf: _ReportPDF, view: ReportView) -> None:
    L, d = view.strings, view.data
    pdf.heading(L["heading_report"].format(case_id=d.case_id), 1)
    pdf.notice(L["notice_confidential"])
    pdf.notice(L["notice_blurred"])
    pdf.facts(
        [
            (L["label_case"], str(d.case_id)),
            (L["label_person"], d.pseudonym),
            (L["label_generated"], f"{view.generated_at} UTC"),
            (L["label_consent"], d.consent_summary),
            (L["label_references"], d.references_summary),
            (L["label_sources"], "\n".join(d.sources) if d.sources else L["none_listed"]),
        ]
    )


def _summary(pdf: _ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_summary"], 2)
    pdf.grid(
        [s.label for s in view.stats],
        [1.0] * len(view.stats),
        [[s.value for s in view.stats]],
        size=8.5,
    )
    kinds = "   ·   ".join(f"{kind} {n}" for kind, n in view.counts_by_kind) or L["no_matches"]
    pdf.paragraph(f"{L['matches_by_kind']} {kinds}")


def _legend(pdf: _ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_how_to_read"], 2)
    rows = [*view.legend]
    rows.append((L["badge_first_seen"], L["legend_first_seen"]))
    rows.append((L["badge_forwarded_legend"], L["legend_forwarded"]))
    pdf.facts(rows, size=8.5)
    pdf.paragraph(L["note_dates"], size=8, color=_MUTED)


def _sighting_rows(view: ReportView, sightings: Sequence[SightingView]) -> tuple[list[list[str]], list[bool]]:
    L = view.strings
    rows: list[list[str]] = []
    for s in sightings:
        date = f"{s.date}\n{L['badge_first_seen']}" if s.first_seen else s.date
        chat = "\n".join(
            part for part in (s.chat, s.chat_type, s.source if view.several_sources else None) if part
        )
        message = s.message_id if s.reply_to == _NONE else f"{s.message_id}\n{L['th_reply_to']} {s.reply_to}"
        rows.append([date, chat, message, s.sender, s.forwarded_from or _NONE, s.media_path, s.excerpt])
    return rows, [s.first_seen for s in sightings]


_SIGHTING_WIDTHS = (22.0, 30.0, 14.0, 24.0, 22.0, 28.0, 40.0)  # mm, sums to the 180 mm text width


def _sighting_headers(L: Mapping[str, str]) -> list[str]:
    return [
        L["th_date"],
        L["th_chat"],
        L["th_message"],
        L["th_sender"],
        L["th_forwarded_from"],
        L["th_media_path"],
        L["th_text"],
    ]


def _copy(pdf: _ReportPDF, view: ReportView, copy: CopyView) -> None:
    L = view.strings
    pdf.space_for(_THUMB_BOX + 22)  # the thumbnail, its facts and the table's first rows together
    top, page = pdf.get_y(), pdf.page
    bottom = pdf.thumbnail(copy, top)
    facts = [
        (L["label_sha256"], copy.sha256),
        (L["label_matched_as"], "\n".join(b.explanation for b in copy.badges) or _NONE),
    ]
    if copy.dimensions:
        facts.append((L["label_size"], copy.dimensions))
    if copy.nudity is not None:
        facts.append((L["label_nudity"], f"{copy.nudity} {L['nudity_note']}"))
    first = f"{copy.first_seen} UTC" if copy.first_seen_known else copy.first_seen
    facts.append((L["label_first_seen"], first))
    facts.append((L["label_sightings"], str(len(copy.sightings))))
    pdf.set_xy(pdf.l_margin, top)
    pdf.facts(facts, width=pdf.epw - _THUMB_BOX - _GAP, size=8.5)
    if pdf.page == page:
        pdf.set_y(max(pdf.get_y(), bottom + 2))
    if copy.sightings:
        rows, first_seen = _sighting_rows(view, copy.sightings)
        pdf.grid(_sighting_headers(L), _SIGHTING_WIDTHS, rows, highlight=first_seen)
    else:
        pdf.paragraph(L["no_sightings_file"], color=_MUTED)
    with pdf.local_context(draw_color=_LINE, line_width=0.2):
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(3)


def _images(pdf: _ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_images"], 2, keep=_THUMB_BOX + 60 if view.groups else None)
    if not view.groups:
        pdf.paragraph(L["nothing_matched"], color=_MUTED)
    for group in view.groups:
        pdf.heading(group.title, 3)
        if group.reference_label:
            pdf.paragraph(f"{L['label_reference']} {group.reference_label}", color=_MUTED)
        if not group.copies:
            pdf.paragraph(L["no_copies"], color=_MUTED)
        for copy in group.copies:
            _copy(pdf, view, copy)


def _timeline(pdf: _ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_timeline"], 2)
    if view.chart is not None:
        undated = ""
        if view.undated:
            undated = " " + L["undated_one" if view.undated == 1 else "undated_other"].format(n=view.undated)
        pdf.paragraph(view.chart.description + undated, size=8.5, color=_MUTED)
    if not view.timeline:
        pdf.paragraph(L["no_sightings"], color=_MUTED)
        return
    headers = [
        L["th_date"],
        L["th_chat"],
        L["th_message"],
        L["th_sender"],
        L["th_forwarded_from"],
        L["th_file"],
        L["th_text"],
    ]
    rows, _ = _sighting_rows(view, [row.sighting for row in view.timeline])
    for row, t in zip(rows, view.timeline, strict=True):
        row[5] = t.copy_sha256[:12]  # the file, in place of the media path shown per copy above
    pdf.grid(headers, _SIGHTING_WIDTHS, rows)


def _spread(pdf: _ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_spread"], 2)
    if not view.spread:
        pdf.paragraph(L["no_sightings"], color=_MUTED)
        return
    pdf.paragraph(L["spread_note"], size=8.5, color=_MUTED)
    headers = [
        L["th_chat"],
        L["th_source"],
        L["th_sightings"],
        L["th_files"],
        L["th_forwarded"],
        L["th_first_seen"],
        L["th_last_seen"],
    ]
    rows = [
        [
            "\n".join(p for p in (r.chat, r.chat_type) if p),
            r.source,
            str(r.sightings),
            str(r.copies),
            str(r.forwarded),
            r.first,
            r.last,
        ]
        for r in view.spread
    ]
    pdf.grid(headers, (40.0, 34.0, 17.0, 15.0, 16.0, 29.0, 29.0), rows)


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def render_pdf(data: ReportData, *, language: str = "en") -> bytes:
    """Return the report as PDF bytes, in `language` ("en" or "ko"); thumbnails are always blurred.

    Deterministic: the creation date is `data.generated_at` and nothing else varies, so the same
    data renders to the same bytes. Raises ValueError for an unsupported language.
    """
    view = build_view(data, language=language, reveal_thumbnails=False)
    L = view.strings
    font = resources.files("ncii_shield.evidence") / "fonts" / _FONT_FILE
    # The font is read lazily while the PDF is written, so the file must exist until output().
    with resources.as_file(font) as font_path:
        pdf = _ReportPDF(L, data.case_id, font_path)
        # Metadata is UTF-16 in the file: a lone surrogate from a broken export would fail the write.
        title = L["doc_title"].format(case_id=data.case_id, pseudonym=data.pseudonym)
        pdf.set_title(title.encode("utf-16", "replace").decode("utf-16"))
        pdf.set_subject(L["pdf_subject"].format(case_id=data.case_id))
        pdf.set_creator("ncii-shield")
        pdf.set_producer(f"ncii-shield {__version__}")
        pdf.set_lang(language)
        generated = data.generated_at
        pdf.set_creation_date(
            generated.replace(tzinfo=UTC) if generated.tzinfo is None else generated.astimezone(UTC)
        )
        pdf.add_page()
        _case_header(pdf, view)
        _summary(pdf, view)
        _legend(pdf, view)
        _images(pdf, view)
        _timeline(pdf, view)
        _spread(pdf, view)
        pdf.ln(2)
        if pdf.glyphs_replaced:
            pdf.paragraph(L["pdf_glyph_note"], size=8, color=_MUTED)
        pdf.paragraph(
            L["footer"].format(version=view.version, generated=view.generated_at, case_id=data.case_id),
            size=8,
            color=_MUTED,
        )
        return bytes(pdf.output())


def write_pdf(data: ReportData, out: Path, *, language: str = "en") -> Path:
    """Render and write the PDF atomically (owner-only, never half a file under `out`); return `out`."""
    return atomic_write(Path(out), render_pdf(data, language=language))
