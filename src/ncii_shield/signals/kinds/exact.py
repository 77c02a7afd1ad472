"""The exact route: the very same file, byte for byte (SHA-256 of the whole file).

References keep the 32-byte digest of each enrolled photo; media are already stored by their digest, so
matching is one indexed lookup and stores no signal of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from ncii_shield.signals.base import (
    CaseKey,
    Enrolment,
    MatchContext,
    MediaMatch,
    NewReference,
    ReferenceRow,
    Sample,
    SignalKind,
)
from ncii_shield.store.models import Media

DIGEST_BYTES = 32


class ExactKind(SignalKind[str]):
    """Values are 64-character lower-case hex digests, as threatexchange and HMA write them."""

    name = "exact"
    threshold = 0
    exchange_type = "sha256"
    reference_kinds = ("sha256",)

    def compute(self, sample: Sample) -> str:
        return sample.sha256

    def pack(self, value: str) -> bytes:
        data = bytes.fromhex(value)
        self.unpack(data)  # checks the length
        return data

    def unpack(self, data: bytes) -> str:
        if len(data) != DIGEST_BYTES:
            raise ValueError(f"a SHA-256 digest has {DIGEST_BYTES} bytes, got {len(data)}")
        return bytes(data).hex()

    def to_text(self, value: str) -> str:
        return value

    def parse(self, text: str) -> str:
        text = text.strip().lower()
        if len(text) != 2 * DIGEST_BYTES:
            raise ValueError(f"a SHA-256 digest has {2 * DIGEST_BYTES} hex characters, got {len(text)}")
        return self.unpack(bytes.fromhex(text))

    def distance(self, a: str, b: str) -> float:
        return 0.0 if a == b else math.inf

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        return Enrolment([NewReference("sha256", self.pack(sample.sha256))])

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> dict[str, int] | None:
        """Hex digest -> reference id."""
        return {r.value.hex(): r.id for r in rows.get("sha256", ())} or None

    def match(self, ctx: MatchContext, refs: dict[str, int] | None) -> list[MediaMatch]:
        if not refs:
            return []
        rows = ctx.session.execute(select(Media.id, Media.sha256).where(Media.sha256.in_(list(refs))))
        return [MediaMatch(media_id, self.name, refs[digest], None, None) for media_id, digest in rows]
