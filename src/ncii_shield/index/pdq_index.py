"""An exact PDQ index for hash banks of millions: incremental, persisted, < 1 GB at 10 million.

`PDQIndex` answers "which banked hashes lie within `threshold` bits of this one" with the same
results as comparing against every hash (tests hold it to that), at thousands of lookups a second.

Shape (an LSM tree): new hashes land in a small unsorted *delta* that is searched by brute force,
so an added hash is matchable at once. A full delta becomes an immutable *segment* with
multi-index hash tables (`pdq_segment`); segments of similar size are merged (size-tiered, fan-out
4, at most 5 segments), so a hash is rebuilt a few times over its life, never the whole index per
change. Removal marks a tombstone in its segment; a segment that is half tombstones is rebuilt
without them. A bulk add (>= DELTA_MAX hashes) becomes a segment directly.

Not thread-safe for writers: searches may run concurrently with each other, not with add/remove.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ncii_shield.index import pdq_kernel
from ncii_shield.index.pdq_file import IndexFileError, load_arrays, save_arrays
from ncii_shield.index.pdq_kernel import Hits
from ncii_shield.index.pdq_segment import DEFAULT_TABLES, Segment, build
from ncii_shield.signals.pdq import MATCH_THRESHOLD

DELTA_MAX = 4096  # hashes searched by brute force before they become a segment (~5 us a query)
FANOUT = 4  # segments of one size tier merged together
MAX_SEGMENTS = 5  # beyond this the two smallest are merged (search cost grows with the count)
COMPACT_DEAD = 0.5  # rebuild a segment once this share of its rows is removed
MIN_THREAD_QUERIES = 256  # fewer queries than this per thread are not worth a thread
FORMAT = 1


def hash_words(hashes: np.ndarray) -> np.ndarray:
    """PDQ hashes as contiguous (n, 4) uint64 words from uint8 (n, 32) bytes or (n, 4) words.

    A single hash (32 bytes or 4 words, 1-D) becomes one row.
    """
    array = np.asarray(hashes)
    if array.ndim == 1 and array.shape[0] in (4, 32):
        array = array[None, :]
    if array.ndim == 2 and array.dtype == np.uint8 and array.shape[1] == 32:
        return np.ascontiguousarray(array).view(">u8").astype(np.uint64)
    if array.ndim == 2 and array.dtype == np.uint64 and array.shape[1] == 4:
        return np.ascontiguousarray(array)
    raise ValueError(
        f"PDQ hashes must be uint8 (n, 32) or uint64 (n, 4) words, got {array.dtype} {array.shape}"
    )


def _as_ids(ids: np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D integer array, got {array.dtype} {array.shape}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")
    return array.astype(np.int64)


def _tier(rows: int) -> int:
    return int(math.log(max(rows, DELTA_MAX) / DELTA_MAX, FANOUT))


class PDQIndex:
    """Exact Hamming-radius search over PDQ hashes, each stored under an int64 id.

    >>> index = PDQIndex()
    >>> index.add(np.array([7]), np.zeros((1, 32), np.uint8))
    >>> index.search(np.zeros((1, 32), np.uint8))
    [[(7, 0)]]
    """

    def __init__(self) -> None:
        self._segments: list[Segment] = []
        self._delta_ids = np.zeros(0, np.int64)
        self._delta_hashes = np.zeros((0, 4), np.uint64)
        self.tables = DEFAULT_TABLES  # substrings per segment; see pdq_segment for the trade-off
        self.threads = os.cpu_count() or 1  # search threads (the kernel releases the GIL)

    def __len__(self) -> int:
        return len(self._delta_ids) + sum(s.live for s in self._segments)

    def __repr__(self) -> str:
        return f"PDQIndex({len(self)} hashes, {len(self._segments)} segments, delta {len(self._delta_ids)})"

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Add hashes under ids (int64 (n,)); searchable on return. An existing id is replaced.

        Within one call a repeated id keeps its last hash.
        """
        ids, words = _as_ids(ids), hash_words(hashes)
        if len(ids) != len(words):
            raise ValueError(f"{len(ids)} ids for {len(words)} hashes")
        if len(ids) == 0:
            return
        _, last = np.unique(ids[::-1], return_index=True)
        if len(last) < len(ids):
            keep = np.sort(len(ids) - 1 - last)
            ids, words = ids[keep], words[keep]
        self.remove(ids)
        if len(ids) >= DELTA_MAX:
            self._segments.append(build(ids, words, self.tables))
        else:
            self._delta_ids = np.concatenate([self._delta_ids, ids])
            self._delta_hashes = np.concatenate([self._delta_hashes, words])
            if len(self._delta_ids) >= DELTA_MAX:
                self._segments.append(build(self._delta_ids, self._delta_hashes, self.tables))
                self._delta_ids = np.zeros(0, np.int64)
                self._delta_hashes = np.zeros((0, 4), np.uint64)
        self._merge()

    def remove(self, ids: np.ndarray) -> int:
        """Remove these ids; returns how many were present. Unknown ids are ignored."""
        ids = np.unique(_as_ids(ids))
        if len(ids) == 0:
            return 0
        removed = 0
        if len(self._delta_ids):
            gone = np.isin(self._delta_ids, ids)
            if gone.any():
                removed += int(gone.sum())
                self._delta_ids, self._delta_hashes = self._delta_ids[~gone], self._delta_hashes[~gone]
        kept: list[Segment] = []
        for segment in self._segments:
            rows = segment.find(ids)
            if len(rows):
                segment.kill(rows)
                removed += len(rows)
            if segment.live == 0:
                continue
            if segment.live < len(segment) * (1 - COMPACT_DEAD):
                segment = build(*segment.alive(), self.tables)
            kept.append(segment)
        self._segments = kept
        return removed

    def _merge(self) -> None:
        """Size-tiered merging: FANOUT segments of one tier become one segment of the next. And
        at most MAX_SEGMENTS segments: each costs a full set of probes per query, however small."""
        while True:
            tiers: dict[int, list[Segment]] = {}
            for segment in self._segments:
                tiers.setdefault(_tier(len(segment)), []).append(segment)
            full = [group for _, group in sorted(tiers.items()) if len(group) >= FANOUT]
            if full:
                group = full[0]
            elif len(self._segments) > MAX_SEGMENTS:
                group = sorted(self._segments, key=len)[:2]
            else:
                return
            alive = [s.alive() for s in group]
            merged = build(
                np.concatenate([a[0] for a in alive]), np.concatenate([a[1] for a in alive]), self.tables
            )
            members = {id(s) for s in group}
            self._segments = [s for s in self._segments if id(s) not in members] + [merged]

    def search(self, queries: np.ndarray, threshold: int = MATCH_THRESHOLD) -> list[list[tuple[int, int]]]:
        """For each query hash, every (id, distance) within `threshold` bits, nearest first.

        Queries are uint8 (n, 32) or uint64 (n, 4). Batch them: at 10 million hashes a query costs
        ~160 us of CPU, split over `threads`, plus ~60 us of fixed overhead per call. Ties in distance
        are ordered by id.
        """
        words = hash_words(queries)
        if not 0 <= int(threshold) <= 256:
            raise ValueError(f"threshold must be between 0 and 256 bits, got {threshold}")
        threshold = int(threshold)
        if len(words) == 0:
            return []
        parts = max(1, min(self.threads, len(words) // MIN_THREAD_QUERIES))
        bounds = np.linspace(0, len(words), parts + 1).astype(int)
        jobs = [(words[a:b], int(a)) for a, b in pairwise(bounds.tolist())]
        if parts == 1:
            found = [self._search_words(jobs[0][0], threshold, 0)]
        else:
            with ThreadPoolExecutor(parts) as pool:
                found = list(pool.map(lambda job: self._search_words(job[0], threshold, job[1]), jobs))
        qi = np.concatenate([f[0] for f in found])
        ids = np.concatenate([f[1] for f in found])
        dist = np.concatenate([f[2] for f in found])
        order = np.lexsort((ids, dist, qi))
        counts = np.bincount(qi, minlength=len(words)).tolist()
        pairs = list(zip(ids[order].tolist(), dist[order].tolist(), strict=True))
        out: list[list[tuple[int, int]]] = []
        start = 0
        for count in counts:
            out.append(pairs[start : start + count])
            start += count
        return out

    def _search_words(self, words: np.ndarray, threshold: int, first: int) -> Hits:
        """(query index, id, distance) over every segment and the delta, for one chunk of queries."""
        qis, ids, dists = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.uint16)]
        for segment in self._segments:
            qi, rows, dist = segment.search(words, threshold)
            qis.append(qi.astype(np.int64) + first)
            ids.append(segment.ids[rows])
            dists.append(dist)
        if len(self._delta_ids):
            dead = np.zeros(len(self._delta_ids), dtype=bool)
            qi, rows, dist = pdq_kernel.brute(self._delta_hashes, dead, words, threshold)
            qis.append(qi.astype(np.int64) + first)
            ids.append(self._delta_ids[rows])
            dists.append(dist)
        return np.concatenate(qis), np.concatenate(ids), np.concatenate(dists)

    def to_arrays(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """(meta, named arrays): the index's persisted form, for `save` or a file holding more."""
        meta: dict[str, object] = {"format": FORMAT, "tables": self.tables, "segments": []}
        arrays: dict[str, np.ndarray] = {"delta.ids": self._delta_ids, "delta.hashes": self._delta_hashes}
        for i, segment in enumerate(self._segments):
            meta["segments"].append({"tables": segment.tables.tolist()})  # type: ignore[attr-defined]
            for name in ("ids", "hashes", "dead", "offsets", "entries"):
                arrays[f"s{i}.{name}"] = getattr(segment, name)
        return meta, arrays

    @classmethod
    def from_arrays(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> PDQIndex:
        """The index from `to_arrays`' form, its invariants checked; ValueError if they do not hold."""
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
        index = cls()
        try:
            index.tables = int(meta["tables"])
            index._delta_ids = arrays["delta.ids"]
            index._delta_hashes = arrays["delta.hashes"]
            for i, info in enumerate(meta["segments"]):
                segment = Segment(
                    ids=arrays[f"s{i}.ids"],
                    hashes=arrays[f"s{i}.hashes"],
                    dead=arrays[f"s{i}.dead"],
                    tables=np.array(info["tables"], dtype=np.int64).reshape(-1, 3),
                    offsets=arrays[f"s{i}.offsets"],
                    entries=arrays[f"s{i}.entries"],
                )
                _check(segment)
                index._segments.append(segment)
            delta_ok = index._delta_ids.dtype == np.int64 and index._delta_hashes.dtype == np.uint64
            if not delta_ok or index._delta_ids.shape != (len(index._delta_hashes),):
                raise ValueError("delta shapes")
            if index._delta_hashes.shape[1:] != (4,):
                raise ValueError("delta shapes")
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or malformed {exc}") from None
        return index

    def save(self, path: Path) -> None:
        """Write the index to one file, atomically (a crash leaves the old file or the new one)."""
        save_arrays(Path(path), *self.to_arrays())

    @classmethod
    def load(cls, path: Path) -> PDQIndex:
        """Read an index written by `save`; raises IndexFileError (an NciiError) if it is damaged."""
        meta, arrays = load_arrays(Path(path), kind="PDQ index")
        hint = "restore the PDQ index from a backup or rebuild it from its bank"
        if meta.get("format") != FORMAT:
            raise IndexFileError(
                f"PDQ index {path} has format {meta.get('format')!r}, expected {FORMAT}", hint
            )
        try:
            return cls.from_arrays(meta, arrays)
        except ValueError as exc:
            raise IndexFileError(f"PDQ index {path} is inconsistent ({exc})", hint) from None


def _check(segment: Segment) -> None:
    """Shapes and invariants the kernels rely on (a file can pass its checksums and still lie)."""
    n, m = len(segment.ids), len(segment.tables)
    if segment.ids.dtype != np.int64 or segment.hashes.dtype != np.uint64 or segment.dead.dtype != np.bool_:
        raise ValueError("segment dtypes")
    if segment.entries.dtype != np.uint32 or segment.offsets.dtype != np.uint32:
        raise ValueError("table dtypes")
    if segment.hashes.shape != (n, 4) or segment.dead.shape != (n,) or segment.entries.shape != (m, n):
        raise ValueError("segment shapes")
    if n >= 2 and not bool(np.all(segment.ids[1:] > segment.ids[:-1])):
        raise ValueError("ids not sorted")
    start, bits, high = segment.tables.T
    if m < 1 or np.any(bits < 1) or np.any(bits > 32) or np.any(start + bits > 256) or np.any(high > bits):
        raise ValueError("table layout")
    if np.any(bits - high > 31) or np.any(high < 0) or n > 2**32 - 1:
        raise ValueError("table layout")
    bases = segment.bases
    if len(segment.offsets) != int(bases[-1] + (1 << int(high[-1])) + 1):
        raise ValueError("offsets length")
    for t in range(m):
        table = segment.offsets[bases[t] : bases[t] + (1 << int(high[t])) + 1]
        if table[0] != 0 or table[-1] != n or np.any(table[1:] < table[:-1]):
            raise ValueError(f"offsets of table {t}")
        if n and int(segment.entries[t].max() >> np.uint32(bits[t] - high[t])) >= n:
            raise ValueError(f"rows of table {t}")
