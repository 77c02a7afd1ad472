"""The room graph: which chats point to which rooms, and where a case's hits are.

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
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.store.models import Hit, Item, Progress, RoomAlias, RoomLink
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
        raise NciiError(
            f"no collected chat has id {chat_id}", hint="see the chat ids with: ncii-shield rooms CASE"
        )
    value = normalise_link(link)
    key = _key(store.keyring.key(session, ROOMS_SCOPE), value)
    if session.scalar(select(RoomAlias).where(RoomAlias.chat_id == chat_id, RoomAlias.target_key == key)):
        return False
    session.add(RoomAlias(chat_id=chat_id, target_key=key, target=value))
    session.flush()
    return True


@dataclass
class Chat:
    chat_id: str
    title: str | None
    type: str | None
    messages: int
    hits: dict[str, int]  # the case's hits in this chat, by strongest kind
    links_in: list[str] = field(default_factory=list)  # known links that lead here

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Edge:
    """Messages in ``from_chat`` pointing at ``target`` (a collected chat when ``to_chat`` is set)."""

    from_chat: str | None
    target: str
    kind: str
    to_chat: str | None
    messages: int
    posters: int
    first_seen: datetime | None
    last_seen: datetime | None
    message_ids: list[int]

    def to_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["first_seen"] = self.first_seen.isoformat() if self.first_seen else None
        data["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        return data


@dataclass
class RoomGraph:
    chats: list[Chat]
    edges: list[Edge]

    def to_json(self) -> dict[str, object]:
        return {"chats": [c.to_json() for c in self.chats], "edges": [e.to_json() for e in self.edges]}


def room_graph(store, session: Session, case_id: int) -> RoomGraph:  # type: ignore[no-untyped-def]
    """Every collected chat with the case's hits in it, and every link between rooms, most-hit first."""
    index_links(store, session)
    chat_rows = session.execute(
        select(Item.chat_id, func.count(), func.max(Item.id))
        .where(Item.chat_id.is_not(None))
        .group_by(Item.chat_id)
    ).all()
    titles = {
        chat_id: (title, kind)
        for chat_id, title, kind in session.execute(
            select(Item.chat_id, Item.chat_title, Item.chat_type).where(
                Item.id.in_([r[2] for r in chat_rows])
            )
        ).all()
    }
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    strongest: dict[int, tuple[str | None, str]] = {}
    for item_id, chat_id, kind in session.execute(
        select(Hit.item_id, Item.chat_id, Hit.kind)
        .join(Item, Hit.item_id == Item.id)
        .where(Hit.case_id == case_id)
    ).all():
        best = strongest.get(item_id)
        if best is None or KIND_ORDER.index(kind) < KIND_ORDER.index(best[1]):
            strongest[item_id] = (chat_id, kind)
    for chat_id, kind in strongest.values():
        hits[chat_id or ""][kind] += 1
    alias_rows = session.execute(select(RoomAlias.chat_id, RoomAlias.target_key, RoomAlias.target)).all()
    alias_of = {key: chat_id for chat_id, key, _ in alias_rows}
    links_in: dict[str, list[str]] = defaultdict(list)
    for chat_id, _, target in alias_rows:
        links_in[chat_id].append(target)
    chats = [
        Chat(
            chat_id=chat_id,
            title=titles.get(chat_id, (None, None))[0],
            type=titles.get(chat_id, (None, None))[1],
            messages=count,
            hits=dict(hits.get(chat_id, {})),
            links_in=sorted(links_in.get(chat_id, [])),
        )
        for chat_id, count, _ in chat_rows
    ]
    chats.sort(key=lambda c: (-sum(c.hits.values()), -c.messages, c.chat_id))

    grouped: dict[tuple[str | None, str], list[tuple[RoomLink, Item]]] = defaultdict(list)
    for link, item in session.execute(select(RoomLink, Item).join(Item, RoomLink.item_id == Item.id)).all():
        grouped[(link.chat_id, link.target_key)].append((link, item))
    edges = []
    for (chat_id, key), entries in grouped.items():
        to_chat = alias_of.get(key)
        if to_chat is not None and to_chat == chat_id:
            continue  # a room posting its own link (pinned rules): not an edge
        dates = [item.date for _, item in entries if item.date is not None]
        edges.append(
            Edge(
                from_chat=chat_id,
                target=entries[0][0].target,
                kind=entries[0][0].kind,
                to_chat=to_chat,
                messages=len(entries),
                posters=len({item.sender_id for _, item in entries}),
                first_seen=min(dates) if dates else None,
                last_seen=max(dates) if dates else None,
                message_ids=sorted(item.message_id for _, item in entries if item.message_id is not None),
            )
        )
    edges.sort(key=lambda e: (-e.messages, e.from_chat or "", e.target))
    return RoomGraph(chats, edges)
