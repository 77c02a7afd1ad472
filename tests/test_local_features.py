"""Local features find partial copies PDQ misses, place them in the copy, and never link unrelated photos.

The copies are built here from the bundled benign photos, the same kinds bench/robustness.py measures.
"""

from __future__ import annotations

import io
import itertools
from functools import cache

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ncii_shield.index import local_features as lf
from ncii_shield.index import multicrop
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.pdq import MATCH_THRESHOLD, as_words, distances, pdq_dihedral, pdq_hash
from tests.conftest import ASSETS, DATA

# Busy, unrelated collage cells (stripes, house fronts, stairs): they would take every keypoint if
# keypoints were not picked per grid cell.
FILLERS = [
    DATA / "pdq-reference" / "reg-test-input" / "labelme-subset" / f"{n}.jpg"
    for n in ("q2821", "q1050", "q0746")
]


@cache
def _photo(name: str) -> Image.Image:
    return Image.open(ASSETS / name).convert("RGB")


@cache
def _features(name: str) -> lf.LocalFeatures:
    return lf.extract(np.asarray(_photo(name)))


def _as_received(img: Image.Image, quality: int = 85) -> np.ndarray:
    """Through JPEG and the project's decoder, as a scan would see the copy."""
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return decode_image(buf.getvalue()).rgb


def _collage(photo: Image.Image) -> np.ndarray:
    """The photo in the bottom-right cell of a 2x2 grid; the other cells are unrelated photos."""
    tile = (634, round(634 * photo.height / photo.width))
    canvas = Image.new("RGB", (2 * tile[0] + 18, 2 * tile[1] + 18), "white")
    cells = [Image.open(path).convert("RGB").resize(tile) for path in FILLERS] + [photo.resize(tile)]
    for i, cell in enumerate(cells):
        canvas.paste(cell, (6 + (i % 2) * (tile[0] + 6), 6 + (i // 2) * (tile[1] + 6)))
    return _as_received(canvas)


def _screenshot(photo: Image.Image) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A chat screenshot showing the photo 900 px wide, resent at 1280 px; also where the photo is (0-1)."""
    canvas = Image.new("RGB", (1080, 2340), (230, 235, 240))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=40)
    draw.rectangle((0, 0, 1080, 250), fill=(82, 136, 193))
    draw.text((250, 150), "group chat", fill="white", font=font)
    for y in (300, 440):
        draw.rounded_rectangle((40, y, 600, y + 110), radius=30, fill="white")
        draw.text((70, y + 35), "anyone know her?", fill="black", font=font)
    w, h = 900, round(900 * photo.height / photo.width)
    x0, y0 = 140, 600
    canvas.paste(photo.resize((w, h)), (x0, y0))
    draw.rectangle((0, 2110, 1080, 2340), fill="white")
    small = canvas.resize((591, 1280), Image.Resampling.LANCZOS)
    return _as_received(small, 80), (x0 / 1080, y0 / 2340, (x0 + w) / 1080, (y0 + h) / 2340)


def _captioned(photo: Image.Image) -> np.ndarray:
    """A black band with text over the bottom 15 % of the photo."""
    out = photo.copy()
    draw = ImageDraw.Draw(out)
    band = round(out.height * 0.15)
    draw.rectangle((0, out.height - band, out.width, out.height), fill="black")
    draw.text(
        (40, out.height - band + 20), "who is this lol", fill="white", font=ImageFont.load_default(size=60)
    )
    return _as_received(out)


def test_round_trip_keeps_every_keypoint_and_the_match() -> None:
    features = _features("mate-Dune.jpg")
    blob = features.to_bytes()
    back = lf.LocalFeatures.from_bytes(blob)
    assert 500 <= len(features) <= lf.MAX_KEYPOINTS
    assert len(blob) == 24 + 36 * len(features) <= 36_024
    assert (back.width, back.height) == (features.width, features.height)
    assert (back.source_width, back.source_height) == (1280, 800)
    assert np.array_equal(back.descriptors, features.descriptors)
    assert np.abs(back.points - features.points).max() <= 1 / 65535
    assert back.to_bytes() == blob
    copy = lf.extract(_as_received(_photo("mate-Dune.jpg"), 70))
    direct, stored = lf.verify(copy, features), lf.verify(copy, back)
    assert direct is not None and stored is not None
    assert abs(direct.inliers - stored.inliers) <= 2


def test_a_30_percent_crop_is_found_and_placed() -> None:
    photo = _photo("mate-LadyBird.jpg")
    crop = photo.crop((round(photo.width * 0.3), 0, photo.width, photo.height))  # the left 30 % cut away
    found = lf.verify(lf.extract(_as_received(crop)), _features("mate-LadyBird.jpg"))
    assert found is not None
    assert found.inliers >= lf.MIN_INLIERS
    assert found.coverage == pytest.approx(0.7, abs=0.03)  # the copy shows 70 % of the reference
    assert found.region == pytest.approx((0, 0, 1, 1), abs=0.02)  # ... and fills the copy
    assert found.scale == pytest.approx(1.0, abs=0.1)
    assert abs(found.rotation) < 2
    # the photo's own corners: its left edge lies off the copy, 0.3 / 0.7 of the copy's width to the left
    expected = [(-0.3 / 0.7, 0), (1, 0), (1, 1), (-0.3 / 0.7, 1)]
    assert [c for corner in found.quad for c in corner] == pytest.approx(
        [c for corner in expected for c in corner], abs=0.03
    )


def test_a_collage_tile_is_found_in_its_cell() -> None:
    found = lf.verify(lf.extract(_collage(_photo("mate-Blinds.jpg"))), _features("mate-Blinds.jpg"))
    assert found is not None
    left, top, right, bottom = found.region
    assert left == pytest.approx(0.5, abs=0.02) and top == pytest.approx(0.5, abs=0.02)
    assert right == pytest.approx(1.0, abs=0.02) and bottom == pytest.approx(1.0, abs=0.02)
    assert found.coverage > 0.95
    assert found.scale == pytest.approx(634 / 1280, rel=0.03)


def test_a_screenshot_of_a_chat_is_found_where_the_photo_is() -> None:
    rgb, where = _screenshot(_photo("mate-FreshFlower.jpg"))
    found = lf.verify(lf.extract(rgb), _features("mate-FreshFlower.jpg"))
    assert found is not None
    assert found.region == pytest.approx(where, abs=0.02)
    assert found.scale == pytest.approx(
        900 / 1280 * 591 / 1080, rel=0.05
    )  # as shown in the resent screenshot


def test_a_captioned_portrait_is_found() -> None:
    found = lf.verify(lf.extract(_captioned(_photo("obama.jpg"))), _features("obama.jpg"))
    assert found is not None
    assert found.coverage > 0.95  # the band hides part of the photo but the frame is all there


def test_a_quarter_turn_is_found_with_its_angle() -> None:
    turned = _as_received(_photo("mate-Garden.jpg").transpose(Image.Transpose.ROTATE_90))
    found = lf.verify(lf.extract(turned), _features("mate-Garden.jpg"))
    assert found is not None
    assert found.rotation == pytest.approx(-90, abs=2)
    # turned left: the photo's top-left corner is now the copy's bottom-left, and so on round
    expected = [(0, 1), (0, 0), (1, 0), (1, 1)]
    assert [c for corner in found.quad for c in corner] == pytest.approx(
        [c for corner in expected for c in corner], abs=0.03
    )


UNRELATED = [
    "mate-Aqua.jpg",
    "mate-Garden.jpg",
    "mate-GreenMeadow.jpg",
    "mate-Storm.jpg",
    "obama.jpg",
    "obama2.jpg",
    "obama3.jpg",
    "biden.jpg",
    "biden2.jpg",
    "astronaut.jpg",
]


@pytest.mark.parametrize(("query", "reference"), list(itertools.permutations(UNRELATED[:5], 2)))
def test_unrelated_photos_do_not_match(query: str, reference: str) -> None:
    assert lf.verify(_features(query), _features(reference)) is None


@pytest.mark.parametrize(("query", "reference"), list(itertools.combinations(UNRELATED[4:], 2)))
def test_different_portraits_do_not_match(query: str, reference: str) -> None:
    """Same men in similar suits and settings (and one other person): different photographs, not copies."""
    assert lf.verify(_features(query), _features(reference)) is None


def test_empty_blob_is_refused_clearly() -> None:
    with pytest.raises(lf.FeatureBlobError, match="empty"):
        lf.LocalFeatures.from_bytes(b"")


def test_corrupt_blobs_are_refused_clearly() -> None:
    blob = _features("mate-Dune.jpg").to_bytes()
    with pytest.raises(lf.FeatureBlobError, match="truncated"):
        lf.LocalFeatures.from_bytes(blob[:-7])
    with pytest.raises(lf.FeatureBlobError, match="magic"):
        lf.LocalFeatures.from_bytes(b"JFIF" + blob[4:])
    with pytest.raises(lf.FeatureBlobError, match="too short"):
        lf.LocalFeatures.from_bytes(blob[:9])
    with pytest.raises(ValueError):  # callers that only know ValueError still catch it
        lf.LocalFeatures.from_bytes(blob + b"\x00")


def test_a_flat_image_has_no_features_and_matches_nothing() -> None:
    flat = lf.extract(np.full((600, 800, 3), 128, dtype=np.uint8))
    assert len(flat) == 0
    assert lf.LocalFeatures.from_bytes(flat.to_bytes()).descriptors.shape == (0, 32)
    assert lf.verify(flat, _features("mate-Dune.jpg")) is None
    assert lf.verify(_features("mate-Dune.jpg"), flat) is None
    assert lf.verify(flat, flat) is None


def test_tiny_and_grey_images_do_not_crash() -> None:
    assert len(lf.extract(np.zeros((5, 7, 3), dtype=np.uint8))) == 0
    grey = np.asarray(_photo("mate-Dune.jpg").convert("L"))
    assert len(lf.extract(grey)) > 500
    with pytest.raises(ValueError, match="shape"):
        lf.extract(np.zeros((4, 4, 2), dtype=np.uint8))


def test_multicrop_finds_a_collage_cell_pdq_misses() -> None:
    photo = np.asarray(_photo("mate-Dune.jpg"))
    refs = pdq_dihedral(photo)[0]
    collage = _collage(_photo("mate-Dune.jpg"))
    whole = int(distances(as_words(refs), as_words([pdq_hash(collage)[0]])[0]).min())
    assert whole > MATCH_THRESHOLD  # PDQ of the whole collage misses the photo
    found = multicrop.best_window(multicrop.window_hashes(collage), refs)
    assert found is not None
    window, distance = found
    assert distance <= MATCH_THRESHOLD
    assert window.box == pytest.approx((0.5, 0.5, 1.0, 1.0), abs=0.02)
    other = pdq_dihedral(np.asarray(_photo("mate-Garden.jpg")))[0]
    assert multicrop.best_window(multicrop.window_hashes(collage), other) is None


def _random_features(rng: np.random.Generator, n: int, few_bits: bool) -> lf.LocalFeatures:
    descriptors = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    if few_bits:  # most bytes equal: many exact ties between distances
        descriptors[:, 2:] = 0
        descriptors[:, :2] &= 0x0F
    return lf.LocalFeatures(640, 480, rng.random((n, 2), dtype=np.float32), descriptors, 640, 480)


@pytest.mark.parametrize("few_bits", [False, True])
def test_the_c_kernel_gives_opencvs_pairs_ties_included(few_bits: bool) -> None:
    """index/_pdq_mih.c's knn2 and OpenCV's brute-force matcher: the same ratio-test and mutual pairs."""
    if lf._knn2 is None:
        pytest.skip("the C kernel is not built here")
    rng = np.random.default_rng(7)
    for n_query, n_reference in [(1000, 1000), (37, 400), (400, 2), (1, 5), (5, 1), (0, 10), (10, 0)]:
        query = _random_features(rng, n_query, few_bits)
        reference = _random_features(rng, n_reference, few_bits)
        fast = lf._candidate_pairs(query, reference, 2)
        slow = lf._candidate_pairs_cv(query, reference, 2)
        assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1]), (n_query, n_reference)
    # the real case: a crop's pairs with its photo, and with another photo
    photo = lf.extract(np.asarray(Image.open(ASSETS / "mate-Storm.jpg").convert("RGB")))
    crop = lf.extract(
        np.asarray(Image.open(ASSETS / "mate-Storm.jpg").convert("RGB").crop((200, 100, 900, 700)))
    )
    other = lf.extract(np.asarray(Image.open(ASSETS / "obama.jpg").convert("RGB")))
    for a, b in [(crop, photo), (photo, crop), (crop, other)]:
        fast, slow = lf._candidate_pairs(a, b, 10), lf._candidate_pairs_cv(a, b, 10)
        assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    assert len(lf._candidate_pairs(crop, photo, 10)[0]) > 50


def test_the_c_kernel_refuses_rows_that_are_not_32_bytes() -> None:
    if lf._knn2 is None:
        pytest.skip("the C kernel is not built here")
    with pytest.raises(ValueError, match="32 bytes per row"):
        lf._knn2(b"\x00" * 33, b"\x00" * 32)
