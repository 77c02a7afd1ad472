"""Matching a case against everything stored, and writing the hits.

Run after every scan and every enrolment. It is idempotent: a hit already recorded for the same
item, case and kind is not written again, so re-running after a crash gives the same result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.cases.service import open_embedding, open_features, unpack_frame
from ncii_shield.index.local_features import LocalFeatures, verify
from ncii_shield.index.matcher import Match, ReferenceSet, match_faces, match_pdq
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.signals.faces import embedding_from_bytes
from ncii_shield.signals.pdq import MIN_QUALITY, as_words
from ncii_shield.signals.video import match_video
from ncii_shield.store import audit
from ncii_shield.store.blobs import BlobStore, delete_after_commit
from ncii_shield.store.crypto import Keyring, case_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, FeatureCheck, Hit, Item, Media, Reference, Signal
from ncii_shield.text.service import match_text

FEATURE_CHUNK = 200  # media whose local features are verified per round: 36 KB each


def load_references(session: Session, keyring: Keyring, case_id: int) -> ReferenceSet:
    rows = session.execute(
        select(Reference.id, Reference.kind, Reference.value).where(Reference.case_id == case_id)
    ).all()
    sealed = any(kind in ("face", "features") for _, kind, _ in rows)  # sealed with the case key
    case_key = keyring.key(session, case_scope(case_id)) if sealed else b""
    sha = {value.hex(): rid for rid, kind, value in rows if kind == "sha256"}
    pdq = [(rid, value) for rid, kind, value in rows if kind == "pdq"]
    faces = [(rid, value) for rid, kind, value in rows if kind == "face"]
    videos: dict[str, list[tuple[int, float, bytes, int]]] = defaultdict(list)
    for rid, sha, value, quality in session.execute(
        select(Reference.id, Reference.photo_sha256, Reference.value, Reference.quality).where(
            Reference.case_id == case_id, Reference.kind == "video_frame"
        )
    ):
        timestamp, frame_hash = unpack_frame(value)
        videos[sha].append((rid, timestamp, frame_hash, quality or 0))
    return ReferenceSet(
        videos=tuple(
            (frames[0][0], [(t, p, q) for _, t, p, q in sorted(frames, key=lambda f: f[1])])
            for frames in videos.values()
        ),
        features=tuple(
            (rid, open_features(case_key, case_id, v)) for rid, kind, v in rows if kind == "features"
        ),
        sha256=sha,
        pdq=as_words([v for _, v in pdq]),
        pdq_ids=np.array([r for r, _ in pdq], dtype=np.int64),
        faces=np.stack([open_embedding(case_key, case_id, v) for _, v in faces])
        if faces
        else np.zeros((0, 128), np.float32),
        face_ids=np.array([r for r, _ in faces], dtype=np.int64),
    )


@dataclass(frozen=True)
class MediaMatch:
    media_id: int
    kind: str
    reference_id: int
    distance: float | None
    signal_id: int | None
    details: dict[str, object] | None = None


def find_media_matches(session: Session, refs: ReferenceSet, case_id: int) -> list[MediaMatch]:
    """Every stored media file that matches the references, by each route."""
    found: list[MediaMatch] = []
    if refs.sha256:
        for media_id, digest in session.execute(
            select(Media.id, Media.sha256).where(Media.sha256.in_(list(refs.sha256)))
        ):
            found.append(MediaMatch(media_id, "exact", refs.sha256[digest], None, None))

    def signals(kind: str) -> list[tuple[int, int, bytes]]:
        column = Signal.sealed if kind == "face" else Signal.value
        query = select(Signal.id, Signal.media_id, column).where(Signal.kind == kind)
        if kind == "pdq":
            query = query.where(Signal.quality >= MIN_QUALITY)
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]

    def collect(kind: str, rows: list[tuple[int, int, bytes]], matches: list[Match]) -> None:
        for m in matches:
            signal_id, media_id, _ = rows[m.candidate]
            found.append(MediaMatch(media_id, kind, m.reference_id, m.distance, signal_id))

    if len(refs.pdq_ids):
        rows = signals("pdq")
        collect("pdq", rows, match_pdq(refs, as_words([v for _, _, v in rows])))
    if len(refs.face_ids):
        rows = signals("face")
        matrix = (
            np.stack([embedding_from_bytes(v) for _, _, v in rows])
            if rows
            else np.zeros((0, 128), np.float32)
        )
        collect("face", rows, match_faces(refs, matrix))
    found += _video_matches(session, refs)
    found += _window_matches(session, refs)
    found += _feature_matches(session, refs, case_id, {m.media_id for m in found if m.kind != "face"})
    found += _verified_before(session, case_id, {m.media_id for m in found if m.kind == "partial"})
    return found


def _verified_before(session: Session, case_id: int, skip: set[int]) -> list[MediaMatch]:
    """Partial copies verified in an earlier round: each media is verified once, but every new message
    carrying it (a re-upload in another room, a re-export) must still get its hit."""
    rows = session.execute(
        select(Hit.media_id, Hit.reference_id, Hit.signal_id, Hit.details)
        .where(Hit.case_id == case_id, Hit.kind == "partial", Hit.media_id.is_not(None))
        .order_by(Hit.id)
    ).all()
    seen: dict[int, MediaMatch] = {}
    for media_id, reference_id, signal_id, details in rows:
        if media_id not in skip and media_id not in seen and reference_id is not None:
            seen[media_id] = MediaMatch(media_id, "partial", reference_id, None, signal_id, details)
    return list(seen.values())


def _video_matches(session: Session, refs: ReferenceSet) -> list[MediaMatch]:
    """A stored video holding a clip of an enrolled video (or held in it), vPDQ-style over sampled frames."""
    if not refs.videos:
        return []
    videos = select(Signal.media_id).where(Signal.kind == "pdq", Signal.frame > 0)
    rows = session.execute(
        select(Signal.media_id, Signal.score, Signal.value, Signal.quality)
        .where(Signal.kind == "pdq", Signal.media_id.in_(videos))
        .order_by(Signal.media_id, Signal.frame)
    ).all()
    by_media: dict[int, list[tuple[float, bytes, int]]] = defaultdict(list)
    for media_id, timestamp, value, quality in rows:
        by_media[media_id].append((timestamp or 0.0, value, quality or 0))
    found = []
    for media_id, frames in by_media.items():
        for reference_id, reference in refs.videos:
            match = match_video(frames, reference)
            if match is not None:
                found.append(
                    MediaMatch(
                        media_id,
                        "video",
                        reference_id,
                        float(match.best_distance),
                        None,
                        {
                            "match": match.kind,
                            "query_range": list(match.query_range),
                            "reference_range": list(match.reference_range),
                            "query_percent": round(match.query_match_percent, 1),
                            "reference_percent": round(match.reference_match_percent, 1),
                        },
                    )
                )
    return found


def _window_matches(session: Session, refs: ReferenceSet) -> list[MediaMatch]:
    """A tile of a collage: one of the five windows of a stored image has the PDQ of an enrolled photo."""
    if not len(refs.pdq_ids):
        return []
    rows = session.execute(
        select(Signal.id, Signal.media_id, Signal.value, Signal.box).where(
            Signal.kind == "pdq_window", Signal.quality >= MIN_QUALITY
        )
    ).all()
    matches = match_pdq(refs, as_words([r[2] for r in rows]))
    return [
        MediaMatch(
            rows[m.candidate][1],
            "partial",
            m.reference_id,
            m.distance,
            rows[m.candidate][0],
            {"route": "window", "region": rows[m.candidate][3]},
        )
        for m in matches
    ]


def _feature_matches(
    session: Session, refs: ReferenceSet, case_id: int, matched: set[int]
) -> list[MediaMatch]:
    """Crops, screenshots, captions, stickers: local features verified geometrically against each photo.

    Each (case, media) pair is verified once (recorded in feature_checks, found or not); media already
    matched by a hash route need no verification.
    """
    if not refs.features:
        return []
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
            for reference_id, reference in refs.features:
                result = verify(query, reference)
                if result is not None and (best is None or result.inliers > best[1].inliers):
                    best = (reference_id, result)
            if best is not None:
                reference_id, result = best
                found.append(
                    MediaMatch(
                        media_id,
                        "partial",
                        reference_id,
                        None,
                        signal_id,
                        {
                            "route": "features",
                            "inliers": result.inliers,
                            "coverage": round(result.coverage, 3),
                            "region": [round(v, 4) for v in result.region],
                            "scale": round(result.scale, 3),
                            "rotation": round(result.rotation, 1),
                        },
                    )
                )
        session.flush()
    return found


def match_case(store: Store, session: Session, case_id: int) -> Counter[str]:
    """Record a hit for every item whose media matches the case. Returns new hits by kind.

    For a hash-only case (a minor, or by choice) the images of its hits are not kept: any stored copy
    is deleted and its thumbnail replaced by a blurred one.
    """
    case = session.get(Case, case_id)
    if case is None or case.status != "open":
        return Counter()
    refs = load_references(session, store.keyring, case_id)
    if refs.empty:
        return match_text(store, session, case_id)
    best: dict[tuple[int, str], MediaMatch] = {}
    for m in find_media_matches(session, refs, case_id):
        key = (m.media_id, m.kind)
        if key not in best or (m.distance or 0) < (best[key].distance or 0):
            best[key] = m
    by_media: dict[int, list[MediaMatch]] = defaultdict(list)
    for m in best.values():
        by_media[m.media_id].append(m)
    existing = set(session.execute(select(Hit.item_id, Hit.kind).where(Hit.case_id == case_id)).all())
    new: Counter[str] = Counter()
    media_ids = list(by_media)
    for start in range(0, len(media_ids), 500):
        chunk = media_ids[start : start + 500]
        for item_id, media_id in session.execute(
            select(Item.id, Item.media_id).where(Item.media_id.in_(chunk))
        ):
            for m in by_media[media_id]:
                if (item_id, m.kind) in existing:
                    continue
                session.add(
                    Hit(
                        case_id=case_id,
                        item_id=item_id,
                        media_id=media_id,
                        kind=m.kind,
                        distance=m.distance,
                        reference_id=m.reference_id,
                        signal_id=m.signal_id,
                        details=m.details,
                    )
                )
                existing.add((item_id, m.kind))
                new[m.kind] += 1
    new += match_text(store, session, case_id)
    if new:
        audit.record(session, "case.matched", case_id=case_id, new_hits=dict(new))
    if case.hash_only:
        redact_media(session, store.blobs, media_ids)
    session.flush()
    return new


def redact_media(session: Session, blobs: BlobStore, media_ids: list[int]) -> int:
    """Keep nothing of these media but hashes, signals and a blurred thumbnail. Returns how many changed."""
    changed = 0
    for start in range(0, len(media_ids), 500):
        for media in session.scalars(select(Media).where(Media.id.in_(media_ids[start : start + 500]))):
            if media.blob_key is None and (media.thumb_key is None or media.thumb_blurred):
                continue
            if media.thumb_key and not media.thumb_blurred:
                scope = blobs.scope_of(media.thumb_key)
                blurred = blur_thumbnail(blobs.get(media.thumb_key))
                if not _shared(session, "thumb_key", media.thumb_key, media.id):
                    delete_after_commit(session, blobs, media.thumb_key)
                media.thumb_key, media.thumb_blurred = (
                    blobs.put(blurred, namespace="thumbs", scope=scope),
                    True,
                )
            if media.blob_key and not _shared(session, "blob_key", media.blob_key, media.id):
                delete_after_commit(session, blobs, media.blob_key)
            media.blob_key = None
            changed += 1
    return changed


def _shared(session: Session, column: str, key: str, media_id: int) -> bool:
    attr = getattr(Media, column)
    return (
        session.scalar(select(func.count()).select_from(Media).where(attr == key, Media.id != media_id)) > 0
    )
