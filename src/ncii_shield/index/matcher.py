"""How a match is decided, as pure functions over arrays: no database, no files.

A case's references are a handful of rows (8 PDQ variants and a face or two per enrolled photo);
candidates are every stored signal. Distances are computed in chunks so memory stays flat however
large the backlog is. Issue 4 replaces the brute-force PDQ scan with a persistent index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ncii_shield.index.local_features import LocalFeatures
from ncii_shield.signals.faces import SAME_PERSON_DISTANCE
from ncii_shield.signals.pdq import MATCH_THRESHOLD, distances

CHUNK = 200_000


@dataclass(frozen=True)
class ReferenceSet:
    """A case's references in the shape the distance functions want."""

    sha256: dict[str, int]  # hex digest -> reference id
    pdq: np.ndarray  # (n, 4) uint64
    pdq_ids: np.ndarray  # (n,) reference ids
    faces: np.ndarray  # (m, 128) float32
    face_ids: np.ndarray  # (m,) reference ids
    features: tuple[tuple[int, LocalFeatures], ...] = ()  # (reference id, local features) per photo
    # Enrolled videos: (reference id, frames as (timestamp, pdq, quality)) per video.
    videos: tuple[tuple[int, list[tuple[float, bytes, int]]], ...] = ()

    @property
    def empty(self) -> bool:
        return (
            not self.sha256
            and len(self.pdq_ids) == 0
            and len(self.face_ids) == 0
            and not self.features
            and not self.videos
        )


@dataclass(frozen=True)
class Match:
    candidate: int  # index into the candidate array
    reference_id: int
    distance: float


def _nearest(
    candidates: np.ndarray, refs: np.ndarray, ref_ids: np.ndarray, dist_fn, limit: float
) -> list[Match]:  # type: ignore[no-untyped-def]
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


def match_pdq(refs: ReferenceSet, candidates: np.ndarray, threshold: int = MATCH_THRESHOLD) -> list[Match]:
    """Candidates (n, 4) within `threshold` bits of any PDQ reference, with the nearest one."""
    return _nearest(candidates, refs.pdq, refs.pdq_ids, distances, threshold)


def match_faces(
    refs: ReferenceSet, candidates: np.ndarray, threshold: float = SAME_PERSON_DISTANCE
) -> list[Match]:
    """Face embeddings (n, 128) closer than `threshold` to any enrolled face of the case."""

    def euclid(block: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.linalg.norm(block - ref, axis=1)

    return [
        m
        for m in _nearest(candidates, refs.faces, refs.face_ids, euclid, threshold)
        if m.distance < threshold
    ]
