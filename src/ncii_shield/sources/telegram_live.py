"""Messages read live from a Telegram chat (Telethon) as the same Items a JSON export of that chat gives.

A monitor's account follows chats; each message it fetches is mapped here field by field the way
telegram_message.py maps the export's JSON: the chat id is the bare Telegram id the export writes, senders
are "user<id>"/"channel<id>", forwarded_from is the origin's name, dates are UTC, links come from the same
entities. So a message seen live and again in an export is one message (chat id + message id), and both
show the same provenance. Downloaded media are served from memory by `MemoryTree`, and `LiveBatch` is a
source the existing scan reads: there is one pipeline, not a second matcher. Telethon is imported inside
the functions that need it (CLI start-up stays light).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, BinaryIO

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item

KIND = "telegram_live"
# Service actions under the names Telegram Desktop's export gives them (others keep Telethon's class name).
_ACTIONS = {
    "MessageActionChatCreate": "create_group",
    "MessageActionChannelCreate": "create_channel",
    "MessageActionChatAddUser": "invite_members",
    "MessageActionChatDeleteUser": "remove_members",
    "MessageActionChatJoinedByLink": "join_group_by_link",
    "MessageActionChatJoinedByRequest": "join_group_by_request",
    "MessageActionChatEditTitle": "edit_group_title",
    "MessageActionChatEditPhoto": "edit_group_photo",
    "MessageActionChatDeletePhoto": "delete_group_photo",
    "MessageActionPinMessage": "pin_message",
    "MessageActionChatMigrateTo": "migrate_to_supergroup",
    "MessageActionChannelMigrateFrom": "migrate_from_group",
}


@dataclass(frozen=True)
class LiveChat:
    """A watched chat as the export would name it: bare id, title and export chat type."""

    peer_kind: str  # channel | chat | user
    id: str  # the bare Telegram id, as the export's "id"
    title: str | None
    type: str | None  # private_supergroup, public_channel, private_group, personal_chat, ...
    self_id: int | None = None  # the monitor's own user id: the sender of its outgoing private messages


def chat_of(entity: Any, self_id: int | None = None) -> LiveChat:
    """The LiveChat of a Telethon Channel, Chat or User entity (or a forbidden one: title only)."""
    from telethon.tl import types

    if isinstance(entity, types.Channel | types.ChannelForbidden):
        public = "public" if getattr(entity, "username", None) else "private"
        kind = "channel" if getattr(entity, "broadcast", False) else "supergroup"
        return LiveChat("channel", str(entity.id), entity.title, f"{public}_{kind}", self_id)
    if isinstance(entity, types.Chat | types.ChatForbidden):
        return LiveChat("chat", str(entity.id), entity.title, "private_group", self_id)
    if isinstance(entity, types.User):
        kind = "bot_chat" if entity.bot else "personal_chat"
        return LiveChat("user", str(entity.id), display_name(entity), kind, self_id)
    raise SourceError(f"not a chat: {type(entity).__name__}")


def display_name(entity: Any) -> str | None:
    """The name Telegram Desktop writes for a sender: "First Last" for a user, the title for a chat."""
    if entity is None:
        return None
    title = getattr(entity, "title", None)
    if title:
        return str(title)
    parts = [getattr(entity, "first_name", None), getattr(entity, "last_name", None)]
    name = " ".join(p for p in parts if p)
    return name or None


def peer_string(peer: Any) -> str | None:
    """A Telethon Peer as the export's from_id: "user123", "channel456" or "chat789"."""
    from telethon.tl import types

    if isinstance(peer, types.PeerUser):
        return f"user{peer.user_id}"
    if isinstance(peer, types.PeerChannel):
        return f"channel{peer.channel_id}"
    if isinstance(peer, types.PeerChat):
        return f"chat{peer.chat_id}"
    return None


def media_of(message: Any) -> tuple[str | None, str | None, dict[str, object]]:
    """(media_kind, mime type, extra fields) the export would write for the message's media."""
    from telethon.tl import types

    media = getattr(message, "media", None)
    extra: dict[str, object] = {}
    if getattr(media, "spoiler", False):
        extra["media_spoiler"] = True
    if getattr(media, "ttl_seconds", None):
        extra["self_destruct_period_seconds"] = media.ttl_seconds
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        sizes = [s for s in media.photo.sizes if hasattr(s, "w") and hasattr(s, "h")]
        if sizes:
            largest = max(sizes, key=lambda s: s.w * s.h)
            extra.update(width=largest.w, height=largest.h)
            size = getattr(largest, "size", None) or max(getattr(largest, "sizes", None) or [0])
            if size:  # a progressive JPEG lists the size of each of its scans: the whole file is the last
                extra["photo_file_size"] = size
        return "photo", None, extra
    if not isinstance(media, types.MessageMediaDocument) or not isinstance(media.document, types.Document):
        return None, None, {}
    document = media.document
    kind = "file"
    for attribute in document.attributes:
        if isinstance(attribute, types.DocumentAttributeSticker):
            kind, extra["sticker_emoji"] = "sticker", attribute.alt
        elif isinstance(attribute, types.DocumentAttributeAnimated):
            kind = "animation"
        elif isinstance(attribute, types.DocumentAttributeVideo):
            if kind == "file":
                kind = "video_message" if attribute.round_message else "video_file"
            extra["duration_seconds"] = int(attribute.duration)
            extra.update(width=attribute.w, height=attribute.h)
        elif isinstance(attribute, types.DocumentAttributeAudio):
            kind = "voice_message" if attribute.voice else "audio_file"
            extra["duration_seconds"] = int(attribute.duration)
        elif isinstance(attribute, types.DocumentAttributeFilename):
            extra["file_name"] = attribute.file_name
    extra["file_size"] = document.size
    return kind, document.mime_type or None, extra


def text_and_links(message: Any) -> tuple[str, tuple[str, ...]]:
    """The text, and hidden links (text_url), visible links and @mentions in order, as the export lists them.

    Entity offsets count UTF-16 units, so they are applied to the surrogate-expanded text."""
    from telethon import helpers
    from telethon.tl import types

    text = getattr(message, "message", None) or ""
    links: dict[str, None] = {}
    wide = helpers.add_surrogate(text)
    for entity in sorted(getattr(message, "entities", None) or [], key=lambda e: e.offset):
        piece = helpers.del_surrogate(wide[entity.offset : entity.offset + entity.length])
        if isinstance(entity, types.MessageEntityTextUrl) and entity.url:
            links[entity.url] = None
        elif isinstance(entity, types.MessageEntityUrl | types.MessageEntityMention) and piece:
            links[piece] = None
    return text, tuple(links)


def _sender(message: Any, chat: LiveChat) -> tuple[str | None, str | None]:
    """(sender_id, sender_name) as the export's from_id and from."""
    sender_id = peer_string(getattr(message, "from_id", None))
    sender = getattr(message, "sender", None)
    if sender_id is None:
        if chat.peer_kind == "channel":  # a channel post (or an anonymous admin): the chat itself
            return f"channel{chat.id}", chat.title
        if chat.peer_kind == "user":  # a private chat: the peer, or the monitor for its own messages
            own = getattr(message, "out", False) and chat.self_id is not None
            return (f"user{chat.self_id}", display_name(sender)) if own else (f"user{chat.id}", chat.title)
    return sender_id, display_name(sender)


def _forwarded_from(message: Any) -> tuple[str | None, str | None]:
    """(the origin's name as the export writes it, its "user<id>"/"channel<id>") of a forward."""
    header = getattr(message, "fwd_from", None)
    if header is None:
        return None, None
    origin = peer_string(header.from_id)
    if header.from_name:  # a user who hides their account: only a name
        return header.from_name, origin
    forward = getattr(message, "forward", None)
    entity = (getattr(forward, "sender", None) or getattr(forward, "chat", None)) if forward else None
    return display_name(entity), origin


def message_to_item(
    message: Any, chat: LiveChat, *, media_path: str | None = None, media_note: str | None = None
) -> Item:
    """Map one Telethon Message (or MessageService) to the Item the JSON export gives for it."""
    from telethon.tl import types

    service = isinstance(message, types.MessageService)
    sender_id, sender_name = _sender(message, chat)
    forwarded_from, forwarded_id = _forwarded_from(message)
    text, links = ("", ()) if service else text_and_links(message)
    media_kind, mime, extra = (None, None, {}) if service else media_of(message)
    reply = getattr(message, "reply_to", None)
    reply_to = None
    if isinstance(reply, types.MessageReplyHeader) and reply.reply_to_msg_id is not None:
        reply_to = reply.reply_to_msg_id
        if reply.reply_to_peer_id is not None:
            extra["reply_to_peer_id"] = peer_string(reply.reply_to_peer_id)
    if forwarded_id is not None:
        extra["forwarded_from_id"] = forwarded_id  # live only: the export keeps just the name
    if getattr(message, "grouped_id", None):
        extra["grouped_id"] = str(message.grouped_id)  # live only: one album, as Telegram groups it
    if getattr(message, "edit_date", None) and not getattr(message, "edit_hide", False):
        extra["edited"] = int(message.edit_date.timestamp())
    if service:
        name = type(message.action).__name__
        extra["action"] = _ACTIONS.get(name, name)
    via = getattr(message, "via_bot", None)
    date = message.date.astimezone(UTC) if message.date is not None else None
    return Item(
        external_id=f"{chat.id}/{message.id}",
        kind="service" if service else "message",
        chat_id=chat.id,
        chat_title=chat.title,
        chat_type=chat.type,
        message_id=message.id,
        sender_id=sender_id,
        sender_name=sender_name,
        date=date,
        forwarded_from=forwarded_from,
        reply_to=reply_to,
        via_bot=f"@{via.username}" if getattr(via, "username", None) else None,
        text=text,
        links=links,
        media_path=media_path,
        media_kind=media_kind,
        media_mime=mime if media_kind else None,
        media_note=media_note if media_kind else None,
        extra=extra,
    )


class MemoryTree:
    """Downloaded media, served to the scan from memory: nothing of a chat is written to disk in clear."""

    def __init__(self, label: str, location: str, files: dict[str, bytes] | None = None) -> None:
        self.label, self.location = label, location
        self._files: dict[str, bytes] = dict(files or {})

    def put(self, relative: str, data: bytes) -> None:
        self._files[relative] = data

    def narrowed(self, prefix: str) -> MemoryTree:
        files = {k[len(prefix) :]: v for k, v in self._files.items() if k.startswith(prefix)}
        return MemoryTree(self.label, self.location, files)

    def files(self) -> Iterator[tuple[str, str | None]]:
        for name in sorted(self._files):
            yield name, None

    def size(self, relative: str) -> int | None:
        data = self._files.get(relative)
        return None if data is None else len(data)

    def open(self, relative: str) -> BinaryIO:
        if relative not in self._files:
            raise SourceError(f"{relative} not found in {self.label}")
        return io.BytesIO(self._files[relative])

    def read_bytes(self, relative: str) -> bytes:
        with self.open(relative) as handle:
            return handle.read()

    def sha256(self, relative: str) -> str:
        return hashlib.sha256(self.read_bytes(relative)).hexdigest()

    def close(self) -> None:
        self._files.clear()


class LiveBatch:
    """Messages fetched from one watched chat in one go, with their media: a source `run_scan` reads.

    Every batch of a chat has the same fingerprint, so all of them are one source and a message read
    twice (a retried batch) is stored once."""

    kind = KIND

    def __init__(self, chat: LiveChat, items: Sequence[Item], tree: MemoryTree) -> None:
        self.chat, self.items, self.tree = chat, list(items), tree

    def describe(self) -> str:
        return f"Telegram chat {self.chat.title or self.chat.id} (live)"

    def fingerprint(self) -> str:
        return live_fingerprint(self.chat)

    def iter_items(self) -> Iterator[Item]:
        yield from self.items


def live_fingerprint(chat: LiveChat) -> str:
    """The source fingerprint of a watched chat: stable across runs, not the chat id in clear."""
    return hashlib.sha256(f"{KIND}:{chat.peer_kind}:{chat.id}".encode()).hexdigest()


def chat_location(chat: LiveChat) -> str:
    return f"telegram:{chat.peer_kind}/{chat.id}"
