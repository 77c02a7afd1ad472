"""Who spread the person's photos: every sender and forward source across rooms and exports, for a case.

An actor is a sender id where the export gives one (Telegram's "user123…"), else the name shown. For each:
the copies they posted, those they forwarded from elsewhere, the copies others forwarded from them (when a
forward names them as its origin), the rooms and exports they appear in, their first post, and the messages
themselves as evidence. This only reads provenance already stored for the case's hits; it searches no one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ncii_shield.read.families import actor_key, when_key
from ncii_shield.read.hits import HitRow, list_hits


@dataclass(frozen=True)
class ActorRow:
    key: str  # "id:<sender id>" or "name:<name>"
    sender_id: str | None
    names: tuple[str, ...]  # every name shown for this sender, most used first
    posted: int  # copies they posted themselves
    forwarded: int  # copies they forwarded from another chat or person
    origin_of: int  # copies others forwarded from them
    rooms: tuple[str, ...]
    exports: int  # distinct sources (exports) they appear in
    first_at: datetime | None
    items: tuple[int, ...]  # the messages, as evidence

    def to_json(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "names": list(self.names),
            "rooms": list(self.rooms),
            "items": list(self.items),
        }


def case_actors(session: Session, case_id: int, rows: list[HitRow] | None = None) -> list[ActorRow]:
    """Everyone who posted, forwarded or originated copies in the case's hits; most copies first."""
    rows = list_hits(session, case_id) if rows is None else rows
    by_key: dict[str, list[HitRow]] = defaultdict(list)
    name_key: dict[str, str] = {}
    for row in rows:
        if (key := actor_key(row)) is None:
            continue
        by_key[key].append(row)
        if row.sender:
            name_key.setdefault(row.sender, key)
    origin: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.forwarded_from:
            origin[name_key.get(row.forwarded_from, f"name:{row.forwarded_from}")] += 1
    actors = []
    for key in set(by_key) | set(origin):
        posts = by_key.get(key, [])
        names: dict[str, int] = defaultdict(int)
        for r in posts:
            if r.sender:
                names[r.sender] += 1
        if not names and key.startswith("name:"):
            names[key[5:]] = 0
        dates = [r.date for r in posts if r.date is not None]
        actors.append(
            ActorRow(
                key=key,
                sender_id=key[3:] if key.startswith("id:") else None,
                names=tuple(sorted(names, key=lambda n: (-names[n], n))),
                posted=sum(1 for r in posts if not r.forwarded_from),
                forwarded=sum(1 for r in posts if r.forwarded_from),
                origin_of=origin.get(key, 0),
                rooms=tuple(sorted({r.chat or r.chat_id or "?" for r in posts})),
                exports=len({r.source for r in posts}),
                first_at=min(dates) if dates else None,
                items=tuple(sorted(r.item_id for r in posts)),
            )
        )
    actors.sort(key=lambda a: (-(a.posted + a.forwarded + a.origin_of), when_key(a.first_at), a.key))
    return actors
