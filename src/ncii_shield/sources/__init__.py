"""Sources: where content was collected. `open_source` picks the reader for a path."""

from __future__ import annotations

import os
from pathlib import Path

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item, Source
from ncii_shield.sources.folder import FolderSource
from ncii_shield.sources.telegram import EXPORT_FILE_NAME, TelegramExport

__all__ = ["FolderSource", "Item", "Source", "TelegramExport", "max_export_bytes", "open_source"]

DEFAULT_MAX_EXPORT_BYTES = 64 * 1024**3  # a result.json beyond 64 GiB is refused unless the limit is raised


def max_export_bytes() -> int:
    """The largest result.json accepted; NCII_MAX_EXPORT_BYTES raises or lowers it."""
    raw = os.environ.get("NCII_MAX_EXPORT_BYTES")
    try:
        return int(raw) if raw else DEFAULT_MAX_EXPORT_BYTES
    except ValueError as exc:
        raise SourceError(f"NCII_MAX_EXPORT_BYTES={raw!r} is not a number of bytes") from exc


def open_source(path: Path) -> Source:
    """A Telegram export for result.json or a folder holding one; otherwise a plain folder (or file)."""
    path = Path(path)
    if (path.name == EXPORT_FILE_NAME and path.is_file()) or (
        path.is_dir() and (path / EXPORT_FILE_NAME).is_file()
    ):
        export = TelegramExport(path)
        size, limit = export.path.stat().st_size, max_export_bytes()
        if size > limit:
            raise SourceError(
                f"{export.path} is {size:,} bytes, over the limit of {limit:,}",
                hint="split the export, or raise NCII_MAX_EXPORT_BYTES if this size is expected",
            )
        return export
    return FolderSource(path)
