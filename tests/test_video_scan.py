"""Videos in a scan: every sampled frame is hashed and searched for faces, not just the first one."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Signal
from tests.conftest import ASSETS
from tests.test_scan import _case, _scan
from tests.test_video import _encode


def _slideshow(
    names: list[str], seconds: int = 3, size: tuple[int, int] = (480, 360), fps: int = 10
) -> bytes:
    frames = []
    for name in names:
        img = Image.open(ASSETS / name).convert("RGB")
        img.thumbnail(size)
        canvas = Image.new("RGB", size)
        canvas.paste(img, ((size[0] - img.width) // 2, (size[1] - img.height) // 2))
        frames += [canvas] * (seconds * fps)
    return _encode(frames, size, fps)


def test_a_video_is_matched_on_a_later_frame(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(_slideshow(["mate-Dune.jpg", "obama.jpg"]))  # the person from 3 s
    (folder / "other.mp4").write_bytes(_slideshow(["mate-Dune.jpg", "biden.jpg"]))
    case_id = _case(store, [ASSETS / "obama.jpg"])
    result = _scan(store, folder, case_id)
    with store.session() as s:
        hits = {(i.media_path, h.kind) for h, i in s.execute(select(Hit, Item).join(Item)).all()}
        frames = s.scalar(select(func.count()).select_from(Signal).where(Signal.kind == "pdq"))
        times = sorted(s.scalars(select(Signal.score).where(Signal.kind == "pdq")).all())
    assert hits >= {("clip.mp4", "face")}
    assert not any(path == "other.mp4" for path, _ in hits)
    assert frames >= 8, "about one frame a second from each 6-second video"
    assert max(times) >= 3.0, "frames after the first scene were sampled"
    assert result.new_hits["face"] == 1


def test_a_clip_of_an_enrolled_video_is_found_in_a_longer_video(store: Store, tmp_path: Path) -> None:
    import itertools

    from ncii_shield.cases.service import enrol, open_case
    from tests.test_video import (
        AFTER,
        BEFORE,
        COPY_FPS,
        COPY_SIZE,
        REF_FPS,
        REF_SIZE,
        REFERENCE,
        _cut,
        _decoded,
    )
    from tests.test_video import _timeline as timeline

    reference = _encode(timeline(REFERENCE, REF_SIZE, REF_FPS), REF_SIZE, REF_FPS)
    (tmp_path / "own-video.mp4").write_bytes(reference)
    clip = _cut(_decoded(reference), 7.4, 6.0, COPY_SIZE, COPY_FPS)
    longer = itertools.chain(
        timeline(BEFORE, COPY_SIZE, COPY_FPS), clip, timeline(AFTER, COPY_SIZE, COPY_FPS)
    )
    folder = tmp_path / "collected"
    folder.mkdir()
    (folder / "reupload.mp4").write_bytes(_encode(longer, COPY_SIZE, COPY_FPS, crf=32))
    (folder / "unrelated.mp4").write_bytes(_encode(timeline(AFTER, COPY_SIZE, COPY_FPS), COPY_SIZE, COPY_FPS))
    with store.session() as s:
        case = open_case(s, "V", consent_by="V", consent_method="form")
        (result,) = enrol(s, store, case, [tmp_path / "own-video.mp4"])
        case_id = case.id
    assert any("frames enrolled" in w for w in result.warnings)
    _scan(store, folder, case_id)
    with store.session() as s:
        hits = [(i.media_path, h) for h, i in s.execute(select(Hit, Item).join(Item)).all()]
    video = [(path, h) for path, h in hits if h.kind == "video"]
    assert [path for path, _ in video] == ["reupload.mp4"]
    details = video[0][1].details
    assert details["match"] == "clip"
    start, end = details["query_range"]
    assert 26.5 <= start <= 28.5 and 31.5 <= end <= 33.5, details
    assert not any(path == "unrelated.mp4" for path, _ in hits)
