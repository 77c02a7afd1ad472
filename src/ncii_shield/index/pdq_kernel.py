"""The two inner loops of the PDQ index, in C when the extension is built and in numpy otherwise.

Both kernels take hashes as (n, 4) uint64 words (`ncii_shield.signals.pdq.as_words` layout) and return
every live row within `threshold` bits of a query as three flat arrays: query index, row, distance.
Rows come back in no particular order; the caller sorts. The C kernel (`_pdq_mih.c`) overlaps the
cache misses of a whole batch of probes and releases the GIL; the numpy one keeps the index working
(~15x slower) where no compiler was available. Tests hold both to brute force.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations

import numpy as np

try:
    from ncii_shield.index import _pdq_mih as _c  # type: ignore[attr-defined]
except ImportError:  # not built (no compiler at install time): numpy does the same work, slower
    _c = None

Hits = tuple[np.ndarray, np.ndarray, np.ndarray]  # query index (uint32), row (uint32), distance (uint16)

HAVE_C = _c is not None
PARAM_COLS = 5  # per table: start bit, bits, high bits (bucketed), offsets base, radius (-1: skip)
_WORK = 1 << 19  # rows of scratch per numpy step: keeps the fallback's temporaries near 50 MB a thread


def extract_bits(words: np.ndarray, start: int, bits: int) -> np.ndarray:
    """Bits [start, start + bits) of each 256-bit hash as uint64; bit 0 is the hash's first (MSB)."""
    word, offset = divmod(start, 64)
    value = words[:, word] << np.uint64(offset)
    if offset + bits > 64:
        value |= words[:, word + 1] >> np.uint64(64 - offset)
    return value >> np.uint64(64 - bits)


def _empty() -> Hits:
    return np.zeros(0, np.uint32), np.zeros(0, np.uint32), np.zeros(0, np.uint16)


def _from_c(raw: tuple[bytes, bytes, bytes]) -> Hits:
    qi, row, dist = raw
    return (
        np.frombuffer(qi, np.uint32),
        np.frombuffer(row, np.uint32),
        np.frombuffer(dist, np.uint16),
    )


def _concat(parts: list[Hits]) -> Hits:
    if not parts:
        return _empty()
    return (
        np.concatenate([p[0] for p in parts]).astype(np.uint32, copy=False),
        np.concatenate([p[1] for p in parts]).astype(np.uint32, copy=False),
        np.concatenate([p[2] for p in parts]).astype(np.uint16, copy=False),
    )


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    count = np.bitwise_count(a ^ b)
    return count[..., 0] + count[..., 1] + count[..., 2] + count[..., 3]


def brute(
    hashes: np.ndarray, dead: np.ndarray, queries: np.ndarray, threshold: int, *, use_c: bool = True
) -> Hits:
    """Every live row within `threshold` of each query, by comparing with all of them."""
    if len(hashes) == 0 or len(queries) == 0:
        return _empty()
    if use_c and _c is not None:
        return _from_c(_c.brute(hashes, dead.view(np.uint8), queries, threshold))
    parts: list[Hits] = []
    block = max(1, min(len(hashes), _WORK // 16))
    step = max(1, _WORK // (4 * block))
    for r0 in range(0, len(hashes), block):
        rows = hashes[r0 : r0 + block]
        for q0 in range(0, len(queries), step):
            dist = _hamming(queries[q0 : q0 + step, None, :], rows[None, :, :])
            qi, ri = np.nonzero(dist <= threshold)
            ri_abs = ri + r0
            keep = ~dead[ri_abs]
            parts.append((qi[keep] + q0, ri_abs[keep], dist[qi[keep], ri[keep]]))
    return _concat(parts)


@lru_cache(maxsize=256)
def flip_masks(bits: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """All `bits`-bit masks with at most `radius` bits set, and each one's popcount (ascending)."""
    masks = [0]
    for k in range(1, radius + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(bits), k))
    values = np.array(masks, dtype=np.uint64)
    return values, np.bitwise_count(values).astype(np.int64)


def ball(bits: int, radius: int) -> int:
    """How many values lie within `radius` bits of a `bits`-bit key (probes for that radius)."""
    return sum(math.comb(bits, k) for k in range(min(radius, bits) + 1)) if radius >= 0 else 0


def mih(
    hashes: np.ndarray,
    dead: np.ndarray,
    entries: np.ndarray,
    offsets: np.ndarray,
    params: np.ndarray,
    queries: np.ndarray,
    threshold: int,
    *,
    use_c: bool = True,
) -> Hits:
    """Every live row within `threshold` of each query, through a segment's multi-index hash tables.

    Exact when the radii in `params` satisfy sum(radius + 1) > threshold (generalised pigeonhole:
    a row within `threshold` differs from the query by at most `radius` bits in some table's
    substring). A row found by several tables is reported by the first one only.
    """
    if len(hashes) == 0 or len(queries) == 0:
        return _empty()
    if use_c and _c is not None:
        return _from_c(_c.mih(hashes, dead.view(np.uint8), entries, offsets, params, queries, threshold))
    parts: list[Hits] = []
    earlier: list[tuple[int, int, int]] = []
    for t, (start, bits, high, base, radius) in enumerate(params.tolist()):
        if radius < 0:
            continue
        radius = min(radius, bits)
        low = bits - high
        masks, pops = flip_masks(high, min(radius, high))
        keys = extract_bits(queries, start, bits)
        lmask = np.uint64((1 << low) - 1)
        qlow, qhigh = keys & lmask, keys >> np.uint64(low)
        table = entries[t]
        bucket_rows = max(1.0, len(hashes) / 2**high)
        step = max(1, int(_WORK / (len(masks) * bucket_rows)))
        for q0 in range(0, len(queries), step):
            qh = qhigh[q0 : q0 + step]
            buckets = (qh[:, None] ^ masks[None, :]).ravel().astype(np.int64) + base
            lo = offsets[buckets].astype(np.int64)
            count = offsets[buckets + 1].astype(np.int64) - lo
            probe = np.repeat(np.arange(len(buckets)), count)
            first = np.cumsum(count) - count
            index = lo[probe] + np.arange(len(probe)) - first[probe]
            value = table[index].astype(np.uint64)
            qi = probe // len(masks) + q0
            budget = radius - pops[probe % len(masks)]
            near = np.bitwise_count((value ^ qlow[qi]) & lmask) <= budget
            rows, qi = (value[near] >> np.uint64(low)).astype(np.int64), qi[near]
            xor = hashes[rows] ^ queries[qi]
            count_bits = np.bitwise_count(xor)
            dist = count_bits[:, 0] + count_bits[:, 1] + count_bits[:, 2] + count_bits[:, 3]
            keep = (dist <= threshold) & ~dead[rows]
            for e_start, e_bits, e_radius in earlier:
                keep &= np.bitwise_count(extract_bits(xor, e_start, e_bits)) > e_radius
            parts.append((qi[keep], rows[keep], dist[keep]))
        earlier.append((start, bits, radius))
    return _concat(parts)
