"""The PostgreSQL test switch (tests/pgsite/ncii_test_pg.py) itself: runs only under `make test-pg`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, new_store

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="about the PostgreSQL test switch")


def _databases() -> set[str]:
    import psycopg

    from tests.pgsite import ncii_test_pg

    server = os.environ[ncii_test_pg.SERVER]
    with psycopg.connect(ncii_test_pg._conninfo(server, "postgres"), autocommit=True) as connection:
        return {r[0] for r in connection.execute("SELECT datname FROM pg_database")}


def test_a_tests_databases_are_dropped_and_no_other(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Databases of data directories under a folder go (an open store's too); another folder's stay."""
    from tests.pgsite import ncii_test_pg

    mine = [new_store(tmp_path / "data"), new_store(tmp_path / "deeper" / "copy" / "data")]
    other = new_store(tmp_path_factory.mktemp("kept") / "data")
    names = [ncii_test_pg.database_name(s.settings.data_dir) for s in (*mine, other)]
    assert set(names) <= _databases()
    mine[1].close()
    dropped = ncii_test_pg.drop_databases_under(os.environ[ncii_test_pg.SERVER], tmp_path)
    assert dropped == 2
    left = _databases()
    assert names[0] not in left and names[1] not in left and names[2] in left
    other.close()
    mine[0].close()
