"""Shared fixtures: a real SQLite store in a temporary data directory, and the benign demo assets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ncii_shield.config import Settings, load_settings
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"
DATA = Path(__file__).resolve().parent / "data"


TEST_KEY = os.urandom(32)  # the deployment key of every data directory the tests create


def new_store(data_dir: Path, database_url: str | None = None) -> Store:
    """A freshly initialised, encrypted data directory (SQLite inside it unless a URL is given)."""
    settings = load_settings(data_dir)
    if database_url:
        settings = Settings(data_dir=settings.data_dir, database_url=database_url)
    return Store(settings, create=KeySource(key=TEST_KEY))


def open_store(data_dir: Path) -> Store:
    """An existing data directory made by the tests, opened with the test key."""
    return Store(load_settings(data_dir), key=KeySource(key=TEST_KEY))


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
