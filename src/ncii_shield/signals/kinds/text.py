"""The text route: a message naming the person (text/watchlist.py, text/service.py).

The person's identifiers are kept only as keyed hashes (HMAC under the deployment's watchlist key): a
watch term's stored form is one 16-byte digest. A message's value is the set of digests of every way it
could name someone; it names the person when the two share a digest. Text hits are per message, not per
media file, so this kind writes its own hits (`match_items`), incrementally.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from ncii_shield.signals.base import Sample, SignalKind
from ncii_shield.text.service import match_text
from ncii_shield.text.watchlist import DIGEST_BYTES, digest, message_keys

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ncii_shield.store.db import Store

Digests = frozenset[bytes]


class TextKind(SignalKind[Digests]):
    name = "text"
    threshold = 0
    report_group = "Messages naming the person"
    inputs = "text"

    def compute(self, sample: Sample) -> Digests:
        if sample.text is None or not sample.key:
            raise ValueError("a text value is computed from a text and the watchlist key")
        return frozenset(digest(sample.key, field, key) for field, key in message_keys(sample.text))

    def pack(self, value: Digests) -> bytes:
        return b"".join(sorted(value))

    def unpack(self, data: bytes) -> Digests:
        if not data or len(data) % DIGEST_BYTES:
            raise ValueError(f"watch terms are {DIGEST_BYTES}-byte digests, got {len(data)} bytes")
        return frozenset(data[i : i + DIGEST_BYTES] for i in range(0, len(data), DIGEST_BYTES))

    def distance(self, a: Digests, b: Digests) -> float:
        return 0.0 if a & b else math.inf

    def match_items(self, store: Store, session: Session, case_id: int) -> Counter[str]:
        return match_text(store, session, case_id)
