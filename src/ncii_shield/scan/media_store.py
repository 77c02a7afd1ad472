"""Storing one analysed media file: its blob, thumbnail and every signal, sealed under the source's key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from ncii_shield.config import Settings
from ncii_shield.errors import Unavailable
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.signals.analyse import Analysis
from ncii_shield.signals.registry import KINDS
from ncii_shield.store.crypto import source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Media, Signal


@dataclass(frozen=True)
class BlobKeys:
    """Where one media file's blobs went: written by whoever analysed it (a cluster worker, scan/cluster.py)."""

    blob_key: str | None
    thumb_key: str | None


class RemoteMedia(Protocol):
    """The media work (decode → signals → blobs) done elsewhere, e.g. on a Dask cluster (scan/cluster.py);
    the rows are still inserted here, in the chunk's transaction."""

    def analyse(
        self, datas: list[bytes], *, settings: Settings, source_id: int, hash_only: bool
    ) -> Iterable[tuple[Analysis, BlobKeys]]: ...


def put_blobs(store: Store, source_id: int, hash_only: bool, analysis: Analysis, data: bytes) -> BlobKeys:
    """Seal and write the media's blobs (content-addressed, so writing them twice stores them once).

    The source's key must exist: created in the caller's transaction, or committed before a worker runs."""
    if analysis.error is not None:
        return BlobKeys(None, None)
    blobs = store.blobs
    blob_key = None if hash_only else blobs.put(data, namespace="media", scope=source_scope(source_id))
    thumb_key = None
    if analysis.thumbnail:
        thumb = blur_thumbnail(analysis.thumbnail) if hash_only else analysis.thumbnail
        thumb_key = blobs.put(thumb, namespace="thumbs", scope=source_scope(source_id))
    return BlobKeys(blob_key, thumb_key)


def store_media(
    session: Session,
    store: Store,
    source_id: int,
    hash_only: bool,
    analysis: Analysis,
    data: bytes,
    keys: BlobKeys | None = None,
) -> Media:
    """A new Media row with its signals; for a hash-only case, no bytes and a blurred thumbnail only.

    `keys`: the blobs were written already (by a cluster worker); otherwise they are written here."""
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
        if keys is None:
            keys = put_blobs(store, source_id, hash_only, analysis, data)
        elif not all(store.blobs.exists(k) for k in (keys.blob_key, keys.thumb_key) if k is not None):
            raise Unavailable(
                "a cluster worker wrote blobs this store cannot see",
                hint="workers need the same blob directory as the scanning process (a shared filesystem)",
            )
        media.blob_key = keys.blob_key
        if keys.thumb_key is not None:
            media.thumb_key = keys.thumb_key
            media.thumb_blurred = hash_only
        for kind in KINDS:  # every kind's signals: PDQ (per frame of a video), local features, faces ...
            media.signals.extend(kind.stored_signals(analysis))
        if analysis.nudity is not None:  # ranks hits for review; never a route to one
            media.signals.append(Signal(kind="nudity", score=analysis.nudity))
    session.add(media)
    session.flush()
    return media
