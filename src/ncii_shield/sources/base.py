"""The one interface every source implements: yield items with their provenance.

A source is where content was collected (a Telegram Desktop export, a folder, later a live channel
or a web crawl). It only parses: it never decodes media and never touches the database, so it can be
tested on its own and a new source is one new module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ncii_shield.sources.tree import Tree


@dataclass(frozen=True)
class Item:
    """One message, post or file, with where and when it was seen.

    `external_id` is unique within its source and stable across runs: scanning the same source
    twice maps each item to the same row.
    """

    external_id: str
    kind: str = "message"  # message | service | file
    chat_id: str | None = None
    chat_title: str | None = None
    chat_type: str | None = None
    message_id: int | None = None
    sender_id: str | None = None
    sender_name: str | None = None
    date: datetime | None = None  # timezone-aware UTC
    forwarded_from: str | None = None
    saved_from: str | None = None
    reply_to: int | None = None
    via_bot: str | None = None
    text: str = ""
    links: tuple[str, ...] = ()
    media_path: str | None = None  # relative to the source root; already checked to stay inside it
    media_kind: str | None = None  # photo, sticker, animation, video_file, video_message, file
    media_mime: str | None = None
    media_note: str | None = None  # why there is no usable media path (placeholder, unsafe path...)
    # The name the OS knows the file by, when it is not valid UTF-8 and media_path is an escaped form of it.
    media_os_path: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


class Source(Protocol):
    """Anything that can list its items. Media paths resolve in `tree` (a folder, or a zip read in place)."""

    kind: str
    tree: Tree

    def describe(self) -> str:
        """A short human name for listings, e.g. 'Telegram export: 3 chats'."""
        ...

    def iter_items(self) -> Iterator[Item]:
        """Yield items in a stable order. Raise SourceError for damage that stops reading."""
        ...


def position(source: Source) -> tuple[int, int] | None:
    """How far reading has got, as (done, total) in the source's own unit, if the source can tell."""
    tell = getattr(source, "position", None)
    return tell() if callable(tell) else None
