"""Room links: every invite link, channel link and room mention, indexed per message; known aliases.

Rooms grow by passing invite links: a school room posts the link of a "겹지인방", a link-sharing channel
posts the links of many rooms. Every invite link, public channel link and @channel mention found in a
message (its text and its hidden hrefs) becomes a :class:`RoomLink` from the chat it was posted in. A
link leads to a collected chat when it is an alias of that chat (``ncii-shield rooms alias``: the
monitor joined the chat through it); otherwise it points outside what was collected, which is itself
worth knowing: it is where to look next.

Targets are sealed at rest and grouped by a keyed hash, like every other identifier here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError, NotFound
from ncii_shield.store.models import Item, Progress, RoomAlias, RoomLink
from ncii_shield.text.extract import channels, invite_links

ROOMS_SCOPE = "rooms"  # keyring scope whose data key keys the target hashes
_MENTION = re.compile(r"(?<![A-Za-z0-9_.@])@(?P<name>[A-Za-z][A-Za-z0-9_]{4,31})(?![A-Za-z0-9_@.])")
# An @name is a room only when a room word is right next to it ("@name 채널", "join @name");
# otherwise it is usually a person ("문의 @name").
_NEAR = 8
_ROOM_WORDS = re.compile(r"채널|방|그룹|구독|입장|들어와|들어오|channel|group|join|subscribe", re.IGNORECASE)
_BATCH = 2000


def targets(text: str, hrefs: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, normalised target) for every room a message points at, each once, in order of appearance."""
    found: dict[str, str] = {}
    for chunk in (text, *hrefs):
        for span in invite_links(chunk):
            found.setdefault(span.value, "invite_link")
        for span in channels(chunk):
            found.setdefault(span.value, "channel")
    for m in _MENTION.finditer(text):
        near = text[max(0, m.start() - _NEAR) : m.start()] + " " + text[m.end() : m.end() + _NEAR]
        if _ROOM_WORDS.search(near):
            found.setdefault("t.me/" + m.group("name").lower(), "mention")
    return [(kind, value) for value, kind in found.items()]


def normalise_link(link: str) -> str:
    """The normalised form of one room link, or a one-line error saying what is accepted."""
    link = link.strip()
    found = targets(link if not link.startswith("@") else f"channel {link}")
    if len(found) != 1:
        raise NciiError(
            f"not a Telegram room link: {link!r}",
            hint="give an invite link (t.me/+…, t.me/joinchat/…, tg://join?invite=…) or a channel (t.me/name, @name)",
        )
    return found[0][1]


def _key(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def index_links(store, session: Session) -> int:  # type: ignore[no-untyped-def]
    """Record the room links of every message not yet indexed; returns how many links were added."""
    progress = session.get(Progress, "room_links") or Progress(name="room_links", upto_item_id=0)
    session.add(progress)
    secret = store.keyring.key(session, ROOMS_SCOPE)
    added = 0
    while True:
        rows = session.execute(
            select(Item.id, Item.chat_id, Item.text, Item.links)
            .where(Item.id > progress.upto_item_id)
            .order_by(Item.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for item_id, chat_id, text, links in rows:
            for kind, value in targets(text or "", links or ()):
                session.add(
                    RoomLink(
                        item_id=item_id,
                        chat_id=chat_id,
                        kind=kind,
                        target_key=_key(secret, value),
                        target=value,
                    )
                )
                added += 1
        progress.upto_item_id = rows[-1][0]
        session.flush()
    return added


def add_alias(store, session: Session, chat_id: str, link: str) -> bool:  # type: ignore[no-untyped-def]
    """Record that ``link`` leads to the collected chat ``chat_id``; False if it was already known."""
    if session.scalar(select(func.count()).select_from(Item).where(Item.chat_id == chat_id)) == 0:
        raise NotFound(
            f"no collected chat has id {chat_id}", hint="see the chat ids with: ncii-shield rooms CASE"
        )
    value = normalise_link(link)
    key = _key(store.keyring.key(session, ROOMS_SCOPE), value)
    if session.scalar(select(RoomAlias).where(RoomAlias.chat_id == chat_id, RoomAlias.target_key == key)):
        return False
    session.add(RoomAlias(chat_id=chat_id, target_key=key, target=value))
    session.flush()
    return True
