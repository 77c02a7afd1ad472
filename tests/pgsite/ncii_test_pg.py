"""The test suite's PostgreSQL switch: every data directory gets its own database on one test server.

With ``NCII_TEST_DATABASE=postgresql`` the tests start one throwaway server (tests/pg.py) and migrate a
template database once. From then on ``load_settings(data_dir)`` answers, for a data directory with no
NCII_DATABASE_URL, a PostgreSQL URL named after the directory's path instead of ``sqlite:///…/ncii.db``;
the database is cloned from the template (``CREATE DATABASE … TEMPLATE``) the first time a Store opens it.

The name depends only on the path, so a CLI subprocess opening the same ``--data-dir`` finds the same
database: tests/pgsite/sitecustomize.py installs this switch in every Python subprocess that has
``TEST_NCII_PG_SERVER`` in its environment (cli_env keeps it: it drops only NCII_* variables). This module
imports only the standard library and ncii_shield.config at install time, since it runs at interpreter start.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVER = "TEST_NCII_PG_SERVER"  # the server's URL (any database on it): no NCII_ prefix, so cli_env keeps it
TEMPLATE = "ncii_template"
_created: set[str] = set()


def database_name(data_dir: Path) -> str:
    """The database of a data directory: a hash of its resolved path (the same in every process)."""
    return "t_" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:24]


def url_for(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{name}").geturl()


def _conninfo(server_url: str, dbname: str) -> str:
    parts = urlsplit(server_url)
    host = parse_qs(parts.query).get("host", [""])[0]
    return f"host={host} user={parts.username} dbname={dbname}"


def admin(server_url: str, sql: str) -> None:
    """One statement on the server's maintenance database, outside a transaction (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(_conninfo(server_url, "postgres"), autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def ensure_database(url: str) -> None:
    """Clone the migrated template into the database of ``url`` unless it exists (race-safe)."""
    name = urlsplit(url).path.lstrip("/")
    if name in _created:
        return
    import psycopg

    try:
        admin(url, f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    except psycopg.errors.DuplicateDatabase:
        pass
    _created.add(name)


def prepare_template(server_url: str) -> None:
    """Create and migrate the template every test database is cloned from (once per server)."""
    from sqlalchemy import create_engine

    from ncii_shield.store.db import migrate

    admin(server_url, f"CREATE DATABASE {TEMPLATE}")
    engine = create_engine(url_for(server_url, TEMPLATE))
    try:
        migrate(engine)
    finally:
        engine.dispose()


def _ours(server_url: str, url: str) -> bool:
    """A database of this switch on this server (not another test's own server or database)."""
    a, b = urlsplit(server_url), urlsplit(url)
    return a.netloc == b.netloc and a.query == b.query and b.path.startswith("/t_")


_installed = False


def install(server_url: str) -> None:
    """Route every default (SQLite) data directory of this process to its PostgreSQL database."""
    global _installed
    if _installed:
        return
    from ncii_shield import config
    from ncii_shield.store import db

    original_load = config.load_settings
    original_engine = db.make_engine

    def load_settings(data_dir: Any = None, environ: Any = None) -> config.Settings:
        settings = original_load(data_dir, environ)
        if settings.database_url == f"sqlite:///{settings.data_dir / 'ncii.db'}":
            url = url_for(server_url, database_name(settings.data_dir))
            settings = dataclasses.replace(settings, database_url=url)
        return settings

    def make_engine(url: str) -> Any:
        if _ours(server_url, url):
            ensure_database(url)
        return original_engine(url)

    load_settings.__doc__ = original_load.__doc__
    for module in list(sys.modules.values()):  # also where the originals were imported by name already
        if getattr(module, "__name__", "").startswith("ncii_shield"):
            if getattr(module, "load_settings", None) is original_load:
                module.load_settings = load_settings  # type: ignore[attr-defined]
            if getattr(module, "make_engine", None) is original_engine:
                module.make_engine = make_engine  # type: ignore[attr-defined]
    _installed = True


def install_from_environment() -> None:
    server_url = os.environ.get(SERVER)
    if server_url:
        install(server_url)
