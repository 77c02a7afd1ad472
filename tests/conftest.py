"""Shared fixtures: a real SQLite store in a temporary data directory, and the benign demo assets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ncii_shield.config import load_settings
from ncii_shield.store.db import Store

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(load_settings(tmp_path / "data"))
    yield s
    s.close()


@pytest.fixture
def assets() -> Path:
    return ASSETS
