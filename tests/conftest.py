"""Shared fixtures: a real SQLite store in a temporary data directory, and the benign demo assets."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ncii_shield import config as ncii_config
from ncii_shield.config import Settings
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"
DATA = Path(__file__).resolve().parent / "data"


TEST_KEY = os.urandom(32)  # the deployment key of every data directory the tests create

# NCII_TEST_DATABASE=postgresql: every test data directory uses its own database on one throwaway
# PostgreSQL server started for the session (tests/pgsite/ncii_test_pg.py); SQLite is the default.
ON_POSTGRES = os.environ.get("NCII_TEST_DATABASE", "sqlite").lower() in ("postgresql", "postgres", "pg")
_pg_server = ExitStack()


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test that is about SQLite itself (its file, WAL, the sqlite3 fast path) on PostgreSQL."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite-specific: {reason}")


def copy_data_dir(source: Path, target: Path) -> None:
    """Copy a test data directory, its database included (on PostgreSQL a database of its own)."""
    import shutil

    shutil.copytree(source, target)
    if ON_POSTGRES:
        from tests.pgsite import ncii_test_pg

        ncii_test_pg.clone(os.environ[ncii_test_pg.SERVER], source, target)


def database_bytes(data_dir: Path) -> bytes:
    """Everything the database of a data directory stores, as raw bytes: the SQLite file, or on PostgreSQL
    every table's rows in COPY's binary format (bytea as its bytes, text as UTF-8), for "nothing in clear"
    checks that hold on both."""
    settings = ncii_config.load_settings(data_dir)
    if settings.database_url.startswith("sqlite:"):
        return (Path(data_dir) / "ncii.db").read_bytes()
    from tests.pg import RawDb

    with RawDb(settings.database_url) as db:
        tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")]  # type: ignore[attr-defined]
        out = bytearray()
        for table in tables:
            with db.copy(f'COPY "{table}" TO STDOUT (FORMAT binary)') as copy:
                for chunk in copy:
                    out += chunk
    return bytes(out)


def pytest_configure(config: pytest.Config) -> None:
    if not ON_POSTGRES:
        return
    from tests.pg import pg_bin, temporary_postgres
    from tests.pgsite import ncii_test_pg

    if pg_bin() is None:
        raise pytest.UsageError("NCII_TEST_DATABASE=postgresql needs PostgreSQL (apt-get install postgresql)")
    url = _pg_server.enter_context(temporary_postgres("-c max_connections=500 -c synchronous_commit=off"))
    ncii_test_pg.prepare_template(url)
    ncii_test_pg.install(url)
    os.environ[ncii_test_pg.SERVER] = url  # CLI subprocesses: the same data directory, the same database
    site = str(Path(ncii_test_pg.__file__).parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(autouse=True)
def _drop_test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """On PostgreSQL, a test's databases go when it ends (those of its own tmp_path; a module's or the
    session's shared data directories stay until the server stops)."""
    mine = ON_POSTGRES and "tmp_path" in request.fixturenames
    folder = request.getfixturevalue("tmp_path") if mine else None  # set up first, so torn down after
    yield
    if folder is not None:
        from tests.pgsite import ncii_test_pg

        with contextlib.suppress(Exception):  # best effort: the server is removed at the end anyway
            ncii_test_pg.drop_databases_under(os.environ[ncii_test_pg.SERVER], folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    _pg_server.close()


def pytest_report_header(config: pytest.Config) -> str:
    return f"ncii-shield test database: {'postgresql' if ON_POSTGRES else 'sqlite'}"


def new_store(data_dir: Path, database_url: str | None = None) -> Store:
    """A freshly initialised, encrypted data directory (SQLite inside it unless a URL is given)."""
    settings = ncii_config.load_settings(data_dir)
    if database_url:
        settings = Settings(data_dir=settings.data_dir, database_url=database_url)
    return Store(settings, create=KeySource(key=TEST_KEY))


def open_store(data_dir: Path) -> Store:
    """An existing data directory made by the tests, opened with the test key."""
    return Store(ncii_config.load_settings(data_dir), key=KeySource(key=TEST_KEY))


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: the test key, no inherited database URL, wide tables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCII_")}
    return {**env, "NCII_KEY": TEST_KEY.hex(), "COLUMNS": "200", **extra}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = new_store(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def assets() -> Path:
    return ASSETS


@pytest.fixture(scope="session")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with case 1: kept originals and a scanned export of 41 media, all collected only
    for it. Shared by the kill tests, which copy it before each kill."""
    import subprocess

    from tests.test_kill_resume import _cli, _env, _export, _prepare

    root = tmp_path_factory.mktemp("scanned")
    data = root / "data"
    _prepare(data)
    enrol = _cli(data, "enrol", "1", str(ASSETS / "obama.jpg"), "--keep-originals")
    subprocess.run(enrol, env=_env(), check=True, capture_output=True)
    scan = _cli(data, "scan", "1", str(_export(root / "export")), "--workers", "2")
    subprocess.run(scan, env=_env(), check=True, capture_output=True)
    return data
