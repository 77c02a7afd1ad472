"""Reading a source for a scan: the source's row, its items in chunks, and where each item's media file is.

Kept apart from pipeline.py, which writes what is read: these touch no media bytes and write at most the
source's row, so the order and error rules of reading are in one place.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import SourceError
from ncii_shield.media.decode import MAX_FILE_BYTES
from ncii_shield.scan.exports import cleaned, exported_on
from ncii_shield.sources.base import Item as SourceItem
from ncii_shield.sources.base import Source as SourceReader
from ncii_shield.sources.base import position
from ncii_shield.sources.paths import safe_relative_path
from ncii_shield.sources.tree import Tree
from ncii_shield.store.models import Source


def source_fingerprint(reader: SourceReader) -> str:
    fingerprint = getattr(reader, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    return hashlib.sha256(reader.tree.location.encode()).hexdigest()  # a folder is known by where it is


def register_source(session: Session, reader: SourceReader, location: Path) -> Source:
    """The source row for this reader: the same export is recognised again wherever it is moved."""
    fingerprint = source_fingerprint(reader)
    row = session.scalar(select(Source).where(Source.kind == reader.kind, Source.fingerprint == fingerprint))
    if row is None:
        row = Source(
            kind=reader.kind,
            location=str(location),
            name=reader.describe(),
            fingerprint=fingerprint,
            exported_on=exported_on(str(location)),
        )
        session.add(row)
        session.flush()
    return row


def chunks(items: Iterator[SourceItem], size: int) -> Iterator[tuple[list[SourceItem], str | None]]:
    """Chunks of items; the last chunk carries the source error that stopped reading, if any."""
    chunk: list[SourceItem] = []
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except SourceError as exc:
            yield chunk, str(exc)
            return
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk, None
            chunk = []
    yield chunk, None


def read_chunks(
    reader: SourceReader, size: int
) -> Iterator[tuple[list[SourceItem], str | None, tuple[int, int] | None]]:
    """(chunk, the error that stopped reading, how far reading had got), each read when it is asked for."""
    for chunk, error in chunks(iter(reader.iter_items()), size):
        yield [cleaned(item) for item in chunk], error, position(reader)


def locate_media(tree: Tree, item: SourceItem) -> tuple[str | None, str | None]:
    """The media file of an item (its path in the source's tree), or the one-line reason it has none."""
    if item.extra.get("error"):
        return None, str(item.extra["error"])
    if item.media_path is None:
        return None, item.media_note
    relative = item.media_os_path or item.media_path
    if safe_relative_path(relative) is None:
        return None, f"unsafe media path refused: {item.media_path[:80]!r}"
    try:
        size = tree.size(relative)
    except OSError as exc:
        return None, f"media file could not be read: {exc.strerror or exc}"
    if size is None:
        return None, f"media file missing from export: {item.media_path[:120]}"
    if size > MAX_FILE_BYTES:
        return None, f"media file too large ({size} bytes)"
    return relative, None


def json_safe(value: object) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
