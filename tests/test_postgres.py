"""The same flow on a real PostgreSQL server: migrations, enrolment, scan, hits, rescan."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.review.hits import list_hits
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item
from tests.conftest import ASSETS, new_store
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
