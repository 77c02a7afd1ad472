"""`case purge` killed with SIGKILL at any point leaves a consistent data directory, and running it again
finishes the job: nothing is deleted before the commit that makes it unreachable."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.store.chain import verify_store
from ncii_shield.store.models import Case, Media, Reference
from tests.conftest import copy_data_dir, open_store
from tests.test_kill_resume import _cli, _env

KILLS = 10


def _consistent(data: Path) -> str:
    """The chain verifies, and every blob a row names opens. Returns the case's status."""
    store = open_store(data)
    try:
        with store.session() as session:
            assert verify_store(store, session).ok, "the audit chain verifies after the kill"
            status = session.scalar(select(Case.status).where(Case.id == 1))
            keys = [
                k
                for column in (Media.blob_key, Media.thumb_key, Reference.blob_key)
                for k in session.scalars(select(column).where(column.is_not(None)))
            ]
        for key in keys:
            store.blobs.get(key)  # raises if the file is gone or cannot be opened
        return str(status)
    finally:
        store.close()


def _blob_files(data: Path) -> int:
    return sum(1 for p in (data / "blobs").rglob("*") if p.is_file())


def test_purge_killed_anywhere_is_consistent_and_a_rerun_finishes(scanned: Path, tmp_path: Path) -> None:
    rng = random.Random(11)
    outcomes: list[str] = []
    for attempt in range(KILLS):
        data = tmp_path / f"copy{attempt}"
        copy_data_dir(scanned, data)
        process = subprocess.Popen(
            _cli(data, "case", "purge", "1", "--yes"),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.8, 3.2))  # start-up is ~1.5 s; the purge itself ~1.5 s
        process.send_signal(signal.SIGKILL)
        process.wait()
        status = _consistent(data)
        outcomes.append(status)
        rerun = subprocess.run(
            _cli(data, "case", "purge", "1", "--yes"), env=_env(), capture_output=True, text=True
        )
        assert rerun.returncode == 0, rerun.stderr
        assert _consistent(data) == "purged"
        assert _blob_files(data) == 0, "nothing of the case is left on disk once the re-run is done"
        shutil.rmtree(data)
    assert "open" in outcomes or "purged" in outcomes


def test_a_purge_that_fails_before_its_commit_deletes_no_file(scanned: Path, tmp_path: Path) -> None:
    from ncii_shield.cases import retention

    data = tmp_path / "copy"
    copy_data_dir(scanned, data)
    before = _blob_files(data)
    store = open_store(data)
    original = retention.compact
    try:
        with pytest.raises(RuntimeError), store.session() as session:
            retention.purge_case(store, session, 1)
            raise RuntimeError("power cut before the commit")
    finally:
        retention.compact = original
        store.close()
    assert _blob_files(data) == before
    assert _consistent(data) == "open"
