"""Every stored byte of media goes through this one interface, sealed with the key of its scope.

A blob file is `NCB1 | len(scope) | scope | nonce | AES-256-GCM(data)`: the header says which data key
opens it (a source's for collected media, a case's for the person's own photos and evidence), so a
destroyed key makes the file unreadable even where a copy of it survives. Files are named by the
SHA-256 of their plaintext, so the same content is stored once, and written atomically (temp file,
fsync, rename): a crash never leaves half a file under a final name.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store.crypto import KeyringError, seal, unseal
from ncii_shield.store.files import atomic_write

MAGIC = b"NCB1"


class BlobStore(Protocol):
    def put(self, data: bytes, *, namespace: str, scope: str) -> str:
        """Seal and store bytes under the scope's key; return a key to get them back."""
        ...

    def get(self, key: str) -> bytes: ...

    def _opens(self, key: str, expected: bytes) -> bool:
        """An existing file is reused only if it opens to the same bytes: a file left by a transaction that
        never committed (its key was rolled back) or sealed under a destroyed key is replaced."""
        try:
            return self.get(key) == expected
        except NciiError:
            return False

    def scope_of(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def listing(self) -> Iterator[tuple[str, float]]: ...


class FileBlobStore:
    """Sealed blobs as files under a directory, fanned out by hash prefix."""

    def __init__(self, root: Path, key_for: Callable[[str], bytes]) -> None:
        self.root = root
        self._key_for = key_for

    def _path(self, key: str) -> Path:
        namespace, _, digest = key.partition("/")
        if (
            not namespace.isidentifier()
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise NciiError(f"invalid blob key {key!r}")
        return self.root / namespace / digest[:2] / digest

    @staticmethod
    def _aad(namespace: str, scope: str) -> bytes:
        return f"{namespace}\x00{scope}".encode()

    def put(self, data: bytes, *, namespace: str, scope: str) -> str:
        key = f"{namespace}/{hashlib.sha256(data).hexdigest()}"
        path = self._path(key)
        if path.exists() and self._opens(key, data) and self.scope_of(key) == scope:
            return key  # the same content, stored before under this scope, whose key still exists
        scope_bytes = scope.encode()
        sealed = seal(self._key_for(scope), data, self._aad(namespace, scope))
        atomic_write(path, MAGIC + bytes([len(scope_bytes)]) + scope_bytes + sealed)
        return key

    def _read(self, key: str) -> tuple[str, bytes]:
        try:
            raw = self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NciiError(f"stored blob {key} is missing", hint="the data directory is incomplete") from exc
        if not raw.startswith(MAGIC) or len(raw) < 6:
            raise NciiError(f"stored blob {key} is not a sealed ncii-shield blob")
        length = raw[4]
        return raw[5 : 5 + length].decode(), raw[5 + length :]

    def _opens(self, key: str, expected: bytes) -> bool:
        """An existing file is reused only if it opens to the same bytes: a file left by a transaction that
        never committed (its key was rolled back) or sealed under a destroyed key is replaced."""
        try:
            return self.get(key) == expected
        except NciiError:
            return False

    def scope_of(self, key: str) -> str:
        return self._read(key)[0]

    def get(self, key: str) -> bytes:
        scope, sealed = self._read(key)
        namespace = key.partition("/")[0]
        try:
            return unseal(self._key_for(scope), sealed, self._aad(namespace, scope))
        except KeyringError as exc:
            raise KeyringError(f"stored blob {key} cannot be opened: {exc.message}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def listing(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (key, modification time): what the garbage collector walks."""
        if not self.root.is_dir():
            return
        for namespace in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isidentifier()):
            for path in sorted(namespace.glob("??/*")):
                if len(path.name) == 64 and path.is_file():
                    yield f"{namespace.name}/{path.name}", path.stat().st_mtime


def delete_after_commit(session: Session, blobs: BlobStore, key: str) -> None:
    """Delete a blob only once the transaction that makes it unreachable has committed.

    Deleting first and committing after lost both ways on a crash: the database rolled back to rows
    naming files that were gone. Now a crash between the commit and the unlink leaves a file nothing
    names, which `store.garbage.collect_garbage` removes; a rollback deletes nothing.
    """
    session.info.setdefault("blob_deletes", []).append((blobs, key))


@event.listens_for(Session, "after_commit")
def _delete_pending(session: Session) -> None:
    for blobs, key in session.info.pop("blob_deletes", []):
        with contextlib.suppress(OSError, NciiError):  # left for collect_garbage
            blobs.delete(key)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction: object) -> None:
    session.info.pop("blob_deletes", None)
