"""Local features with geometric verification: the route for partial copies that PDQ misses.

PDQ hashes the whole frame, so a crop, a caption band, stickers, a collage cell or a screenshot of a chat
moves it past any usable threshold. Keypoints survive all of these: the part of an enrolled photo that is
still visible keeps its corners, and a similarity transform (scale, rotation, shift) maps them onto the
copy. A match is therefore a geometric fact a reviewer can check ("this copy shows 60 % of reference X,
at half size, in its top-right quarter"), not a similarity score.

Pure functions, no database: `extract` runs once per media file in a scan worker or at enrolment, and
`verify` runs per (candidate, reference) pair. Every threshold below was chosen with
`bench/robustness.py`; docs/matching.md gives the numbers.

Detector: ORB (binary 256-bit descriptors, BSD-licensed in OpenCV main) on a pyramid of the contrast-
equalised grey image, with keypoints picked per grid cell on each level. Plain ORB keeps the strongest
corners of the whole image, so in a collage or a screenshot the busiest region takes the budget and a
smooth photograph next to it gets none; picking per cell keeps every region of the frame represented.
The corners are found and picked in `corners.py`; grid collages are described tile by tile (`extract`).
RootSIFT (SIFT's patent expired; it is in OpenCV main) did about as well as plain ORB on the benchmark
(it too lost smooth photos in collage cells) at ~3x the extraction time and 4x the bytes per keypoint;
AKAZE is not in OpenCV 5's main modules.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import cv2
import numpy as np

from ncii_shield.errors import NciiError
from ncii_shield.index.corners import BORDER, corners, orientation

try:  # the brute-force Hamming kernel shared with the PDQ index (index/_pdq_mih.c)
    from ncii_shield.index._pdq_mih import knn2 as _knn2  # type: ignore[attr-defined]
except ImportError:  # not built: OpenCV's matcher gives the same pairs
    _knn2 = None

# Extraction. The working image is scaled to at most WORK_AREA pixels so a 1280-px photo and a 1080x2340
# screenshot are described at comparable detail and the blob size does not depend on the input size.
WORK_AREA = 640_000  # ~1010 x 630 for a 16:10 photo
SMALL_SIDE = 320  # images whose longer side is under this are enlarged before extraction ...
UPSCALE_TO = 480  # ... towards this longer side, at most UPSCALE_MAX times: a 160-px thumbnail then matches
UPSCALE_MAX = 3.0  # with 30+ inliers instead of 0-3 (bench/robustness.py, "thumbnail 160 px")
# 36 KB per image. On the benchmark 700 keypoints left the weakest collage cell at 9 inliers, 500 at 6.
MAX_KEYPOINTS = 1000
# 8 levels 1.2 apart span 1 : 3.6, so a copy shown at a third of the reference's size still matches.
PYRAMID_LEVELS = 8
PYRAMID_SCALE = 1.2
# Collages (see `extract`): a gutter is a run of lines, each within GUTTER_FLAT grey levels end to end, no
# wider than GUTTER_MAX of the side, between tiles of at least TILE_MIN of it.
GUTTER_FLAT = 24
GUTTER_MAX = 0.05
TILE_MIN = 0.15
CLAHE_CLIP = 2.0

# Verification. See docs/matching.md for how each was measured.
RATIO = 0.8  # Lowe's ratio test on the two nearest reference descriptors
RANSAC_PX = 5.0  # reprojection error allowed, in working-image pixels of the copy
MIN_INLIERS = 10  # distinct inliers; unrelated pairs on the benchmark reached at most 5, true pairs 16+
MIN_SCALE, MAX_SCALE = 0.1, 10.0  # copy pixels per reference pixel; outside this the "match" is degenerate

_MAGIC = b"NLF1"
_HEADER = struct.Struct("<4sBxHIIII")  # magic, descriptor kind, (pad), count, working w, h, source w, h
_ORB = 1
_DESCRIPTOR_BYTES = 32


class FeatureBlobError(NciiError, ValueError):
    """A stored feature blob is empty, truncated or not ours: recompute it from the media file."""


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoints of one image: positions normalised to 0-1 by the working size, and ORB descriptors."""

    width: int  # working image size the keypoints were found on; keeps the aspect ratio for geometry
    height: int
    points: np.ndarray  # (n, 2) float32, x / width and y / height
    descriptors: np.ndarray  # (n, 32) uint8
    source_width: int  # size of the image as stored, so a match can say "shown at half its size"
    source_height: int

    def __len__(self) -> int:
        return len(self.points)

    def pixels(self) -> np.ndarray:
        """Keypoints in working-image pixels (RANSAC thresholds are in pixels)."""
        return self.points * np.array([self.width, self.height], dtype=np.float32)

    def to_bytes(self) -> bytes:
        """24-byte header + 4 bytes (two uint16 positions) + 32 bytes per keypoint: <= 36,024 bytes."""
        quantised = np.round(np.clip(self.points, 0.0, 1.0) * 65535).astype("<u2")
        header = _HEADER.pack(
            _MAGIC, _ORB, len(self), self.width, self.height, self.source_width, self.source_height
        )
        return header + quantised.tobytes() + np.ascontiguousarray(self.descriptors, dtype=np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LocalFeatures:
        """Parse `to_bytes` output; raises FeatureBlobError saying what is wrong with the blob."""
        hint = "recompute the features from the media file"
        if not blob:
            raise FeatureBlobError("empty local-feature blob", hint)
        if len(blob) < _HEADER.size:
            raise FeatureBlobError(f"local-feature blob too short ({len(blob)} bytes)", hint)
        magic, kind, count, width, height, source_width, source_height = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            raise FeatureBlobError("not a local-feature blob (bad magic bytes)", hint)
        if kind != _ORB:
            raise FeatureBlobError(f"unknown descriptor kind {kind} in local-feature blob", hint)
        expected = _HEADER.size + count * (4 + _DESCRIPTOR_BYTES)
        if len(blob) != expected:
            raise FeatureBlobError(
                f"local-feature blob is {len(blob)} bytes, its header says {expected}: truncated or corrupt",
                hint,
            )
        if count and (width == 0 or height == 0):
            raise FeatureBlobError("local-feature blob has keypoints but no image size", hint)
        offset = _HEADER.size
        quantised = np.frombuffer(blob, dtype="<u2", count=2 * count, offset=offset).reshape(count, 2)
        descriptors = np.frombuffer(
            blob, dtype=np.uint8, count=count * _DESCRIPTOR_BYTES, offset=offset + 4 * count
        )
        return cls(
            width=width,
            height=height,
            points=(quantised.astype(np.float32) / 65535).astype(np.float32),
            descriptors=descriptors.reshape(count, _DESCRIPTOR_BYTES).copy(),
            source_width=source_width,
            source_height=source_height,
        )


@dataclass(frozen=True)
class PartialMatch:
    """Where a reference appears in a copy, and how sure the geometry is."""

    inliers: int  # distinct keypoint pairs consistent with one similarity transform
    matches: int  # descriptor matches that went into RANSAC (ratio test + mutual nearest neighbour)
    scale: float  # copy pixels per reference pixel, as stored; 0.5 = the photo shown at half its size
    rotation: float  # degrees, clockwise as displayed (a copy turned a quarter to the left gives -90)
    transform: np.ndarray  # (2, 3) affine from reference (x, y) in 0-1 to copy (x, y) in 0-1
    # (left, top, right, bottom) of the copy, 0-1, that the reference covers
    region: tuple[float, float, float, float]
    coverage: float  # fraction of the reference's area visible in the copy (1.0 = whole photo, 0.6 = a crop)
    # the reference's corners on the copy, 0-1, clockwise from its top-left; not clipped (a crop's lie outside)
    quad: tuple[tuple[float, float], ...] = ()

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0


def _grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an H x W x 3 RGB or H x W grey image, got shape {rgb.shape}")


def _scaled(grey: np.ndarray) -> np.ndarray:
    """The grey image at working size: at most WORK_AREA pixels, thumbnails enlarged."""
    h, w = grey.shape
    scale = min(1.0, math.sqrt(WORK_AREA / max(1, w * h)))
    if max(h, w) < SMALL_SIDE:  # a thumbnail: ORB's border and pyramid leave too few keypoints, so enlarge
        scale = min(UPSCALE_MAX, UPSCALE_TO / max(h, w))
        return cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    if scale < 1.0:
        return cv2.resize(
            grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    return grey


def _equalised(grey: np.ndarray) -> np.ndarray:
    if min(grey.shape) < 8:
        return grey
    return cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(8, 8)).apply(grey)


def _working_image(rgb: np.ndarray) -> np.ndarray:
    return _equalised(_scaled(_grey(rgb)))


def _segments(flat: np.ndarray) -> list[tuple[int, int]]:
    """Content stretches of one axis between gutters (runs of flat lines), borders cut off; one stretch, the
    whole axis, when there is no gutter or a stretch would be too small to be a collage tile."""
    n = len(flat)
    edges = np.flatnonzero(np.diff(np.r_[0, flat.astype(np.int8), 0]))
    runs = list(zip(edges[::2], edges[1::2], strict=True))
    start = runs[0][1] if runs and runs[0][0] == 0 else 0
    end = runs[-1][0] if runs and runs[-1][1] == n else n
    inner = [(a, b) for a, b in runs if a > start and b < end]
    if not inner or any(b - a > GUTTER_MAX * n for a, b in inner):
        return [(0, n)]
    cuts = [start, *(x for run in inner for x in run), end]
    segments = list(zip(cuts[::2], cuts[1::2], strict=True))
    if any(b - a < TILE_MIN * n for a, b in segments):
        return [(0, n)]
    return segments


def collage_tiles(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of each tile when the image is a grid collage (flat gutters running
    across the whole image, both ways), else []. Each tile is then described on its own (see `extract`)."""
    lines = []
    for axis in (1, 0):  # rows (reduced along x), then columns
        high = grey.max(axis=axis).astype(np.int16)  # numpy: cv2.reduce along rows is ~20x slower
        low = grey.min(axis=axis).astype(np.int16)
        lines.append(_segments(high - low <= GUTTER_FLAT))
    rows, cols = lines
    if len(rows) < 2 or len(cols) < 2:  # gutters both ways: a motion-blurred photo has flat rows, not a grid
        return []
    return [(x0, y0, x1, y1) for y0, y1 in rows for x0, x1 in cols]


def _empty(work: tuple[int, int], source: tuple[int, int]) -> LocalFeatures:
    points, descriptors = np.zeros((0, 2), np.float32), np.zeros((0, _DESCRIPTOR_BYTES), np.uint8)
    return LocalFeatures(work[0], work[1], points, descriptors, source[0], source[1])


def extract(rgb: np.ndarray) -> LocalFeatures:
    """ORB keypoints of an image, spread over the frame and over scales. A flat image gives none.

    A grid collage (flat gutters across the whole image) is described tile by tile, each tile at its own
    working size and contrast equalisation with a share of MAX_KEYPOINTS in proportion to its area, the
    positions then put back in the whole image. Described as one picture, a smooth photo in a 3x3 grid was
    equalised together with its busy neighbours and kept 3-4 matching keypoints; on its own, 20+."""
    grey = _grey(rgb)
    scaled = _scaled(grey)
    h0, w0 = scaled.shape
    source = (int(rgb.shape[1]), int(rgb.shape[0]))
    tiles = collage_tiles(scaled) if min(h0, w0) >= 8 else []
    if not tiles:
        pts, descriptors = _keypoints(_equalised(scaled), MAX_KEYPOINTS)
        if not len(pts):
            return _empty((w0, h0), source)
        points = pts / np.array([w0, h0], dtype=np.float32)
        return LocalFeatures(w0, h0, np.clip(points, 0.0, 1.0).astype(np.float32), descriptors, *source)
    gh, gw = grey.shape
    to_grey = np.array([gw / w0, gh / h0])
    areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in tiles]
    all_points, all_descriptors = [], []
    for (x0, y0, x1, y1), area in zip(tiles, areas, strict=True):
        left, top = np.floor(np.array([x0, y0]) * to_grey).astype(int)
        right, bottom = np.ceil(np.array([x1, y1]) * to_grey).astype(int)
        tile = _scaled(np.ascontiguousarray(grey[top:bottom, left:right]))
        pts, descriptors = _keypoints(_equalised(tile), MAX_KEYPOINTS * area // sum(areas))
        if not len(pts):
            continue
        in_grey = pts * np.array([(right - left) / tile.shape[1], (bottom - top) / tile.shape[0]]) + (
            left,
            top,
        )
        all_points.append(in_grey / np.array([gw, gh]))
        all_descriptors.append(descriptors)
    if not all_points:
        return _empty((w0, h0), source)
    points = np.clip(np.concatenate(all_points), 0.0, 1.0).astype(np.float32)
    return LocalFeatures(w0, h0, points, np.concatenate(all_descriptors), *source)


def _keypoints(work: np.ndarray, total: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `total` ORB keypoints of an equalised working image: (positions in its pixels, descriptors)."""
    h0, w0 = work.shape
    factor = 1.0 / PYRAMID_SCALE
    per_level = total * (1 - factor) / (1 - factor**PYRAMID_LEVELS)
    budgets = [math.floor(per_level * factor**level) for level in range(PYRAMID_LEVELS)]
    budgets[0] += total - sum(budgets)
    orb = cv2.ORB_create(nfeatures=max(1, total), nlevels=1, edgeThreshold=BORDER, patchSize=31)
    all_points: list[np.ndarray] = []
    all_descriptors: list[np.ndarray] = []
    img = work
    for level, budget in enumerate(budgets):
        scale = PYRAMID_SCALE**level
        if level:  # each level from the one before, as OpenCV's ORB builds its pyramid
            img = cv2.resize(
                img, (round(w0 / scale), round(h0 / scale)), interpolation=cv2.INTER_LINEAR_EXACT
            )
        h, w = img.shape
        if min(h, w) <= 2 * BORDER + 8:
            break
        pts, response = corners(img, budget)
        if len(pts) == 0:
            continue
        angles = orientation(img, pts)
        keypoints = [
            cv2.KeyPoint(float(x), float(y), 31.0, float(a), float(r), 0)
            for (x, y), a, r in zip(pts, angles, response, strict=True)
        ]
        keypoints, descriptors = orb.compute(img, keypoints)
        if descriptors is None or not keypoints:
            continue
        all_points.append(cv2.KeyPoint_convert(keypoints).astype(np.float32) * scale)
        all_descriptors.append(descriptors)
    if not all_points:
        return np.zeros((0, 2), np.float32), np.zeros((0, _DESCRIPTOR_BYTES), np.uint8)
    return np.concatenate(all_points), np.concatenate(all_descriptors)


def _candidate_pairs(
    query: LocalFeatures, reference: LocalFeatures, min_inliers: int
) -> tuple[np.ndarray, np.ndarray]:
    """(query index, reference index) pairs passing the ratio test and the mutual nearest-neighbour check."""
    if _knn2 is None or len(reference) < 2:
        return _candidate_pairs_cv(query, reference, min_inliers)
    out = np.frombuffer(_knn2(query.descriptors.tobytes(), reference.descriptors.tobytes()), dtype=np.int32)
    n = len(query)
    nearest, first, second, back = out[:n], out[n : 2 * n], out[2 * n : 3 * n], out[3 * n :]
    q_idx = np.flatnonzero(first < RATIO * second)
    if len(q_idx) < min_inliers:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    r_idx = nearest[q_idx].astype(np.intp)
    # Mutual check: the reference keypoint's own nearest neighbour in the copy must be the same keypoint.
    # Without it many copy keypoints pile onto one reference keypoint of a smooth photo and fake a consensus.
    mutual = back[r_idx] == q_idx
    return q_idx[mutual], r_idx[mutual]


def _candidate_pairs_cv(
    query: LocalFeatures, reference: LocalFeatures, min_inliers: int
) -> tuple[np.ndarray, np.ndarray]:
    """The same pairs through OpenCV's brute-force matcher (~5x slower): used where the C kernel is not built."""
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = matcher.knnMatch(query.descriptors, reference.descriptors, k=2)
    pairs = [
        (m.queryIdx, m.trainIdx)
        for m, n in (p for p in knn if len(p) == 2)
        if m.distance < RATIO * n.distance
    ]
    if not pairs or len(pairs) < min_inliers:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    q_idx = np.array([p[0] for p in pairs], dtype=np.intp)
    r_idx = np.array([p[1] for p in pairs], dtype=np.intp)
    back = matcher.match(reference.descriptors[r_idx], query.descriptors)
    nearest = np.array([m.trainIdx for m in back], dtype=np.intp)
    mutual = nearest == q_idx
    return q_idx[mutual], r_idx[mutual]


def _distinct(points: np.ndarray) -> int:
    """Number of distinct positions (3-px cells): the same corner found on two pyramid levels counts once."""
    return len(np.unique(np.round(points / 3.0).astype(np.int64), axis=0))


def _coverage(m: np.ndarray, reference: LocalFeatures, query: LocalFeatures) -> float:
    """Fraction of the reference's area that lands inside the copy's frame."""
    inverse = cv2.invertAffineTransform(m)
    frame = np.array(
        [[0, 0], [query.width, 0], [query.width, query.height], [0, query.height]], dtype=np.float32
    )
    seen = cv2.transform(frame[None], inverse)[0]
    ref = np.array(
        [[0, 0], [reference.width, 0], [reference.width, reference.height], [0, reference.height]], np.float32
    )
    area, _ = cv2.intersectConvexConvex(seen, ref)
    return float(min(1.0, max(0.0, area / (reference.width * reference.height))))


def verify(
    query: LocalFeatures, reference: LocalFeatures, *, min_inliers: int = MIN_INLIERS
) -> PartialMatch | None:
    """Does `query` (a scanned copy) show all or part of `reference` (an enrolled photo)? None when not.

    Descriptor matches (ratio test, mutual nearest neighbours) must agree on one similarity transform
    (RANSAC) with at least MIN_INLIERS distinct inliers, at a scale between MIN_SCALE and MAX_SCALE
    between the two working images.
    A similarity has no shear and cannot mirror: mirrored copies are caught by the dihedral PDQ hashes, and
    mirrored crops by the mirrored photo's features each enrolled reference also holds (kinds/partial.py).
    Lower `min_inliers` only to inspect weak agreement (the benchmark does, to show the margin).
    """
    min_inliers = max(2, min_inliers)  # a similarity needs two point pairs
    if len(query) < min_inliers or len(reference) < min_inliers:
        return None
    q_idx, r_idx = _candidate_pairs(query, reference, min_inliers)
    if len(q_idx) < min_inliers:
        return None
    q_px = query.pixels()[q_idx]
    r_px = reference.pixels()[r_idx]
    m, mask = cv2.estimateAffinePartial2D(
        r_px, q_px, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX, maxIters=2000, confidence=0.995
    )
    if m is None or mask is None:
        return None
    inlier = mask.ravel().astype(bool)
    inliers = min(_distinct(r_px[inlier]), _distinct(q_px[inlier]))
    scale = math.sqrt(abs(float(np.linalg.det(m[:, :2]))))  # working pixels: what the geometry saw
    if inliers < min_inliers or not MIN_SCALE <= scale <= MAX_SCALE:
        return None
    corners = np.array(
        [[0, 0], [reference.width, 0], [reference.width, reference.height], [0, reference.height]], np.float32
    )
    placed = cv2.transform(corners[None], m)[0] / np.array([query.width, query.height], dtype=np.float32)
    lo, hi = np.clip(placed.min(axis=0), 0.0, 1.0), np.clip(placed.max(axis=0), 0.0, 1.0)
    to_pixels = np.diag([reference.width, reference.height, 1.0])
    to_unit = np.diag([1.0 / query.width, 1.0 / query.height])
    return PartialMatch(
        inliers=inliers,
        matches=len(q_idx),
        scale=scale * (query.source_width / query.width) / (reference.source_width / reference.width),
        rotation=math.degrees(math.atan2(float(m[1, 0]), float(m[0, 0]))),
        transform=to_unit @ m @ to_pixels,
        region=(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])),
        coverage=_coverage(m, reference, query),
        quad=tuple((float(x), float(y)) for x, y in placed),
    )
