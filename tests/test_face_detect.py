"""Face detection settings chosen for throughput (signals/faces.py) still find what a scan must find."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncii_shield.media.decode import decode_image
from ncii_shield.signals.faces import (
    PASSES,
    SAME_PERSON_DISTANCE,
    STANDARD,
    detect_faces,
    embed_faces,
    face_distances,
    locate_faces,
)
from tests.conftest import ASSETS


def _reference(name: str) -> tuple[Image.Image, tuple[int, int, int, int], np.ndarray]:
    img = Image.open(ASSETS / name).convert("RGB")
    face = detect_faces(np.asarray(img))[0]
    return img, face.box, face.embedding


def test_detect_faces_is_boxes_then_embeddings() -> None:
    rgb = np.ascontiguousarray(decode_image((ASSETS / "obama_and_biden.jpg").read_bytes()).upright)
    together = detect_faces(rgb)
    apart = embed_faces(rgb, locate_faces(rgb))
    assert len(together) == 3  # the two men and a face in the background, as before this change
    assert [f.box for f in together] == [f.box for f in apart]
    assert np.array_equal(together[0].embedding, apart[0].embedding)


@pytest.mark.parametrize(
    ("name", "size"), [("obama.jpg", 40), ("obama.jpg", 56), ("biden.jpg", 64), ("astronaut.jpg", 96)]
)
def test_a_small_face_in_a_1280_px_photo_is_found_and_matches(name: str, size: int) -> None:
    """A face pasted at `size` px into a 1280-px nature photo, sent as JPEG q87: found, same person."""
    img, (left, top, right, bottom), reference = _reference(name)
    margin = (right - left) // 2
    crop = img.crop((max(0, left - margin), max(0, top - margin), right + margin, bottom + margin))
    k = size / (right - left)
    crop = crop.resize((round(crop.width * k), round(crop.height * k)), Image.Resampling.LANCZOS)
    scene = Image.open(ASSETS / "mate-Garden.jpg").convert("RGB")
    scene = scene.resize((1280, round(1280 * scene.height / scene.width)), Image.Resampling.LANCZOS)
    scene.paste(crop, (700, 200))
    buf = io.BytesIO()
    scene.save(buf, format="JPEG", quality=87)
    found = detect_faces(decode_image(buf.getvalue()).upright)
    assert found, f"no face found at {size} px"
    distances = face_distances(np.stack([f.embedding for f in found]), reference)
    assert distances.min() < SAME_PERSON_DISTANCE


def _composite(
    name: str, size: int, angle: float, at: tuple[int, int] = (640, 220)
) -> tuple[bytes, np.ndarray]:
    """`name`'s face at `size` px, turned `angle`° anticlockwise, pasted into a 1280-px scene, JPEG q87."""
    img, (left, top, right, bottom), reference = _reference(name)
    margin = (right - left) // 2
    crop = img.crop((max(0, left - margin), max(0, top - margin), right + margin, bottom + margin))
    k = size / (right - left)
    crop = crop.resize((round(crop.width * k), round(crop.height * k)), Image.Resampling.LANCZOS)
    crop = crop.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))
    scene = Image.open(ASSETS / "mate-Garden.jpg").convert("RGB")
    scene = scene.resize((1280, round(1280 * scene.height / scene.width)), Image.Resampling.LANCZOS)
    scene.paste(crop, at)
    buf = io.BytesIO()
    scene.save(buf, format="JPEG", quality=87)
    return buf.getvalue(), reference


@pytest.mark.parametrize(
    ("name", "angle"),
    [("obama.jpg", 90), ("biden.jpg", 180), ("astronaut.jpg", 270), ("obama2.jpg", -90), ("obama3.jpg", 25)],
)
def test_a_turned_face_is_found_levelled_and_matches(name: str, angle: int) -> None:
    """Lying on its side, upside down or tilted: found, its tilt read, and the same person."""
    data, reference = _composite(name, 120, angle)
    found = detect_faces(decode_image(data).upright)
    assert found, f"no face found turned {angle}°"
    best = min(found, key=lambda f: float(np.linalg.norm(f.embedding - reference)))
    assert float(np.linalg.norm(best.embedding - reference)) < SAME_PERSON_DISTANCE
    assert abs((best.tilt - angle + 180) % 360 - 180) <= 45  # the reading says which way up it was


def test_only_the_upright_pass_runs_when_asked() -> None:
    """turns=() is the upright pass alone: a face on its side is then not found (why the passes exist)."""
    data, _ = _composite("obama.jpg", 120, 90)
    rgb = decode_image(data).upright
    assert detect_faces(rgb)
    assert not [f for f in detect_faces(rgb, replace(STANDARD, turns=())) if f.size > 60]


def test_scenery_has_no_faces() -> None:
    """The bundled nature photographs hold no face, upright or turned."""
    for path in sorted(ASSETS.glob("mate-*.jpg"))[:6]:
        assert detect_faces(decode_image(path.read_bytes()).upright) == [], path.name


@pytest.mark.parametrize("shape", [(1, 1), (15, 400), (400, 15), (27, 27), (28, 28), (3000, 20)])
def test_tiny_or_thin_images_find_nothing_and_do_not_crash(shape: tuple[int, int]) -> None:
    rgb = np.full((*shape, 3), 128, np.uint8)
    assert detect_faces(rgb) == []


def test_fine_detail_finds_a_32_px_face_standard_may_miss() -> None:
    """NCII_FACE_DETAIL=fine looks at the full 1280 px: a 30-px face is found and is the same person."""
    data, reference = _composite("obama.jpg", 30, 0, at=(300, 500))
    rgb = decode_image(data).upright
    found = detect_faces(rgb, PASSES["fine"])
    assert (
        found
        and face_distances(np.stack([f.embedding for f in found]), reference).min() < SAME_PERSON_DISTANCE
    )


def test_the_face_detail_setting(tmp_path: Path) -> None:
    from ncii_shield.config import SettingError, load_settings

    assert load_settings(tmp_path, {}).face_detail == "standard"
    assert load_settings(tmp_path, {"NCII_FACE_DETAIL": " FINE "}).face_detail == "fine"
    with pytest.raises(SettingError, match="NCII_FACE_DETAIL"):
        load_settings(tmp_path, {"NCII_FACE_DETAIL": "max"})


@pytest.mark.parametrize(("name", "angle"), [("obama.jpg", 135), ("biden.jpg", -135), ("obama2.jpg", 45)])
def test_the_diagonal_passes_find_a_face_turned_halfway_between_quarters(name: str, angle: int) -> None:
    """Turned 45° from every quarter pass: the passes over a copy turned 45° find it, levelled, same person,
    with its tilt read to within a few degrees (the landmarks are mapped back through the 45° turn)."""
    data, reference = _composite(name, 80, angle)
    rgb = decode_image(data).upright
    found = detect_faces(rgb, replace(STANDARD, diagonal_side=320))
    assert found, f"no face found turned {angle}°"
    best = min(found, key=lambda f: float(np.linalg.norm(f.embedding - reference)))
    assert float(np.linalg.norm(best.embedding - reference)) < SAME_PERSON_DISTANCE
    assert abs((best.tilt - angle + 180) % 360 - 180) <= 15
    img, (left, top, right, bottom), _ = _reference(name)
    k = 80 / (right - left)  # where _composite pasted the face: its crop turned, at (640, 220)
    margin = (right - left) // 2
    w = (min(img.width, right + margin) - max(0, left - margin)) * k
    h = (min(img.height, bottom + margin) - max(0, top - margin)) * k
    turned = abs(w * np.cos(np.radians(angle))) + abs(h * np.sin(np.radians(angle)))
    cx, cy = (best.box[0] + best.box[2]) / 2, (best.box[1] + best.box[3]) / 2
    assert abs(cx - (640 + turned / 2)) < 30 and abs(cy - (220 + turned / 2)) < 30
