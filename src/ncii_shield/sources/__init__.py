"""Sources: where content was collected. `open_sources` recognises what a path holds."""

from __future__ import annotations

import os
from datetime import tzinfo
from pathlib import Path

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

DEFAULT_MAX_EXPORT_BYTES = 64 * 1024**3  # a result.json beyond 64 GiB is refused unless the limit is raised


def max_export_bytes() -> int:
    """The largest result.json accepted; NCII_MAX_EXPORT_BYTES raises or lowers it."""
    raw = os.environ.get("NCII_MAX_EXPORT_BYTES")
    try:
        return int(raw) if raw else DEFAULT_MAX_EXPORT_BYTES
    except ValueError as exc:
        raise SourceError(f"NCII_MAX_EXPORT_BYTES={raw!r} is not a number of bytes") from exc


def check_size(source: Source) -> None:
    """Refuse a result.json over the configured limit before reading a byte of it."""
    if isinstance(source, TelegramExport):
        size, limit = source.size(), max_export_bytes()
        if size > limit:
            raise SourceError(
                f"{source.name} in {source.tree.label} is {size:,} bytes, over the limit of {limit:,}",
                hint="split the export, or raise NCII_MAX_EXPORT_BYTES if this size is expected",
            )


def open_source(path: Path, *, assumed_timezone: tzinfo | None = None) -> Source:
    """The one source a path holds (tests and simple callers); several side by side is an error here."""
    opened, _ = open_all(Path(path), assumed_timezone=assumed_timezone)
    if len(opened.sources) != 1:
        raise SourceError(
            f"{path} holds {len(opened.sources)} exports", hint="scan them with `ncii-shield scan`"
        )
    check_size(opened.sources[0])
    return opened.sources[0]
