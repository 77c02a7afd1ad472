"""FAST corners picked per grid cell on one pyramid level, and their ORB orientation (index/local_features.py).

FAST at a low threshold (5, so smooth skies and skin still have corners after contrast equalisation) scores
5 000-30 000 corners on a busy level, and that scoring was most of the extraction's time. A corner's FAST
score does not depend on the threshold, so `corners` searches in tiers and keeps exactly what one search at
FAST_THRESHOLD followed by the per-cell picking would keep (tests/test_feature_changes.py checks it).
"""

from __future__ import annotations

import cv2
import numpy as np

FAST_THRESHOLD = 5  # low, so smooth photographs (sky, water) still get corners after CLAHE
FAST_TIERS = (40, 15, FAST_THRESHOLD)  # searched in turn, each on the cells the last left short of corners
GRID = (8, 8)  # cells per level within which keypoints compete
BORDER = 20  # px kept free at each level's edge: the 31-px ORB patch and the orientation disc fit inside
ORIENTATION_RADIUS = 15


def orientation(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
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


def cell_of(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Grid cell (row-major, GRID) of every point on a level of `shape` (h, w)."""
    gh, gw = GRID
    rows = np.minimum(pts[:, 1] * gh / shape[0], gh - 1).astype(np.intp)
    cols = np.minimum(pts[:, 0] * gw / shape[1], gw - 1).astype(np.intp)
    return rows * gw + cols


def ranks(cell: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each point's rank in its cell: 0 for the highest FAST score, ties in FAST's (raster) order."""
    key = (cell.astype(np.uint16) << 8) | (255 - score).astype(np.uint16)  # 64 cells, scores 0-255
    order = np.argsort(key, kind="stable")
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return rank


def pick(rank: np.ndarray, score: np.ndarray, budget: int) -> np.ndarray:
    """Indices of up to `budget` points: the best of every cell first, then the second best, and so on."""
    return np.argsort(rank.astype(np.int64) * 256 + (255 - score), kind="stable")[:budget]


def detect(threshold: int, img: np.ndarray, x0: int = 0, y0: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FAST corners of `img` more than BORDER px inside the level, as (points + (x0, y0), int scores).

    `img` may be a strip of the level: (x0, y0) is its corner, and BORDER is measured on the level."""
    found = cv2.FastFeatureDetector_create(threshold=threshold, nonmaxSuppression=True).detect(img, None)
    if not found:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int32)
    pts = cv2.KeyPoint_convert(found).astype(np.float32) + np.array([x0, y0], dtype=np.float32)
    score = np.clip(np.array([k.response for k in found], dtype=np.int32), 0, 255)
    return pts, score


def corners(img: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The `budget` FAST corners (threshold FAST_THRESHOLD) of one level picked per cell, found cheaply.

    A low threshold finds 5 000-30 000 corners on a busy level, and FAST's cost grows with the corners it
    scores. A corner's score does not depend on the threshold, so a search at a higher threshold finds exactly
    the strongest corners of a cell. Each cell is searched at FAST_TIERS in turn (the first on the whole
    level, the next ones only on the cells still short) until it has as many corners as the picking can take
    from it (smooth sky, water, skin go down to FAST_THRESHOLD). Should the picking take all of them, that cell
    is searched again for more. The corners kept are those of a search at FAST_THRESHOLD everywhere, as the
    extraction has always done, at a fraction of the scoring.
    """
    h, w = img.shape
    cells = GRID[0] * GRID[1]
    need = np.full(cells, budget // cells + 2)  # corners per cell a search must reach (the picking's depth)
    searched = np.ones(cells, dtype=bool)  # cells (re)searched in this round
    done = np.zeros(cells, dtype=bool)  # cells searched down to FAST_THRESHOLD: they hold all their corners
    pts, score = np.zeros((0, 2), np.float32), np.zeros(0, np.int32)
    while True:
        found, found_score, final = _search_tiers(img, searched, need)
        done |= final
        keep = ~searched[cell_of(pts, (h, w))]
        pts = np.concatenate([pts[keep], found])
        score = np.concatenate([score[keep], found_score])
        raster = np.argsort(pts[:, 1].astype(np.int64) * w + pts[:, 0].astype(np.int64))  # FAST's own order
        pts, score = pts[raster], score[raster]
        cell = cell_of(pts, (h, w))
        chosen = pick(ranks(cell, score), score, budget)
        searched = ~done & (np.bincount(cell[chosen], minlength=cells) >= need)  # might hold more: look again
        if not searched.any():
            return pts[chosen], score[chosen]
        need = np.where(searched, need * 4, need)


def _search_tiers(
    img: np.ndarray, cells: np.ndarray, need: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each flagged cell, its `need` strongest corners, from the first of FAST_TIERS that finds as many
    there, or all its corners at FAST_THRESHOLD; and which cells went down to FAST_THRESHOLD."""
    h, w = img.shape
    pending = cells.copy()
    final = np.zeros_like(cells)
    parts = [(np.zeros((0, 2), np.float32), np.zeros(0, np.int32))]
    for threshold in FAST_TIERS:
        pts, score = _search(img, pending, threshold)
        cell = cell_of(pts, (h, w))
        if threshold == FAST_THRESHOLD:
            parts.append((pts, score))
            final = pending
            break
        rich = pending & (np.bincount(cell, minlength=len(cells)) >= need)
        keep = rich[cell] & (ranks(cell, score) < need[cell])
        parts.append((pts[keep], score[keep]))
        pending = pending & ~rich
        if not pending.any():
            break
    return np.concatenate([p for p, _ in parts]), np.concatenate([s for _, s in parts]), final


def _search(img: np.ndarray, cells: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """FAST corners at `threshold` in the grid cells flagged in `cells` (and inside BORDER), in one search:
    the rest of the level is blackened, except a margin around those cells (FAST's 3-px circle and its 1-px
    non-maximum suppression see that far), so its corners are not scored and those found are exact."""
    if cells.all():
        return inside(*detect(threshold, img), inner(img))
    h, w = img.shape
    gh, gw = GRID
    margin = 5
    row_sizes = np.bincount(np.minimum(np.arange(h) * gh // h, gh - 1), minlength=gh)
    col_sizes = np.bincount(np.minimum(np.arange(w) * gw // w, gw - 1), minlength=gw)
    if min(row_sizes.min(), col_sizes.min()) <= 2 * margin:
        pts, score = inside(*detect(threshold, img), inner(img))
    else:  # each axis cut into cell interiors and 2*margin bands around the cell boundaries
        grid = _banded(_banded(cells.reshape(gh, gw), axis=0), axis=1).astype(np.uint8)
        rows, cols = _band_sizes(row_sizes, margin), _band_sizes(col_sizes, margin)
        mask = np.repeat(np.repeat(grid, rows, axis=0), cols, axis=1)
        pts, score = inside(*detect(threshold, cv2.bitwise_and(img, img, mask=mask)), inner(img))
    keep = cells[cell_of(pts, (h, w))]
    return pts[keep], score[keep]


def _banded(grid: np.ndarray, axis: int) -> np.ndarray:
    """Cells interleaved with bands that belong to both neighbours: a, a|b, b, b|c, c ... along `axis`."""
    grid = np.moveaxis(grid, axis, 0)
    out = np.empty((2 * len(grid) - 1, *grid.shape[1:]), dtype=bool)
    out[0::2] = grid
    out[1::2] = grid[:-1] | grid[1:]
    return np.moveaxis(out, 0, axis)


def _band_sizes(sizes: np.ndarray, margin: int) -> np.ndarray:
    """Pixel sizes matching `_banded`: each cell less `margin` on each inner side, bands of 2 * margin."""
    interior = sizes.copy()
    interior[1:] -= margin
    interior[:-1] -= margin
    out = np.full(2 * len(sizes) - 1, 2 * margin)
    out[0::2] = interior
    return out


def inner(img: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of where keypoints may be: BORDER px inside the level's edges."""
    return BORDER, BORDER, img.shape[1] - BORDER, img.shape[0] - BORDER


def inside(
    pts: np.ndarray, score: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    keep = (pts[:, 0] >= box[0]) & (pts[:, 1] >= box[1]) & (pts[:, 0] < box[2]) & (pts[:, 1] < box[3])
    return pts[keep], score[keep]
