"""The report in English and Korean, as HTML and PDF: same keys, no English left, blurred, deterministic."""

from __future__ import annotations

import hashlib
import os
import re
import string
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ncii_shield.evidence import i18n
from ncii_shield.evidence.model import Copy, ImageGroup, ReportData
from ncii_shield.evidence.pdf import render_pdf, write_pdf
from ncii_shield.evidence.report import explain_kind, render_report, write_report
from ncii_shield.media.thumbs import blur_thumbnail
from tests.test_report import HOSTILE, SHA_A, make_thumbnail, sample_data, section, sighting, t

LANGUAGES = ("en", "ko")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
REPO = Path(__file__).resolve().parents[1]


# --- helpers reading a PDF without a PDF library ------------------------------------------------------


def page_count(pdf: bytes) -> int:
    """The page tree's /Count (fpdf2 writes one /Pages object, uncompressed)."""
    counts = re.findall(rb"/Count (\d+)", pdf)
    assert len(counts) == 1, "expected one page tree and no outline"
    return int(counts[0])


def info_string(pdf: bytes, key: str) -> str:
    """A document-information entry, as a literal (ASCII) or a UTF-16BE hex string."""
    m = re.search(rb"/" + key.encode() + rb" (?:\(((?:[^()\\]|\\.)*)\)|<([0-9a-fA-F]+)>)", pdf)
    assert m, f"/{key} missing"
    if m.group(1) is not None:
        return m.group(1).decode("latin-1")
    raw = bytes.fromhex(m.group(2).decode())
    return raw.decode("utf-16")


def characters_drawn(pdf: bytes) -> set[str]:
    """Every character of the embedded font's subset, from its ToUnicode CMap: what the text uses."""
    chars: set[str] = set()
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", pdf, flags=re.S):
        for _glyph, uni in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            chars.update(bytes.fromhex(uni.decode()).decode("utf-16-be"))
    return chars


def data_with_sightings(n: int) -> ReportData:
    copy = Copy(
        SHA_A,
        ("exact",),
        None,
        0.4,
        640,
        480,
        make_thumbnail(2),
        tuple(
            sighting(100 + i, f"Room {i % 5}", i, t(i % 30, i % 24), text_excerpt=f"message {i} " * 8)
            for i in range(n)
        ),
    )
    return ReportData(
        9, "Person B", t(40), "given", "1 photo", ("Telegram export demo",), (ImageGroup("G", None, (copy,)),)
    )


def element_texts(html: str, tag: str) -> list[str]:
    texts = re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", s).strip() for s in texts]


# --- the string tables ----------------------------------------------------------------------------------


def test_languages_have_exactly_the_same_keys_and_placeholders() -> None:
    assert set(i18n.LANGUAGES) == set(LANGUAGES)
    en, ko = i18n.STRINGS["en"], i18n.STRINGS["ko"]
    assert set(en) == set(ko)
    fields = string.Formatter()
    for key in en:
        en_fields = {f for _, f, _, _ in fields.parse(en[key]) if f}
        ko_fields = {f for _, f, _, _ in fields.parse(ko[key]) if f}
        assert en_fields == ko_fields, key  # a translation must not drop or invent a fact
        assert ko[key].strip() and ko[key] != en[key], key


def test_string_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        i18n.STRINGS["en"]["heading_summary"] = "changed"  # type: ignore[index]


def test_unknown_language_is_refused_naming_the_supported_ones(tmp_path: Path) -> None:
    data = sample_data()
    for call in (
        lambda: render_report(data, language="fr"),
        lambda: write_report(data, tmp_path / "r.html", language="fr"),
        lambda: render_pdf(data, language="fr"),
        lambda: write_pdf(data, tmp_path / "r.pdf", language="fr"),
        lambda: explain_kind("exact", None, language="EN"),
    ):
        with pytest.raises(ValueError, match=r"supported: en, ko"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_explain_kind_in_korean_keeps_distances_and_thresholds() -> None:
    assert explain_kind("pdq", 12, language="ko") == (
        "pdq: 시각적으로 동일한 사진(PDQ 거리 256비트 중 12비트, 31 이하를 일치로 판정)"
    )
    assert "0.38" in explain_kind("face", 0.38, language="ko")
    assert explain_kind("exact", None) == explain_kind("exact", None, language="en")
    assert explain_kind("mystery", None, language="ko").startswith("mystery: ")


# --- HTML ---------------------------------------------------------------------------------------------


def test_english_stays_the_default() -> None:
    data = sample_data()
    assert render_report(data) == render_report(data, language="en")
    assert '<html lang="en">' in render_report(data)


def test_korean_html_has_lang_and_korean_headings() -> None:
    html = render_report(sample_data(), language="ko")
    assert '<html lang="ko">' in html
    assert "<h1>증거 보고서 – 사건 42</h1>" in html
    for heading in ("요약", "보고서 읽는 방법", "이미지별 전달 경로", "시간순 경과", "대화방별 유포 현황"):
        assert f"<h2>{heading}</h2>" in html
    for th in ("일시(UTC)", "대화방", "발신자", "전달 출처", "메시지 내용", "최초 확인(UTC)"):
        assert f"<th>{th}</th>" in html
    images = section(html, "images")
    assert "최초 확인" in images and "전달 출처: Channel Zeta" in images
    assert "바이트 단위까지 동일한 파일" in images and "미상" in images
    timeline = section(html, "timeline")
    assert "일(UTC)" in timeline and "일시가 기록되지 않은 1건은 그래프에 포함되지 않았습니다." in timeline


def test_no_english_fixed_string_is_left_in_korean_headings_and_headers() -> None:
    html = render_report(sample_data(), language="ko")
    en = i18n.STRINGS["en"]
    fixed = [key for key in en if key.startswith(("heading_", "th_", "label_", "stat_", "nav_"))]
    for tag in ("h1", "h2", "th", "nav"):
        for text in element_texts(html, tag):
            assert HANGUL.search(text), (tag, text)
    labels = element_texts(html, "dt") + element_texts(html, "h2") + element_texts(html, "th")
    for key in fixed:
        assert not any(en[key] in text for text in labels), key
        assert f">{en[key]}<" not in html, key
    # fixed sentences too (the data in the sample is English on purpose, so check whole UI strings)
    for key in ("notice_confidential", "notice_blurred", "note_dates", "footer", "spread_note", "kind_exact"):
        assert en[key].split("{")[0][:40] not in html, key


def test_write_report_in_korean(tmp_path: Path) -> None:
    out = write_report(sample_data(), tmp_path / "report.html", language="ko")
    assert out.read_text(encoding="utf-8") == render_report(sample_data(), language="ko")


# --- PDF ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_pdf_renders_with_metadata(language: str) -> None:
    pdf = render_pdf(sample_data(), language=language)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) > 0
    L = i18n.STRINGS[language]
    assert info_string(pdf, "Title") == L["doc_title"].format(case_id=42, pseudonym="Person A")
    assert info_string(pdf, "Creator") == "ncii-shield"
    assert info_string(pdf, "CreationDate").startswith("D:20261125100000")  # generated_at, not the clock
    assert f"/Lang ({language})".encode() in pdf


def test_pdf_draws_korean_text_in_korean_and_not_in_english() -> None:
    ko = characters_drawn(render_pdf(sample_data(), language="ko"))
    en = characters_drawn(render_pdf(sample_data(), language="en"))
    for text in ("증거 보고서", "최초 확인", "전달 출처", "쪽", "겹지인방 ○○고"):
        assert set(text) <= ko, text
    assert set("겹지인방") <= en  # Korean chat names are evidence in both languages
    assert not set("증거쪽확") & en  # none of these is in the sample data
    assert set("Evidence report") <= en


def test_pdf_is_byte_identical_for_the_same_data() -> None:
    first = render_pdf(sample_data(), language="ko")
    assert render_pdf(sample_data(), language="ko") == first
    assert render_pdf(sample_data()) == render_pdf(sample_data())
    later = replace(sample_data(), generated_at=datetime(2026, 11, 26, tzinfo=UTC))
    assert render_pdf(later, language="ko") != first


def test_pdf_is_identical_across_processes() -> None:
    """Nothing depends on hash seeds or the clock: another interpreter writes the same bytes."""
    code = (
        "import hashlib, sys\n"
        "from tests.test_report import sample_data\n"
        "from ncii_shield.evidence.pdf import render_pdf\n"
        "sys.stdout.write(hashlib.sha256(render_pdf(sample_data(), language='ko')).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout == hashlib.sha256(render_pdf(sample_data(), language="ko")).hexdigest()


@pytest.mark.parametrize("language", LANGUAGES)
def test_more_sightings_make_more_pages(language: str) -> None:
    one = page_count(render_pdf(data_with_sightings(1), language=language))
    many = page_count(render_pdf(data_with_sightings(200), language=language))
    assert many > one >= 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_pdf_never_contains_the_clear_thumbnail(language: str) -> None:
    data = sample_data()
    pdf = render_pdf(data, language=language)
    thumbs = [c.thumbnail_jpeg for g in data.groups for c in g.copies if c.thumbnail_jpeg]
    assert len(thumbs) == 2
    for jpeg in thumbs:
        assert jpeg not in pdf
        # not even part of its compressed image data (the headers are shared by every JPEG)
        scan = jpeg[jpeg.index(b"\xff\xda") :]
        assert not any(scan[i : i + 32] in pdf for i in range(0, len(scan) - 32, 16))
        assert blur_thumbnail(jpeg) in pdf  # the blurred one is what is shown


def test_pdf_survives_huge_hostile_and_unrenderable_text() -> None:
    """A message longer than a page, markup and characters the font lacks: rendered, nothing lost."""
    sightings = (
        sighting(1, "방 😀", 1, t(0), text_excerpt="긴 문장입니다 " * 1500),
        sighting(2, HOSTILE, 2, t(1), text_excerpt="y" * 20000, forwarded_from="채널 \u2764\ufe0f 힣"),
        sighting(3, "Room", 3, None, text_excerpt="a\tb\r\nc\x00d"),
    )
    copy = Copy(SHA_A, ("exact", "weird"), None, None, None, None, b"\xff\xd8broken", sightings)
    data = ReportData(1, "P 😀", t(9), "c", "r", (), (ImageGroup(HOSTILE, HOSTILE, (copy,)),))
    for language in LANGUAGES:
        pdf = render_pdf(data, language=language)
        assert page_count(pdf) > 10
        drawn = characters_drawn(pdf)
        assert set("[U+1F600]") <= drawn and "힣" not in drawn  # shown by code point instead
        assert info_string(pdf, "Title").endswith(("P 😀) – evidence report", "P 😀) – 증거 보고서"))


def test_write_pdf_is_atomic_and_private(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.pdf"
    assert write_pdf(sample_data(), target, language="ko") == target
    assert target.read_bytes() == render_pdf(sample_data(), language="ko")
    assert (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]
