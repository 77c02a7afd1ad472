"""Sources: where content was collected. `open_source` picks the reader for a path."""

from __future__ import annotations

from pathlib import Path

from ncii_shield.sources.base import Item, Source
from ncii_shield.sources.folder import FolderSource
from ncii_shield.sources.telegram import EXPORT_FILE_NAME, TelegramExport

__all__ = ["FolderSource", "Item", "Source", "TelegramExport", "open_source"]


def open_source(path: Path) -> Source:
    """A Telegram export for result.json or a folder holding one; otherwise a plain folder (or file)."""
    path = Path(path)
    if path.name == EXPORT_FILE_NAME and path.is_file():
        return TelegramExport(path)
    if path.is_dir() and (path / EXPORT_FILE_NAME).is_file():
        return TelegramExport(path)
    return FolderSource(path)
