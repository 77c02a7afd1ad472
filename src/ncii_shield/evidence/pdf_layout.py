"""How the PDF report's pages and blocks look (font, running head, headings, tables, thumbnails).

`pdf.py` decides which sections and facts go on the page; this module only knows how a heading, a
notice, a table or a thumbnail looks, so the report's content reads as a list of blocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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

__all__ = ["FAMILY", "INK", "LINE", "MUTED", "THUMB_BOX", "ReportPDF", "open_pdf"]

_FONT_FILE = "NanumGothicLight.ttf"
FAMILY = _FAMILY = (
    "nanumgothic"  # the only font: no bold file ships, so emphasis is colour, size and a stroke
)

INK = (31, 35, 40)
MUTED = (87, 96, 106)
_ACCENT = (31, 58, 95)
LINE = (208, 215, 222)
_ZEBRA = (246, 248, 250)
_HEAD_FILL = (238, 241, 244)
_WARN_FILL = (255, 244, 214)
_ALERT_INK = (122, 31, 31)
_PLACEHOLDER_FILL = (240, 242, 245)

THUMB_BOX = 36.0  # mm, the longest side of a thumbnail on the page
_LINE_FACTOR = 1.35  # table line height, in font sizes
_CELL_PAD_X = 1.2  # mm, left and right padding of a table cell
_MAX_ROW_LINES = 30  # a longer cell continues in the next row, so a long message does not leave a gap


class ReportPDF(FPDF):
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
        with self.local_context(text_color=MUTED, draw_color=LINE, line_width=0.2):
            self.set_font(_FAMILY, size=7.5)
            self.set_xy(self.l_margin, 9)
            self.cell(0, 4, self.L["pdf_running_head"].format(case_id=self.case_id), align=Align.L)
            self.line(self.l_margin, 14, self.w - self.r_margin, 14)
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        with self.local_context(text_color=MUTED):
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
        self.space_for(keep if keep is not None else {1: 20.0, 2: 40.0, 3: THUMB_BOX + 40}[level])
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
        self, text: str, *, size: float = 9.0, color: tuple[int, int, int] = INK, after: float = 1.5
    ) -> None:
        with self.local_context(text_color=color):
            self.set_font(_FAMILY, size=size)
            self.multi_cell(
                0, size * 0.47, self.safe(text), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        self.ln(after)

    def notice(self, text: str, *, alert: bool = False) -> None:
        ink, fill = (_ALERT_INK, (251, 234, 234)) if alert else (MUTED, _ZEBRA)
        with self.local_context(text_color=ink, fill_color=fill, draw_color=LINE, line_width=0.2):
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

    def rule(self) -> None:
        """A thin line across the text width at the current position (between copies)."""
        with self.local_context(draw_color=LINE, line_width=0.2):
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())

    @contextmanager
    def _table(
        self, col_widths: Sequence[float], *, headings: bool, width: float | None = None
    ) -> Iterator[Table]:
        """A table in the report's style; headings repeat on every page a long table runs onto."""
        with (
            self.local_context(draw_color=LINE, line_width=0.2, text_color=INK),
            self.table(
                col_widths=tuple(col_widths),
                width=width,
                align=Align.R if width is not None else Align.C,
                first_row_as_headings=headings,
                headings_style=FontFace(color=INK, fill_color=_HEAD_FILL),
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
                row.cell(self.safe(label), style=FontFace(color=MUTED))
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

    def thumbnail(self, jpeg: bytes | None, top: float, *, alt: str, placeholder: str) -> float:
        """Draw `jpeg` (or a box saying `placeholder`) at the left margin; return its bottom edge."""
        x = self.l_margin
        if jpeg is not None:
            with Image.open(BytesIO(jpeg)) as im:
                w_px, h_px = im.size
            scale = THUMB_BOX / max(w_px, h_px)
            w, h = w_px * scale, h_px * scale
            self.image(BytesIO(jpeg), x=x, y=top, w=w, h=h, alt_text=alt)
            with self.local_context(draw_color=LINE, line_width=0.2):
                self.rect(x, top, w, h)
            return top + h
        h = THUMB_BOX * 0.75
        with self.local_context(fill_color=_PLACEHOLDER_FILL, draw_color=LINE, line_width=0.2):
            self.set_dash_pattern(dash=1, gap=1)
            self.rect(x, top, THUMB_BOX, h, style="DF")
            self.set_dash_pattern()
        with self.local_context(text_color=MUTED):
            self.set_font(_FAMILY, size=7.5)
            self.set_xy(x + 1.5, top + h / 2 - 3)
            self.multi_cell(THUMB_BOX - 3, 3.4, self.safe(placeholder), align=Align.C)
        return top + h


@contextmanager
def open_pdf(strings: Mapping[str, str], case_id: int) -> Iterator[ReportPDF]:
    """A new report PDF with the bundled font; write it out (`output()`) before leaving the block.

    fpdf2 reads the font file lazily while the PDF is written, so the file must exist until then.
    """
    font = resources.files("ncii_shield.evidence") / "fonts" / _FONT_FILE
    with resources.as_file(font) as font_path:
        yield ReportPDF(strings, case_id, font_path)
