"""Multi-crop PDQ: hashes of sub-windows of a scanned image, for photos dropped into a 2x2 or 3x3 collage.

A collage cell is a whole photo at half size, which PDQ matches well, but the collage's own hash is of
four (or nine) photos at once. Hashing the four quarters, the centre and the nine cells of a 3x3 grid of
every scanned image, each trimmed of flat borders such as white gutters, gives hashes that land in the
ordinary PDQ index, so a collage is found against the whole backlog without a per-pair verification. It is
a cheap first net: it only catches photos that fill a quarter or a ninth of the frame; crops, screenshots
and irregular collages need local features (`local_features.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY, as_words, distances, pdq_hash

WORK_SIDE = (
    512  # PDQ reduces every window to 64x64 anyway; hashing 256-px windows is ~20x cheaper than full size
)
TRIM_TOLERANCE = 20  # grey levels a border pixel may differ from the border colour (JPEG ringing)
TRIM_CONTENT = 0.02  # a row or column with more than this fraction of differing pixels is content

# (left, top, right, bottom) in 0-1: the four quarters of a 2x2 grid and the centre, then the nine cells of
# a 3x3 grid (a collage cell down to 1/9 of the image). 14 windows: ~2.5x the PDQ work of the first five on
# a 512-px copy (each 3x3 cell is ~170 px), and 14 `pdq_window` rows per stored image instead of 5.
_THIRDS = (0.0, 1 / 3, 2 / 3, 1.0)
WINDOWS: tuple[tuple[float, float, float, float], ...] = (
    (0.0, 0.0, 0.5, 0.5),
    (0.5, 0.0, 1.0, 0.5),
    (0.0, 0.5, 0.5, 1.0),
    (0.5, 0.5, 1.0, 1.0),
    (0.25, 0.25, 0.75, 0.75),
    *(
        (_THIRDS[col], _THIRDS[row], _THIRDS[col + 1], _THIRDS[row + 1])
        for row in range(3)
        for col in range(3)
    ),
)


@dataclass(frozen=True)
class WindowHash:
    box: tuple[float, float, float, float]  # the trimmed window, (left, top, right, bottom) of the image, 0-1
    pdq: bytes
    quality: int


def trim(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the content once flat borders (gutters, frames) are cut away."""
    h, w = rgb.shape[:2]
    ring = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    background = np.median(ring, axis=0)
    lower = np.clip(background - TRIM_TOLERANCE, 0, 255)
    upper = np.clip(background + TRIM_TOLERANCE, 0, 255)
    differs = cv2.inRange(np.ascontiguousarray(rgb), lower, upper) == 0  # True where any channel is off
    rows = np.flatnonzero(differs.mean(axis=1) > TRIM_CONTENT)
    cols = np.flatnonzero(differs.mean(axis=0) > TRIM_CONTENT)
    if len(rows) == 0 or len(cols) == 0:
        return 0, h, 0, w
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def window_hashes(
    rgb: np.ndarray, windows: tuple[tuple[float, float, float, float], ...] = WINDOWS
) -> list[WindowHash]:
    """PDQ of each trimmed sub-window with quality >= MIN_QUALITY (flat windows are dropped)."""
    h, w = rgb.shape[:2]
    if min(h, w) < 32:
        return []  # no window of 16 px fits; and a strip would scale to zero pixels
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = (
        rgb
        if scale >= 1.0
        else cv2.resize(
            rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    )
    sh, sw = small.shape[:2]
    out: list[WindowHash] = []
    for left, top, right, bottom in windows:
        x0, y0, x1, y1 = round(left * sw), round(top * sh), round(right * sw), round(bottom * sh)
        if x1 - x0 < 16 or y1 - y0 < 16:
            continue
        window = small[y0:y1, x0:x1]
        t, b, lft, rgt = trim(window)
        window = np.ascontiguousarray(window[t:b, lft:rgt])
        if min(window.shape[:2]) < 16:
            continue
        value, quality = pdq_hash(window)
        if quality >= MIN_QUALITY:
            box = ((x0 + lft) / sw, (y0 + t) / sh, (x0 + rgt) / sw, (y0 + b) / sh)
            out.append(WindowHash(box, value, quality))
    return out


def best_window(
    windows: list[WindowHash], reference_hashes: list[bytes], threshold: int = MATCH_THRESHOLD
) -> tuple[WindowHash, int] | None:
    """The window nearest to any of `reference_hashes` (e.g. the 8 dihedral PDQs), if within `threshold`."""
    if not windows or not reference_hashes:
        return None
    refs = as_words(reference_hashes)
    best: tuple[WindowHash, int] | None = None
    for window in windows:
        distance = int(distances(refs, as_words([window.pdq])[0]).min())
        if distance <= threshold and (best is None or distance < best[1]):
            best = (window, distance)
    return best
