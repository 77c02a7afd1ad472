"""How a match is decided, as pure functions over arrays: no database, no files.

A case's references are a handful of rows (8 PDQ variants and a face or two per enrolled photo);
candidates are every stored signal. Distances are computed in chunks so memory stays flat however
large the backlog is. Issue 4 replaces the brute-force PDQ scan with a persistent index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ncii_shield.signals.faces import SAME_PERSON_DISTANCE
from ncii_shield.signals.pdq import MATCH_THRESHOLD, distances

CHUNK = 200_000


@dataclass(frozen=True)
class Match:
    candidate: int  # index into the candidate array
    reference_id: int
    distance: float


def nearest(
    candidates: np.ndarray,
    refs: np.ndarray,
    ref_ids: np.ndarray,
    dist_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    limit: float,
) -> list[Match]:
    """Candidates within `limit` of any reference, each with its nearest one (the first on ties)."""
    matches: list[Match] = []
    if len(candidates) == 0 or len(refs) == 0:
        return matches
    for start in range(0, len(candidates), CHUNK):
        block = candidates[start : start + CHUNK]
        table = np.stack([dist_fn(block, ref) for ref in refs])  # (refs, block)
        best = table.argmin(axis=0)
        best_dist = table[best, np.arange(len(block))]
        for offset in np.nonzero(best_dist <= limit)[0]:
            matches.append(Match(start + int(offset), int(ref_ids[best[offset]]), float(best_dist[offset])))
    return matches


def match_pdq(
    refs: np.ndarray, ref_ids: np.ndarray, candidates: np.ndarray, threshold: int = MATCH_THRESHOLD
) -> list[Match]:
    """Candidates (n, 4) within `threshold` bits of any PDQ reference (m, 4), with the nearest one."""
    return nearest(candidates, refs, ref_ids, distances, threshold)


def match_faces(
    refs: np.ndarray, ref_ids: np.ndarray, candidates: np.ndarray, threshold: float = SAME_PERSON_DISTANCE
) -> list[Match]:
    """Face embeddings (n, 128) closer than `threshold` to any enrolled face (m, 128) of the case."""

    def euclid(block: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.linalg.norm(block - ref, axis=1)

    return [m for m in nearest(candidates, refs, ref_ids, euclid, threshold) if m.distance < threshold]
