"""The blob store a deployment's settings name: the one place that knows which backend there is."""

from __future__ import annotations

from ncii_shield.config import Settings
from ncii_shield.store.blobs import BlobStore, FileBlobStore, KeyFor


def open_blob_store(settings: Settings, key_for: KeyFor) -> BlobStore:
    """The blob store the settings name: a directory (the default <data dir>/blobs, or NCII_BLOB_URL's
    file:// one) or S3-compatible storage (s3://), which is checked reachable here, so a store opened on a
    machine that cannot reach it fails at once with one line."""
    if settings.blob_dir is not None:
        return FileBlobStore(settings.blob_dir, key_for)
    from ncii_shield.store.blobs_s3 import S3BlobStore

    store = S3BlobStore.from_settings(settings, key_for)
    store.check_reachable()
    return store
