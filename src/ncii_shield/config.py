"""Where things live: the data directory and the database URL, from flags or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "./ncii-data"
# Old Telegram exports write local times with no zone; NCII_TIMEZONE or --export-timezone names it.
DEFAULT_TIMEZONE = "Asia/Seoul"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """Resolve settings: explicit argument, then NCII_DATA_DIR, then ./ncii-data.

    NCII_DATABASE_URL selects another database (e.g. PostgreSQL); media stay in the data directory.
    """
    chosen = Path(data_dir or os.environ.get("NCII_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
    url = os.environ.get("NCII_DATABASE_URL") or f"sqlite:///{chosen / 'ncii.db'}"
    return Settings(data_dir=chosen, database_url=url)
