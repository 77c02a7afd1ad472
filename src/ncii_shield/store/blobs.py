"""Every stored byte of media goes through this one interface, so it can be encrypted in one place.

Blobs are content-addressed by SHA-256 and written atomically (temp file, fsync, rename): a crash
never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from ncii_shield.errors import NciiError
from ncii_shield.store.files import atomic_write


class BlobStore(Protocol):
    def put(self, data: bytes, *, namespace: str = "media") -> str:
        """Store bytes, return a key to get them back."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


class FileBlobStore:
    """Blobs as files under a directory, fanned out by hash prefix."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        namespace, _, digest = key.partition("/")
        if (
            not namespace.isidentifier()
            or len(digest) != 64
            or not all(c in "0123456789abcdef" for c in digest)
        ):
            raise NciiError(f"invalid blob key {key!r}")
        return self.root / namespace / digest[:2] / digest

    def put(self, data: bytes, *, namespace: str = "media") -> str:
        key = f"{namespace}/{hashlib.sha256(data).hexdigest()}"
        path = self._path(key)
        if path.exists():
            return key
        atomic_write(path, data)
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise NciiError(f"stored blob {key} is missing", hint="the data directory is incomplete") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()
