"""The PDF report carries the spread as the HTML report does: families, rooms, forward paths, spreaders and the
two drawings, in Korean glyphs, cut to a printable length with a line saying how many more there are."""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ncii_shield.evidence import pdf_families
from ncii_shield.evidence.i18n import STRINGS
from ncii_shield.evidence.pdf import render_pdf
from ncii_shield.evidence.pdf_layout import open_pdf
from ncii_shield.evidence.spread_svg import paths_svg, timeline_svg
from ncii_shield.read.families import Family, _family
from ncii_shield.read.hits import HitRow
from tests.test_report import sample_data
from tests.test_report_i18n_pdf import characters_drawn, page_count

START = datetime(2024, 8, 20, 14, 0, tzinfo=UTC)


def _row(n: int, chat: str, sender: str, forwarded_from: str | None = None) -> HitRow:
    return HitRow(
        item_id=n,
        kind="pdq",
        kinds=("pdq",),
        distances={"pdq": 8.0},
        reference="photo_1.jpg",
        source="export",
        media_path=f"photos/{n}.jpg",
        media_sha256=f"{n:064x}",
        chat=chat,
        chat_id=None,
        message_id=n,
        sender=sender,
        sender_id=f"user{sender}",
        date=START + timedelta(hours=n),
        forwarded_from=forwarded_from,
        reply_to=None,
        nudity=None,
    )


def _families(rooms: int = 3, spreaders: int = 4) -> tuple[Family, ...]:
    rows = [_row(0, "겹지인방 본방", "서진")]
    rows += [
        _row(n, f"링크공유 {n % rooms}", f"유포자{n % spreaders}", forwarded_from="겹지인방 본방")
        for n in range(1, 3 * rooms)
    ]
    return (_family("photo:" + "a" * 64, {"photo:" + "a" * 64: "photo_1.jpg"}, rows),)


def _text(pdf: bytes) -> bytes:
    """Every content stream inflated: fpdf2 writes text as glyph ids, but drawing operators stay readable."""
    out = b""
    for stream in pdf.split(b"stream\n")[1:]:
        body = stream.split(b"\nendstream")[0]
        try:
            out += zlib.decompress(body)
        except zlib.error:
            out += body
    return out


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_pdf_has_the_spread_with_its_drawings(language: str) -> None:
    base = sample_data()
    families = _families()
    without, with_ = (
        render_pdf(base, language=language),
        render_pdf(replace(base, families=families), language=language),
    )
    assert page_count(with_) > page_count(without)
    drawn = characters_drawn(with_)
    assert set("겹지인방링크공유서진") <= drawn  # rooms and spreaders, in the bundled font
    assert set(STRINGS[language]["heading_families"]) - {" "} <= drawn
    # the drawings are vector paths: far more stroked lines than the tables alone draw
    assert _text(with_).count(b" S") > _text(without).count(b" S") + 10


def test_the_figures_are_drawn_not_skipped() -> None:
    (family,) = _families()
    L = STRINGS["ko"]
    with open_pdf(L, 1) as pdf:
        pdf.add_page()
        assert pdf_families._figure(pdf, paths_svg(family, "paths"), "paths")
        assert pdf_families._figure(pdf, timeline_svg(family, "timeline", "최초"), "timeline")
        assert not pdf_families._figure(pdf, "", "nothing")
        pdf.output()


def test_a_long_family_is_cut_with_a_line_saying_how_many_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_families, "MAX_ROWS", 2)
    families = _families(rooms=5, spreaders=6)
    said: list[str] = []
    L = STRINGS["en"]
    with open_pdf(L, 1) as pdf:
        pdf.add_page()
        real = pdf.paragraph
        monkeypatch.setattr(pdf, "paragraph", lambda text, **kw: (said.append(text), real(text, **kw)))
        pdf_families.families_section(pdf, L, families)
        pdf.output()
    more = [s for s in said if s.startswith("… and")]
    family = families[0]
    assert more == [
        L["pdf_more_rows"].format(n=len(family.rooms) - 2),
        L["pdf_more_rows"].format(n=len(family.paths) - 2),
        L["pdf_more_rows"].format(n=len(family.actors) - 2),
    ]
