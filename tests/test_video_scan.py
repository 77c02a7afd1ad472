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
