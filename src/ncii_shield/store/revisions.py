"""The schema's newest revision, read from the migration files: without Alembic or SQLAlchemy.

Opening a store (store/db.py) and the quick SQLite reader (store/lite.py) both compare it with the
database's ``alembic_version``; importing Alembic to find it would cost ~100 ms of every command.
"""

from __future__ import annotations

import ast
import functools
import re
from importlib.resources import files
from pathlib import Path


def migrations_dir() -> Path:
    return Path(str(files("ncii_shield.store") / "migrations"))


_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def revision_ids(source: str) -> dict[str, object]:
    """``revision`` and ``down_revision`` of one migration file, from its one-line assignments (parsing the
    whole file with ``ast`` costs more than the rest of opening a store); anything else is parsed fully."""
    found: dict[str, object] = {}
    try:
        for name, value in _ASSIGNMENT.findall(source):
            found.setdefault(name, ast.literal_eval(value))
    except (ValueError, SyntaxError):
        found = {}
    if len(found) < 2:
        for node in ast.parse(source).body:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                        found[target.id] = ast.literal_eval(node.value)
    return found


@functools.cache
def head_revisions() -> frozenset[str]:
    """The newest revision ids, read from the migration files without importing Alembic (~100 ms).

    A revision is a head when no other revision names it as its ``down_revision``; read at run time, so a
    new migration needs no constant updated (tests/test_db_head.py checks this against Alembic's own head).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        ids = revision_ids(path.read_text(encoding="utf-8"))
        revisions.add(str(ids["revision"]))
        down = ids.get("down_revision")
        parents.update([down] if isinstance(down, str) else list(down or ()))  # type: ignore[call-overload]
    return frozenset(revisions - parents)
