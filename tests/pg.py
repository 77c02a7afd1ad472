"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, a unix socket, no TCP.

Uses the Debian `postgresql` package (.ci/run installs it). As root, the server runs as the
`postgres` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextmanager
def temporary_postgres(options: str = "") -> Iterator[str]:
    """Yield an SQLAlchemy URL of a fresh, empty database; stop and delete the server afterwards.

    ``options`` are more ``-c name=value`` server settings (the suite's switch raises max_connections)."""
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="ncii-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "--no-sync"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(base / "log"),
                "-o",
                f"-k {sock} -c listen_addresses='' -c fsync=off {options}".strip(),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*prefix, str(bindir / "createdb"), "-h", str(sock), "-U", user, "ncii"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://{user}@/ncii?host={sock}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


class RawDb:
    """A DB-API connection to a PostgreSQL store that takes the SQLite dialect the tamper tests write
    (``?`` parameters, ``zeroblob``, ``x'..'`` blobs, ``executescript``): the same edits, made behind the
    application's back, on either database. Commits when its ``with`` block ends without an error."""

    def __init__(self, url: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        self._connection = psycopg.connect(
            host=u.query.get("host"), user=u.username, dbname=u.database, autocommit=False
        )

    @staticmethod
    def translate(sql: str) -> str:
        import re

        sql = re.sub(r"zeroblob\((\d+)\)", r"decode(repeat('00', \1), 'hex')", sql)
        sql = re.sub(r"\bx'([0-9a-fA-F]*)'", r"decode('\1', 'hex')", sql)
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> object:
        return self._connection.execute(self.translate(sql), params)  # type: ignore[arg-type]

    def copy(self, statement: str) -> object:
        return self._connection.cursor().copy(statement)  # type: ignore[arg-type]

    def executescript(self, script: str) -> None:
        for statement in filter(str.strip, script.split(";")):
            self.execute(statement)

    def __enter__(self) -> RawDb:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self._connection.commit()
        else:
            self._connection.rollback()
        self._connection.close()
