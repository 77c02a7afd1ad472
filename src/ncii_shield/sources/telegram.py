"""Read a Telegram Desktop "Export chat history" JSON export (result.json) as a stream of items.

Exports reach gigabytes, so result.json is read as a stream of ijson events and only the message
being read is ever held in memory. Every path written in the export is hostile until
`safe_relative_path` accepts it; whether the file exists is left to the scan.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import BinaryIO, Final

import ijson

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.paths import safe_relative_path
from ncii_shield.sources.tree import DirTree, Tree

EXPORT_FILE_NAME: Final = "result.json"
READ_CHUNK: Final = 64 * 1024
FINGERPRINT_SPAN: Final = 1024 * 1024
# Telegram Desktop nests about 8 levels deep (chats.list[].messages[].reactions[].recent[]); a hostile
# file can open a million. Deeper than this is refused: `extra` stays small enough to serialise.
MAX_DEPTH: Final = 64

# Where chats and their messages sit in the two layouts, as ijson prefixes.
_CHAT_PREFIXES: Final = {"": False, "chats.list.item": False, "left_chats.list.item": True}  # -> left?
_MESSAGE_PREFIXES: Final = frozenset(
    f"{chat}.messages.item" if chat else "messages.item" for chat in _CHAT_PREFIXES
)
_CHAT_FIELDS: Final = {
    f"{chat}.{field}" if chat else field: field for chat in _CHAT_PREFIXES for field in ("name", "type", "id")
}
_EXPORT_KEYS: Final = frozenset({"messages", "chats", "left_chats"})

_PLACEHOLDER_REASONS: Final = (
    ("not included", "file not included in export"),
    ("exceeds maximum size", "file exceeds export size limit"),
    ("unavailable", "file unavailable at export time"),
)
# Message fields kept as they are in Item.extra: cheap, small, and useful to a reviewer.
_EXTRA_FIELDS: Final = (
    "media_spoiler",
    "self_destruct_period_seconds",
    "sticker_emoji",
    "action",
    "members",
    "width",
    "height",
    "file_name",
    "file_size",
    "photo_file_size",
    "duration_seconds",
    "reply_to_peer_id",
)


class ControlEscapeFilter:
    """A read-only byte stream that turns Telegram's invalid `\\xNN` escapes into JSON's `\\u00NN`.

    Telegram Desktop writes control characters as `\\xNN`, which no JSON parser accepts. Only a
    backslash that starts an escape counts: in `\\\\x41` the backslash is itself escaped and the bytes
    stay as they are. The one piece of state carried from chunk to chunk is whether the previous chunk
    ended in an odd run of backslashes, so an escape split across two reads is rewritten too.
    """

    _BACKSLASHES_THEN_X: Final = re.compile(rb"\\+x")

    def __init__(self, raw: BinaryIO, chunk_size: int = READ_CHUNK) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._escape_open = False
        self._pending = b""
        self._eof = False
        self.bytes_read = 0
        """Raw bytes consumed from the underlying file so far: locates a parse error."""

    def read(self, size: int = -1) -> bytes:
        """Return up to `size` filtered bytes (all that is left if `size` < 0); b"" at the end."""
        if size == 0:
            return b""
        while not self._eof and (size < 0 or len(self._pending) < size):
            chunk = self._raw.read(self._chunk_size)
            if not chunk:
                self._eof = True
                break
            self.bytes_read += len(chunk)
            self._pending += self._rewrite(chunk)
        if size < 0 or size >= len(self._pending):
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def _rewrite(self, chunk: bytes) -> bytes:
        # A backslash left open by the previous chunk is replayed in front so runs are counted whole.
        carried = self._escape_open
        text = b"\\" + chunk if carried else chunk
        if b"\\x" in text:
            text = self._BACKSLASHES_THEN_X.sub(_rewrite_escape, text)
        trailing = len(text) - len(text.rstrip(b"\\"))
        self._escape_open = trailing % 2 == 1
        return text[1:] if carried else text


def _rewrite_escape(match: re.Match[bytes]) -> bytes:
    """`\\x` after an odd run of backslashes is an escape; after an even run the x is plain text."""
    run = match.group()
    backslashes = len(run) - 1
    return run[:-1] + b"u00" if backslashes % 2 == 1 else run


@dataclass
class _Chat:
    """What is known about the chat whose messages are being read (its fields come first in the file)."""

    index: int
    left: bool = False
    id: str | None = None
    name: str | None = None
    type: str | None = None
    position: int = 0  # index of the next message in this chat's `messages` array
    max_id: int | None = None  # ids ascend in an export: one at or below this may repeat an earlier one

    @property
    def key(self) -> str:
        return self.id if self.id is not None else f"chat-{self.index}"

    @property
    def title(self) -> str | None:
        """Saved Messages and Replies have no name in the JSON; the app's HTML calls them so."""
        return self.name or {"saved_messages": "Saved messages", "replies": "Replies"}.get(self.type or "")


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
    chat = _Chat(index=0)
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
                    yield _message_to_item(builder.value, chat)
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
                yield _message_to_item(value, chat)
            continue
        if event == "start_map" or event == "start_array":
            if len(path) >= MAX_DEPTH:
                raise _too_deep(file_name)
            path.append("" if event == "start_map" else "item")
        if prefix in _CHAT_FIELDS:
            _set_chat_field(chat, _CHAT_FIELDS[prefix], value)
        elif event == "map_key" and prefix == "":
            export_keys_seen = export_keys_seen or value in _EXPORT_KEYS
        elif event == "start_map" and prefix in _CHAT_PREFIXES:
            chats_seen += 1
            chat = _Chat(index=chats_seen - 1, left=_CHAT_PREFIXES[prefix])
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


def _set_chat_field(chat: _Chat, field: str, value: object) -> None:
    if field == "id":
        chat.id = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    elif field == "name":
        chat.name = value if isinstance(value, str) else None
    else:
        chat.type = value if isinstance(value, str) else None


def _message_to_item(message: object, chat: _Chat) -> Item:
    """Map one message object (or whatever stood in its place) to an Item; never raises on bad data."""
    position = chat.position
    chat.position += 1
    extra: dict[str, object] = {"chat_left": True} if chat.left else {}
    if not isinstance(message, dict):
        extra["error"] = f"message #{position} is {type(message).__name__}, not an object"
        return Item(
            external_id=f"{chat.key}/invalid-{position}",
            kind="invalid",
            chat_id=chat.id,
            chat_title=chat.title,
            chat_type=chat.type,
            extra=extra,
        )

    message_id = message.get("id")
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        external_id = f"{chat.key}/{message_id}"
        if chat.max_id is not None and message_id <= chat.max_id:
            # Out of order, perhaps a repeated id: its own id, so it is stored rather than taken for
            # the earlier message (kept by position: stable when the same file is scanned again).
            external_id += f"#{position}"
            extra["out_of_order"] = True
        chat.max_id = max(chat.max_id if chat.max_id is not None else message_id, message_id)
    else:
        external_id = f"{chat.key}/invalid-{position}"
        extra["error"] = f"message #{position} has no integer 'id' (got {_short_repr(message_id)})"
        message_id = None

    date, date_is_local = _date(message)
    if date_is_local:
        extra["date_is_local"] = True
    text, links = _text_and_links(message)
    media_path, media_kind, media_note = _media(message)
    _copy_extra(message, extra)
    return Item(
        external_id=external_id,
        kind=_str(message.get("type")) or "message",
        chat_id=chat.id,
        chat_title=chat.title,
        chat_type=chat.type,
        message_id=message_id,
        sender_id=_id_str(message.get("from_id")) or _id_str(message.get("actor_id")),
        sender_name=_str(message.get("from")) or _str(message.get("actor")),
        date=date,
        forwarded_from=_str(message.get("forwarded_from")),
        saved_from=_str(message.get("saved_from")),
        reply_to=_int(message.get("reply_to_message_id")),
        via_bot=_str(message.get("via_bot")),
        text=text,
        links=links,
        media_path=media_path,
        media_kind=media_kind,
        media_mime=_str(message.get("mime_type")) if media_kind else None,
        media_note=media_note,
        extra=extra,
    )


def _date(message: Mapping[str, object]) -> tuple[datetime | None, bool]:
    """UTC from `date_unixtime`; the local, offset-less `date` only when that is missing (flagged)."""
    unix = _unixtime(message.get("date_unixtime"))
    if unix is not None:
        try:
            return datetime.fromtimestamp(unix, tz=UTC), False
        except (ValueError, OverflowError, OSError):
            pass
    local = message.get("date")
    if isinstance(local, str):
        try:
            parsed = datetime.fromisoformat(local)
        except ValueError:
            return None, False
        if parsed.tzinfo is not None:
            try:
                return parsed.astimezone(UTC), False
            except OverflowError:  # "0001-01-01T00:00+01:00" falls before year 1 in UTC
                return None, False
        return parsed, True
    return None, False


def _text_and_links(message: Mapping[str, object]) -> tuple[str, tuple[str, ...]]:
    """Plain text, plus hidden links (text_link href), visible links and @mentions, deduplicated."""
    entities = message.get("text_entities")
    parts = entities if isinstance(entities, list) and entities else message.get("text")
    if isinstance(parts, str):
        return parts, ()
    if not isinstance(parts, list):
        return "", ()
    texts: list[str] = []
    links: dict[str, None] = {}  # an ordered set
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        text = text if isinstance(text, str) else ""
        texts.append(text)
        href = part.get("href")
        if isinstance(href, str) and href:
            links[href] = None
        if part.get("type") in ("link", "mention") and text:
            links[text] = None
    return "".join(texts), tuple(links)


def _media(message: Mapping[str, object]) -> tuple[str | None, str | None, str | None]:
    """(media_path, media_kind, media_note). The thumbnail is never the media."""
    if "photo" in message:
        raw, kind = message["photo"], "photo"
    elif "file" in message:
        raw, kind = message["file"], _str(message.get("media_type")) or "file"
    else:
        return None, None, None
    path, note = _media_path(raw)
    return path, kind, note


def _media_path(raw: object) -> tuple[str | None, str | None]:
    """(safe relative path, None) or (None, why there is no usable path)."""
    if not isinstance(raw, str) or not raw:
        return None, "media path missing from export"
    if raw.startswith("(File ") and raw.endswith(")"):
        for marker, reason in _PLACEHOLDER_REASONS:
            if marker in raw:
                return None, reason
        return None, f"file not in export: {raw[:80]}"
    safe = safe_relative_path(raw)
    if safe is None:
        return None, f"unsafe media path refused: {repr(raw)[:80]}"
    return safe, None


def _copy_extra(message: Mapping[str, object], extra: dict[str, object]) -> None:
    for key in _EXTRA_FIELDS:
        if key in message:
            extra[key] = message[key]
    edited = _unixtime(message.get("edited_unixtime"))
    if edited is not None:
        extra["edited"] = edited
    elif isinstance(message.get("edited"), str):
        extra["edited_local"] = message["edited"]
    thumbnail = message.get("thumbnail")
    if isinstance(thumbnail, str):
        safe, _ = _media_path(thumbnail)
        if safe is not None:
            extra["thumbnail"] = safe


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unixtime(value: object) -> int | None:
    """Telegram writes unix times as strings of digits ("1724526191")."""
    if isinstance(value, str):
        # Length-capped: int() refuses >4300 digits, and no real timestamp needs more than 20.
        return int(value) if 0 < len(value) <= 20 and value.isascii() and value.isdigit() else None
    return _int(value)


def _id_str(value: object) -> str | None:
    """Sender ids are strings ("user123"); very old exports wrote bare integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _str(value)


def _short_repr(value: object) -> str:
    return repr(value)[:40]


def _one_line(exc: BaseException) -> str:
    """ijson's yajl messages span lines (with a caret diagram) and may be bytes: keep the first line."""
    if isinstance(exc, UnicodeDecodeError):  # yajl passes a lone "\udc00" escape on as bytes Python refuses
        return f"a string is not valid Unicode ({exc.reason}; e.g. a lone surrogate escape)"
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    first = text.strip().splitlines()
    return first[0].strip() if first else type(exc).__name__
