"""The quick sqlite3 reader of `case list` (read/quick.py, store/lite.py) agrees with the ORM's read layer,
field by field, and steps aside (None) whenever only the full Store can open the data directory."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ncii_shield.cases.retention import close_case, purge_case
from ncii_shield.config import Settings
from ncii_shield.read.cases import list_cases
from ncii_shield.read.quick import CaseLine, quick_case_lines
from ncii_shield.store import crypto, lite
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from tests.conftest import ASSETS, TEST_KEY, cli_env, sqlite_only
from tests.exports import message, write_export
from tests.test_scan import _case, _resized, _scan

pytestmark = sqlite_only("the quick listings read the SQLite file with sqlite3; elsewhere they step aside")


def _keyed(store: Store, key: bytes | None = TEST_KEY) -> Settings:
    return dataclasses.replace(store.settings, key=key)


@pytest.fixture
def populated(store: Store, tmp_path: Path) -> Store:
    """Four cases: one with references and hits (a message found three ways, a resized copy), one closed,
    one purged, one empty."""
    photo = ASSETS / "obama.jpg"
    found = _case(store, [photo])
    export = write_export(
        tmp_path / "e",
        [message(1, photo="p/a.jpg"), message(2, photo="p/b.jpg"), message(3, text="hello")],
        files={"p/a.jpg": photo.read_bytes(), "p/b.jpg": _resized(photo, 400)},
    )
    _scan(store, export, found)
    closed, purged = _case(store, [ASSETS / "obama2.jpg"]), _case(store)
    _case(store)
    with store.session() as s:
        close_case(s, closed)
        close_case(s, purged)
    with store.session() as s:
        purge_case(store, s, purged)
    return store


def test_the_quick_lines_are_the_read_layers_summaries(populated: Store) -> None:
    with populated.session() as s:
        summaries = list_cases(s)
    lines = quick_case_lines(_keyed(populated))
    assert lines is not None
    assert [c.status for c in summaries] == ["open", "closed", "purged", "open"], "the check covers them"
    assert summaries[0].items >= 2 and summaries[0].references > 8 and summaries[2].pseudonym is None
    names = [f.name for f in dataclasses.fields(CaseLine)]
    assert len(lines) == len(summaries)
    for line, summary in zip(lines, summaries, strict=True):
        for name in names:
            assert getattr(line, name) == getattr(summary, name), (summary.id, name)
        assert line.items == summary.hit_counts.messages
        assert line.created_at.tzinfo is not None


def test_the_key_file_opens_it_too(populated: Store, tmp_path: Path) -> None:
    key_file = tmp_path / "k"
    key_file.write_text(TEST_KEY.hex() + "\n")
    settings = dataclasses.replace(populated.settings, key_file=key_file)
    assert quick_case_lines(settings) == quick_case_lines(_keyed(populated))


def test_it_steps_aside_whenever_the_full_store_is_needed(populated: Store, tmp_path: Path) -> None:
    base = _keyed(populated)
    assert quick_case_lines(base) is not None
    wrong_file = tmp_path / "wrong"
    wrong_file.write_text("not a key")
    for settings in (
        _keyed(populated, None),  # no key: a passphrase or a prompt, or the Store's own error
        _keyed(populated, bytes(32)),  # the wrong key
        dataclasses.replace(base, key=None, key_file=wrong_file),
        dataclasses.replace(base, key=None, key_file=tmp_path / "missing"),
        dataclasses.replace(base, database_url="postgresql://u@localhost/ncii"),
        dataclasses.replace(base, database_url=base.database_url + "?mode=ro"),
        dataclasses.replace(base, database_url=f"sqlite:///{tmp_path / 'none.db'}"),
    ):
        assert quick_case_lines(settings) is None, settings
    assert not (tmp_path / "none.db").exists(), "a missing database is not created"


def test_a_database_to_migrate_or_without_a_data_key_is_left_to_the_store(populated: Store) -> None:
    settings = _keyed(populated)
    path = lite.sqlite_path(settings.database_url)
    assert path is not None
    with sqlite3.connect(path) as db:
        (head,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        db.execute("UPDATE alembic_version SET version_num = 'older'")
    assert quick_case_lines(settings) is None
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (head,))
    assert quick_case_lines(settings) is not None
    with sqlite3.connect(path) as db:
        db.execute("UPDATE keys SET scope = 'data-moved' WHERE scope = 'data'")
    assert quick_case_lines(settings) is None


def test_a_passphrase_store_is_left_to_the_store(tmp_path: Path) -> None:
    from ncii_shield.config import load_settings

    settings = load_settings(tmp_path / "d")
    Store(settings, create=KeySource(passphrase="correct horse")).close()
    assert quick_case_lines(dataclasses.replace(settings, key=TEST_KEY)) is None


def test_the_readers_constants_are_the_keyrings() -> None:
    assert (lite.DEPLOYMENT_SCOPE, lite.DATA_SCOPE, lite.CHECK_PLAINTEXT) == (
        crypto.DEPLOYMENT_SCOPE,
        crypto.DATA_SCOPE,
        crypto.CHECK_PLAINTEXT,
    )


def test_case_list_prints_the_same_through_either_path(populated: Store) -> None:
    base = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(populated.settings.data_dir)]
    quick = subprocess.run([*base, "case", "list", "--json"], capture_output=True, text=True, env=cli_env())
    # The same database through the full Store: a URL naming it with an escaped letter, which SQLAlchemy
    # decodes and the quick reader leaves to it (it never parses URLs beyond plain 'sqlite:///path').
    url = "sqlite:///" + str(populated.settings.data_dir / "ncii.db").replace("ncii.db", "%6Ecii.db")
    full = subprocess.run(
        [*base, "case", "list", "--json"],
        capture_output=True,
        text=True,
        env=cli_env(NCII_DATABASE_URL=url),
    )
    assert quick.returncode == full.returncode == 0, (quick.stderr, full.stderr)
    rows = json.loads(quick.stdout)
    assert [r["status"] for r in rows] == ["open", "closed", "purged", "open"]
    assert quick.stdout == full.stdout
    table = subprocess.run([*base, "case", "list"], capture_output=True, text=True, env=cli_env())
    again = subprocess.run(
        [*base, "case", "list"], capture_output=True, text=True, env=cli_env(NCII_DATABASE_URL=url)
    )
    assert table.returncode == 0 and table.stdout == again.stdout
