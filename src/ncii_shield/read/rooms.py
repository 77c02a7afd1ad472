"""The room graph of a case: collected chats with the case's hits, and the links between rooms.

Links are indexed incrementally (text/room_links.py) before the graph is read, so the graph always
covers every message stored; that bookkeeping is the one write a read here makes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.read.hits import HitCounts, count_hits
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Hit, Item, RoomAlias, RoomLink
from ncii_shield.text.room_links import index_links

if TYPE_CHECKING:
    from ncii_shield.store.db import Store


@dataclass(frozen=True)
class Chat:
    """A collected chat. ``messages`` counts every message collected from it; ``hits`` its messages with
    the case's hits by strongest route (its first name for ``hit_counts.strongest``)."""

    chat_id: str
    title: str | None
    type: str | None
    messages: Annotated[int, Doc("messages collected from this chat (with a hit or not)")]
    hits: Annotated[
        dict[str, int], Doc("the case's messages here by strongest route (= hit_counts.strongest)")
    ]
    hit_counts: Annotated[HitCounts, Doc("the case's hits here: messages, routes and strongest route")]
    links_in: Annotated[list[str], Doc("known links that lead here")] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["hit_counts"] = dict(self.hit_counts.__dict__)
        return data


@dataclass(frozen=True)
class Edge:
    """Messages in ``from_chat`` pointing at ``target`` (a collected chat when ``to_chat`` is set)."""

    from_chat: str | None
    target: str
    kind: str
    to_chat: Annotated[str | None, Doc("the collected chat the link leads to, if known")]
    messages: Annotated[int, Doc("messages that posted the link")]
    posters: Annotated[int, Doc("distinct senders who posted it")]
    first_seen: datetime | None
    last_seen: datetime | None
    message_ids: list[int]

    def to_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["first_seen"] = self.first_seen.isoformat() if self.first_seen else None
        data["last_seen"] = self.last_seen.isoformat() if self.last_seen else None
        return data


@dataclass(frozen=True)
class RoomGraph:
    """Chats most-hit first, then links most-posted first."""

    chats: list[Chat]
    edges: list[Edge]

    def to_json(self) -> dict[str, object]:
        return {"chats": [c.to_json() for c in self.chats], "edges": [e.to_json() for e in self.edges]}


def room_graph(store: Store, session: Session, case_id: int) -> RoomGraph:
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
    pairs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for item_id, chat_id, kind in session.execute(
        select(Hit.item_id, Item.chat_id, Hit.kind)
        .join(Item, Hit.item_id == Item.id)
        .where(Hit.case_id == case_id)
    ).all():
        pairs[chat_id or ""].append((item_id, kind))
    alias_rows = session.execute(select(RoomAlias.chat_id, RoomAlias.target_key, RoomAlias.target)).all()
    alias_of = {key: chat_id for chat_id, key, _ in alias_rows}
    links_in: dict[str, list[str]] = defaultdict(list)
    for chat_id, _, target in alias_rows:
        links_in[chat_id].append(target)
    chats = []
    for chat_id, count, _ in chat_rows:
        counts = count_hits(pairs.get(chat_id, []))
        chats.append(
            Chat(
                chat_id=chat_id,
                title=titles.get(chat_id, (None, None))[0],
                type=titles.get(chat_id, (None, None))[1],
                messages=count,
                hits=counts.strongest,
                hit_counts=counts,
                links_in=sorted(links_in.get(chat_id, [])),
            )
        )
    chats.sort(key=lambda c: (-c.hit_counts.messages, -c.messages, c.chat_id))
    return RoomGraph(chats, _edges(session, alias_of))


def _edges(session: Session, alias_of: dict[str, str]) -> list[Edge]:
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
    return edges
