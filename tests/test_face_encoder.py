"""dlib's face ResNet on onnxruntime (signals/resnet.py) gives dlib's own embeddings, and a model file that is
not the one it knows is refused (the caller then falls back to dlib), never half-read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncii_shield.signals import faces, onnx_wire, resnet
from tests.conftest import ASSETS

MODEL = Path(__import__("face_recognition_models").face_recognition_model_location())


def _dlib_faces(name: str) -> tuple[np.ndarray, list]:
    import dlib
    import face_recognition_models as frm

    rgb = np.asarray(Image.open(ASSETS / name).convert("RGB"))
    shaper = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    shapes = [shaper(rgb, rect) for rect in dlib.get_frontal_face_detector()(rgb, 1)]
    return rgb, shapes


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "obama_and_biden.jpg", "astronaut.jpg"])
def test_the_same_embeddings_as_dlib(name: str) -> None:
    import dlib
    import face_recognition_models as frm

    rgb, shapes = _dlib_faces(name)
    assert shapes, "the bundled photo has a face"
    slow = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    expected = np.array([slow.compute_face_descriptor(rgb, s, 1) for s in shapes], dtype=np.float32)
    chips = [dlib.get_face_chip(rgb, s, size=resnet.CHIP_SIZE, padding=resnet.CHIP_PADDING) for s in shapes]
    got = resnet.encoder().embed(chips)
    assert got.shape == (len(shapes), 128)
    assert np.abs(got - expected).max() < 1e-4  # float rounding only; faces differ by > 0.3
    assert np.linalg.norm(got[0] - expected[0]) < 1e-4


def test_no_chips_no_embeddings() -> None:
    assert resnet.encoder().embed([]).shape == (0, 128)


def _broken(data: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "model.dat"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda d: d[: len(d) // 2], id="truncated"),
        pytest.param(lambda d: d + b"\x00", id="trailing-bytes"),
        pytest.param(lambda d: d.replace(b"con_4", b"con_9", 1), id="unknown-layer"),
        pytest.param(lambda d: d.replace(b"loss_metric_2", b"loss_mmod_2xx", 1), id="another-network"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(
            lambda d: d.replace(
                b"con_4\x01\x02\x02\x80\x12", b"con_4\x01\x02\x08" + b"\xff" * 7 + b"\x7f", 1
            ),
            id="huge-tensor",
        ),
        pytest.param(lambda d: d.replace(b"con_4\x01\x02", b"con_4\x01\x03", 1), id="tensor-version"),
        pytest.param(
            lambda d: d.replace(b"con_4\x01\x02\x02\x80\x12\x01\x01", b"con_4\x01\x02\x81\x01\x81\x01", 1),
            id="negative-sizes",
        ),
    ],
)
def test_a_model_file_it_does_not_know_is_refused(mangle, tmp_path: Path) -> None:
    path = _broken(mangle(MODEL.read_bytes()), tmp_path)
    with pytest.raises(resnet.ModelFileError):
        resnet.Encoder(str(path))


def test_a_refused_model_falls_back_to_dlib(monkeypatch: pytest.MonkeyPatch) -> None:
    rgb = np.ascontiguousarray(np.asarray(Image.open(ASSETS / "obama.jpg").convert("RGB")))
    fast = faces.detect_faces(rgb)

    def refuse() -> resnet.Encoder:
        raise resnet.ModelFileError("not the file this module knows")

    monkeypatch.setattr(resnet, "encoder", refuse)
    faces._models.cache_clear()
    try:
        slow = faces.detect_faces(rgb)
    finally:
        faces._models.cache_clear()
    assert [f.box for f in slow] == [f.box for f in fast]
    assert np.abs(slow[0].embedding - fast[0].embedding).max() < 1e-4


def test_only_float32_and_int64_go_into_a_graph() -> None:
    with pytest.raises(ValueError, match="float32 or int64"):
        onnx_wire.tensor("x", np.zeros(3, dtype=np.float64))
