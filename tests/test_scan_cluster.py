"""Scanning on a real local Dask cluster (scan/cluster.py): the demo export scanned by two worker processes
equals the local scan row for row (items, media, signals, hits) and blob for blob; a worker killed
mid-task changes nothing; a local scan never imports Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.config import load_settings
from ncii_shield.demo.build import DemoGroundTruth, build_demo
from ncii_shield.errors import NciiError, Unavailable
from ncii_shield.scan.cluster import (
    DaskMedia,
    Results,
    media_task,
    open_cluster,
    parse_local,
    public_settings,
    worker_store,
)
from ncii_shield.scan.match import match_case
from ncii_shield.scan.media_store import BlobKeys
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.scan.service import scan_path, timezone_named
from ncii_shield.signals.analyse import analyse_bytes
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Media, Signal
from tests.conftest import ASSETS, TEST_KEY, cli_env, new_store, open_store
from tests.test_cli_imports import _modules_after


def _case(store: Store, truth: DemoGroundTruth) -> int:
    """The demo's case, enrolled as run_demo does."""
    with store.session() as session:
        case = open_case(session, truth.pseudonym, consent_by=truth.pseudonym, consent_method="demo: form")
        enrol(session, store, case, list(truth.enrol_photos))
        match_case(store, session, case.id)
        return case.id


def _snapshot(store: Store) -> dict[str, Any]:
    """Everything a scan writes that must not depend on where the media work ran (the sealed face
    embeddings compared opened; the blobs by key and plaintext)."""
    with store.session() as session:
        items = [
            (i.id, i.external_id, i.media_id, i.skip_reason, i.chat_id, i.previous_id)
            for i in session.scalars(select(Item).order_by(Item.id))
        ]
        media = [
            (
                m.id,
                m.sha256,
                m.status,
                m.error,
                m.format,
                m.width,
                m.height,
                m.blob_key,
                m.thumb_key,
                m.thumb_blurred,
            )
            for m in session.scalars(select(Media).order_by(Media.id))
        ]
        signals = [
            (s.id, s.media_id, s.kind, s.frame, s.idx, s.value, s.sealed, s.quality, s.score, s.box)
            for s in session.scalars(select(Signal).order_by(Signal.id))
        ]
        hits = [
            (h.case_id, h.item_id, h.media_id, h.kind, h.distance, h.details, h.reference_id, h.signal_id)
            for h in session.scalars(select(Hit).order_by(Hit.id))
        ]
    blobs = {key: store.blobs.get(key) for key, _ in store.blobs.listing()}
    return {"items": items, "media": media, "signals": signals, "hits": hits, "blobs": blobs}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoGroundTruth, dict[str, Any], Path]]:
    """The demo export and the snapshot of its local scan (a pool of two processes)."""
    root = tmp_path_factory.mktemp("cluster")
    truth = build_demo(root / "demo")
    store = new_store(root / "local")
    case_id = _case(store, truth)
    scan_path(store, truth.export_dir, case_id=case_id, workers=2)
    snapshot = _snapshot(store)
    store.close()
    assert snapshot["hits"] and snapshot["signals"] and len(snapshot["media"]) >= 40
    yield truth, snapshot, root


def test_cli_scan_on_a_local_cluster_equals_the_local_scan(demo) -> None:  # type: ignore[no-untyped-def]
    truth, local, root = demo
    data = root / "cli"
    store = new_store(data)
    case_id = _case(store, truth)
    store.close()
    cli = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data)]
    proc = subprocess.run(
        [*cli, "scan", str(case_id), str(truth.export_dir), "--cluster", "local:2", "--json"],
        env=cli_env(NCII_SCAN_CHUNK="16"),  # several chunks: rows inserted chunk by chunk, in order
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["status"] == "done" and report["media_new"] == len(local["media"])
    store = open_store(data)
    try:
        assert _snapshot(store) == local
    finally:
        store.close()


class _KillOnce(DaskMedia):
    """Kills one worker process (SIGKILL, as the OOM killer would) while the first chunk's tasks run."""

    killed = 0

    def analyse(self, datas, *, settings, source_id, hash_only):  # type: ignore[no-untyped-def]
        from distributed import wait

        if not self.killed and len(datas) > 4:
            futures = self.submit(datas, settings, source_id, hash_only)
            wait(futures, return_when="FIRST_COMPLETED")
            busy = {w for w, keys in self.client.processing().items() if keys}
            pids = self.client.run(os.getpid)
            victim = next((w for w in pids if w in busy), next(iter(pids)))
            os.kill(pids[victim], signal.SIGKILL)
            type(self).killed += 1
            assert not all(f.done() for f in futures), "the kill came mid-scan"
            results = list(self.client.gather(futures))
            for f in futures:
                f.release()
            return results
        return super().analyse(datas, settings=settings, source_id=source_id, hash_only=hash_only)


def test_a_worker_killed_mid_scan_changes_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    truth, local, root = demo
    store = new_store(root / "killed")
    try:
        case_id = _case(store, truth)
        with open_cluster("local:2", store) as remote:
            killing = _KillOnce(remote.client)
            zone = timezone_named(store.settings.timezone)
            reader = open_source(truth.export_dir, assumed_timezone=zone)
            run_scan(store, reader, location=truth.export_dir, case_id=case_id, remote=killing)
            assert killing.killed == 1
            assert remote.workers() == 2, "the nanny restarted the killed worker"
        assert _snapshot(store) == local  # no row lost, none twice, no extra blob
    finally:
        store.close()


def test_the_next_chunk_is_analysed_while_one_is_written_and_no_more(demo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Prefetching on a real cluster (scan/cluster_prefetch.py): in small chunks, the chunk after the one being
    written has its tasks submitted, never a third; the rows and blobs are still the local scan's."""
    truth, local, root = demo
    monkeypatch.setenv("NCII_SCAN_CHUNK", "8")
    store = new_store(root / "prefetched")
    try:
        case_id = _case(store, truth)
        with open_cluster("local:2", store) as remote:
            zone = timezone_named(store.settings.timezone)
            reader = open_source(truth.export_dir, assumed_timezone=zone)
            run_scan(store, reader, location=truth.export_dir, case_id=case_id, remote=remote)
            assert remote.most_in_flight == 2 and remote.in_flight == 0
            # a task that fails on its worker (not an item's fault: a disk, the connection) stops the scan
            # with one line, instead of each item being kept as skipped
            failing = Results(
                remote, [remote.client.submit(Path("/nonexistent/ncii").read_bytes, pure=False)]
            )
            with pytest.raises(Unavailable, match=r"a media task failed \(FileNotFoundError: .*nonexistent"):
                next(failing)
            assert remote.in_flight == 0
        assert _snapshot(store) == local
    finally:
        store.close()


def test_tasks_carry_no_secret_and_workers_use_their_own_key(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"NCII_KEY": TEST_KEY.hex(), "NCII_PASSPHRASE": "x"})
    shipped = public_settings(settings)
    assert shipped.key is None and shipped.passphrase is None and shipped.data_dir == settings.data_dir
    with_password = replace(settings, database_url="postgresql+psycopg://ncii:s3cret@db.example/ncii")
    assert public_settings(with_password).database_url == "postgresql+psycopg://ncii@db.example/ncii"
    assert parse_local("local:3") == 3 and parse_local("tcp://10.0.0.5:8786") is None
    for bad in ("local:0", "local:x"):
        with pytest.raises(NciiError, match="invalid cluster"):
            parse_local(bad)


def test_a_local_scan_imports_no_cluster_library(tmp_path: Path) -> None:
    data = tmp_path / "data"
    new_store(data).close()
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((ASSETS / "obama.jpg").read_bytes())
    proc, modules = _modules_after(
        "--data-dir",
        str(data),
        "case",
        "open",
        "--pseudonym",
        "A",
        "--consent-by",
        "A",
        "--consent-method",
        "form",
    )
    proc, modules = _modules_after("--data-dir", str(data), "scan", "1", str(folder), "--workers", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ncii_shield.scan.pipeline" in modules
    assert not modules & {"dask", "distributed", "ray", "ncii_shield.scan.cluster"}


def test_a_worker_that_does_not_see_the_store_refuses_and_creates_nothing(tmp_path: Path) -> None:
    elsewhere = public_settings(load_settings(tmp_path / "not-mounted"))
    with pytest.raises(Unavailable, match="does not see"):
        worker_store(elsewhere)
    assert not (tmp_path / "not-mounted").exists()


class _Unshared:
    """A remote whose workers wrote their blobs somewhere this store cannot see."""

    def analyse(self, datas, *, settings, source_id, hash_only):  # type: ignore[no-untyped-def]
        for data in datas:
            yield analyse_bytes(data, with_nudity=False), BlobKeys(f"media/{'0' * 64}", None)


def test_blobs_written_where_the_store_cannot_see_them_stop_the_scan(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((ASSETS / "obama.jpg").read_bytes())
    with pytest.raises(Unavailable, match="cannot see"):
        run_scan(store, open_source(folder), location=folder, case_id=None, remote=_Unshared())
    with store.session() as session:
        assert session.scalars(select(Media)).all() == []  # the chunk rolled back: nothing half-stored


class _InProcess:
    """The worker's side run here (media_task: its own store opened with its own key, blobs, blurring)."""

    def analyse(self, datas, *, settings, source_id, hash_only):  # type: ignore[no-untyped-def]
        shipped = public_settings(settings)
        return [media_task(d, shipped, source_id, hash_only, settings.face_detail) for d in datas]


def test_a_hash_only_case_keeps_only_blurred_thumbnails_on_workers_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        (folder / name).write_bytes((ASSETS / name).read_bytes())
    monkeypatch.setenv("NCII_KEY", TEST_KEY.hex())  # the worker's own environment
    snapshots = []
    for name, remote in (("local", None), ("remote", _InProcess())):
        store = new_store(tmp_path / name)
        try:
            with store.session() as session:
                case = open_case(session, "A", consent_by="A", consent_method="form", hash_only=True)
                case_id = case.id
            run_scan(store, open_source(folder), location=folder, case_id=case_id, workers=1, remote=remote)
            snapshots.append(_snapshot(store))
        finally:
            store.close()
    local, remote_made = snapshots
    assert remote_made == local and local["media"]
    assert all(m[7] is None and m[8] and m[9] for m in local["media"])  # no original; a blurred thumbnail


def test_an_unreachable_scheduler_is_one_line(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("ncii_shield.scan.cluster.CONNECT_TIMEOUT", "1s")
    with (
        pytest.raises(Unavailable, match=r"cannot reach the cluster at tcp://127\.0\.0\.1:9"),
        open_cluster("tcp://127.0.0.1:9", store),
    ):
        pass


def test_ncii_cluster_is_the_default_of_scan_path(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NCII_CLUSTER", "local:0")
    store = new_store(tmp_path / "data")
    try:
        assert store.settings.cluster == "local:0"
        with pytest.raises(NciiError, match="invalid cluster 'local:0'"):
            scan_path(store, ASSETS / "obama.jpg", case_id=None)
    finally:
        store.close()
