"""One message object of a Telegram JSON export mapped to an Item: fields cleaned, dates, text, links, media.

Apart from the reader (telegram.py), which only walks the stream: every check on what a message holds is here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ncii_shield.sources.base import Item
from ncii_shield.sources.paths import safe_relative_path

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


@dataclass
class Chat:
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


def set_chat_field(chat: Chat, field: str, value: object) -> None:
    if field == "id":
        chat.id = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    elif field == "name":
        chat.name = value if isinstance(value, str) else None
    else:
        chat.type = value if isinstance(value, str) else None


def message_to_item(message: object, chat: Chat) -> Item:
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
