"""The partial route: part of an enrolled photo (cropped, captioned, in a collage, in a screenshot).

Two ways in. Windows: a scan stores the PDQ of 14 sub-windows of every image (`pdq_window` signals,
index/multicrop.py: 2x2 and 3x3 grids and the centre), matched against the case's PDQ references like whole
images. Features: every image's local features (`features` signals, index/local_features.py) are verified
geometrically against each enrolled photo's, sealed with the case key ("features:{case_id}"). ORB
descriptors do not survive a mirror, so an enrolled photo's `features` reference holds two blobs back to
back: the photo's, then the mirrored photo's (`unpack` reads the first, `unpack_all` both), so a copy both
mirrored and cropped is found too. A reference enrolled before holds one blob: it stays valid and simply
lacks the mirror until the photo is enrolled again. Each (case, media) pair is verified
once (feature_checks); a partial copy found in an earlier round still gives a hit to every new message
carrying it.
"""

from __future__ import annotations

import math
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
from ncii_shield.signals.kinds.pdq import PdqReferences, load_pdq
from ncii_shield.signals.pdq import MIN_QUALITY, as_words
from ncii_shield.store import crypto
from ncii_shield.store.models import FeatureCheck, Hit, Signal

if TYPE_CHECKING:
    from ncii_shield.index.local_features import LocalFeatures
    from ncii_shield.signals.analyse import Analysis

FEATURE_CHUNK = 200  # media whose local features are verified per round: 36 KB each


def mirrored_features(rgb: np.ndarray) -> LocalFeatures:
    """The local features of the photo mirrored left-right: enrolled beside the photo's own."""
    from ncii_shield.index.local_features import extract

    return extract(np.ascontiguousarray(rgb[:, ::-1]))


def split_blobs(data: bytes) -> list[bytes]:
    """The feature blobs stored back to back in one reference (each says its own keypoint count)."""
    from ncii_shield.index.local_features import _DESCRIPTOR_BYTES, _HEADER

    blobs = []
    while len(data) >= _HEADER.size:
        count = _HEADER.unpack_from(data)[2]
        size = _HEADER.size + count * (4 + _DESCRIPTOR_BYTES)
        blobs.append(data[:size])
        data = data[size:]
    if data or not blobs:  # a trailing fragment: let LocalFeatures.from_bytes say what is wrong
        blobs.append(data)
    return blobs


@dataclass(frozen=True)
class PartialReferences:
    features: tuple[tuple[int, LocalFeatures], ...]  # (reference id, local features) per enrolled photo
    pdq: PdqReferences | None  # for the windows
    mirrored: frozenset[int] = frozenset()  # positions in `features` that hold a mirrored photo's features


class PartialKind(SignalKind["LocalFeatures"]):
    """Values are local features (cv2 is imported only when they are computed, parsed or verified). The
    distance is 1 - the share of the reference seen in the copy, or infinite when the geometry fails."""

    name = "partial"
    threshold = 1.0
    aad = "features:{case_id}"
    reference_kinds = ("features",)
    signal_kinds = ("features", "pdq_window")

    def compute(self, sample: Sample) -> LocalFeatures:
        from ncii_shield.index.local_features import extract

        return sample.once("features", lambda: extract(sample.decoded.rgb))  # type: ignore[no-any-return]

    def pack(self, value: LocalFeatures) -> bytes:
        return value.to_bytes()

    def unpack(self, data: bytes) -> LocalFeatures:
        """The photo's own features (a reference may hold the mirrored photo's after them)."""
        return self.unpack_all(data)[0]

    def unpack_all(self, data: bytes) -> list[LocalFeatures]:
        from ncii_shield.index.local_features import LocalFeatures

        return [LocalFeatures.from_bytes(blob) for blob in split_blobs(data)]

    def distance(self, a: LocalFeatures, b: LocalFeatures) -> float:
        """`a` is the copy, `b` the reference."""
        from ncii_shield.index.local_features import verify

        found = verify(a, b)
        return math.inf if found is None else round(1.0 - found.coverage, 3)

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        data = self.pack(self.compute(sample)) + self.pack(mirrored_features(sample.decoded.rgb))
        return Enrolment([NewReference("features", crypto.seal(key.key, data, self.aad_for(key.case_id)))])

    def stored_signals(self, analysis: Analysis) -> list[Signal]:
        out = [] if analysis.features is None else [Signal(kind="features", sealed=analysis.features)]
        for index, window in enumerate(analysis.windows):
            out.append(
                Signal(
                    kind="pdq_window",
                    idx=index,
                    value=window.pdq,
                    quality=window.quality,
                    box=list(window.box),
                )
            )
        return out

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> PartialReferences | None:
        features: list[tuple[int, LocalFeatures]] = []
        mirrored: set[int] = set()
        for row in rows.get("features", ()):
            blobs = self.unpack_all(crypto.unseal(key.key, row.value, self.aad_for(key.case_id)))
            features.append((row.id, blobs[0]))
            for extra in blobs[1:]:  # the mirrored photo: matched under the same reference id
                mirrored.add(len(features))
                features.append((row.id, extra))
        pdq = load_pdq(rows)
        found = PartialReferences(tuple(features), pdq, frozenset(mirrored))
        return found if features or pdq is not None else None

    def match(self, ctx: MatchContext, refs: PartialReferences | None) -> list[MediaMatch]:
        found: list[MediaMatch] = []
        if refs is not None:
            found += _window_matches(ctx, refs.pdq)
            matched = {m.media_id for m in ctx.found} | {m.media_id for m in found}
            found += _feature_matches(ctx, refs.features, matched, refs.mirrored)
        return found + _verified_before(ctx, {m.media_id for m in found})


def _window_matches(ctx: MatchContext, refs: PdqReferences | None) -> list[MediaMatch]:
    """A tile of a collage: one of the windows of a stored image has the PDQ of an enrolled photo."""
    if refs is None:
        return []
    rows = ctx.session.execute(
        select(Signal.id, Signal.media_id, Signal.value, Signal.box).where(
            Signal.kind == "pdq_window", Signal.quality >= MIN_QUALITY
        )
    ).all()
    return [
        MediaMatch(
            rows[m.candidate][1],
            "partial",
            m.reference_id,
            m.distance,
            rows[m.candidate][0],
            {"route": "window", "region": rows[m.candidate][3]},
        )
        for m in match_pdq(refs.words, refs.ids, as_words([r[2] for r in rows]))
    ]


def _feature_matches(
    ctx: MatchContext,
    refs: tuple[tuple[int, LocalFeatures], ...],
    matched: set[int],
    mirrored: frozenset[int] = frozenset(),
) -> list[MediaMatch]:
    """Crops, screenshots, captions, stickers: local features verified geometrically against each photo.

    Each (case, media) pair is verified once (recorded in feature_checks, found or not); media already
    matched by a hash route need no verification.
    """
    if not refs:
        return []
    from ncii_shield.index.local_features import LocalFeatures, verify

    session, case_id = ctx.session, ctx.case_id
    checked = select(FeatureCheck.media_id).where(FeatureCheck.case_id == case_id)
    todo = session.scalars(
        select(Signal.id).where(Signal.kind == "features", Signal.media_id.not_in(checked))
    ).all()
    found: list[MediaMatch] = []
    for start in range(0, len(todo), FEATURE_CHUNK):
        rows = session.execute(
            select(Signal.id, Signal.media_id, Signal.sealed).where(
                Signal.id.in_(todo[start : start + FEATURE_CHUNK])
            )
        ).all()
        for signal_id, media_id, blob in rows:
            session.add(FeatureCheck(case_id=case_id, media_id=media_id))
            if media_id in matched or not blob:
                continue
            query = LocalFeatures.from_bytes(blob)
            best = None
            for position, (reference_id, reference) in enumerate(refs):
                result = verify(query, reference)
                if result is not None and (best is None or result.inliers > best[1].inliers):
                    best = (reference_id, result, position in mirrored)
            if best is None:
                continue
            reference_id, result, flipped = best
            details: dict[str, object] = {
                "route": "features",
                "inliers": result.inliers,
                "coverage": round(result.coverage, 3),
                "region": [round(v, 4) for v in result.region],
                "quad": [[round(x, 4), round(y, 4)] for x, y in result.quad],  # a turned copy is no box
                "scale": round(result.scale, 3),
                "rotation": round(result.rotation, 1),
            }
            if flipped:  # found through the mirrored photo's features
                details["mirrored"] = True
            found.append(MediaMatch(media_id, "partial", reference_id, None, signal_id, details))
        session.flush()
    return found


def _verified_before(ctx: MatchContext, skip: set[int]) -> list[MediaMatch]:
    """Partial copies verified in an earlier round: each media is verified once, but every new message
    carrying it (a re-upload in another room, a re-export) must still get its hit."""
    rows = ctx.session.execute(
        select(Hit.media_id, Hit.reference_id, Hit.signal_id, Hit.details)
        .where(Hit.case_id == ctx.case_id, Hit.kind == "partial", Hit.media_id.is_not(None))
        .order_by(Hit.id)
    ).all()
    seen: dict[int, MediaMatch] = {}
    for media_id, reference_id, signal_id, details in rows:
        if media_id not in skip and media_id not in seen and reference_id is not None:
            seen[media_id] = MediaMatch(media_id, "partial", reference_id, None, signal_id, details)
    return list(seen.values())
