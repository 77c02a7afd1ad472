"""Sources: where content was collected. `open_sources` recognises what a path holds."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

from ncii_shield.config import SettingError, read_setting
from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item, Source
from ncii_shield.sources.detect import Opened, open_all, open_sources
from ncii_shield.sources.folder import FolderSource
from ncii_shield.sources.telegram import TelegramExport
from ncii_shield.sources.telegram_html import TelegramHtmlExport

__all__ = [
    "FolderSource",
    "Item",
    "Opened",
    "Source",
    "TelegramExport",
    "TelegramHtmlExport",
    "max_export_bytes",
    "open_source",
    "open_sources",
]


def max_export_bytes() -> int:
    """The largest result.json accepted when no `Settings` is given: NCII_MAX_EXPORT_BYTES, read now."""
    try:
        return int(read_setting("max_export_bytes"))
    except SettingError as exc:
        raise SourceError(exc.message, hint=exc.hint) from exc


def check_size(source: Source, limit: int | None = None) -> None:
    """Refuse a result.json over `limit` (``settings.max_export_bytes``) before reading a byte of it."""
    if isinstance(source, TelegramExport):
        size, limit = source.size(), limit or max_export_bytes()
        if size > limit:
            raise SourceError(
                f"{source.name} in {source.tree.label} is {size:,} bytes, over the limit of {limit:,}",
                hint="split the export, or raise NCII_MAX_EXPORT_BYTES if this size is expected",
            )


def open_source(path: Path, *, assumed_timezone: tzinfo | None = None) -> Source:
    """The one source a path holds (tests and simple callers); several side by side is an error here.
    Limits come from the environment as it is now (`scan_path` takes them from the store's settings)."""
    opened, _ = open_all(Path(path), assumed_timezone=assumed_timezone)
    if len(opened.sources) != 1:
        raise SourceError(
            f"{path} holds {len(opened.sources)} exports", hint="scan them with `ncii-shield scan`"
        )
    check_size(opened.sources[0])
    return opened.sources[0]
