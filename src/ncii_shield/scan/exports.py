"""The same chat exported again: which messages are new, which were seen in an earlier export.

Case workers re-export the same rooms every week, into new folders or zips, as JSON or as HTML. A
message is the same message when its chat and message id match (and its date, when both exports
have one), whatever folder, zip or format it came from. The chat is its Telegram id, or, for HTML
exports (which carry none), a keyed hash of its title: `chat_tag`, also stored for JSON items so a
JSON export and a later HTML one of the same room are recognised as one chat.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.read.sources import list_sources as read_sources
from ncii_shield.sources.base import Item as SourceItem
from ncii_shield.store.models import Item, Media, Source, SourceChat

CHATS_SCOPE = "chats"  # keyring scope whose data key keys the chat-title hashes
_INT32 = 2**31 - 1  # message ids are int4 on PostgreSQL
_LIMITS = {"chat_id": 100, "sender_id": 100, "chat_type": 40, "media_kind": 40}
_EXPORT_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def chat_tag(secret: bytes, title: str | None) -> str | None:
    """A keyed hash of the normalised title: equal for the same room in any export, opaque at rest."""
    if not title:
        return None
    normal = " ".join(unicodedata.normalize("NFC", title).split()).casefold()
    return hmac.new(secret, normal.encode(), hashlib.sha256).hexdigest()[:32]


def chat_key(item: SourceItem, tag: str | None) -> str | None:
    """The chat id to store: Telegram's, or "~" + the title hash for an export that has none."""
    if item.chat_id:
        return item.chat_id
    return f"~{tag[:16]}" if tag else None


def cleaned(item: SourceItem) -> SourceItem:
    """Fields the store could not hold become a reason to skip or are trimmed; never an SQL error."""
    error = None
    if item.message_id is not None and not -_INT32 <= item.message_id <= _INT32:
        error = f"message id {item.message_id} is out of range"
    changes: dict[str, object] = {}
    for name, limit in _LIMITS.items():
        value = getattr(item, name)
        if isinstance(value, str) and len(value) > limit:
            changes[name] = value[:limit]
    if item.reply_to is not None and not -_INT32 <= item.reply_to <= _INT32:
        changes["reply_to"] = None
    if item.date is not None and item.date.tzinfo is None:  # a reader that forgot the zone: no guessing
        changes["date"] = None
        changes["extra"] = {**item.extra, "date_dropped": "the date had no time zone"}
    if len(item.external_id) > 300:
        changes["external_id"] = (
            item.external_id[:236] + "#" + hashlib.sha256(item.external_id.encode()).hexdigest()
        )
    if error:
        changes.update(message_id=None, kind="invalid", extra={**item.extra, "error": error})  # type: ignore[dict-item]
    return replace(item, **changes) if changes else item  # type: ignore[arg-type]


@dataclass(frozen=True)
class Earlier:
    """The latest stored version of a message from another export."""

    item_id: int
    media_sha256: str | None


def earlier_versions(
    session: Session, source_id: int, items: Iterable[tuple[SourceItem, str | None, str | None]]
) -> dict[str, Earlier]:
    """external_id -> the same message stored from another source, for (item, chat key, tag) triples."""
    wanted = [(i, c, t) for i, c, t in items if i.message_id is not None and i.kind != "invalid" and (c or t)]
    if not wanted:
        return {}
    message_ids = {i.message_id for i, _, _ in wanted}
    chats, tags = {c for _, c, _ in wanted if c}, {t for _, _, t in wanted if t}
    # One look-up by chat id, one by title hash, each on its (chat, message id) index: matching on the
    # message id alone would read that message of every chat stored (each chat numbers from 1).
    found_rows: dict[int, tuple[Any, ...]] = {}
    for column, values in ((Item.chat_id, chats), (Item.chat_tag, tags)):
        if not values:
            continue
        for row in session.execute(
            select(Item.id, Item.chat_id, Item.chat_tag, Item.message_id, Item.date, Media.sha256)
            .outerjoin(Media, Media.id == Item.media_id)
            .where(column.in_(values), Item.message_id.in_(message_ids), Item.source_id != source_id)
        ):
            found_rows[row[0]] = tuple(row)
    rows = [found_rows[item_id] for item_id in sorted(found_rows)]
    by_message: dict[int, list[tuple[int, str | None, str | None, datetime | None, str | None]]] = (
        defaultdict(list)
    )
    for item_id, chat_id, tag, message_id, date, sha in rows:
        by_message[message_id].append((item_id, chat_id, tag, date, sha))
    found: dict[str, Earlier] = {}
    for item, chat_id, tag in wanted:
        for item_id, other_chat, other_tag, date, sha in reversed(by_message.get(item.message_id or 0, [])):
            same_chat = (chat_id is not None and chat_id == other_chat) or (
                tag is not None and tag == other_tag and _same_room(chat_id, other_chat)
            )
            same_date = item.date is None or date is None or item.date == date
            if same_chat and same_date:
                found[item.external_id] = Earlier(item_id, sha)
                break
    return found


_LEGACY_SHIFTS = {2**32, 2**33}  # old Desktop versions wrote group and channel ids with a type shift


def _same_room(one: str | None, other: str | None) -> bool:
    """With equal titles: the same room unless both exports carry Telegram ids and those differ.

    An HTML export has no id (a derived "~…" one stands in); an old app version wrote a channel's id
    with its type shift added. Two rooms that both have ids and merely share a title stay apart."""
    if not one or not other or one.startswith("~") or other.startswith("~"):
        return True
    try:
        return abs(int(one) - int(other)) in _LEGACY_SHIFTS
    except ValueError:
        return False


@dataclass
class ChatSeen:
    """One chat as read in this run of the scan."""

    title: str | None
    tag: str | None
    messages: int = 0
    first_date: datetime | None = None
    last_date: datetime | None = None

    def add(self, item: SourceItem) -> None:
        self.messages += 1
        if item.date is not None:
            self.first_date = min(self.first_date or item.date, item.date)
            self.last_date = max(self.last_date or item.date, item.date)


@dataclass
class ChatSummary:
    """What `scan` says of one chat: N new messages since the export of <date>."""

    chat_id: str
    title: str | None
    messages: int
    new: int
    changed: int
    previous_export: str | None = None  # the date of the latest earlier export of this chat
    previous_from_scan: bool = False  # that export's folder had no date: the day it was scanned instead
    previous_sources: list[int] = field(default_factory=list)

    @property
    def repeated(self) -> int:
        return max(0, self.messages - self.new - self.changed)


def exported_on(location: str) -> str | None:
    """Telegram Desktop names export folders ChatExport_YYYY-MM-DD (DataExport_… for a whole account)."""
    match = _EXPORT_DATE.search(location.rsplit("/", 1)[-1]) or _EXPORT_DATE.search(location)
    return match.group(1) if match else None


def record_chats(session: Session, source: Source, seen: dict[str, ChatSeen]) -> list[ChatSummary]:
    """Write this export's per-chat counts and say, for each chat, what is new since its last export.

    A few queries for the whole export, not a few per chat: an account export holds thousands of chats."""
    counts: dict[tuple[str | None, bool], int] = {
        (chat_id, bool(fresh)): n
        for chat_id, fresh, n in session.execute(
            select(Item.chat_id, Item.previous_id.is_(None), func.count())
            .where(Item.source_id == source.id, Item.message_id.is_not(None))
            .group_by(Item.chat_id, Item.previous_id.is_(None))
        )
    }
    rows = {
        r.chat_id: r for r in session.scalars(select(SourceChat).where(SourceChat.source_id == source.id))
    }
    earlier = _earlier_chats(session, source.id, seen)
    summaries = []
    for chat_id, chat in seen.items():
        row = rows.get(chat_id) or SourceChat(source_id=source.id, chat_id=chat_id)
        row.chat_tag, row.chat_title, row.messages = chat.tag, chat.title, chat.messages
        row.new, row.changed = counts.get((chat_id, True), 0), counts.get((chat_id, False), 0)
        row.first_date, row.last_date, row.updated_at = chat.first_date, chat.last_date, datetime.now(UTC)
        session.add(row)
        summary = ChatSummary(chat_id, chat.title, row.messages, row.new, row.changed)
        before = [
            (source_id, on, created)
            for source_id, on, created, other, other_tag in earlier
            if other == chat_id
            or (chat.tag is not None and other_tag == chat.tag and _same_room(chat_id, other))
        ]
        if before:
            summary.previous_sources = [source_id for source_id, _, _ in before]
            _, on, created = before[-1]
            summary.previous_export = on or created.date().isoformat()
            summary.previous_from_scan = on is None
        summaries.append(summary)
    session.flush()
    return summaries


def _earlier_chats(
    session: Session, source_id: int, seen: dict[str, ChatSeen]
) -> list[tuple[int, str | None, datetime, str, str | None]]:
    """(source id, exported on, created, chat id, chat tag) of every other export's chat sharing an id or a
    title hash with one of these, in source order: read in batches, by the chat id and tag indexes."""
    found: dict[int, tuple[int, str | None, datetime, str, str | None]] = {}
    keys = [
        (SourceChat.chat_id, sorted(seen)),
        (SourceChat.chat_tag, sorted({c.tag for c in seen.values() if c.tag})),
    ]
    for column, values in keys:
        for start in range(0, len(values), 500):
            for row_id, *rest in session.execute(
                select(
                    SourceChat.id,
                    Source.id,
                    Source.exported_on,
                    Source.created_at,
                    SourceChat.chat_id,
                    SourceChat.chat_tag,
                )
                .join(Source, SourceChat.source_id == Source.id)
                .where(Source.id != source_id, column.in_(values[start : start + 500]))
            ):
                found[row_id] = tuple(rest)  # type: ignore[assignment]
    return sorted(found.values(), key=lambda r: r[0])


def list_sources(session: Session) -> list[dict[str, object]]:
    """Every source with its chats as that export showed them, as dicts (read/sources.py has the rows)."""
    return [asdict(row) for row in read_sources(session)]
