"""The edits that used to escape the matcher (issue 14): a photo as a later frame of an animation, as one
cell of a 3x3 collage, and mirrored and cropped at once. Built from the bundled photos."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from ncii_shield.index import multicrop
from ncii_shield.index.local_features import extract
from ncii_shield.media.animation import AnimationReader, is_animation
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.analyse import analyse_bytes
from ncii_shield.signals.base import CaseKey, ReferenceRow, Sample
from ncii_shield.signals.kinds.partial import PartialKind, mirrored_features
from ncii_shield.signals.pdq import MATCH_THRESHOLD, as_words, distances, pdq_dihedral
from ncii_shield.store import crypto
from ncii_shield.store.models import Hit, Item
from tests.conftest import ASSETS
from tests.test_scan import _case, _scan

FILLERS = ["mate-Dune.jpg", "mate-Aqua.jpg", "mate-Storm.jpg", "mate-LadyBird.jpg"]


def _rgb(name: str, size: tuple[int, int] | None = None) -> Image.Image:
    img = Image.open(ASSETS / name).convert("RGB")
    return img.resize(size, Image.Resampling.LANCZOS) if size else img


def _animation(fmt: str, photo: str | None, size: tuple[int, int] = (400, 300)) -> bytes:
    """Five frames of 300 ms: unrelated photos, with `photo` (if any) as the 3rd."""
    frames = [_rgb(name, size) for name in FILLERS]
    if photo:
        frames.insert(2, _rgb(photo, size))
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=300, loop=0)
    return buf.getvalue()


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _nearest(hashes: list[bytes], name: str) -> int:
    refs = as_words(pdq_dihedral(decode_image((ASSETS / name).read_bytes()).rgb)[0])
    return min(int(distances(refs, w).min()) for w in as_words(hashes))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_every_frame_of_an_animation_is_hashed(fmt: str) -> None:
    data = _animation(fmt, "mate-Garden.jpg")
    assert is_animation(data)
    analysis = analyse_bytes(data, with_nudity=False)
    assert len(analysis.frames) == 5
    assert [f.timestamp for f in analysis.frames] == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.2])
    assert analysis.frames[0].pdq == analysis.pdq  # frame 0 hashes exactly as the still decode does
    assert _nearest([analysis.frames[2].pdq], "mate-Garden.jpg") <= MATCH_THRESHOLD
    assert _nearest([f.pdq for i, f in enumerate(analysis.frames) if i != 2], "mate-Garden.jpg") > 60


def test_still_images_keep_the_first_frame_behaviour() -> None:
    buf = io.BytesIO()
    _rgb("mate-Garden.jpg", (400, 300)).save(buf, format="GIF")
    for data in (buf.getvalue(), (ASSETS / "mate-Garden.jpg").read_bytes()):
        assert not is_animation(data)
        assert analyse_bytes(data, with_nudity=False).frames == []


def test_animation_sampling_is_bounded() -> None:
    """A long animation of one picture: one frame a second, not every frame."""
    still = _rgb("mate-Garden.jpg", (64, 48))
    frames = []
    for i in range(50):  # a moving dot, so no two frames are identical (Pillow merges identical ones)
        frame = still.copy()
        frame.paste((255, 0, 0), (i, 2, i + 3, 5))
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    with AnimationReader(buf.getvalue()) as reader:
        frames = list(reader.frames())
    assert reader.decoded_frames == 50
    assert [f.reason for f in frames] == ["first"] + ["interval"] * 4
    assert [round(f.timestamp, 1) for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_gif_third_frame_is_found_by_a_scan(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "copies"
    folder.mkdir()
    (folder / "slideshow.gif").write_bytes(_animation("GIF", "mate-Garden.jpg"))
    (folder / "other.gif").write_bytes(_animation("GIF", None))
    case_id = _case(store, [ASSETS / "mate-Garden.jpg"])
    _scan(store, folder, case_id)
    with store.session() as s:
        hits = s.execute(select(Hit.kind, Item.media_path).join(Item)).all()
    assert {path for _, path in hits} == {"slideshow.gif"}
    assert "pdq" in {kind for kind, _ in hits}


def _collage3(photo: str, cell: int) -> np.ndarray:
    """The photo in one cell of a 3x3 grid 1280 px wide with white gutters; the other cells unrelated."""
    gutter, tile = 6, (420, 280)
    canvas = Image.new("RGB", (3 * tile[0] + 4 * gutter, 3 * tile[1] + 4 * gutter), "white")
    others = iter(FILLERS * 2)
    for i in range(9):
        img = _rgb(photo if i == cell else next(others), tile)
        canvas.paste(img, (gutter + (i % 3) * (tile[0] + gutter), gutter + (i // 3) * (tile[1] + gutter)))
    return decode_image(_jpeg(canvas)).rgb


@pytest.mark.parametrize("cell", [0, 4, 8])
def test_a_3x3_collage_cell_is_found_by_a_window(cell: int) -> None:
    windows = multicrop.window_hashes(_collage3("mate-Garden.jpg", cell))
    garden = pdq_dihedral(decode_image((ASSETS / "mate-Garden.jpg").read_bytes()).rgb)[0]
    found = multicrop.best_window(windows, garden)
    assert found is not None
    left, top = found[0].box[:2]
    assert (left, top) == pytest.approx(((cell % 3) / 3, (cell // 3) / 3), abs=0.02)
    for other in ("obama.jpg", "mate-Elephants.jpg", "mate-YellowFlower.jpg"):
        rgb = decode_image((ASSETS / other).read_bytes()).rgb
        assert multicrop.best_window(windows, pdq_dihedral(rgb)[0]) is None


def _mirror_crop(name: str) -> bytes:
    img = _rgb(name).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = img.size
    keep = (1 - 0.33) ** 0.5  # a third of the area cut away towards the bottom-right corner
    return _jpeg(img.crop((0, 0, round(w * keep), round(h * keep))))


def test_mirror_and_crop_is_found_by_the_mirrored_features(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "copies"
    folder.mkdir()
    (folder / "flipped-crop.jpg").write_bytes(_mirror_crop("mate-Garden.jpg"))
    (folder / "unrelated.jpg").write_bytes(_mirror_crop("mate-Dune.jpg"))
    case_id = _case(store, [ASSETS / "mate-Garden.jpg"])
    _scan(store, folder, case_id)
    with store.session() as s:
        hits = s.execute(select(Hit.kind, Hit.details, Item.media_path).join(Item)).all()
    assert [(kind, path) for kind, _, path in hits] == [("partial", "flipped-crop.jpg")]
    details = hits[0][1]
    assert details["route"] == "features" and details["mirrored"] is True and details["inliers"] >= 10


def test_a_features_reference_holds_the_photo_then_its_mirror() -> None:
    kind = PartialKind()
    key = CaseKey(3, lambda: bytes(32))
    sample = Sample((ASSETS / "mate-Garden.jpg").read_bytes())
    (reference,) = kind.enrol(sample, key).references
    row = ReferenceRow(7, "features", 0, sample.sha256, reference.value, None)
    own, flipped = kind.unpack_all(crypto.unseal(key.key, row.value, kind.aad_for(key.case_id)))
    assert own.to_bytes() == extract(sample.decoded.rgb).to_bytes()
    assert flipped.to_bytes() == mirrored_features(sample.decoded.rgb).to_bytes()
    assert kind.open(key.key, key.case_id, row.value).to_bytes() == own.to_bytes()  # one value, as before
    loaded = kind.load({"features": [row]}, key)
    assert loaded is not None and [i for i, _ in loaded.features] == [7, 7] and loaded.mirrored == {1}


def test_a_reference_enrolled_before_stays_valid() -> None:
    """One blob, as enrolment stored it before the mirror was added: it loads, without a mirrored entry."""
    kind = PartialKind()
    key = CaseKey(3, lambda: bytes(32))
    sample = Sample((ASSETS / "mate-Garden.jpg").read_bytes())
    old = kind.seal(key.key, key.case_id, kind.compute(sample))
    loaded = kind.load({"features": [ReferenceRow(5, "features", 0, sample.sha256, old, None)]}, key)
    assert loaded is not None and [i for i, _ in loaded.features] == [5] and loaded.mirrored == set()


def test_a_160_px_thumbnail_is_found_by_local_features() -> None:
    """mate-Storm's PDQ moves 58 bits at 160 px; enlarged before ORB, the thumbnail keeps its keypoints."""
    from ncii_shield.index.local_features import MIN_INLIERS, verify

    small = _rgb("mate-Storm.jpg")
    small.thumbnail((160, 160))
    query = extract(decode_image(_jpeg(small)).rgb)
    own = verify(query, extract(decode_image((ASSETS / "mate-Storm.jpg").read_bytes()).rgb))
    assert own is not None and own.inliers >= MIN_INLIERS
    assert own.scale == pytest.approx(160 / 1280, rel=0.1)  # reported in stored pixels, not enlarged ones
    for other in ("mate-Garden.jpg", "mate-Dune.jpg", "obama.jpg"):
        assert verify(query, extract(decode_image((ASSETS / other).read_bytes()).rgb)) is None


def test_a_hostile_animation_is_read_in_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding stops at the frame budget; every frame a new picture stops at the sampled-frame cap."""
    from ncii_shield.media import animation

    frames = [Image.new("RGB", (8, 8), (0, 0, 0) if i % 2 else (255, 255, 255)) for i in range(40)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=20)
    monkeypatch.setattr(animation, "MAX_ANIMATION_DECODED", 25)
    with AnimationReader(buf.getvalue()) as reader:
        kept = list(reader.frames(max_frames=10))
    assert len(kept) == 10 and reader.capped
    with AnimationReader(buf.getvalue()) as reader:
        kept = list(reader.frames())
    assert reader.decoded_frames == 25 and reader.capped and len(kept) == 25
    for junk in (b"GIF89a" + bytes(20), buf.getvalue()[:60]):
        assert analyse_bytes(junk, with_nudity=False).frames == []
