"""The HTML report: self-contained, blurred by default, complete provenance, escaped, deterministic."""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncii_shield.evidence import report as report_mod
from ncii_shield.evidence.model import Copy, ImageGroup, ReportData, Sighting
from ncii_shield.evidence.report import (
    FACE_SAME_PERSON_THRESHOLD,
    PDQ_MATCH_THRESHOLD,
    render_report,
    write_report,
)
from ncii_shield.media.thumbs import THUMB_MAX_SIDE, blur_thumbnail
from ncii_shield.store import files as files_mod

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
DATA_URI = re.compile(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)")


def make_thumbnail(seed: int = 0, size: tuple[int, int] = (200, 150)) -> bytes:
    """A small real JPEG with a colour gradient and a sharp checkerboard (lots of fine detail)."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    checker = (((x // 6) + (y // 6) + seed) % 2) * 255
    rgb = np.stack([x * 255 // w, y * 255 // h, checker], axis=-1).astype(np.uint8)
    rgb[..., 0] = np.where(checker > 0, rgb[..., 0], 255 - rgb[..., 0])
    out = BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=92)
    return out.getvalue()


def t(day: int, hour: int = 12) -> datetime:
    return datetime(2024, 8, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


def sighting(item_id: int, chat: str, message_id: int, when: datetime | None, **kw: object) -> Sighting:
    fields: dict[str, object] = {
        "item_id": item_id,
        "source": "Telegram export demo",
        "chat": chat,
        "chat_type": "private_supergroup",
        "message_id": message_id,
        "sender": f"sender{item_id} (user{1000 + item_id})",
        "date": when,
        "forwarded_from": None,
        "reply_to": None,
        "media_path": f"photos/photo_{item_id}@24-08-2024_21-03-11.jpg",
        "text_excerpt": f"excerpt of item {item_id}",
    }
    fields.update(kw)
    return Sighting(**fields)  # type: ignore[arg-type]


SHA_A = "a" * 64
SHA_B = "b" * 64
SHA_C = "c" * 64


def sample_data(
    *, chat_name: str = "겹지인방 ○○고", excerpt: str = "○○고 07년생 아시는 분? 갠텔 주세요"
) -> ReportData:
    thumb_a, thumb_b = make_thumbnail(0), make_thumbnail(1, (160, 200))
    copy_a = Copy(
        media_sha256=SHA_A,
        kinds=("exact", "pdq"),
        best_distance=None,
        nudity=0.12,
        width=1280,
        height=960,
        thumbnail_jpeg=thumb_a,
        sightings=(
            # deliberately out of order
            sighting(3, "Room B", 77, t(5), forwarded_from="Channel Zeta", text_excerpt=excerpt),
            sighting(1, chat_name, 11, t(0, 9), reply_to=10),
            sighting(2, chat_name, 12, t(2)),
        ),
    )
    copy_b = Copy(
        media_sha256=SHA_B,
        kinds=("pdq",),
        best_distance=12,
        nudity=None,
        width=800,
        height=1000,
        thumbnail_jpeg=thumb_b,
        sightings=(sighting(4, "Room B", 80, t(1)), sighting(5, "Room C", 5, None)),
    )
    copy_c = Copy(
        media_sha256=SHA_C,
        kinds=("face",),
        best_distance=0.38,
        nudity=0.91,
        width=None,
        height=None,
        thumbnail_jpeg=None,
        sightings=(sighting(6, "Room C", 6, t(3), forwarded_from="Nudify bot", sender=None),),
    )
    return ReportData(
        case_id=42,
        pseudonym="Person A",
        generated_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        consent_summary="given by Person A on 2026-11-25 via signed form",
        references_summary="2 photos: 18 PDQ hashes, 2 faces",
        sources=("Telegram export demo",),
        groups=(
            ImageGroup("Enrolled photo #1 (ref 3)", "ref 3", (copy_a, copy_b)),
            ImageGroup("The person's face on other images", None, (copy_c,)),
        ),
        counts_by_kind={"exact": 1, "pdq": 2, "face": 1},
    )


def embedded_images(html: str) -> list[Image.Image]:
    return [Image.open(BytesIO(base64.b64decode(m))).convert("RGB") for m in DATA_URI.findall(html)]


def high_freq_energy(im: Image.Image) -> float:
    """Mean absolute difference between neighbouring pixels (grey): near 0 for a blurred image."""
    a = np.asarray(im.convert("L"), dtype=np.float64)
    return float(np.abs(np.diff(a, axis=0)).mean() + np.abs(np.diff(a, axis=1)).mean())


def section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)]


# --- self-contained ----------------------------------------------------------------------------


@pytest.mark.parametrize("reveal", [False, True])
def test_report_is_self_contained(reveal: bool) -> None:
    html = render_report(sample_data(), reveal_thumbnails=reveal)
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html and "https://" not in html
    for attr in re.findall(r"""\b(?:src|href|xlink:href|action|poster)\s*=\s*["']?([^"'\s>]*)""", html):
        assert attr.startswith(("data:image/jpeg;base64,", "#")), attr
    assert "url(" not in html and "@import" not in html
    assert "<script" not in html.lower()  # no JS at all, and the hostile-free sample adds none
    for tag in ("<link", "<iframe", "<object", "<embed"):
        assert tag not in html.lower()
    assert 'lang="en"' in html and "Noto Sans KR" in html and "Malgun Gothic" in html
    assert "@media print" in html


def test_urls_in_chat_text_are_shown_not_linked() -> None:
    html = render_report(sample_data(excerpt="join https://t.me/+AbCdEf now"))
    assert "https://t.me/+AbCdEf" in html  # shown as evidence
    assert 'href="https' not in html and 'src="https' not in html


# --- thumbnails ----------------------------------------------------------------------------------


def test_clear_thumbnail_is_absent_by_default() -> None:
    data = sample_data()
    html = render_report(data)
    clear = [c.thumbnail_jpeg for g in data.groups for c in g.copies if c.thumbnail_jpeg]
    assert len(clear) == 2
    for jpeg in clear:
        b64 = base64.b64encode(jpeg).decode()
        assert b64 not in html
        assert b64[100:180] not in html  # not even a fragment of it
    images = embedded_images(html)
    assert len(images) == 2
    for jpeg, shown in zip(clear, images, strict=True):
        original = Image.open(BytesIO(jpeg)).convert("RGB")
        assert max(shown.size) <= THUMB_MAX_SIDE
        # the detail is gone: far less high-frequency energy than the original at the same size
        same_size = original.resize(shown.size, Image.Resampling.LANCZOS)
        assert high_freq_energy(shown) < 0.1 * high_freq_energy(same_size)
        # and it is far from the original pixel by pixel, not just slightly softened
        big = (400, 400)
        diff = np.abs(
            np.asarray(shown.resize(big), dtype=np.float64)
            - np.asarray(original.resize(big), dtype=np.float64)
        )
        assert diff.mean() > 25
    assert "unblurred" not in section(html, "images").lower()


def test_reveal_embeds_clear_thumbnail_behind_a_click_and_warns() -> None:
    data = sample_data()
    html = render_report(data, reveal_thumbnails=True)
    for c in (c for g in data.groups for c in g.copies if c.thumbnail_jpeg):
        assert base64.b64encode(c.thumbnail_jpeg).decode() in html
    assert html.count('<details class="reveal">') == 2
    # the warning comes before any content
    warning = html.index("This report contains unblurred thumbnails")
    assert warning < html.index("<header>")
    # blurred versions are still the ones shown by default
    assert len(embedded_images(html)) == 4
    assert "This report contains unblurred thumbnails" not in render_report(data)


def test_missing_and_corrupt_thumbnails_show_a_placeholder() -> None:
    data = sample_data()
    html = render_report(data)
    assert "no image kept" in section(html, "images")
    broken = Copy(
        SHA_A, ("exact",), None, None, None, None, b"\xff\xd8not a jpeg", (sighting(9, "R", 1, t(0)),)
    )
    html = render_report(
        ReportData(1, "P", t(9), "c", "r", ("s",), (ImageGroup("G", None, (broken,)),)),
        reveal_thumbnails=True,
    )
    assert "image could not be read" in html
    assert "data:image" not in html


def test_blur_thumbnail_keeps_aspect_and_size_limit() -> None:
    out = Image.open(BytesIO(blur_thumbnail(make_thumbnail(0, (256, 128)))))
    assert out.format == "JPEG" and out.size == (160, 80)
    assert not out.info.get("exif")


# --- content and provenance -----------------------------------------------------------------------


def test_groups_copies_and_sightings_appear_with_provenance() -> None:
    data = sample_data()
    html = render_report(data)
    images = section(html, "images")
    header = html[: html.index('<section id="summary">')]
    for text in (
        "42",
        "Person A",
        "2026-11-25 10:00:00",
        "signed form",
        "18 PDQ hashes",
        "Telegram export demo",
    ):
        assert text in header
    for g in data.groups:
        assert g.title.replace("'", "&#39;") in images
        for c in g.copies:
            assert c.media_sha256 in images
            for s in c.sightings:
                assert f">{s.message_id}<" in images
                assert (s.sender or "—") in images
                assert s.text_excerpt in images
    assert "겹지인방 ○○고" in images and 'lang="ko"' in images
    assert "forwarded from Channel Zeta" in images and "forwarded from Nudify bot" in images
    assert "photos/photo_1@24-08-2024_21-03-11.jpg" in images
    # badges with plain-language explanations and thresholds
    assert "PDQ distance 12 of 256 bits" in images
    assert "distance 0.38" in images and f"below {FACE_SAME_PERSON_THRESHOLD:.2f}" in images
    assert f"{PDQ_MATCH_THRESHOLD} or less counts as a match" in images
    assert "identical SHA-256" in images
    assert "0.12" in images and "0.91" in images
    assert "unknown" in images  # the undated sighting


def test_source_is_shown_per_row_only_when_there_are_several() -> None:
    data = sample_data()
    html = render_report(data)
    assert section(html, "images").count("Telegram export demo") == 0  # listed once, in the header
    other = sighting(7, "Room D", 1, t(4), source="Folder of screenshots")
    c = data.groups[1].copies[0]
    moved = Copy(**{**c.__dict__, "sightings": (*c.sightings, other)})
    data = ReportData(**{**data.__dict__, "groups": (data.groups[0], ImageGroup("G", None, (moved,)))})
    html = render_report(data)
    for name in ("images", "timeline"):
        assert "Folder of screenshots" in section(html, name)
        assert "Telegram export demo" in section(html, name)


def test_summary_counts() -> None:
    summary = section(render_report(sample_data()), "summary")
    assert '<span class="v">3</span><span class="l">Distinct copies' in summary
    assert '<span class="v">6</span><span class="l">Sightings' in summary
    assert '<span class="v">3</span><span class="l">Chats involved' in summary
    assert "2024-08-01 09:00:00" in summary and "2024-08-06 12:00:00" in summary


def test_sightings_sorted_by_date_and_first_seen_marked() -> None:
    images = section(render_report(sample_data()), "images")
    copy_a = images[images.index(SHA_A) : images.index(SHA_B)]
    dates = re.findall(r'<time datetime="([^"]+)"', copy_a)
    assert dates == ["2024-08-01T09:00:00Z", "2024-08-03T12:00:00Z", "2024-08-06T12:00:00Z"]
    first_row = copy_a[copy_a.index('<tr class="first">') :]
    assert first_row.index("2024-08-01T09:00:00Z") < first_row.index("first seen") < first_row.index("</tr>")
    assert images.count("first seen") == 3  # one per copy with a dated sighting
    copy_b = images[images.index(SHA_B) : images.index(SHA_C)]
    assert copy_b.index("2024-08-02") < copy_b.index("unknown")  # undated last


def test_timeline_is_chronological_across_groups() -> None:
    timeline = section(render_report(sample_data()), "timeline")
    dates = re.findall(r'<time datetime="([^"]+)"', timeline)
    assert len(dates) == 5  # + one undated
    assert dates == sorted(dates)
    assert timeline.index(dates[-1]) < timeline.rindex("unknown")
    assert "<svg" in timeline and "<rect" in timeline and "Day (UTC)" in timeline and "Sightings" in timeline
    assert timeline.count('<rect class="bar"') == 6  # 2024-08-01 .. 2024-08-06, one bar per day
    assert "1 sighting without a date is not in the chart" in timeline


def test_chart_bins_by_week_over_long_spans() -> None:
    dates = [t(0), t(200), t(201)]
    chart = report_mod._chart(dates)
    assert chart is not None and chart.unit.startswith("Week")
    assert sum(b.label.endswith(": 1 sighting") for b in chart.bars) == 1
    assert report_mod._chart([]) is None


def test_spread_table_per_chat() -> None:
    spread = section(render_report(sample_data()), "spread")
    body = spread[spread.index("<tbody>") :]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    assert len(rows) == 3
    chats = [re.search(r"<td>(.*?)<br>", r, flags=re.S).group(1) for r in rows]  # type: ignore[union-attr]
    assert chats == ['<span lang="ko">겹지인방 ○○고</span>', "Room B", "Room C"]  # by first sighting
    room_b = rows[1]
    assert '<td class="num">2</td>' in room_b  # two sightings, two files
    assert "2024-08-02 12:00:00" in room_b and "2024-08-06 12:00:00" in room_b


def test_hostile_text_is_escaped() -> None:
    data = sample_data(chat_name=HOSTILE, excerpt=HOSTILE)
    hostile_group = ImageGroup(HOSTILE, HOSTILE, data.groups[0].copies)
    data = ReportData(
        data.case_id, HOSTILE, data.generated_at, HOSTILE, HOSTILE, (HOSTILE,), (hostile_group,)
    )
    html = render_report(data)
    assert "<script" not in html.lower()
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_dates_none_and_naive() -> None:
    naive = sighting(1, "R", 1, datetime(2024, 8, 1, 12, 0))  # naive: taken as UTC
    undated = sighting(2, "R", 2, None)
    copy = Copy(SHA_A, ("exact",), None, None, None, None, None, (undated, naive))
    html = render_report(ReportData(1, "P", t(9), "c", "r", ("s",), (ImageGroup("G", None, (copy,)),)))
    assert "2024-08-01 12:00:00" in html
    assert "unknown" in section(html, "images")


def test_empty_report_renders() -> None:
    html = render_report(ReportData(1, "P", t(0), "c", "r", (), ()))
    assert "Nothing matched" in html and "No dated sightings" in html


def test_render_is_deterministic() -> None:
    assert render_report(sample_data()) == render_report(sample_data())
    assert render_report(sample_data(), reveal_thumbnails=True) == render_report(
        sample_data(), reveal_thumbnails=True
    )


def test_output_does_not_depend_on_sighting_input_order() -> None:
    data = sample_data()
    g0 = data.groups[0]
    c0 = g0.copies[0]
    shuffled = Copy(**{**c0.__dict__, "sightings": tuple(reversed(c0.sightings))})
    data2 = ReportData(
        **{
            **data.__dict__,
            "groups": (ImageGroup(g0.title, g0.reference_label, (shuffled, g0.copies[1])), data.groups[1]),
        }
    )
    assert render_report(data) == render_report(data2)


# --- writing ------------------------------------------------------------------------------------


def test_write_report_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sample_data()
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old report")
    expected = render_report(data)
    real_replace = os.replace
    seen: list[tuple[str, str]] = []

    def checking_replace(src: str | Path, dst: str | Path) -> None:
        # at the moment of the swap the temp file is complete, in the same dir, and the target untouched
        assert Path(src).parent == target.parent
        seen.append((Path(src).read_text(encoding="utf-8"), Path(dst).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(files_mod.os, "replace", checking_replace)
    assert write_report(data, target) == target
    assert seen == [(expected, "old report")]
    assert target.read_text(encoding="utf-8") == expected
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    assert (target.stat().st_mode & 0o777) == 0o600


def test_write_report_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("old report")

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files_mod.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(sample_data(), target)
    assert target.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
