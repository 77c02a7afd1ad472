"""The pdq route: visually the same image (PDQ, 256 bits, Hamming distance; see signals/pdq.py).

An enrolled photo keeps its 8 dihedral hashes (variants 0-7), so mirrored and rotated copies match at no
cost per scanned image; frames of an enrolled video add theirs from VIDEO_PDQ_VARIANTS on (kinds/video.py).
A scan stores one hash per image, or one per sampled frame of a video (its `score` is the frame's time).
Bank matchers use the value form alone: `parse` a hex hash, `distance`, `within`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from ncii_shield.index.matcher import match_pdq
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
from ncii_shield.signals.pdq import (
    MATCH_THRESHOLD,
    MIN_QUALITY,
    as_words,
    distances,
    from_hex,
    pdq_dihedral,
    pdq_hash,
)
from ncii_shield.store.models import Signal

if TYPE_CHECKING:
    from ncii_shield.signals.analyse import Analysis

HASH_BYTES = 32


@dataclass(frozen=True)
class PdqReferences:
    words: np.ndarray  # (n, 4) uint64
    ids: np.ndarray  # (n,) reference ids


def load_pdq(rows: Mapping[str, Sequence[ReferenceRow]]) -> PdqReferences | None:
    """A case's PDQ references (photos' dihedral variants and video frames), in matching's layout."""
    pdq = rows.get("pdq", ())
    if not pdq:
        return None
    return PdqReferences(as_words([r.value for r in pdq]), np.array([r.id for r in pdq], dtype=np.int64))


def dihedral(sample: Sample) -> tuple[list[bytes], int]:
    """The 8 dihedral hashes of a sample and their quality, computed once per sample."""
    return sample.once("pdq_dihedral", lambda: pdq_dihedral(sample.decoded.rgb))  # type: ignore[no-any-return]


class PdqKind(SignalKind[bytes]):
    """Values are 32-byte hashes, most significant bit first (`to_text` gives threatexchange's hex)."""

    name = "pdq"
    threshold = MATCH_THRESHOLD
    exchange_type = "pdq"
    reference_kinds = ("pdq",)
    signal_kinds = ("pdq",)

    def compute(self, sample: Sample) -> bytes:
        return sample.once("pdq", lambda: pdq_hash(sample.decoded.rgb))[0]  # type: ignore[no-any-return]

    def pack(self, value: bytes) -> bytes:
        return self.unpack(value)

    def unpack(self, data: bytes) -> bytes:
        if len(data) != HASH_BYTES:
            raise ValueError(f"a PDQ hash has {HASH_BYTES} bytes, got {len(data)}")
        return bytes(data)

    def parse(self, text: str) -> bytes:
        return from_hex(text)

    def distance(self, a: bytes, b: bytes) -> float:
        return float(distances(as_words([a]), as_words([b])[0])[0])

    def facts(self, sample: Sample) -> dict[str, int]:
        return {"pdq_quality": dihedral(sample)[1]}

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        variants, quality = dihedral(sample)
        if quality < MIN_QUALITY:
            return Enrolment(
                warnings=[f"PDQ quality {quality} < {MIN_QUALITY}: only exact copies and the face will match"]
            )
        return Enrolment([NewReference("pdq", v, variant=i, quality=quality) for i, v in enumerate(variants)])

    def stored_signals(self, analysis: Analysis) -> list[Signal]:
        if analysis.frames:  # a video: one hash per sampled frame, its time in seconds as the score
            out = []
            for f in analysis.frames:
                out.append(
                    Signal(kind="pdq", frame=f.index, value=f.pdq, quality=f.pdq_quality, score=f.timestamp)
                )
                if f.content_pdq is not None:  # the picture inside letterbox bars: idx 1 of the same frame
                    out.append(
                        Signal(
                            kind="pdq",
                            frame=f.index,
                            idx=1,
                            value=f.content_pdq,
                            quality=f.content_quality,
                            score=f.timestamp,
                        )
                    )
            return out
        if analysis.pdq is None:
            return []
        return [Signal(kind="pdq", value=analysis.pdq, quality=analysis.pdq_quality)]

    def describe_media(self, signals: Sequence[Signal]) -> dict[str, object]:
        first = next((s for s in signals if s.kind == "pdq" and s.idx in (0, None)), None)
        return {
            "pdq": first.value.hex() if first is not None and first.value else None,
            "pdq_quality": first.quality if first is not None else None,
        }

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> PdqReferences | None:
        return load_pdq(rows)

    def match(self, ctx: MatchContext, refs: PdqReferences | None) -> list[MediaMatch]:
        if refs is None:
            return []
        rows = ctx.session.execute(
            select(Signal.id, Signal.media_id, Signal.value).where(
                Signal.kind == "pdq", Signal.quality >= MIN_QUALITY
            )
        ).all()
        return [
            MediaMatch(rows[m.candidate][1], self.name, m.reference_id, m.distance, rows[m.candidate][0])
            for m in match_pdq(refs.words, refs.ids, as_words([r[2] for r in rows]))
        ]
