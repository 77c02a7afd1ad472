"""Every stored byte of media goes through this one interface, sealed with the key of its scope.

A blob is `NCB1 | len(scope) | scope | nonce | AES-256-GCM(data)`: the header says which data key opens it
(a source's for collected media, a case's for the person's own photos and evidence), so a destroyed key
makes it unreadable even where a copy survives. Blobs are named by the SHA-256 of their plaintext, so the
same content is stored once, and a blob that opens to other bytes than its name says (swapped in by
someone with access to the storage) is refused. Written whole or not at all: a crash never leaves half a
blob under a final name.

Where blobs live is the one thing that differs between backends (store/blobs_open.py picks one from
NCII_BLOB_URL): files under a directory (`FileBlobStore`: the data directory's blobs/, or a shared
filesystem) or objects in S3-compatible storage (store/blobs_s3.py). The rest of the code sees only
`BlobStore`.
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
KeyFor = Callable[[str], bytes]


class BlobStore(Protocol):
    def put(self, data: bytes, *, namespace: str, scope: str) -> str:
        """Seal and store bytes under the scope's key; return a key to get them back."""
        ...

    def get(self, key: str) -> bytes: ...

    def scope_of(self, key: str) -> str: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def listing(self) -> Iterator[tuple[str, float]]:
        """Every stored blob as (key, modification time): what the garbage collector walks."""
        ...

    def close(self) -> None:
        """Let go of connections (a no-op for files)."""
        ...


def is_blob_name(namespace: str, digest: str) -> bool:
    """Whether a name is one of ours: listings skip everything else, and keys are refused otherwise."""
    return namespace.isidentifier() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def split_key(key: str) -> tuple[str, str]:
    """(namespace, hex digest) of a blob key, refusing anything else: keys become paths and object names."""
    namespace, _, digest = key.partition("/")
    if not is_blob_name(namespace, digest):
        raise NciiError(f"invalid blob key {key!r}")
    return namespace, digest


class SealedBlobs:
    """The sealed format and its rules, over any storage of whole byte strings by name.

    A backend says how raw bytes are loaded (None: not there), saved whole, removed and listed; sealing,
    naming, reuse and every error message are the same for all of them."""

    missing_hint = "the data directory is incomplete"

    def __init__(self, key_for: KeyFor) -> None:
        self._key_for = key_for

    # ---- the backend's part
    def _load(self, key: str) -> bytes | None:
        raise NotImplementedError

    def _save(self, key: str, raw: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def listing(self) -> Iterator[tuple[str, float]]:
        raise NotImplementedError

    def close(self) -> None:
        return None

    # ---- shared
    @staticmethod
    def _aad(namespace: str, scope: str) -> bytes:
        return f"{namespace}\x00{scope}".encode()

    def put(self, data: bytes, *, namespace: str, scope: str) -> str:
        key = f"{namespace}/{hashlib.sha256(data).hexdigest()}"
        split_key(key)
        if self._reusable(key, data, scope):
            return key  # the same content, stored before under this scope, whose key still exists
        scope_bytes = scope.encode()
        sealed = seal(self._key_for(scope), data, self._aad(namespace, scope))
        self._save(key, MAGIC + bytes([len(scope_bytes)]) + scope_bytes + sealed)
        return key

    def _reusable(self, key: str, expected: bytes, scope: str) -> bool:
        """An existing blob is reused only if it opens to the same bytes under the same scope: one left by a
        transaction that never committed (its key was rolled back) or sealed under a destroyed key is
        replaced."""
        raw = self._load(key)
        if raw is None:
            return False
        try:
            stored_scope, sealed = self._parse(key, raw)
            return stored_scope == scope and self._open(key, stored_scope, sealed) == expected
        except NciiError:
            return False

    def _read(self, key: str) -> tuple[str, bytes]:
        split_key(key)
        raw = self._load(key)
        if raw is None:
            raise NciiError(f"stored blob {key} is missing", hint=self.missing_hint)
        return self._parse(key, raw)

    @staticmethod
    def _parse(key: str, raw: bytes) -> tuple[str, bytes]:
        if not raw.startswith(MAGIC) or len(raw) < 6 or len(raw) < 5 + raw[4]:
            raise NciiError(f"stored blob {key} is not a sealed ncii-shield blob")
        length = raw[4]
        try:
            return raw[5 : 5 + length].decode(), raw[5 + length :]
        except UnicodeDecodeError:
            raise NciiError(f"stored blob {key} is not a sealed ncii-shield blob") from None

    def _open(self, key: str, scope: str, sealed: bytes) -> bytes:
        namespace, digest = split_key(key)
        try:
            data = unseal(self._key_for(scope), sealed, self._aad(namespace, scope))
        except KeyringError as exc:
            raise KeyringError(f"stored blob {key} cannot be opened: {exc.message}") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise KeyringError(f"stored blob {key} holds other content than its name says: it was replaced")
        return data

    def scope_of(self, key: str) -> str:
        return self._read(key)[0]

    def get(self, key: str) -> bytes:
        scope, sealed = self._read(key)
        return self._open(key, scope, sealed)


class FileBlobStore(SealedBlobs):
    """Sealed blobs as files under a directory, fanned out by hash prefix (atomic writes: temp file, fsync,
    rename)."""

    def __init__(self, root: Path, key_for: KeyFor) -> None:
        super().__init__(key_for)
        self.root = root

    def _path(self, key: str) -> Path:
        namespace, digest = split_key(key)
        return self.root / namespace / digest[:2] / digest

    def _load(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _save(self, key: str, raw: bytes) -> None:
        atomic_write(self._path(key), raw)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def listing(self) -> Iterator[tuple[str, float]]:
        if not self.root.is_dir():
            return
        for namespace in sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isidentifier()):
            for path in sorted(namespace.glob("??/*")):
                if (
                    is_blob_name(namespace.name, path.name)
                    and path.parent.name == path.name[:2]
                    and path.is_file()
                ):
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
