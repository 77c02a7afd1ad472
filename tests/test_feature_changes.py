"""The faster local-feature extraction (issue 14): the same corners as a full low-threshold search, blobs
stored by the code before still matched, grid collages described tile by tile (the smooth mate-Storm cell of a
3x3 collage that escaped), a 60 % crop, and photos shown whole inside a video's bars.

`tests/data/features/*.v1.nlf` were written by the extraction as it was before this change (one FAST search at
threshold 5, pyramid levels by area resizing, whole-image equalisation): an enrolled photo (mate-Garden) and a
stored scan (mate-Dune with 40 % of its area cut away on the left, JPEG q85).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ncii_shield.index import corners as fc
from ncii_shield.index import local_features as lf
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.pdq import MATCH_THRESHOLD, as_words, distances, pdq_dihedral
from tests.conftest import ASSETS, DATA
from tests.test_local_features import _as_received, _features, _photo

_received = _as_received
OLD = DATA / "features"
FILLERS = sorted((DATA / "pdq-reference" / "reg-test-input" / "labelme-subset").glob("*.jpg"))


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    scale = max(size[0] / img.width, size[1] / img.height)
    scaled = img.resize((max(size[0], round(img.width * scale)), max(size[1], round(img.height * scale))))
    left, top = (scaled.width - size[0]) // 2, (scaled.height - size[1]) // 2
    return scaled.crop((left, top, left + size[0], top + size[1]))


def _grid(photo: Image.Image, cells: int, at: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The photo in cell `at` of a cells x cells grid 1280 px wide with 6-px white gutters, the other cells
    Meta's PDQ test photos; and the photo's box in the collage (0-1)."""
    gutter = 6
    tile = ((1280 - (cells + 1) * gutter) // cells, 0)
    tile = (tile[0], round(tile[0] * photo.height / photo.width))
    size = (cells * tile[0] + (cells + 1) * gutter, cells * tile[1] + (cells + 1) * gutter)
    canvas = Image.new("RGB", size, "white")
    others = iter(FILLERS * 2)
    for i in range(cells * cells):
        x, y = gutter + (i % cells) * (tile[0] + gutter), gutter + (i // cells) * (tile[1] + gutter)
        cell = photo.resize(tile) if i == at else _cover(Image.open(next(others)).convert("RGB"), tile)
        canvas.paste(cell, (x, y))
        if i == at:
            box = (x / size[0], y / size[1], (x + tile[0]) / size[0], (y + tile[1]) / size[1])
    return _received(canvas), box


def _level(name: str, level: int) -> np.ndarray:
    work = lf._equalised(lf._scaled(lf._grey(np.asarray(_photo(name)))))
    for step in range(1, level + 1):
        scale = lf.PYRAMID_SCALE**step
        size = (round(work.shape[1] / scale), round(work.shape[0] / scale))
        work = lf.cv2.resize(work, size, interpolation=lf.cv2.INTER_LINEAR_EXACT)
    return work


@pytest.mark.parametrize(
    ("name", "level", "budget"),
    [
        ("mate-Storm.jpg", 0, 217),
        ("mate-Blinds.jpg", 0, 217),
        ("obama.jpg", 3, 120),
        ("mate-Dune.jpg", 7, 56),
    ],
)
def test_the_tiered_corner_search_keeps_the_corners_of_a_full_search(
    name: str, level: int, budget: int
) -> None:
    """FAST at FAST_THRESHOLD over the whole level, then the per-cell picking: exactly what `_corners` keeps."""
    img = _level(name, level)
    pts, score = fc.inside(*fc.detect(fc.FAST_THRESHOLD, img), fc.inner(img))
    chosen = fc.pick(fc.ranks(fc.cell_of(pts, img.shape), score), score, budget)
    fast_pts, fast_score = fc.corners(img, budget)
    assert sorted(map(tuple, pts[chosen].tolist())) == sorted(map(tuple, fast_pts.tolist()))
    assert sorted(score[chosen].tolist()) == sorted(fast_score.tolist())


def test_blobs_stored_before_the_change_still_match() -> None:
    """An enrolled photo's blob from before against copies extracted now, and a stored scan's blob from
    before against a reference extracted now; unrelated pairs stay apart either way."""
    old_garden = lf.LocalFeatures.from_bytes((OLD / "mate-Garden.v1.nlf").read_bytes())
    old_dune_crop = lf.LocalFeatures.from_bytes((OLD / "mate-Dune-crop40.v1.nlf").read_bytes())
    garden = _photo("mate-Garden.jpg")
    w, h = garden.size
    copies = {
        "telegram": lf.extract(_received(garden.resize((1280, round(1280 * h / w))), 80)),
        "crop 25 %": lf.extract(_received(garden.crop((0, 0, round(w * 0.866), round(h * 0.866))))),
        "2x2 cell": lf.extract(_grid(garden, 2, 3)[0]),
    }
    for label, copy in copies.items():
        found = lf.verify(copy, old_garden)
        assert found is not None and found.inliers >= lf.MIN_INLIERS, label
        assert lf.verify(copy, _features("mate-Dune.jpg")) is None, label
    assert (found := lf.verify(old_dune_crop, _features("mate-Dune.jpg"))) is not None
    assert found.coverage == pytest.approx(0.6, abs=0.05)
    assert lf.verify(old_dune_crop, _features("mate-Garden.jpg")) is None
    assert lf.verify(old_dune_crop, old_garden) is None


def test_a_smooth_photo_in_a_3x3_collage_is_found() -> None:
    """mate-Storm (a motion-blurred sky) as the top-right cell: 3-4 inliers when the collage was described as
    one picture, 20+ tile by tile. The match lands on its cell; unrelated photos find nothing."""
    rgb, box = _grid(_photo("mate-Storm.jpg"), 3, 2)
    assert len(lf.collage_tiles(lf._scaled(lf._grey(rgb)))) == 9
    copy = lf.extract(rgb)
    found = lf.verify(copy, _features("mate-Storm.jpg"))
    assert found is not None and found.inliers >= 2 * lf.MIN_INLIERS
    assert found.region == pytest.approx(box, abs=0.03)
    for other in ("mate-Dune.jpg", "mate-Aqua.jpg", "obama.jpg"):
        assert lf.verify(copy, _features(other)) is None


def test_photos_and_screenshots_are_not_cut_into_tiles() -> None:
    """Only gutters both ways make a grid: a motion-blurred photo's flat rows do not."""
    for path in sorted(ASSETS.glob("*.jpg")):
        rgb = decode_image(path.read_bytes()).rgb
        assert lf.collage_tiles(lf._scaled(lf._grey(rgb))) == [], path.name


def test_a_60_percent_crop_is_found() -> None:
    """60 % of the area cut away towards a corner: 40 % of the photo left, still placed and measured."""
    garden = _photo("mate-Garden.jpg")
    w, h = garden.size
    keep = 0.4**0.5
    copy = lf.extract(_received(garden.crop((w - round(w * keep), 0, w, round(h * keep)))))
    found = lf.verify(copy, _features("mate-Garden.jpg"))
    assert found is not None and found.inliers >= lf.MIN_INLIERS
    assert found.coverage == pytest.approx(0.4, abs=0.05)
    for other in ("mate-Dune.jpg", "mate-Storm.jpg", "obama.jpg"):
        assert lf.verify(copy, _features(other)) is None


def test_a_photo_shown_whole_in_a_slideshow_matches_inside_its_bars() -> None:
    """Pillarboxed in a 16:9 MP4, the frame's own PDQ is far from the photo's; the hash inside the bars is
    near. Frames filling the picture get no second hash."""
    from ncii_shield.demo.slideshow import encode
    from ncii_shield.signals.video import bars, video_signals

    size = (320, 180)
    photo = _photo("obama.jpg")
    k = min(size[0] / photo.width, size[1] / photo.height)
    shown = photo.resize((round(photo.width * k), round(photo.height * k)))
    boxed = Image.new("RGB", size)
    boxed.paste(shown, ((size[0] - shown.width) // 2, 0))
    left, right = (size[0] - shown.width) // 2, (size[0] - shown.width) // 2 + shown.width
    assert bars(np.asarray(boxed)) == (0, size[1], left, right)
    assert bars(np.zeros((180, 320, 3), np.uint8)) == (0, 180, 0, 320)  # a black frame: no picture to cut out
    assert bars(np.zeros((4, 4, 3), np.uint8)) == (0, 4, 0, 4)
    filler = _cover(Image.open(FILLERS[0]).convert("RGB"), size)
    data = encode([filler] * 10 + [boxed] * 20, size, 10)
    frames = video_signals(data, faces=False).frames
    refs = as_words(pdq_dihedral(np.asarray(photo))[0])

    def nearest(value: bytes) -> int:
        return int(distances(refs, as_words([value])[0]).min())

    boxed_frames = [f for f in frames if f.timestamp >= 1.0]
    assert boxed_frames and all(f.content_pdq is not None for f in boxed_frames)
    assert min(nearest(f.content_pdq) for f in boxed_frames if f.content_pdq) <= MATCH_THRESHOLD
    assert min(nearest(f.pdq) for f in frames) > MATCH_THRESHOLD
    assert all(f.content_pdq is None for f in frames if f.timestamp < 1.0)
