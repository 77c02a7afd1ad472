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
FAST_THRESHOLD = 5  # low, so smooth photographs (sky, water) still get corners after CLAHE
FAST_TIERS = (40, 15, FAST_THRESHOLD)  # searched in turn, each on the cells the last left short of corners
PYRAMID_INTERPOLATION = cv2.INTER_AREA
GRID = (8, 8)  # cells per level within which keypoints compete
CLAHE_CLIP = 2.0
BORDER = 20  # px kept free at each level's edge: the 31-px ORB patch and the orientation disc fit inside
ORIENTATION_RADIUS = 15

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

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0


def _grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an H x W x 3 RGB or H x W grey image, got shape {rgb.shape}")


def _working_image(rgb: np.ndarray) -> np.ndarray:
    grey = _grey(rgb)
    h, w = grey.shape
    scale = min(1.0, math.sqrt(WORK_AREA / max(1, w * h)))
    if max(h, w) < SMALL_SIDE:  # a thumbnail: ORB's border and pyramid leave too few keypoints, so enlarge
        scale = min(UPSCALE_MAX, UPSCALE_TO / max(h, w))
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    elif scale < 1.0:
        grey = cv2.resize(
            grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    if min(grey.shape) < 8:
        return grey
    return cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(8, 8)).apply(grey)


def _orientation(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """ORB's intensity-centroid angle in degrees (cv2's ORB.compute uses the angle it is given).

    One flat gather of the disc around every point and one matrix product: the same sums as a loop."""
    r = ORIENTATION_RADIUS
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1]
    disc = xs**2 + ys**2 <= r * r
    w = img.shape[1]
    offsets = (ys[disc] * w + xs[disc]).astype(np.intp)
    weights = np.stack([ys[disc], xs[disc]]).astype(np.float32)  # (2, disc): the y then x offsets
    centre = np.round(pts[:, 1]).astype(np.intp) * w + np.round(pts[:, 0]).astype(np.intp)
    values = np.take(img.ravel(), centre[:, None] + offsets[None, :]).astype(np.float32)
    m01, m10 = (weights @ values.T).astype(np.float64)  # exact: integer sums far below float32's 2**24
    return (np.degrees(np.arctan2(m01, m10)) % 360).astype(np.float32)


def _cells(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Grid cell (row-major, GRID) of every point on a level of `shape` (h, w)."""
    gh, gw = GRID
    rows = np.minimum(pts[:, 1] * gh / shape[0], gh - 1).astype(np.intp)
    cols = np.minimum(pts[:, 0] * gw / shape[1], gw - 1).astype(np.intp)
    return rows * gw + cols


def _ranks(cell: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each point's rank in its cell: 0 for the highest FAST score, ties in FAST's (raster) order."""
    key = (cell.astype(np.uint16) << 8) | (255 - score).astype(np.uint16)  # 64 cells, scores 0-255
    order = np.argsort(key, kind="stable")
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return rank


def _pick(rank: np.ndarray, score: np.ndarray, budget: int) -> np.ndarray:
    """Indices of up to `budget` points: the best of every cell first, then the second best, and so on."""
    return np.argsort(rank.astype(np.int64) * 256 + (255 - score), kind="stable")[:budget]


def _detect(threshold: int, img: np.ndarray, x0: int = 0, y0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FAST corners of `img` more than BORDER px inside the level, as (points + (x0, y0), int scores).

    `img` may be a strip of the level: (x0, y0) is its corner, and BORDER is measured on the level."""
    found = cv2.FastFeatureDetector_create(threshold=threshold, nonmaxSuppression=True).detect(img, None)
    if not found:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int32)
    pts = cv2.KeyPoint_convert(found).astype(np.float32) + np.array([x0, y0], dtype=np.float32)
    score = np.clip(np.array([k.response for k in found], dtype=np.int32), 0, 255)
    return pts, score


def _corners(img: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The `budget` FAST corners (threshold FAST_THRESHOLD) of one level picked per cell, found cheaply.

    A low threshold finds 5 000-30 000 corners on a busy level, and FAST's cost grows with the corners it
    scores. A corner's score does not depend on the threshold, so a search at a higher threshold finds exactly
    the strongest corners of a cell. The level is searched at FAST_TIERS in turn: the first on the whole
    level, each next one only on the strips of cells where the previous found fewer corners than the picking
    can reach (smooth sky, water, skin get down to FAST_THRESHOLD). Should the picking reach deeper into a cell
    than its search went, the whole level is searched at FAST_THRESHOLD. Either way the corners kept are those
    of a search at FAST_THRESHOLD everywhere, as the extraction has always done.
    """
    h, w = img.shape
    gh, gw = GRID
    inner = _inner(img)
    depth = budget // (gh * gw) + 2  # per cell, a search must reach this far down the ranking
    pending = np.ones(gh * gw, dtype=bool)  # cells with too few corners so far
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for tier, threshold in enumerate(FAST_TIERS):
        pts, score = _inside(*_detect(threshold, img), inner) if tier == 0 else _search(img, pending, threshold)
        cell = _cells(pts, (h, w))
        if threshold == FAST_THRESHOLD:
            parts.append((pts, score))
            break
        rich = pending & (np.bincount(cell, minlength=gh * gw) >= depth)
        keep = rich[cell] & (_ranks(cell, score) < depth)
        parts.append((pts[keep], score[keep]))
        pending &= ~rich
        if not pending.any():
            break
    if len(parts) > 1:
        pts = np.concatenate([p for p, _ in parts])
        score = np.concatenate([s for _, s in parts])
        raster = np.argsort(pts[:, 1].astype(np.int64) * w + pts[:, 0].astype(np.int64))  # FAST's own order
        pts, score = pts[raster], score[raster]
    else:
        pts, score = parts[0]
    cell = _cells(pts, (h, w))
    chosen = _pick(_ranks(cell, score), score, budget)
    if np.any(~pending & (np.bincount(cell[chosen], minlength=gh * gw) >= depth)):
        pts, score = _inside(*_detect(FAST_THRESHOLD, img), inner)  # a cell ran out: search the whole level
        chosen = _pick(_ranks(_cells(pts, (h, w)), score), score, budget)
    return pts[chosen], score[chosen]


def _search(img: np.ndarray, cells: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """FAST corners at `threshold` in the grid cells flagged in `cells` (and inside BORDER), in one search:
    the rest of the level is blackened, except a margin around those cells (FAST's 3-px circle and its 1-px
    non-maximum suppression see that far), so its corners are not scored and those found are exact."""
    h, w = img.shape
    gh, gw = GRID
    row_sizes = np.bincount(np.minimum(np.arange(h) * gh // h, gh - 1), minlength=gh)
    col_sizes = np.bincount(np.minimum(np.arange(w) * gw // w, gw - 1), minlength=gw)
    grid = cells.reshape(gh, gw).astype(np.uint8)
    mask = np.repeat(np.repeat(grid, row_sizes, axis=0), col_sizes, axis=1)
    margin = 5
    mask = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    pts, score = _inside(*_detect(threshold, cv2.bitwise_and(img, img, mask=mask)), _inner(img))
    keep = cells[_cells(pts, (h, w))]
    return pts[keep], score[keep]


def _inner(img: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of where keypoints may be: BORDER px inside the level's edges."""
    return BORDER, BORDER, img.shape[1] - BORDER, img.shape[0] - BORDER


def _inside(pts: np.ndarray, score: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    keep = (pts[:, 0] >= box[0]) & (pts[:, 1] >= box[1]) & (pts[:, 0] < box[2]) & (pts[:, 1] < box[3])
    return pts[keep], score[keep]


def _empty(work: tuple[int, int], source: tuple[int, int]) -> LocalFeatures:
    points, descriptors = np.zeros((0, 2), np.float32), np.zeros((0, _DESCRIPTOR_BYTES), np.uint8)
    return LocalFeatures(work[0], work[1], points, descriptors, source[0], source[1])


def extract(rgb: np.ndarray) -> LocalFeatures:
    """ORB keypoints of an image, spread over the frame and over scales. A flat image gives none."""
    work = _working_image(rgb)
    h0, w0 = work.shape
    source = (int(rgb.shape[1]), int(rgb.shape[0]))
    factor = 1.0 / PYRAMID_SCALE
    per_level = MAX_KEYPOINTS * (1 - factor) / (1 - factor**PYRAMID_LEVELS)
    budgets = [math.floor(per_level * factor**level) for level in range(PYRAMID_LEVELS)]
    budgets[0] += MAX_KEYPOINTS - sum(budgets)
    orb = cv2.ORB_create(nfeatures=MAX_KEYPOINTS, nlevels=1, edgeThreshold=BORDER, patchSize=31)
    all_points: list[np.ndarray] = []
    all_descriptors: list[np.ndarray] = []
    for level, budget in enumerate(budgets):
        scale = PYRAMID_SCALE**level
        img = (
            work
            if level == 0
            else cv2.resize(work, (round(w0 / scale), round(h0 / scale)), interpolation=PYRAMID_INTERPOLATION)
        )
        h, w = img.shape
        if min(h, w) <= 2 * BORDER + 8:
            break
        pts, response = _corners(img, budget)
        if len(pts) == 0:
            continue
        angles = _orientation(img, pts)
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
        return _empty((w0, h0), source)
    points = np.clip(np.concatenate(all_points) / np.array([w0, h0], dtype=np.float32), 0.0, 1.0)
    return LocalFeatures(w0, h0, points.astype(np.float32), np.concatenate(all_descriptors), *source)


def _candidate_pairs(
    query: LocalFeatures, reference: LocalFeatures, min_inliers: int
) -> tuple[np.ndarray, np.ndarray]:
    """(query index, reference index) pairs passing the ratio test and the mutual nearest-neighbour check."""
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
    # Mutual check: the reference keypoint's own nearest neighbour in the copy must be the same keypoint.
    # Without it many copy keypoints pile onto one reference keypoint of a smooth photo and fake a consensus.
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
    )
