"""`keys rotate`, `evidence export` and `scan` killed with SIGKILL at random points, ten times each: the data
directory stays consistent (the chain verifies, every stored blob opens) and re-running the command
completes it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.config import load_settings
from ncii_shield.errors import NciiError
from ncii_shield.evidence.bundle import verify_bundle
from ncii_shield.store.chain import verify_store
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from ncii_shield.store.models import Media, Reference
from tests.conftest import TEST_KEY, cli_env, copy_data_dir, open_store
from tests.test_kill_purge import _consistent
from tests.test_kill_resume import _cli, _env, _export, _prepare, _snapshot

KILLS = 10


def _kill_after(args: list[str], delay: float, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    time.sleep(delay)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _opens_with(data: Path, key: bytes) -> bool:
    try:
        store = Store(load_settings(data), key=KeySource(key=key))
    except NciiError:
        return False
    try:
        with store.session() as session:
            assert verify_store(store, session).ok
            for column in (Media.blob_key, Media.thumb_key, Reference.blob_key):
                for blob in session.scalars(select(column).where(column.is_not(None))):
                    store.blobs.get(blob)
    finally:
        store.close()
    return True


def test_keys_rotate_killed_anywhere(scanned: Path, tmp_path: Path) -> None:
    rng = random.Random(5)
    seen = set()
    for attempt in range(KILLS):
        data, new_key = tmp_path / f"d{attempt}", tmp_path / f"new{attempt}.key"
        copy_data_dir(scanned, data)
        _kill_after(
            _cli(data, "keys", "rotate", "--generate-key-file", str(new_key)), rng.uniform(0.8, 2.6), _env()
        )
        rotated = new_key.is_file() and _opens_with(data, bytes.fromhex(new_key.read_text().strip()))
        assert rotated or _opens_with(data, TEST_KEY), "one of the two keys opens the whole directory"
        seen.add(rotated)
        if not rotated:  # re-running completes it, with the key file the killed run left (or a new one)
            args = (
                ["--key-file", str(new_key)] if new_key.is_file() else ["--generate-key-file", str(new_key)]
            )
            done = subprocess.run(
                _cli(data, "keys", "rotate", *args), env=_env(), capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
        assert _opens_with(data, bytes.fromhex(new_key.read_text().strip()))
        shutil.rmtree(data)
    assert seen, seen


def test_evidence_export_killed_anywhere(scanned: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    data = tmp_path / "data"
    copy_data_dir(scanned, data)
    for attempt in range(KILLS):
        bundle = tmp_path / f"bundle{attempt}.zip"
        _kill_after(
            _cli(data, "evidence", "export", "1", "--out", str(bundle)), rng.uniform(0.8, 4.0), _env()
        )
        if bundle.exists() and bundle.with_name(bundle.name + ".sig").exists():
            assert verify_bundle(bundle).ok, "a bundle under its final name is whole"
        assert _consistent(data) == "open"
        done = subprocess.run(
            _cli(data, "evidence", "export", "1", "--out", str(bundle)), env=_env(), capture_output=True
        )
        assert done.returncode == 0
        assert verify_bundle(bundle).ok


@pytest.mark.parametrize("workers", [2])
def test_scan_killed_ten_times_then_resumed_equals_an_uninterrupted_scan(
    tmp_path: Path, workers: int
) -> None:
    rng = random.Random(3)
    export = _export(tmp_path / "export")
    reference, killed = tmp_path / "ref", tmp_path / "killed"
    for data_dir in (reference, killed):
        _prepare(data_dir)
    subprocess.run(
        _cli(reference, "scan", "1", str(export), "--workers", "1"),
        check=True,
        env=_env(),
        capture_output=True,
    )
    for _ in range(KILLS):
        _kill_after(
            _cli(killed, "scan", "1", str(export), "--workers", str(workers)), rng.uniform(1.0, 4.0), _env()
        )
        _consistent(killed)
    subprocess.run(
        _cli(killed, "scan", "1", str(export), "--workers", "2"),
        check=True,
        env=cli_env(),
        capture_output=True,
    )
    assert _snapshot(killed) == _snapshot(reference)
    store = open_store(killed)
    try:
        with store.session() as session:
            assert verify_store(store, session).ok
    finally:
        store.close()
