"""The face route: the person's face on another image (dlib 128-d embeddings, Euclidean distance).

Enrolment keeps only the largest face of a photo, sealed with the case key ("reference:{case_id}"): the
other faces are friends or bystanders who have not consented to being searched for. A scan stores every
face it finds, on images and on sampled video frames, in a sealed column under the source's key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from ncii_shield.index.matcher import match_faces
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
from ncii_shield.signals.faces import (
    SAME_PERSON_DISTANCE,
    Face,
    detect_faces,
    embedding_bytes,
    embedding_from_bytes,
)
from ncii_shield.store.models import Signal

if TYPE_CHECKING:
    from ncii_shield.signals.analyse import Analysis

EMBEDDING_BYTES = 128 * 4


@dataclass(frozen=True)
class FaceReferences:
    embeddings: np.ndarray  # (m, 128) float32
    ids: np.ndarray  # (m,) reference ids


def faces_of(sample: Sample) -> list[Face]:
    """Every face of a sample, largest first, found once per sample."""
    return sample.once("faces", lambda: detect_faces(sample.decoded.upright))  # type: ignore[no-any-return]


def _signal(face: Face, index: int, frame: int = 0) -> Signal:
    return Signal(
        kind="face",
        frame=frame,
        idx=index,
        sealed=embedding_bytes(face.embedding),
        score=face.score,
        box=list(face.box),
    )


class FaceKind(SignalKind[np.ndarray]):
    """Values are float32 (128,) embeddings; two faces are the same person under SAME_PERSON_DISTANCE."""

    name = "face"
    threshold = SAME_PERSON_DISTANCE
    aad = "reference:{case_id}"
    reference_kinds = ("face",)
    signal_kinds = ("face",)
    report_group = "The person's face on other images"

    def compute(self, sample: Sample) -> np.ndarray:
        faces = faces_of(sample)
        if not faces:
            raise ValueError("no face found")
        return faces[0].embedding

    def pack(self, value: np.ndarray) -> bytes:
        return embedding_bytes(value)

    def unpack(self, data: bytes) -> np.ndarray:
        if len(data) != EMBEDDING_BYTES:
            raise ValueError(f"a face embedding has {EMBEDDING_BYTES} bytes, got {len(data)}")
        return embedding_from_bytes(data)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))

    def within(self, distance: float) -> bool:
        return distance < self.threshold

    def facts(self, sample: Sample) -> dict[str, int]:
        found = len(faces_of(sample))
        return {"faces_found": found, "faces_enrolled": min(1, found)}

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        faces = faces_of(sample)
        if not faces:
            return Enrolment(warnings=["no face found: this photo is matched by its hashes only"])
        value = self.seal(key.key, key.case_id, faces[0].embedding)
        warnings = [f"{len(faces)} faces found; only the largest was enrolled"] if len(faces) > 1 else []
        return Enrolment([NewReference("face", value, variant=0)], warnings)

    def stored_signals(self, analysis: Analysis) -> list[Signal]:
        out = [
            _signal(f, i, frame.index) for frame in analysis.frames for i, f in enumerate(frame.faces or [])
        ]
        return out + [_signal(f, i) for i, f in enumerate(analysis.faces)]

    def describe_media(self, signals: Sequence[Signal]) -> dict[str, object]:
        return {"faces": sum(1 for s in signals if s.kind == "face")}

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> FaceReferences | None:
        faces = rows.get("face", ())
        if not faces:
            return None
        embeddings = np.stack([self.open(key.key, key.case_id, r.value) for r in faces])
        return FaceReferences(embeddings, np.array([r.id for r in faces], dtype=np.int64))

    def match(self, ctx: MatchContext, refs: FaceReferences | None) -> list[MediaMatch]:
        if refs is None:
            return []
        rows = ctx.session.execute(
            select(Signal.id, Signal.media_id, Signal.sealed).where(Signal.kind == "face")
        ).all()
        matrix = (
            np.stack([embedding_from_bytes(r[2]) for r in rows]) if rows else np.zeros((0, 128), np.float32)
        )
        return [
            MediaMatch(rows[m.candidate][1], self.name, m.reference_id, m.distance, rows[m.candidate][0])
            for m in match_faces(refs.embeddings, refs.ids, matrix)
        ]
