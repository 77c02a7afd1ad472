"""Reading a SQLite store with the standard library's sqlite3: for the CLI's quick read-only listings.

Importing SQLAlchemy, its ORM and the models costs ~300 ms, ten times the queries a listing runs. This
reader handles only the common case: a SQLite database already at the newest schema revision, opened
read-only, whose deployment key is given as a key (NCII_KEY or NCII_KEY_FILE) and unlocks it. Anything
else (PostgreSQL, a store still to create or migrate, a passphrase to derive or ask for, a wrong key, a
missing data key, any error) gives None, and the caller opens the full :class:`~ncii_shield.store.db.Store`,
which does the work or says what is wrong, word for word. Nothing here writes.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ncii_shield.config import KEY_BYTES, Settings, decode_key
from ncii_shield.store.revisions import head_revisions

# As store/crypto.py writes them (the keyring's scope names and check value).
DEPLOYMENT_SCOPE, DATA_SCOPE = "__deployment__", "data"
CHECK_PLAINTEXT = b"ncii-shield deployment key check v1"


class LiteStore:
    """A read-only sqlite3 connection and the data key of encrypted columns."""

    def __init__(self, connection: sqlite3.Connection, data_key: bytes) -> None:
        self.connection = connection
        self._data_key = data_key

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        """Plain sqlite3 values: int, str, bytes, None (no type conversion: see utc and text)."""
        return self.connection.execute(sql, params).fetchall()

    def text(self, sealed: object, purpose: str) -> str | None:
        """A ``SealedText`` column's value (``purpose`` is its "table.column", as in store/models.py)."""
        from ncii_shield.store.sealing import unseal

        if sealed is None:
            return None
        if not isinstance(sealed, bytes):
            raise ValueError(f"{purpose} is not a sealed value")
        return unseal(self._data_key, sealed, purpose.encode()).decode("utf-8")

    def close(self) -> None:
        self.connection.close()


def utc(value: object) -> datetime:
    """A non-null ``UTCDateTime`` column as SQLAlchemy stores it in SQLite ('YYYY-MM-DD HH:MM:SS.ffffff')."""
    if not isinstance(value, str):
        raise ValueError(f"not a stored datetime: {value!r}")
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///`` URL; None for anything that needs SQLAlchemy's URL parsing."""
    prefix = "sqlite:///"
    rest = url[len(prefix) :] if url.startswith(prefix) else ""
    if not rest or rest == ":memory:" or any(c in rest for c in "?#%") or rest.startswith("file:"):
        return None
    return Path(rest)


def open_lite(settings: Settings) -> LiteStore | None:
    """The store of ``settings`` for reading, or None when only the full Store can open it."""
    path = sqlite_path(settings.database_url)
    kek = _given_key(settings)
    if path is None or kek is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        data_key = _data_key(connection, kek)
    except (sqlite3.Error, ValueError, TypeError, KeyError):  # a surprise: the full Store reports it properly
        data_key = None
    if data_key is None:
        connection.close()
        return None
    return LiteStore(connection, data_key)


def _given_key(settings: Settings) -> bytes | None:
    """NCII_KEY, else NCII_KEY_FILE, as store/crypto.key_source reads them; None for a passphrase or prompt."""
    if settings.key is not None:
        return settings.key
    if settings.key_file is None:
        return None
    try:
        raw = settings.key_file.read_bytes()
        return raw if len(raw) == KEY_BYTES else decode_key(raw.decode("ascii"))
    except (OSError, ValueError):  # the full Store says what is wrong with the file
        return None


def _data_key(connection: sqlite3.Connection, kek: bytes) -> bytes | None:
    """The data key, if the schema is at head and ``kek`` is the deployment key (checked as Keyring.open)."""
    from ncii_shield.store.sealing import KeyringError, unseal

    versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    if {v for (v,) in versions} != head_revisions():
        return None  # to migrate: the full Store does it
    keys = dict(
        connection.execute(
            "SELECT scope, wrapped FROM keys WHERE scope IN (?, ?)", (DEPLOYMENT_SCOPE, DATA_SCOPE)
        ).fetchall()
    )
    (params,) = connection.execute("SELECT params FROM keys WHERE scope = ?", (DEPLOYMENT_SCOPE,)).fetchone()
    if json.loads(params or "{}").get("kind") != "key" or DATA_SCOPE not in keys:
        return None
    try:
        if unseal(kek, keys[DEPLOYMENT_SCOPE], b"check") != CHECK_PLAINTEXT:
            return None
        return unseal(kek, keys[DATA_SCOPE], DATA_SCOPE.encode())
    except KeyringError:
        return None  # the full Store says the key does not open this directory
