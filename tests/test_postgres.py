"""The same flow on a real PostgreSQL server: migrations, enrolment, scan, hits, rescan."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.review.hits import list_hits
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item
from tests.conftest import ASSETS, ON_POSTGRES, cli_env, new_store
from tests.pg import pg_bin, temporary_postgres
from tests.test_scan import _bad_export, _case, _scan

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL not installed; .ci/run installs it")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


def test_scan_on_postgres_matches_sqlite(pg_url: str, store: Store, tmp_path: Path) -> None:
    pg = new_store(tmp_path / "pgdata", pg_url)
    try:
        export = _bad_export(tmp_path / "export")
        results = {}
        for name, s in (("sqlite", store), ("postgres", pg)):
            case_id = _case(s, [ASSETS / "obama.jpg"])
            first, again = _scan(s, export, case_id), _scan(s, export, case_id)
            assert first.items_new == 10 and again.items_new == 0
            with s.session() as session:
                rows = list_hits(session, case_id)
                reasons = sorted((i.message_id, i.skip_reason or "") for i in session.scalars(select(Item)))
                assert session.scalar(select(func.count()).select_from(Item)) == 10
            results[name] = ([(r.message_id, r.kinds, r.date) for r in rows], reasons)
        assert results["postgres"] == results["sqlite"]
        assert results["postgres"][0], "the postgres run found the hits"
    finally:
        pg.close()


def test_the_demos_scratch_stores_never_share_the_configured_database(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo-pg` sets NCII_DATABASE_URL for the demo; the format check's throw-away stores must not open
    (and try to initialise a second time) that same database."""
    from ncii_shield.demo.formats import scratch_settings

    monkeypatch.setenv("NCII_DATABASE_URL", pg_url)
    monkeypatch.setenv("NCII_BLOB_URL", "s3://demo-bucket/blobs")  # nor the configured blob store
    settings = scratch_settings(tmp_path / "scratch")
    assert settings.database_url == f"sqlite:///{(tmp_path / 'scratch').resolve() / 'ncii.db'}"
    assert settings.data_dir == (tmp_path / "scratch").resolve()
    assert settings.blob_dir == settings.data_dir / "blobs"


@pytest.mark.skipif(not ON_POSTGRES, reason="checks the NCII_TEST_DATABASE=postgresql switch itself")
def test_the_switch_puts_every_store_and_its_cli_subprocesses_on_postgres(store: Store) -> None:
    assert store.engine.dialect.name == "postgresql"
    _case(store, [ASSETS / "obama.jpg"])
    data = store.settings.data_dir
    listed = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), "case", "list", "--json"],
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(json.loads(listed.stdout)) == 1, "the subprocess opened the same database"
    assert not (data / "ncii.db").exists()
