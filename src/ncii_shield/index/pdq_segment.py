"""One immutable, sorted piece of the PDQ index with its multi-index hash tables.

Layout of a segment of n hashes (the sizes are for n = 10 million and the default 10 tables):

- `ids` int64 (n,) ascending, `hashes` uint64 (n, 4) in the same order (320 MB): sorted by id so
  that remove and replace find a row by binary search, with no id -> row map in memory.
- `dead` bool (n,): tombstones; a removed row stays until the segment is merged or compacted.
- one table per substring: the 256 bits are cut into `m` contiguous substrings of 25-26 bits. A
  table buckets the rows by the substring's top `high` bits (CSR: `offsets` has 2**high + 1 uint32;
  20 bits at 10M, i.e. ~10 rows a bucket, 4 MB) and stores, per row, one uint32
  `row << low | low bits of the substring` (40 MB). Keeping the low bits inline lets a probe reject
  most of a bucket without touching the hash; keeping no keys or ids in the table keeps it at 4
  bytes a row. In all ~85 bytes a hash: 850 MB at 10M.

Search (generalised pigeonhole): with radii r_t and sum(r_t + 1) > threshold, any hash within the
threshold is within r_t of the query on some substring t. `plan` picks the radii that minimise a cost
model of probes, bucket scans and verifications (or a brute-force scan when that is cheaper, e.g. for
tiny segments or very large thresholds). Every candidate is verified on all 256 bits: results are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ncii_shield.index import pdq_kernel
from ncii_shield.index.pdq_kernel import Hits, ball, extract_bits

DEFAULT_TABLES = 10  # 9-12 measured at 10M; 11 is ~5 % faster but 45 MB larger (docs/benchmarks.md)
BUCKET_ROWS = 8  # target rows per bucket: 8 -> 20 bits at 10M, measured ~1.5x faster than 16 or 32

# Relative costs for `plan`, from the C kernel at 10M rows (a probe is ~9 ns: two cache misses).
COST_PROBE = 1.0  # reading a bucket's offsets and its first line of entries
COST_SCAN = 0.2  # each entry of a bucket
COST_VERIFY = 1.0  # fetching a candidate's hash and comparing all 256 bits
COST_BRUTE = 0.1  # comparing one row in a sequential scan (~0.9 ns)


def substrings(tables: int) -> list[tuple[int, int]]:
    """(start bit, bits) of `tables` contiguous substrings covering 256 bits, sizes differing by <= 1."""
    if not 8 <= tables <= 64:
        raise ValueError("between 8 and 64 tables (a substring has at most 32 bits)")
    base, extra = divmod(256, tables)
    spans, start = [], 0
    for t in range(tables):
        bits = base + (1 if t < extra else 0)
        spans.append((start, bits))
        start += bits
    return spans


def high_bits(n: int, bits: int) -> int:
    """Bucketed bits for a substring: ~BUCKET_ROWS rows a bucket, leaving room for the row number."""
    row_bits = max(1, (n - 1).bit_length())
    want = round(math.log2(max(n, 1) / BUCKET_ROWS)) if n > BUCKET_ROWS else 0
    return min(bits, max(want, bits - (32 - row_bits), bits - 31, 0))


@dataclass(eq=False)
class Segment:
    """Arrays of one segment (see the module docstring); only `dead` and `live` ever change."""

    ids: np.ndarray  # (n,) int64, ascending, unique
    hashes: np.ndarray  # (n, 4) uint64
    dead: np.ndarray  # (n,) bool
    tables: np.ndarray  # (m, 3) int64: start bit, bits, high bits
    offsets: np.ndarray  # uint32, every table's CSR offsets one after the other
    entries: np.ndarray  # (m, n) uint32: row << low | low bits of the substring
    live: int = -1
    _plans: dict[int, np.ndarray | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.live < 0:
            self.live = len(self.ids) - int(np.count_nonzero(self.dead))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def bases(self) -> np.ndarray:
        """Where each table's offsets start in `offsets`."""
        sizes = (1 << self.tables[:, 2]) + 1
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.ids, self.hashes, self.dead, self.offsets, self.entries))

    def plan(self, threshold: int) -> np.ndarray | None:
        """Kernel params (m, 5) with the cheapest exact radii for `threshold`; None to scan instead."""
        if threshold not in self._plans:
            self._plans[threshold] = _plan(len(self), self.tables, self.bases, threshold)
        return self._plans[threshold]

    def search(self, queries: np.ndarray, threshold: int, *, use_c: bool = True) -> Hits:
        """(query index, row, distance) of every live row within `threshold` of a query."""
        params = self.plan(threshold)
        if params is None:
            return pdq_kernel.brute(self.hashes, self.dead, queries, threshold, use_c=use_c)
        return pdq_kernel.mih(
            self.hashes, self.dead, self.entries, self.offsets, params, queries, threshold, use_c=use_c
        )

    def find(self, ids: np.ndarray) -> np.ndarray:
        """Rows holding these ids, live ones only (ids not here are dropped)."""
        if len(self.ids) == 0 or len(ids) == 0:
            return np.zeros(0, np.int64)
        rows = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        rows = rows[(self.ids[rows] == ids)]
        return rows[~self.dead[rows]]

    def kill(self, rows: np.ndarray) -> None:
        self.dead[rows] = True
        self.live -= len(rows)

    def alive(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, hashes) of the live rows, for merging and compaction."""
        if self.live == len(self.ids):
            return self.ids, self.hashes
        keep = ~self.dead
        return self.ids[keep], self.hashes[keep]


def _plan(n: int, tables: np.ndarray, bases: np.ndarray, threshold: int) -> np.ndarray | None:
    # Greedy on convex costs is optimal: each of threshold + 1 steps raises the radius whose next
    # step costs least (from -1, table not probed, upwards).
    per_bucket = [n / 2.0**high for _, _, high in tables.tolist()]

    def cost(t: int, radius: int) -> float:
        if radius < 0:
            return 0.0
        _, bits, high = tables[t].tolist()
        probes = ball(high, radius)
        return (
            probes * (COST_PROBE + COST_SCAN * per_bucket[t])
            + ball(bits, radius) * n / 2.0**bits * COST_VERIFY
        )

    radii = [-1] * len(tables)
    total = 0.0
    for _ in range(threshold + 1):
        steps = [cost(t, r + 1) - cost(t, r) for t, r in enumerate(radii)]
        best = int(np.argmin(steps))
        radii[best] += 1
        total += steps[best]
        if total > n * COST_BRUTE:
            return None
    params = np.empty((len(tables), 5), dtype=np.int64)
    params[:, :3] = tables
    params[:, 3] = bases
    params[:, 4] = radii
    return params


def build(ids: np.ndarray, hashes: np.ndarray, tables: int = DEFAULT_TABLES) -> Segment:
    """A segment over (ids, hashes); ids must be unique. Sorts by id and builds every table."""
    n = len(ids)
    order = np.argsort(ids, kind="stable")
    ids = np.ascontiguousarray(ids[order], dtype=np.int64)
    hashes = np.ascontiguousarray(hashes[order], dtype=np.uint64)
    del order
    spans = substrings(tables)
    layout = np.array([(start, bits, high_bits(n, bits)) for start, bits in spans], dtype=np.int64)
    entries = np.empty((len(spans), n), dtype=np.uint32)
    offsets = []
    for t, (start, bits, high) in enumerate(layout.tolist()):
        low = bits - high
        key = extract_bits(hashes, start, bits).astype(np.uint32)
        bucket = key >> np.uint32(low)
        rows = np.argsort(bucket, kind="stable").astype(np.uint32)
        entries[t] = (rows << np.uint32(low)) | (key[rows] & np.uint32((1 << low) - 1))
        counts = np.bincount(bucket, minlength=1 << high)
        del key, bucket, rows
        offsets.append(np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32))
    return Segment(
        ids=ids,
        hashes=hashes,
        dead=np.zeros(n, dtype=bool),
        tables=layout,
        offsets=np.concatenate(offsets) if offsets else np.zeros(0, np.uint32),
        entries=entries,
    )
