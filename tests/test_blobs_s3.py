"""A data directory whose blobs live in S3-compatible storage (NCII_BLOB_URL=s3://…) on a real local S3
server: nothing readable in any object, purge deletes the objects, evidence bundles verify, a replaced
object fails to open, and a store that cannot reach its bucket says so in one line. The default (no
NCII_BLOB_URL) stays the data directory's blobs/ folder."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.cases.retention import compact, purge_case
from ncii_shield.config import SettingError, Settings, load_settings
from ncii_shield.errors import NciiError
from ncii_shield.evidence.bundle import export_bundle, verify_bundle
from ncii_shield.scan.cluster import public_settings
from ncii_shield.store.blobs import MAGIC, FileBlobStore
from ncii_shield.store.crypto import KeySource, seal
from ncii_shield.store.db import Store
from ncii_shield.store.garbage import collect_garbage
from ncii_shield.store.models import Media, Reference
from tests.conftest import ASSETS, TEST_KEY, cli_env, database_bytes
from tests.exports import message, write_export
from tests.s3server import S3Server, s3_env_fixture, s3_fixture  # noqa: F401 (fixtures s3, s3_env)

PREFIX = "deploy/blobs"


def s3_settings(data: Path, server: S3Server, bucket: str) -> Settings:
    environ = {"NCII_BLOB_URL": f"s3://{bucket}/{PREFIX}", "NCII_S3_ENDPOINT": server.endpoint}
    return load_settings(data, environ=environ)


@pytest.fixture
def s3_store(s3_env: S3Server, tmp_path: Path):  # type: ignore[no-untyped-def]
    bucket = s3_env.new_bucket(f"store-{uuid.uuid4().hex[:12]}")
    store = Store(s3_settings(tmp_path / "data", s3_env, bucket), create=KeySource(key=TEST_KEY))
    yield store, bucket
    store.close()


def test_the_blob_url_setting(tmp_path: Path) -> None:
    default = load_settings(tmp_path, environ={})
    assert default.blob_url is None and default.blob_dir == tmp_path.resolve() / "blobs"
    shared = load_settings(tmp_path, environ={"NCII_BLOB_URL": "file:///mnt/shared/ncii%20blobs"})
    assert shared.blob_dir == Path("/mnt/shared/ncii blobs")
    s3 = load_settings(
        tmp_path, environ={"NCII_BLOB_URL": "s3://ncii-blobs/prod", "AWS_SECRET_ACCESS_KEY": "x"}
    )
    assert s3.blob_dir is None and public_settings(s3).blob_url == "s3://ncii-blobs/prod"
    for bad, says in [
        ("s3://AKIA:secret@bucket/p", "credentials"),
        ("s3://b", "valid bucket name"),
        ("file://relative/path", "absolute"),
        ("https://bucket.example/p", "file:///path or s3://bucket/prefix"),
    ]:
        with pytest.raises(SettingError, match=f"NCII_BLOB_URL .*{says}") as info:
            load_settings(tmp_path, environ={"NCII_BLOB_URL": bad})
        assert "secret" not in str(info.value)
    with pytest.raises(SettingError, match="NCII_S3_ENDPOINT holds credentials"):
        load_settings(tmp_path, environ={"NCII_S3_ENDPOINT": "http://key:secret@127.0.0.1:9000"})
    assert load_settings(tmp_path, environ={"NCII_S3_ENDPOINT": "http://minio:9000/"}).s3_endpoint == (
        "http://minio:9000"
    )


def test_a_shared_directory_holds_the_blobs(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "data", environ={"NCII_BLOB_URL": f"file://{tmp_path / 'shared'}"})
    store = Store(settings, create=KeySource(key=TEST_KEY))
    try:
        assert isinstance(store.blobs, FileBlobStore) and store.blobs.root == tmp_path / "shared"
        key = store.blobs.put(b"photo", namespace="media", scope="data")
        assert (tmp_path / "shared" / key.replace("/", f"/{key[6:8]}/", 1)).is_file()
        assert (
            not (tmp_path / "data" / "blobs").exists()
            and (tmp_path / "shared").stat().st_mode & 0o777 == 0o700
        )
    finally:
        store.close()


def test_nothing_readable_in_any_object(s3_store, s3_env: S3Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_at_rest import _found, _scenario

    store, bucket = s3_store
    needles = _scenario(store, tmp_path)
    objects = s3_env.objects(bucket)
    assert len(objects) >= 4 and all(name.startswith(f"{PREFIX}/") for name in objects)
    assert all(raw.startswith(MAGIC) for raw in objects.values())
    found = [
        f"{what} in {name}"
        for name, raw in objects.items()
        for what, p in needles.items()
        if any(x in raw for x in p)
    ]
    assert found == []
    assert _found(store.settings.data_dir, needles) == [] and not (store.settings.data_dir / "blobs").exists()
    stored = database_bytes(store.settings.data_dir)  # the SQLite file, or every PostgreSQL row
    assert [what for what, pieces in needles.items() if any(p in stored for p in pieces)] == []
    with store.session() as s:  # and the data is there, readable with the key
        keys = list(s.scalars(select(Media.blob_key).where(Media.blob_key.is_not(None))))
    assert keys and all(store.blobs.get(k) for k in keys)


def test_purge_deletes_the_objects(s3_store, s3_env: S3Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_purge import _world

    store, bucket = s3_store
    a_id, b_id = _world(store, tmp_path)
    with store.session() as s:
        a_original = s.scalar(
            select(Reference.blob_key).where(Reference.case_id == a_id, Reference.blob_key.is_not(None))
        )
    before = s3_env.objects(bucket)
    assert store.blobs.exists(a_original) and len(before) > 5
    with store.session() as s:
        purge_case(store, s, a_id)
    compact(store)
    after = s3_env.objects(bucket)
    assert not store.blobs.exists(a_original) and len(after) < len(before)
    assert not any(a_original.partition("/")[2] in name for name in after)
    with store.session() as s:
        purge_case(store, s, b_id)
    assert s3_env.objects(bucket) == {}, "every object went with the last case"


def test_garbage_collection_walks_the_bucket(s3_store, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    store, bucket = s3_store
    kept = store.blobs.put(b"young, unreferenced", namespace="media", scope="data")
    shredded = store.blobs.put(b"sealed under a scope with no key", namespace="media", scope="data")
    raw = s3_env.objects(bucket)
    name = next(n for n in raw if n.endswith(shredded.partition("/")[2]))
    s3_env.client().put_object(Bucket=bucket, Key=name, Body=raw[name].replace(b"\x04data", b"\x04gone", 1))
    assert collect_garbage(store) == 1
    assert store.blobs.exists(kept) and not store.blobs.exists(shredded)
    assert collect_garbage(store, grace_seconds=-1) == 1 and s3_env.objects(bucket) == {}


def test_an_evidence_bundle_from_s3_blobs_verifies(s3_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_bundle import _scanned

    store, _ = s3_store
    case_id = _scanned(store, tmp_path)
    out = tmp_path / "out" / "bundle.zip"
    with store.session() as s:
        result = export_bundle(store, s, case_id, out, media="encrypted", passphrase="correct horse")
    check = verify_bundle(out, trusted=[result.fingerprint])
    assert check.ok, check.problems
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "evidence",
            "verify",
            str(out),
            "--key",
            result.fingerprint,
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_object_replaced_by_someone_without_the_key_fails_to_open(s3_store, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    store, bucket = s3_store
    photo, decoy = os.urandom(2000), os.urandom(2000)
    key = store.blobs.put(photo, namespace="media", scope="data")
    other = store.blobs.put(decoy, namespace="media", scope="data")
    objects = s3_env.objects(bucket)
    name = next(n for n in objects if n.endswith(key.partition("/")[2]))
    other_name = next(n for n in objects if n.endswith(other.partition("/")[2]))
    attacker = s3_env.client()  # bucket access, no deployment key
    forged = {
        "sealed under the attacker's own key": MAGIC
        + b"\x04data"
        + seal(os.urandom(32), decoy, b"media\x00data"),
        "another of our objects": objects[other_name],
        "the photo in clear": decoy,
    }
    for what, body in forged.items():
        attacker.put_object(Bucket=bucket, Key=name, Body=body)
        with pytest.raises(NciiError, match=f"stored blob {key} ") as info:
            store.blobs.get(key)
        assert "\n" not in str(info.value), what
    attacker.delete_object(Bucket=bucket, Key=name)
    with pytest.raises(NciiError, match=f"stored blob {key} is missing"):
        store.blobs.get(key)


def _cli_open(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`init` on a fresh data directory with these settings: the store opens its blob store first."""
    return subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), "init"],
        capture_output=True,
        text=True,
        env=cli_env(**env),
        timeout=120,
    )


def test_an_unreachable_or_refusing_s3_is_one_line_with_a_hint(s3: S3Server, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    bucket = s3.new_bucket(f"cli-{uuid.uuid4().hex[:12]}")
    cases = [
        (
            {"NCII_S3_ENDPOINT": closed, **s3.env()},
            75,
            f"error: cannot reach the blob store at {closed}",
            "NCII_S3_ENDPOINT",
        ),
        (
            {"NCII_S3_ENDPOINT": s3.endpoint, **s3.env(), "NCII_BLOB_URL": "s3://no-such-bucket/x"},
            2,
            "does not exist",
            "create it",
        ),
        (
            {"NCII_S3_ENDPOINT": s3.endpoint, **s3.env(), "AWS_SECRET_ACCESS_KEY": "wrong" * 8},
            2,
            "refused",
            "AWS_ACCESS_KEY_ID",
        ),
    ]
    for i, (env, code, says, hint) in enumerate(cases):
        proc = _cli_open(tmp_path / f"d{i}", **{"NCII_BLOB_URL": f"s3://{bucket}/p", **env})
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr and len(lines) == 2, proc.stderr
        assert says in lines[0] and lines[1].startswith("hint:") and hint in lines[1], lines
        assert "wrong" not in proc.stderr and s3.secret_key not in proc.stderr, "credentials never shown"
        assert not (tmp_path / f"d{i}").exists(), "nothing is created on a store that cannot open"


def test_no_credentials_in_settings_tasks_or_messages(s3_store, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    store, _ = s3_store
    shown = repr(store.settings) + repr(public_settings(store.settings)) + repr(store.blobs)
    assert s3_env.secret_key not in shown and s3_env.access_key not in shown


def test_a_cluster_worker_that_cannot_reach_the_bucket_refuses(s3_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """scan/cluster.py's worker_store: the data directory is there, the bucket is not reachable from here."""
    import socket

    from ncii_shield.errors import Unavailable
    from ncii_shield.scan.cluster import worker_store

    store, _ = s3_store
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    shipped = public_settings(replace(store.settings, s3_endpoint=closed, data_dir=tmp_path / "data"))
    with pytest.raises(Unavailable, match=f"cannot reach the blob store at {closed}"):
        worker_store(shipped)


def test_the_endpoint_may_come_from_the_standard_aws_variables(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env.endpoint)  # boto3's own variable, not a setting of ours
    bucket = s3_env.new_bucket(f"awsenv-{uuid.uuid4().hex[:12]}")
    settings = load_settings(tmp_path / "data", environ={"NCII_BLOB_URL": f"s3://{bucket}"})
    store = Store(settings, create=KeySource(key=TEST_KEY))
    try:
        key = store.blobs.put(b"photo bytes", namespace="media", scope="data")
        assert store.blobs.get(key) == b"photo bytes" and store.settings.s3_endpoint is None
        assert set(s3_env.objects(bucket)) == {f"media/{key[6:8]}/{key[6:]}"}  # no prefix: the bucket's root
    finally:
        store.close()


def test_the_web_review_shows_thumbnails_from_the_bucket(s3_store, s3_env: S3Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The review page's thumbnails come out of S3 like out of files; a replaced object is the error page
    of its kind, never a traceback."""
    from ncii_shield.read.hits import list_hits
    from ncii_shield.web.auth import assign, create_user
    from tests.test_evidence_review import PASSWORD, _login
    from tests.test_scan import _case, _scan
    from tests.web_server import live_server

    store, bucket = s3_store
    case_id = _case(store, [ASSETS / "obama.jpg"])
    export = write_export(
        tmp_path / "e",
        [message(1, photo="photos/a.jpg")],
        files={"photos/a.jpg": (ASSETS / "obama2.jpg").read_bytes()},
    )
    assert _scan(store, export, case_id).new_hits
    with store.session() as s:
        create_user(s, "reviewer", PASSWORD, "reviewer", language="en")
        assign(s, "reviewer", case_id)
        item = next(r.item_id for r in list_hits(s, case_id) if r.media_sha256)
    with live_server(store) as url:
        reviewer, _ = _login(url, "reviewer")
        thumb = reviewer.get(f"/cases/{case_id}/items/{item}/thumb")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        attacker = s3_env.client()
        for name, raw in s3_env.objects(bucket).items():
            if "/thumbs/" in name:
                attacker.put_object(Bucket=bucket, Key=name, Body=raw[:-1] + bytes([raw[-1] ^ 1]))
        broken = reviewer.get(f"/cases/{case_id}/items/{item}/thumb")
        assert broken.status_code == 400 and "Traceback" not in broken.text
