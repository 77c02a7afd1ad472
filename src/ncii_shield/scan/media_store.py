"""Storing one analysed media file: its blob, thumbnail and every signal, sealed under the source's key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.signals.analyse import Analysis
from ncii_shield.signals.registry import KINDS
from ncii_shield.store.crypto import source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Media, Signal


def store_media(
    session: Session, store: Store, source_id: int, hash_only: bool, analysis: Analysis, data: bytes
) -> Media:
    """A new Media row with its signals; for a hash-only case, no bytes and a blurred thumbnail only."""
    media = Media(
        sha256=analysis.sha256,
        size=analysis.size,
        status="refused" if analysis.error else "ok",
        error=analysis.error,
        format=analysis.format,
        width=analysis.width,
        height=analysis.height,
    )
    if analysis.error is None:
        store.keyring.key(session, source_scope(source_id))
        blobs = store.blobs
        if not hash_only:
            media.blob_key = blobs.put(data, namespace="media", scope=source_scope(source_id))
        if analysis.thumbnail:
            thumb = blur_thumbnail(analysis.thumbnail) if hash_only else analysis.thumbnail
            media.thumb_key = blobs.put(thumb, namespace="thumbs", scope=source_scope(source_id))
            media.thumb_blurred = hash_only
        for kind in KINDS:  # every kind's signals: PDQ (per frame of a video), local features, faces ...
            media.signals.extend(kind.stored_signals(analysis))
        if analysis.nudity is not None:  # ranks hits for review; never a route to one
            media.signals.append(Signal(kind="nudity", score=analysis.nudity))
    session.add(media)
    session.flush()
    return media
