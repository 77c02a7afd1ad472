"""Read a Telegram Desktop "Export chat history" JSON export (result.json) as a stream of items.

Exports reach gigabytes, so result.json is read as a stream of ijson events and only the message
being read is ever held in memory. Every path written in the export is hostile until
`safe_relative_path` accepts it; whether the file exists is left to the scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Final

import ijson

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.control_escapes import READ_CHUNK, ControlEscapeFilter
from ncii_shield.sources.telegram_message import Chat, message_to_item, set_chat_field
from ncii_shield.sources.tree import DirTree, Tree

EXPORT_FILE_NAME: Final = "result.json"
FINGERPRINT_SPAN: Final = 1024 * 1024
# Telegram Desktop nests about 8 levels deep (chats.list[].messages[].reactions[].recent[]); a hostile
# file can open a million. Deeper than this is refused: `extra` stays small enough to serialise.
MAX_DEPTH: Final = 64

__all__ = ["EXPORT_FILE_NAME", "MAX_DEPTH", "READ_CHUNK", "ControlEscapeFilter", "TelegramExport"]

# Where chats and their messages sit in the two layouts, as ijson prefixes.
_CHAT_PREFIXES: Final = {"": False, "chats.list.item": False, "left_chats.list.item": True}  # -> left?
_MESSAGE_PREFIXES: Final = frozenset(
    f"{chat}.messages.item" if chat else "messages.item" for chat in _CHAT_PREFIXES
)
_CHAT_FIELDS: Final = {
    f"{chat}.{field}" if chat else field: field for chat in _CHAT_PREFIXES for field in ("name", "type", "id")
}
_EXPORT_KEYS: Final = frozenset({"messages", "chats", "left_chats"})


class TelegramExport:
    """A Telegram Desktop JSON export: one chat or a whole account (`chats` and `left_chats`)."""

    kind = "telegram_export"

    def __init__(
        self,
        path: Path | None = None,
        *,
        tree: Tree | None = None,
        root: str = "",
        member: str = EXPORT_FILE_NAME,
        assumed_timezone: tzinfo | None = None,
    ) -> None:
        """`path` is result.json itself or the export folder that holds it; or `tree` and the folder
        inside it (`root`, "" or ending in "/") where result.json sits, e.g. in a zip."""
        self.assumed_timezone = assumed_timezone
        if tree is None:
            path = Path(path or ".")
            result = path / EXPORT_FILE_NAME if path.is_dir() else path
            if not result.is_file():
                raise SourceError(
                    f"{result} not found",
                    hint="point at the result.json written by Telegram Desktop's "
                    "'Export chat history' (format: JSON), or at the folder that holds it",
                )
            self.path: Path | None = result
            self.root = result.parent
            tree, root = DirTree(result.parent), ""
            self._member = result.name
        else:
            self.path = None
            self._member = f"{root}{member}"
            if tree.size(self._member) is None:
                raise SourceError(f"{member} not found in {tree.label}")
        self.tree = tree
        self.root_path = root
        self.name = self.path.name if self.path is not None else member
        self._stream: ControlEscapeFilter | None = None
        self.dates_assumed = 0  # messages whose date had no date_unixtime and took the assumed zone

    def describe(self) -> str:
        if self.path is not None:
            return f"Telegram export {self.root.name}"
        return f"Telegram export {self.root_path.rstrip('/') or self.tree.label}"

    def size(self) -> int:
        return self.tree.size(self._member) or 0

    def fingerprint(self) -> str:
        """sha256 of the size, first and last MiB: recognises the same export again without reading it all.

        In a zip, the central directory's sizes and CRCs stand in: seeking to the end of a compressed
        member would decompress all of it."""
        fingerprint = getattr(self.tree, "fingerprint", None)
        if callable(fingerprint):
            return str(fingerprint(""))
        digest = hashlib.sha256()
        try:
            with self.tree.open(self._member) as handle:
                size = handle.seek(0, 2)
                digest.update(f"{size}\n".encode())
                handle.seek(0)
                digest.update(handle.read(FINGERPRINT_SPAN))
                handle.seek(max(0, size - FINGERPRINT_SPAN))
                digest.update(handle.read(FINGERPRINT_SPAN))
        except OSError as exc:
            raise SourceError(f"cannot read {self._member}: {exc.strerror or exc}") from exc
        return digest.hexdigest()

    def position(self) -> tuple[int, int]:
        """(bytes of result.json read so far, its size): a real progress bar for a multi-GB export."""
        return (self._stream.bytes_read if self._stream else 0), self.size()

    def iter_items(self) -> Iterator[Item]:
        """Yield one item per message in file order; raise SourceError where the file stops making sense."""
        try:
            handle = self.tree.open(self._member)
        except (OSError, SourceError) as exc:
            raise SourceError(
                f"cannot open {self._member} in {self.tree.label}: {getattr(exc, 'strerror', None) or exc}",
                hint="check the path and that this account may read it",
            ) from exc
        name = self.name
        with handle:
            if self.size() == 0:
                raise SourceError(f"{name} is empty", hint="export the chat again from Telegram Desktop")
            stream = self._stream = ControlEscapeFilter(handle)
            count = 0
            try:
                for item in _items_from_events(ijson.basic_parse(stream, use_float=True), name):
                    if item.extra.get("date_is_local"):
                        item = self._localise(item)
                    count += 1
                    yield item
            except (ijson.JSONError, UnicodeDecodeError) as exc:
                raise SourceError(
                    f"{name} is malformed near byte {stream.bytes_read:,}: {_one_line(exc)}; "
                    f"the {count:,} items before it were read",
                    hint=f"the error lies in the {READ_CHUNK // 1024} KiB before that offset; if the export "
                    "was interrupted or cut short while copying, export again from Telegram Desktop",
                ) from exc
            except (OSError, EOFError) as exc:
                raise SourceError(
                    f"reading {name} failed after {count:,} items: {getattr(exc, 'strerror', None) or exc}"
                ) from exc

    def _localise(self, item: Item) -> Item:
        """An old export's offset-less date is the exporting machine's local time: apply the assumed zone."""
        self.dates_assumed += 1
        if item.date is None or self.assumed_timezone is None:
            return replace(item, date=None)
        try:
            return replace(item, date=item.date.replace(tzinfo=self.assumed_timezone).astimezone(UTC))
        except OverflowError:
            return replace(item, date=None)


def _items_from_events(events: Iterable[tuple[str, object]], file_name: str) -> Iterator[Item]:
    """Turn ijson basic events into items, building one message object at a time.

    Prefixes ("chats.list.item.messages.item") are tracked here rather than by ijson.parse, which keeps
    a string per open level and so needs memory growing with the square of the depth (100 KB of `[`
    took gigabytes); inside a message only the depth is counted.
    """
    chat = Chat(index=0)
    chats_seen = 0
    export_keys_seen = False
    builder: ijson.ObjectBuilder | None = None
    depth = 0  # containers open inside the message being built
    path: list[str] = []  # one key (or "item") per container open outside a message
    first = True
    for event, value in events:
        if builder is not None:
            builder.event(event, value)
            if event == "start_map" or event == "start_array":
                depth += 1
                if len(path) + depth > MAX_DEPTH:
                    raise _too_deep(file_name)
            elif event == "end_map" or event == "end_array":
                depth -= 1
                if depth == 0:
                    yield message_to_item(builder.value, chat)
                    builder = None
            continue
        if event == "map_key":
            prefix = ".".join(path[:-1])
            path[-1] = str(value)
        elif event == "end_map" or event == "end_array":
            path.pop()
            prefix = ".".join(path)
        else:
            prefix = ".".join(path)
        if first:
            first = False
            if event != "start_map":
                raise _not_an_export(file_name)
            path.append("")
            continue
        if prefix in _MESSAGE_PREFIXES and event != "map_key":
            if event == "start_map" or event == "start_array":
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
                depth = 1
                if len(path) + depth > MAX_DEPTH:
                    raise _too_deep(file_name)
            elif event != "end_map" and event != "end_array":
                yield message_to_item(value, chat)
            continue
        if event == "start_map" or event == "start_array":
            if len(path) >= MAX_DEPTH:
                raise _too_deep(file_name)
            path.append("" if event == "start_map" else "item")
        if prefix in _CHAT_FIELDS:
            set_chat_field(chat, _CHAT_FIELDS[prefix], value)
        elif event == "map_key" and prefix == "":
            export_keys_seen = export_keys_seen or value in _EXPORT_KEYS
        elif event == "start_map" and prefix in _CHAT_PREFIXES:
            chats_seen += 1
            chat = Chat(index=chats_seen - 1, left=_CHAT_PREFIXES[prefix])
    if not export_keys_seen:
        raise _not_an_export(file_name)


def _too_deep(file_name: str) -> SourceError:
    return SourceError(
        f"{file_name} nests arrays or objects more than {MAX_DEPTH} deep, which Telegram Desktop never writes",
        hint="the file is damaged or was not written by Telegram Desktop; export the chat again",
    )


def _not_an_export(file_name: str) -> SourceError:
    return SourceError(
        f"{file_name} is not a Telegram Desktop JSON export (no 'messages' or 'chats')",
        hint="in Telegram Desktop use 'Export chat history' with format 'Machine-readable JSON'",
    )


def _one_line(exc: BaseException) -> str:
    """ijson's yajl messages span lines (with a caret diagram) and may be bytes: keep the first line."""
    if isinstance(exc, UnicodeDecodeError):  # yajl passes a lone "\udc00" escape on as bytes Python refuses
        return f"a string is not valid Unicode ({exc.reason}; e.g. a lone surrogate escape)"
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    first = text.strip().splitlines()
    return first[0].strip() if first else type(exc).__name__
