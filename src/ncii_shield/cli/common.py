"""What every command module shares: the data directory's store (opened on first use), `--json`, counts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ncii_shield.config import Settings
    from ncii_shield.store.db import Store

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class State:
    """The global options, and the store opened only by a command that needs it (not by `--help`)."""

    data_dir: Path | None = None
    _store: Store | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """Every NCII_* variable, read once (a bad value stops here, naming the variable)."""
        if self._settings is None:
            from ncii_shield.config import load_settings

            self._settings = load_settings(self.data_dir)
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            from ncii_shield.store.db import Store  # SQLAlchemy and the keyring: only when a command opens it

            self._store = Store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


state = State()


def counts(by_kind: Mapping[str, int]) -> str:
    """'5 (exact 1, pdq 2, face 2)', or '0': hits by route (a message found two ways counts twice)."""
    total = sum(by_kind.values())
    return f"{total} ({', '.join(f'{k} {n}' for k, n in by_kind.items())})" if total else "0"
