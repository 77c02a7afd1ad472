"""Blob files nothing refers to any more: left by a crash between a commit and its deletions.

Files are deleted only after the commit that makes them unreachable (blobs.delete_after_commit). A
crash in between leaves files no row names; this removes them, and is safe to run at any time: a file
sealed under a key that still exists is kept for an hour, since a scan may have written it for rows
it has not committed yet.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.store.models import DataKey, Media, Reference

GRACE_SECONDS = 3600


def collect_garbage(store: Store, *, grace_seconds: float = GRACE_SECONDS) -> int:
    """Delete unreferenced blob files; returns how many went."""
    with store.session() as session:
        referenced = {
            key
            for column in (Media.blob_key, Media.thumb_key, Reference.blob_key)
            for key in session.scalars(select(column).where(column.is_not(None)))
        }
        scopes = set(session.scalars(select(DataKey.scope)))
    removed = 0
    cutoff = time.time() - grace_seconds
    for key, mtime in store.blobs.listing():
        if key in referenced:
            continue
        try:
            shredded = store.blobs.scope_of(key) not in scopes
        except NciiError:
            shredded = True  # not a sealed blob at all
        if shredded or mtime < cutoff:
            store.blobs.delete(key)
            removed += 1
    return removed
