"""Opening a store checks the schema revision without Alembic; these keep that shortcut honest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from ncii_shield.store.db import _alembic_config, _revision_ids, current_revisions, head_revisions
from tests.conftest import cli_env, new_store


def test_head_read_from_the_files_is_alembics_head(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    try:
        script = ScriptDirectory.from_config(_alembic_config(store.engine))
        assert head_revisions() == set(script.get_heads())
        assert current_revisions(store.engine) == head_revisions(), "a new store is migrated to head"
    finally:
        store.close()


def test_opening_a_store_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    new_store(tmp_path / "d").close()
    code = (
        "import os, sys\n"
        "from ncii_shield.config import load_settings\n"
        "from ncii_shield.store.crypto import KeySource\n"
        "from ncii_shield.store.db import Store\n"
        f"Store(load_settings({str(tmp_path / 'd')!r}), key=KeySource(key=bytes.fromhex(os.environ['NCII_KEY']))).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env())
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_revision_ids_read_every_form_alembic_writes() -> None:
    assert _revision_ids('revision = "0009"\ndown_revision = "0008"\n') == {
        "revision": "0009",
        "down_revision": "0008",
    }
    assert _revision_ids('revision: str = "a1"\ndown_revision: str | None = None  # first\n') == {
        "revision": "a1",
        "down_revision": None,
    }
    merge = 'revision: str = "m"\ndown_revision: tuple[str, ...] = (\n    "b",\n    "c",\n)\n'
    assert _revision_ids(merge) == {"revision": "m", "down_revision": ("b", "c")}
