"""Matching a case against everything stored, and writing the hits.

Run after every scan and every enrolment. It is idempotent: a hit already recorded for the same
item, case and kind is not written again, so re-running after a crash gives the same result.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.scan.ranking import score_hit_media
from ncii_shield.signals.base import CaseKey, MatchContext, MediaMatch, ReferenceRow
from ncii_shield.signals.registry import KINDS
from ncii_shield.store import audit
from ncii_shield.store.blobs import BlobStore, delete_after_commit
from ncii_shield.store.crypto import Keyring, case_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Hit, Item, Media, Reference

__all__ = [
    "CaseReferences",
    "MediaMatch",
    "find_media_matches",
    "load_references",
    "match_case",
    "redact_media",
]


class CaseReferences(dict[str, Any]):
    """A case's references as each kind loaded them (kind name -> what its `match` takes)."""

    @property
    def empty(self) -> bool:
        return not self


def load_references(session: Session, keyring: Keyring, case_id: int) -> CaseReferences:
    """Every reference of the case, loaded by the kind that matches with it. Sealed references are opened
    with the case key, fetched only if one is there."""
    rows: dict[str, list[ReferenceRow]] = defaultdict(list)
    for row in session.execute(
        select(
            Reference.id,
            Reference.kind,
            Reference.variant,
            Reference.photo_sha256,
            Reference.value,
            Reference.quality,
        )
        .where(Reference.case_id == case_id)
        .order_by(Reference.id)
    ):
        rows[row.kind].append(ReferenceRow(*row))
    key = CaseKey(case_id, lambda: keyring.key(session, case_scope(case_id)))
    loaded = CaseReferences()
    for kind in KINDS:
        refs = kind.load(rows, key)
        if refs is not None:
            loaded[kind.name] = refs
    return loaded


def find_media_matches(session: Session, refs: CaseReferences, case_id: int) -> list[MediaMatch]:
    """Every stored media file that matches the references, by each route in KIND_ORDER (a route may
    skip media an earlier one found)."""
    ctx = MatchContext(session, case_id)
    for kind in KINDS:
        ctx.found += kind.match(ctx, refs.get(kind.name))
    return ctx.found


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
        return _item_matches(store, session, case_id)
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
    new += _item_matches(store, session, case_id)
    new = Counter({k: new[k] for k in KIND_ORDER if new[k]})  # one order wherever counts are shown
    if new:
        audit.record(session, "case.matched", case_id=case_id, new_hits=dict(new))
    # Nudity orders review only: scored here for the media with a hit, from their thumbnails, whoever
    # matched (a scan, `case match`, the demo), before a hash-only case blurs those thumbnails.
    score_hit_media(store, session)
    if case.hash_only:
        redact_media(session, store.blobs, media_ids)
    session.flush()
    return new


def _item_matches(store: Store, session: Session, case_id: int) -> Counter[str]:
    """Hits the kinds write per item (a message naming the person), after the media hits."""
    new: Counter[str] = Counter()
    for kind in KINDS:
        new += kind.match_items(store, session, case_id)
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
