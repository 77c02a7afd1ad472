"""PDQ, Meta's perceptual hash: 256 bits, matched by Hamming distance.

Hashes are kept as 32 bytes, most significant bit first, so `bytes.hex()` gives the 64-character
form used by ThreatExchange, HMA and StopNCII.
"""

from __future__ import annotations

import numpy as np
import pdqhash

MATCH_THRESHOLD = 31  # Hamming distance at or under which two hashes are the same image
MIN_QUALITY = 50  # hashes of flat or tiny images below this are too unreliable to match


def _pack(bits: np.ndarray) -> bytes:
    return np.packbits(bits.astype(np.uint8)).tobytes()


def pdq_hash(rgb: np.ndarray) -> tuple[bytes, int]:
    """PDQ of an RGB image: (32-byte hash, quality 0-100)."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return _pack(bits), int(quality)


FAST_MIN_SIDE = 256  # reduced decodes keep >= 256 px: conforming on Meta's reference set (docs/benchmarks.md)


def pdq_from_bytes(data: bytes, *, fast: bool = True) -> tuple[bytes, int]:
    """PDQ of an image file. `fast` decodes JPEGs at reduced scale: ~6x less work per file, within 6 bits
    of the full decode on Meta's reference images. Raises MediaError for what is not an image."""
    from ncii_shield.media.decode import decode_image

    return pdq_hash(decode_image(data, min_side=FAST_MIN_SIDE if fast else None).rgb)


def pdq_dihedral(rgb: np.ndarray) -> tuple[list[bytes], int]:
    """The 8 rotations/mirrors of an image's PDQ, from one decode (for references).

    A mirrored or rotated copy lands ~110-128 bits away from the original hash but 0-8 from the
    matching variant, so enrolling all eight catches mirrors at no cost per scanned image.
    """
    variants, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [_pack(v) for v in variants], int(quality)


def to_hex(value: bytes) -> str:
    return value.hex()


def from_hex(text: str) -> bytes:
    """Parse a 64-hex PDQ hash; raises ValueError with a clear reason."""
    text = text.strip().lower()
    if len(text) != 64:
        raise ValueError(f"a PDQ hash has 64 hex characters, got {len(text)}")
    return bytes.fromhex(text)


def as_words(values: list[bytes]) -> np.ndarray:
    """Hashes as an (n, 4) uint64 array, the layout the distance functions work on."""
    if not values:
        return np.zeros((0, 4), dtype=np.uint64)
    return np.frombuffer(b"".join(values), dtype=">u8").astype(np.uint64).reshape(-1, 4)


def distances(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hamming distance from every row of `candidates` (n, 4) to one `reference` (4,)."""
    return np.bitwise_count(np.bitwise_xor(candidates, reference)).sum(axis=1, dtype=np.int32)
