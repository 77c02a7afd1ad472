"""Opening the database: create the data directory, apply migrations, hand out sessions.

SQLite runs in WAL mode with foreign keys on, so a scan killed midway leaves the last committed
batch intact and readers never see half a transaction.

A new data directory is owner-only whatever the umask: the directory and its blobs/ 0700, ncii.db
0600 (SQLite gives its -wal and -shm files the database file's mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError
from ncii_shield.store.blobs_open import open_blob_store
from ncii_shield.store.crypto import (
    DATA_SCOPE,
    Keyring,
    KeySource,
    activate_data_key,
    key_source,
)
from ncii_shield.store.revisions import head_revisions, migrations_dir
from ncii_shield.store.revisions import revision_ids as _revision_ids  # noqa: F401 (tests/test_db_head.py)

if TYPE_CHECKING:
    from alembic.config import Config


def _link_new_events(session: Session, flush_context: object = None, instances: object = None) -> None:
    """``before_flush``: the audit chain (store/chain.py), imported on the first flush: a store opened
    only to read never needs its Ed25519 and witness code."""
    from ncii_shield.store.chain import link_new_events

    link_new_events(session, flush_context, instances)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if make_url(url).get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def current_revisions(engine: Engine) -> set[str]:
    """What the database says it is at: empty for a new database (no ``alembic_version`` table yet)."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "alembic_version"):
            return set()
        return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to call on every start.

    The common case, a schema already at head, costs one query: Alembic is imported only to migrate.
    """
    if current_revisions(engine) == head_revisions():
        return
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def _new_private_dir(path: Path) -> None:
    """Create ``path`` 0700 (its missing parents as the umask says); an existing one is left alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is narrowed by the umask, never widened: make it exact


def _new_private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it is not there (an empty file is an empty SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, FileNotFoundError):
        return  # there already, or its folder is missing: SQLite says so when it opens it
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _create_owner_only(settings: Settings) -> None:
    _new_private_dir(settings.data_dir)
    if settings.blob_dir is not None:  # None: blobs in object storage (NCII_BLOB_URL=s3://…)
        _new_private_dir(settings.blob_dir)
    path = database_path(settings)
    if path is not None and str(path) != ":memory:" and not str(path).startswith("file:"):
        _new_private_file(path)


class Store:
    """The database, its keyring and the blob store of one data directory (or of NCII_BLOB_URL).

    Opening needs the deployment key (see store/crypto.py); `create` initialises a new directory.
    """

    def __init__(
        self, settings: Settings, *, key: KeySource | None = None, create: KeySource | None = None
    ) -> None:
        self.settings = settings
        # The backend NCII_BLOB_URL names; an unreachable one fails here, before anything is created.
        self.blobs = open_blob_store(settings, self.key_for)
        _create_owner_only(settings)
        self.engine = make_engine(settings.database_url)
        try:
            migrate(self.engine)
        except OperationalError as exc:
            raise NciiError(
                f"cannot open the database at {settings.database_url}: {exc.orig}",
                hint="check --data-dir / NCII_DATABASE_URL and that the directory is writable",
            ) from exc
        # info: the settings (audit actor) and which Store a session belongs to (banks/changes.py tells
        # this store's bank index what a commit changed).
        self._sessions = sessionmaker(
            self.engine, expire_on_commit=False, info={"settings": settings, "store": self}
        )
        event.listen(self._sessions, "before_flush", _link_new_events)
        with self._sessions() as session:
            if create is not None:
                self.keyring = Keyring.create(session, create)
            else:
                self.keyring = Keyring.open(session, key or key_source(settings))
            self._data_key = self.keyring.key(session, DATA_SCOPE)
            if create is not None:
                # The signing key exists from the start, so no first checkpoint can race its creation
                # with a concurrent transaction that rolls back.
                from ncii_shield.store.chain import SIGNING_SCOPE

                self.keyring.key(session, SIGNING_SCOPE)
            session.commit()
        self.keyring.committed()

    def key_for(self, scope: str) -> bytes:
        """A scope's data key for reading; it must exist (keys are created in the writer's transaction)."""
        with self._sessions() as session:
            return self.keyring.key(session, scope, create=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error, with encrypted columns readable."""
        deactivate = activate_data_key(self._data_key)
        try:
            with self._sessions() as session:
                try:
                    yield session
                    if session.info.pop("audit_appended", False):
                        from ncii_shield.store.chain import checkpoint

                        checkpoint(self, session)  # the head of the log is signed every time
                    session.commit()
                    self.keyring.committed()
                except BaseException:
                    session.rollback()
                    self.keyring.rolled_back()
                    raise
        finally:
            deactivate()

    def close(self) -> None:
        self.engine.dispose()
        self.blobs.close()


def database_path(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
