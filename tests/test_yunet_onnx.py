"""YuNet on onnxruntime (signals/yunet_onnx.py) gives the rows libfacedetection itself gives, and the library
is still used when its weights cannot be read."""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from ncii_shield.signals import yunet, yunet_onnx
from tests.conftest import ASSETS

PHOTOS = sorted(p.name for p in ASSETS.glob("*.jpg"))


@pytest.fixture(autouse=True)
def _fresh_network() -> Iterator[None]:
    yunet._network.cache_clear()
    yield
    yunet._network.cache_clear()


def _scaled(name: str, side: int) -> np.ndarray:
    """The photo with its longer side `side` px, as signals/faces.py hands it to the detector."""
    img = Image.open(ASSETS / name).convert("RGB")
    k = side / max(img.size)
    return np.asarray(img.resize((round(img.width * k), round(img.height * k)), Image.Resampling.BILINEAR))


def _same_rows(rgb: np.ndarray) -> np.ndarray:
    network = yunet._network()
    assert network is not None
    ours, theirs = network.rows(rgb), yunet.library_rows(rgb)
    assert ours.shape == theirs.shape, (ours, theirs)
    if len(ours):  # same faces in the same order; boxes, landmarks and confidence within 1
        assert np.abs(ours - theirs).max() <= 1, (ours, theirs)
    return ours


@pytest.mark.parametrize("name", PHOTOS)
def test_the_bundled_photos_give_the_library_rows_upright_and_turned(name: str) -> None:
    upright = _scaled(name, 640)
    _same_rows(upright)
    small = _scaled(name, 320)
    for quarters in (1, 2, 3):
        _same_rows(np.rot90(small, k=quarters))  # a view, not contiguous: as faces.py passes it


def test_many_faces_and_small_faces_survive_the_same_nms() -> None:
    rows = _same_rows(_scaled("obama_and_biden.jpg", 1024))
    assert len(rows) >= 3
    face = _scaled("obama.jpg", 160)  # a ~50-px face pasted three times into a scene, twice overlapping
    scene = _scaled("mate-Garden.jpg", 960).copy()
    for x, y in ((100, 100), (500, 300), (560, 330)):
        scene[y : y + face.shape[0], x : x + face.shape[1]] = face
    rows = _same_rows(scene)
    assert len(rows) >= 2
    assert rows[0, 0] > 50


@pytest.mark.parametrize(("height", "width"), [(16, 16), (16, 17), (31, 33), (32, 32), (17, 400), (97, 65)])
def test_tiny_and_odd_inputs(height: int, width: int) -> None:
    rng = np.random.default_rng(height * 1000 + width)
    _same_rows(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    _same_rows(np.full((height, width, 3), 200, np.uint8))
    assert yunet.detect(np.zeros((height, 8, 3), np.uint8)) == []  # below MIN_SIDE: nothing to look at


def test_detect_runs_the_network_and_returns_the_library_detections() -> None:
    rgb = _scaled("obama.jpg", 640)
    assert yunet._network() is not None
    found = yunet.detect(rgb)
    rows = yunet.library_rows(rgb)
    assert [(d.score, d.x, d.y, d.w, d.h) for d in found] == [tuple(r[:5]) for r in rows]
    assert np.array_equal(np.stack([d.landmarks.ravel() for d in found]), rows[:, 5:15].astype(np.float64))


def test_a_library_without_the_weights_is_refused() -> None:
    with pytest.raises(yunet_onnx.WeightsError, match="layer table"):
        yunet_onnx.read_weights(ctypes.CDLL(None))  # this process: no YuNet symbols at all


def test_weights_shorter_than_the_architecture_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    lib = yunet._library()[0]
    assert len(yunet_onnx.read_weights(lib)) == len(yunet_onnx.LAYERS)
    layers = list(yunet_onnx.LAYERS)
    name, kind, channels, filters = layers[20]
    layers[20] = (name, kind, channels, filters * 2)  # a library whose layer is half what we expect
    monkeypatch.setattr(yunet_onnx, "LAYERS", tuple(layers))
    with pytest.raises(yunet_onnx.WeightsError, match=name):
        yunet_onnx.read_weights(lib)
    layers[20] = (name.replace("model5", "model9"), kind, channels, filters)  # a name the library lacks
    monkeypatch.setattr(yunet_onnx, "LAYERS", tuple(layers))
    with pytest.raises(yunet_onnx.WeightsError, match="does not export"):
        yunet_onnx.read_weights(lib)


def test_unreadable_weights_fall_back_to_the_library(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(lib: ctypes.CDLL) -> dict:
        raise yunet_onnx.WeightsError("the library exports no layer table")

    monkeypatch.setattr(yunet_onnx, "read_weights", refuse)
    rgb = _scaled("biden.jpg", 640)
    with caplog.at_level(logging.WARNING, logger="ncii_shield.signals.yunet"):
        found = yunet.detect(rgb)
    assert yunet._network() is None
    assert "falls back" in caplog.text
    assert found and [(d.score, d.x, d.y, d.w, d.h) for d in found] == [
        tuple(r[:5]) for r in yunet.library_rows(rgb)
    ]
