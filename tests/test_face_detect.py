"""Face detection settings chosen for throughput (signals/faces.py) still find what a scan must find."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ncii_shield.media.decode import decode_image
from ncii_shield.signals.faces import (
    SAME_PERSON_DISTANCE,
    detect_faces,
    embed_faces,
    face_boxes,
    face_distances,
)
from tests.conftest import ASSETS


def _reference(name: str) -> tuple[Image.Image, tuple[int, int, int, int], np.ndarray]:
    img = Image.open(ASSETS / name).convert("RGB")
    face = detect_faces(np.asarray(img))[0]
    return img, face.box, face.embedding


def test_detect_faces_is_boxes_then_embeddings() -> None:
    rgb = np.ascontiguousarray(decode_image((ASSETS / "obama_and_biden.jpg").read_bytes()).upright)
    together = detect_faces(rgb)
    apart = embed_faces(rgb, face_boxes(rgb))
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
