"""The demo export scanned with its blobs in S3-compatible storage (a real local S3 server) equals the scan
with blobs in the data directory, row for row and blob for blob: locally, and on a local Dask cluster whose
workers write the blobs to the bucket themselves (they see the blob store through the settings a task
carries and the AWS credentials of their own environment)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ncii_shield.demo.build import DemoGroundTruth, build_demo
from ncii_shield.scan.service import scan_path
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from tests.conftest import TEST_KEY, cli_env, new_store
from tests.s3server import S3Server, s3_env_fixture, s3_fixture  # noqa: F401 (fixtures s3, s3_env)
from tests.test_blobs_s3 import PREFIX, s3_settings
from tests.test_scan_cluster import _case, _snapshot


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoGroundTruth, dict[str, Any], Path]]:
    """The demo export and the snapshot of its scan with blobs in the data directory."""
    root = tmp_path_factory.mktemp("s3scan")
    truth = build_demo(root / "demo")
    store = new_store(root / "files")
    case_id = _case(store, truth)
    scan_path(store, truth.export_dir, case_id=case_id, workers=2)
    snapshot = _snapshot(store)
    store.close()
    assert snapshot["hits"] and len(snapshot["media"]) >= 40
    yield truth, snapshot, root


def _objects_open_as(server: S3Server, bucket: str, snapshot: dict[str, Any]) -> None:
    """The bucket holds exactly the snapshot's blobs, each sealed (no stray, none missing)."""
    names = {n.removeprefix(f"{PREFIX}/") for n in server.objects(bucket)}
    assert names == {f"{k.partition('/')[0]}/{k[-64:-62]}/{k[-64:]}" for k in snapshot["blobs"]}


def test_a_scan_with_blobs_in_s3_equals_the_scan_with_blob_files(demo, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    truth, files, root = demo
    bucket = s3_env.new_bucket(f"scan-{uuid.uuid4().hex[:12]}")
    store = Store(s3_settings(root / "s3", s3_env, bucket), create=KeySource(key=TEST_KEY))
    try:
        case_id = _case(store, truth)
        scan_path(store, truth.export_dir, case_id=case_id, workers=2)
        assert _snapshot(store) == files
        assert not (root / "s3" / "blobs").exists()
    finally:
        store.close()
    _objects_open_as(s3_env, bucket, files)


def test_a_cluster_scan_writes_its_blobs_to_s3_from_the_workers(demo, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    truth, files, root = demo
    bucket = s3_env.new_bucket(f"cluster-{uuid.uuid4().hex[:12]}")
    settings = {"NCII_BLOB_URL": f"s3://{bucket}/{PREFIX}", "NCII_S3_ENDPOINT": s3_env.endpoint}
    data = root / "cluster"
    store = Store(s3_settings(data, s3_env, bucket), create=KeySource(key=TEST_KEY))
    case_id = _case(store, truth)
    store.close()
    cli = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data)]
    proc = subprocess.run(
        [*cli, "scan", str(case_id), str(truth.export_dir), "--cluster", "local:2", "--json"],
        env=cli_env(NCII_SCAN_CHUNK="16", **settings, **s3_env.env()),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["media_new"] == len(files["media"])
    store = Store(s3_settings(data, s3_env, bucket), key=KeySource(key=TEST_KEY))
    try:
        assert _snapshot(store) == files
    finally:
        store.close()
    _objects_open_as(s3_env, bucket, files)
    assert not (data / "blobs").exists()


def test_a_worker_killed_mid_scan_changes_nothing_in_the_bucket(demo, s3_env: S3Server) -> None:  # type: ignore[no-untyped-def]
    """A worker SIGKILLed while writing to S3: its tasks run again elsewhere, no object is lost or extra."""
    from ncii_shield.scan.cluster import open_cluster
    from ncii_shield.scan.pipeline import run_scan
    from ncii_shield.scan.service import timezone_named
    from ncii_shield.sources import open_source
    from tests.test_scan_cluster import _KillOnce

    class _KillOnceHere(_KillOnce):
        killed = 0  # a count of its own: test_scan_cluster's may have run in this process

    truth, files, root = demo
    bucket = s3_env.new_bucket(f"killed-{uuid.uuid4().hex[:12]}")
    store = Store(s3_settings(root / "killed", s3_env, bucket), create=KeySource(key=TEST_KEY))
    try:
        case_id = _case(store, truth)
        with open_cluster("local:2", store) as remote:  # the workers inherit the AWS variables
            killing = _KillOnceHere(remote.client)
            reader = open_source(truth.export_dir, assumed_timezone=timezone_named(store.settings.timezone))
            run_scan(store, reader, location=truth.export_dir, case_id=case_id, remote=killing)
            assert killing.killed == 1
        assert _snapshot(store) == files
    finally:
        store.close()
    _objects_open_as(s3_env, bucket, files)
