"""The blob contract, run against both backends (store/blobs.py): a directory of files and S3-compatible
object storage on a real local S3 server (tests/s3server.py). Whatever the backend, a blob comes back as
it went in, is stored once, opens only under its scope's key, and every damage is a clear error."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store.blobs import MAGIC, FileBlobStore, SealedBlobs, delete_after_commit
from ncii_shield.store.crypto import KeyringError, seal
from tests.s3server import S3Server, s3_env_fixture, s3_fixture  # noqa: F401 (fixtures s3, s3_env)

PHOTO = b"\xff\xd8" + os.urandom(4000) + b"\xff\xd9"
OTHER = b"\xff\xd8" + os.urandom(3000) + b"\xff\xd9"


class Keys:
    """A keyring's key_for: a key per scope; a destroyed one raises as Store.key_for does."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.destroyed: set[str] = set()

    def __call__(self, scope: str) -> bytes:
        if scope in self.destroyed:
            raise KeyringError(f"the key of {scope} was destroyed: its data is unrecoverable")
        return self.keys.setdefault(scope, os.urandom(32))

    def destroy(self, scope: str) -> None:
        self.destroyed.add(scope)
        self.keys.pop(scope, None)


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SealedBlobs, Keys]]:
    keys = Keys()
    if request.param == "file":
        yield FileBlobStore(tmp_path / "blobs", keys), keys
        return
    server: S3Server = request.getfixturevalue("s3_env")
    from ncii_shield.store.blobs_s3 import S3BlobStore

    bucket = server.new_bucket(f"contract-{uuid.uuid4().hex[:12]}")
    store = S3BlobStore(bucket, "some/prefix/", keys, endpoint=server.endpoint)
    store.check_reachable()
    yield store, keys


def _raw(blobs: SealedBlobs, key: str) -> bytes:
    raw = blobs._load(key)
    assert raw is not None
    return raw


def test_round_trip(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    assert key == f"media/{hashlib.sha256(PHOTO).hexdigest()}"
    assert blobs.get(key) == PHOTO and blobs.scope_of(key) == "source:1" and blobs.exists(key)
    raw = _raw(blobs, key)
    assert raw.startswith(MAGIC + bytes([8]) + b"source:1") and PHOTO[100:148] not in raw


def test_the_same_content_is_stored_once(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    raw = _raw(blobs, key)
    assert blobs.put(PHOTO, namespace="media", scope="source:1") == key
    assert _raw(blobs, key) == raw, "reused as it was, not sealed again"
    other = blobs.put(PHOTO, namespace="thumbs", scope="source:1")
    assert other != key and sorted(k for k, _ in blobs.listing()) == sorted([key, other])


def test_a_blob_opens_only_under_its_own_scope(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    raw = _raw(blobs, key)
    # the header rewritten to name another scope: that scope's key does not open it (AAD and key differ)
    forged = MAGIC + bytes([8]) + b"source:2" + raw[5 + 8 :]
    blobs._save(key, forged)
    with pytest.raises(KeyringError, match=f"stored blob {key} cannot be opened"):
        blobs.get(key)
    # stored again under another scope: re-sealed under that scope's key, the old copy replaced
    assert blobs.put(PHOTO, namespace="media", scope="case:7") == key
    assert blobs.scope_of(key) == "case:7" and blobs.get(key) == PHOTO


def test_a_destroyed_key_leaves_an_unreadable_blob_that_is_replaced(
    backend: tuple[SealedBlobs, Keys],
) -> None:
    blobs, keys = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    keys.destroy("source:1")
    with pytest.raises(KeyringError, match=r"cannot be opened: the key of source:1 was destroyed"):
        blobs.get(key)
    keys.destroyed.clear()  # the scope comes back with a new key: the old blob is not reused
    assert blobs.put(PHOTO, namespace="media", scope="source:1") == key and blobs.get(key) == PHOTO


@pytest.mark.parametrize("damage", ["flipped", "truncated", "not-a-blob", "swapped", "resealed"])
def test_a_damaged_or_replaced_blob_is_a_clear_error(backend: tuple[SealedBlobs, Keys], damage: str) -> None:
    blobs, _ = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    other = blobs.put(OTHER, namespace="media", scope="source:1")
    raw = _raw(blobs, key)
    replaced = {
        "flipped": raw[:-20] + bytes([raw[-20] ^ 1]) + raw[-19:],
        "truncated": raw[:40],
        "not-a-blob": PHOTO,
        "swapped": _raw(blobs, other),  # a real blob of the same scope under another name
        # sealed by someone without our key, with a well-formed header
        "resealed": MAGIC + bytes([8]) + b"source:1" + seal(os.urandom(32), PHOTO, b"media\x00source:1"),
    }[damage]
    blobs._save(key, replaced)
    message = {
        "not-a-blob": "is not a sealed ncii-shield blob",
        "swapped": "holds other content than its name says",
    }.get(damage, "cannot be opened: stored data could not be decrypted")
    with pytest.raises(NciiError, match=message) as info:
        blobs.get(key)
    assert "\n" not in str(info.value)
    assert blobs.put(PHOTO, namespace="media", scope="source:1") == key and blobs.get(key) == PHOTO, (
        "a damaged blob is written again, never reused"
    )


def test_a_missing_blob_is_a_clear_error(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    key = f"media/{'ab' * 32}"
    with pytest.raises(NciiError, match=f"stored blob {key} is missing") as info:
        blobs.get(key)
    assert info.value.hint
    with pytest.raises(NciiError, match="is missing"):
        blobs.scope_of(key)
    assert not blobs.exists(key)
    blobs.delete(key)  # deleting what is not there is not an error
    for bad in ("media/../../etc/passwd", "../media/" + "ab" * 32, "media/" + "AB" * 32):
        with pytest.raises(NciiError, match="invalid blob key"):
            blobs.get(bad)


def test_the_listing_is_what_garbage_collection_walks(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    before = time.time() - 60
    keys = {blobs.put(d, namespace=n, scope="case:1") for d in (PHOTO, OTHER) for n in ("media", "thumbs")}
    listed = dict(blobs.listing())
    assert set(listed) == keys and all(before < t < time.time() + 60 for t in listed.values())
    for key in keys:
        blobs.delete(key)
    assert list(blobs.listing()) == [] and not any(blobs.exists(k) for k in keys)


def test_a_blob_is_deleted_only_after_the_commit(backend: tuple[SealedBlobs, Keys]) -> None:
    blobs, _ = backend
    engine = create_engine("sqlite://")
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    with Session(engine) as session:
        delete_after_commit(session, blobs, key)
        session.rollback()
    assert blobs.exists(key), "a rollback deletes nothing"
    with Session(engine) as session:
        delete_after_commit(session, blobs, key)
        assert blobs.exists(key), "not before the commit"
        session.commit()
    assert not blobs.exists(key)


def test_foreign_names_in_the_storage_are_not_listed(
    backend: tuple[SealedBlobs, Keys], tmp_path: Path
) -> None:
    blobs, _ = backend
    key = blobs.put(PHOTO, namespace="media", scope="source:1")
    digest = key.partition("/")[2]
    strays: list[Any]
    if isinstance(blobs, FileBlobStore):
        strays = [blobs.root / "media" / "zz" / digest, blobs.root / "not-a-namespace" / "ab" / ("ab" * 32)]
        for path in strays:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
        (blobs.root / "media" / digest[:2] / f".{digest}.tmp").write_bytes(b"x")
    else:
        s3 = blobs._s3
        for name in (
            "some/prefix/media/zz/" + digest,
            "some/prefix/README",
            "elsewhere/media/ab/" + "ab" * 32,
        ):
            s3.put_object(Bucket=blobs.bucket, Key=name, Body=b"x")
    assert [k for k, _ in blobs.listing()] == [key]
