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

import contextlib
import dataclasses
import hashlib
import os
import subprocess
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

    with contextlib.suppress(psycopg.errors.DuplicateDatabase):
        admin(url, f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
    _created.add(name)


def clone(server_url: str, source: Path, target: Path) -> None:
    """Make the database of data directory ``target`` a copy of ``source``'s (replacing any it had):
    what copying the directory copies on SQLite. Cloning needs the source idle; else pg_dump | psql."""
    import psycopg

    from tests.pg import pg_bin

    src, dst = database_name(source), database_name(target)
    admin(server_url, f'DROP DATABASE IF EXISTS "{dst}" WITH (FORCE)')
    _created.discard(dst)
    try:
        admin(server_url, f'CREATE DATABASE "{dst}" TEMPLATE "{src}"')
    except psycopg.errors.ObjectInUse:
        admin(server_url, f'CREATE DATABASE "{dst}"')
        bindir, info = pg_bin(), _conninfo(server_url, src)
        dump = subprocess.run([f"{bindir}/pg_dump", "--no-owner", info], check=True, capture_output=True)
        load = [f"{bindir}/psql", "-q", "-v", "ON_ERROR_STOP=1", _conninfo(server_url, dst)]
        subprocess.run(load, input=dump.stdout, check=True, capture_output=True)
    _created.add(dst)


def drop_databases_under(server_url: str, folder: Path) -> int:
    """Drop the databases of every data directory under ``folder`` (a test's own tmp_path, at its end):
    without this, the suite's ~3,000 databases filled ~7 GB of the temporary folder until the server
    stopped. Connections left open (a leaked store, a subprocess) are closed by FORCE. Returns how many."""
    import psycopg

    names = {database_name(Path(d)) for d, _, _ in os.walk(folder)}
    if not names:
        return 0
    with psycopg.connect(_conninfo(server_url, "postgres"), autocommit=True) as connection:
        present = {
            r[0] for r in connection.execute("SELECT datname FROM pg_database WHERE datname LIKE 't_%'")
        }
        dropped = sorted(names & present)
        for name in dropped:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    _created.difference_update(dropped)
    return len(dropped)


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


_installed: set[str] = set()


def _patch_config(module: Any, server_url: str) -> None:
    original = module.load_settings

    def load_settings(data_dir: Any = None, environ: Any = None) -> Any:
        settings = original(data_dir, environ)
        if settings.database_url == f"sqlite:///{settings.data_dir / 'ncii.db'}":
            url = url_for(server_url, database_name(settings.data_dir))
            settings = dataclasses.replace(settings, database_url=url)
        return settings

    load_settings.__doc__ = original.__doc__
    module.load_settings = load_settings


def _patch_db(module: Any, server_url: str) -> None:
    original = module.make_engine

    def make_engine(url: str) -> Any:
        if _ours(server_url, url):
            ensure_database(url)
        return original(url)

    module.make_engine = make_engine


_PATCHES = {"ncii_shield.config": _patch_config, "ncii_shield.store.db": _patch_db}


def _patch(name: str, module: Any, server_url: str) -> None:
    if name in _installed:
        return
    _installed.add(name)
    _PATCHES[name](module, server_url)


class _Finder:
    """Patches ncii_shield.config and ncii_shield.store.db right after they are first imported, so that
    a subprocess imports nothing more than it would (tests/test_cli_imports.py counts its imports)."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in _PATCHES or name in _installed:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader, server_url = spec.loader, self.server_url
        exec_module = loader.exec_module

        def patched_exec(module: Any) -> None:
            exec_module(module)
            _patch(name, module, server_url)

        loader.exec_module = patched_exec  # type: ignore[method-assign]
        return spec


def install(server_url: str) -> None:
    """Route every default (SQLite) data directory of this process to its PostgreSQL database: now for
    the modules already imported (and where their functions were imported by name), else on import."""
    for name in _PATCHES:
        module = sys.modules.get(name)
        if module is None:
            continue
        before = {
            attr: getattr(module, attr) for attr in ("load_settings", "make_engine") if hasattr(module, attr)
        }
        _patch(name, module, server_url)
        for other in list(sys.modules.values()):  # where the original was imported by name already
            if getattr(other, "__name__", "").startswith("ncii_shield") and other is not module:
                for attr, original in before.items():
                    if getattr(other, attr, None) is original:
                        setattr(other, attr, getattr(module, attr))
    sys.meta_path.insert(0, _Finder(server_url))


def install_from_environment() -> None:
    server_url = os.environ.get(SERVER)
    if server_url:
        install(server_url)
