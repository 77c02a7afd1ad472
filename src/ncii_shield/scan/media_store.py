"""Storing one analysed media file: its blob, thumbnail and every signal, sealed under the source's key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.signals.analyse import Analysis
from ncii_shield.signals.faces import embedding_bytes
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
        if (
            analysis.frames
        ):  # a video: one PDQ per sampled frame (score = its time in seconds), faces per frame
            for frame in analysis.frames:
                media.signals.append(
                    Signal(
                        kind="pdq",
                        frame=frame.index,
                        value=frame.pdq,
                        quality=frame.pdq_quality,
                        score=frame.timestamp,
                    )
                )
                for index, face in enumerate(frame.faces or []):
                    media.signals.append(
                        Signal(
                            kind="face",
                            frame=frame.index,
                            idx=index,
                            sealed=embedding_bytes(face.embedding),
                            score=face.score,
                            box=list(face.box),
                        )
                    )
        elif analysis.pdq is not None:
            media.signals.append(Signal(kind="pdq", value=analysis.pdq, quality=analysis.pdq_quality))
        for index, face in enumerate(analysis.faces):
            media.signals.append(
                Signal(
                    kind="face",
                    idx=index,
                    sealed=embedding_bytes(face.embedding),
                    score=face.score,
                    box=list(face.box),
                )
            )
        if analysis.nudity is not None:
            media.signals.append(Signal(kind="nudity", score=analysis.nudity))
        if analysis.features is not None:
            media.signals.append(Signal(kind="features", sealed=analysis.features))
        for index, window in enumerate(analysis.windows):
            media.signals.append(
                Signal(
                    kind="pdq_window",
                    idx=index,
                    value=window.pdq,
                    quality=window.quality,
                    box=list(window.box),
                )
            )
    session.add(media)
    session.flush()
    return media
