"""A new data directory is owner-only, whatever the umask (issue 12, item 13): hashes, counts and user
rows in ncii.db must not be readable by every local user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ncii_shield.store import audit
from tests.conftest import new_store, open_store, sqlite_only


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@sqlite_only("the modes of ncii.db and its -wal/-shm files")
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_new_data_directory_is_owner_only(tmp_path: Path, umask: int) -> None:
    data = tmp_path / "new" / "data"
    previous = os.umask(umask)
    try:
        store = new_store(data)
        with store.session() as s:
            audit.record(s, "test.write")  # the WAL and its index exist while a connection is open
        db = data / "ncii.db"
        assert _mode(data) == 0o700
        assert _mode(data / "blobs") == 0o700
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert path.exists(), path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
        store.close()
        reopened = open_store(data)  # opening again keeps it so
        with reopened.session() as s:
            audit.record(s, "test.write")
        assert _mode(data) == 0o700 and _mode(db) == 0o600
        reopened.close()
    finally:
        os.umask(previous)
