"""Image families and how far each spread: "where are my photos, and how far have they gone?"

A family is everything that derives from one enrolled photo: exact reposts, edits, crops, collage tiles,
stickers, and the person's face pasted elsewhere (the enrolled photo whose reference the strongest route
matched). Copies that are the same file belong together whatever they matched, so two families that share a
file are one. Messages found by their words alone (naming or doxxing the person) form their own group.

For each family: its copies (one per message), the distinct files, the first appearance, every room with its
counts and first/last dates, who posted and who forwarded (by sender id when the export gives one, else by
name), and the forward paths between rooms. Read-only; the pages, the CLI and the report render it.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.read.memo import remembered
from ncii_shield.store.models import Hit, Reference

TEXT_FAMILY = "messages"  # the key of the group of messages found by their text alone


@dataclass(frozen=True)
class Room:
    chat: str  # the chat's title (or its id when the export gave no title)
    chat_id: str | None
    copies: int  # messages of the family in this room
    first_at: datetime | None
    last_at: datetime | None
    posters: int  # distinct senders who posted a copy here
    forwarded: int  # copies that arrived here as forwards


@dataclass(frozen=True)
class Actor:
    """Someone who posted or forwarded copies of the family (by sender id if known, else by name)."""

    key: str
    name: str | None
    sender_id: str | None
    copies: int
    rooms: int
    first_at: datetime | None


@dataclass(frozen=True)
class Path:
    """Copies that reached `to_chat` as forwards from `from_source` (a channel or user, as the export names it)."""

    from_source: str
    to_chat: str
    copies: int


@dataclass(frozen=True)
class Family:
    key: str  # the enrolled photo's SHA-256, or TEXT_FAMILY
    label: str  # the enrolled photo's label, or "messages"
    copies: tuple[HitRow, ...]  # one per message, earliest first (undated last)
    files: int  # distinct media files among the copies
    first: HitRow | None  # the earliest dated copy
    rooms: tuple[Room, ...]  # most copies first
    actors: tuple[Actor, ...]  # most copies first
    paths: tuple[Path, ...]
    undecided: int  # copies nobody has confirmed or rejected yet

    @property
    def top_spreader(self) -> Actor | None:
        return self.actors[0] if self.actors else None


def case_families(
    session: Session, case_id: int, rows: list[HitRow] | None = None, *, spread: bool = True
) -> list[Family]:
    """The case's hits grouped into families, the largest first (`rows`: the case's hit rows, if already read).

    With `spread=False` the rooms, actors and paths are left empty: the review queue needs only the grouping
    and the counts, and skips that work at every page load."""
    rows = list_hits(session, case_id) if rows is None else rows
    photo_of = remembered(session, case_id, "photo of items", lambda: _photo_of_items(session, case_id))
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # an enrolled photo represents the family rather than a file; then the smaller key
            keep, drop = sorted((ra, rb), key=lambda k: (not k.startswith("photo:"), k))
            parent[drop] = keep

    keys: dict[int, str] = {}
    for row in rows:
        photo = photo_of.get(row.item_id)
        key = (
            f"photo:{photo[0]}"
            if photo
            else (f"file:{row.media_sha256}" if row.media_sha256 else TEXT_FAMILY)
        )
        keys[row.item_id] = key
        find(key)
        if row.media_sha256 and key != TEXT_FAMILY:
            union(key, f"file:{row.media_sha256}")
    labels = {f"photo:{sha}": label for sha, label in photo_of.values()}
    groups: dict[str, list[HitRow]] = defaultdict(list)
    for row in rows:
        groups[find(keys[row.item_id])].append(row)
    families = [_family(key, labels, copies, spread) for key, copies in groups.items()]
    families.sort(key=lambda f: (f.key == TEXT_FAMILY, -len(f.copies), f.label))
    return families


def warm(session: Session, case_id: int) -> None:
    """Read and remember what the review queue and the spread view read first (read/memo.py), so the first
    page after a scan in the web app is as quick as the next ones. Costs ~0.5 s at 5,000 hits, off the
    request path (web/scans.py calls it when a scan ends)."""
    for light in (True, False):
        list_hits(session, case_id, light=light)
    remembered(session, case_id, "photo of items", lambda: _photo_of_items(session, case_id))


_warming: set[tuple[int, int]] = set()
_warming_lock = threading.Lock()


def warm_in_background(open_session: Callable[[], AbstractContextManager[Session]], case_id: int) -> None:
    """`warm` in a daemon thread, at most one per store and case at a time: a page that read the case cold
    calls it, so the other pages (the queue after the spread view, or the reverse) find the rows read."""
    key = (id(getattr(open_session, "__self__", open_session)), case_id)  # the store, not its bound method
    with _warming_lock:
        if key in _warming:
            return
        _warming.add(key)

    def run() -> None:
        try:
            with open_session() as session:
                warm(session, case_id)
        except Exception:  # a purge or a closed store meanwhile: the next page reads the rows itself
            pass
        finally:
            with _warming_lock:
                _warming.discard(key)

    threading.Thread(target=run, daemon=True, name=f"warm-case-{case_id}").start()


def _photo_of_items(session: Session, case_id: int) -> dict[int, tuple[str, str]]:
    """Per item, the enrolled photo (SHA-256, label) its strongest route with a reference matched.

    The references are read once each (their labels are sealed), not once per hit."""
    hits = session.execute(
        select(Hit.item_id, Hit.kind, Hit.reference_id).where(
            Hit.case_id == case_id, Hit.reference_id.is_not(None)
        )
    ).all()
    refs = {
        ref_id: (sha, label)
        for ref_id, sha, label in session.execute(
            select(Reference.id, Reference.photo_sha256, Reference.photo_label).where(
                Reference.id.in_({h.reference_id for h in hits})
            )
        )
    }
    best: dict[int, tuple[int, int]] = {}
    for item_id, kind, ref_id in hits:
        if ref_id not in refs:
            continue
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        if item_id not in best or rank < best[item_id][0]:
            best[item_id] = (rank, ref_id)
    return {item_id: refs[ref_id] for item_id, (_, ref_id) in best.items()}


def _family(key: str, labels: dict[str, str], copies: list[HitRow], spread: bool = True) -> Family:
    copies.sort(key=lambda r: (when_key(r.date), r.item_id))
    dated = [r for r in copies if r.date is not None]
    label = TEXT_FAMILY if key == TEXT_FAMILY else labels.get(key, key.split(":", 1)[1][:12])
    return Family(
        key=key.split(":", 1)[1] if ":" in key else key,
        label=label,
        copies=tuple(copies),
        files=len({r.media_sha256 for r in copies if r.media_sha256}),
        first=dated[0] if dated else None,
        rooms=_rooms(copies) if spread else (),
        actors=_actors(copies) if spread else (),
        paths=_paths(copies) if spread else (),
        undecided=sum(1 for r in copies if r.decision is None),
    )


def when_key(moment: datetime | None) -> tuple[bool, float]:
    """Earliest first, undated last, for naive and aware dates alike (exports give both; comparing a naive
    with an aware datetime raises)."""
    if moment is None:
        return (True, 0.0)
    return (False, (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _room_name(row: HitRow) -> str:
    return row.chat or row.chat_id or "?"


def _rooms(copies: list[HitRow]) -> tuple[Room, ...]:
    by_room: dict[str, list[HitRow]] = defaultdict(list)
    for row in copies:
        by_room[_room_name(row)].append(row)
    rooms = []
    for name, rows in by_room.items():
        dates = [r.date for r in rows if r.date is not None]
        rooms.append(
            Room(
                chat=name,
                chat_id=rows[0].chat_id,
                copies=len(rows),
                first_at=min(dates) if dates else None,
                last_at=max(dates) if dates else None,
                posters=len({actor_key(r) for r in rows if actor_key(r)}),
                forwarded=sum(1 for r in rows if r.forwarded_from),
            )
        )
    rooms.sort(key=lambda r: (-r.copies, when_key(r.first_at), r.chat))
    return tuple(rooms)


def actor_key(row: HitRow) -> str | None:
    """Who posted a copy: "id:<sender id>" where the export gives one, else "name:<name>"."""
    return f"id:{row.sender_id}" if row.sender_id else (f"name:{row.sender}" if row.sender else None)


def _actors(copies: list[HitRow]) -> tuple[Actor, ...]:
    by_actor: dict[str, list[HitRow]] = defaultdict(list)
    for row in copies:
        if (key := actor_key(row)) is not None:
            by_actor[key].append(row)
    actors = []
    for key, rows in by_actor.items():
        dates = [r.date for r in rows if r.date is not None]
        names = Counter(r.sender for r in rows if r.sender)
        actors.append(
            Actor(
                key=key,
                name=names.most_common(1)[0][0] if names else None,
                sender_id=rows[0].sender_id,
                copies=len(rows),
                rooms=len({_room_name(r) for r in rows}),
                first_at=min(dates) if dates else None,
            )
        )
    actors.sort(key=lambda a: (-a.copies, when_key(a.first_at), a.key))
    return tuple(actors)


def _paths(copies: list[HitRow]) -> tuple[Path, ...]:
    counts = Counter((r.forwarded_from, _room_name(r)) for r in copies if r.forwarded_from)
    return tuple(
        Path(from_source=source, to_chat=chat, copies=n)
        for (source, chat), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def family_json(family: Family) -> dict[str, object]:
    """A family as `case spread --json` and the API print it: copies by item id, the rest in full."""
    return {
        "key": family.key,
        "label": family.label,
        "copies": len(family.copies),
        "items": [r.item_id for r in family.copies],
        "files": family.files,
        "undecided": family.undecided,
        "first": None
        if family.first is None
        else {"item_id": family.first.item_id, "date": family.first.date, "chat": _room_name(family.first)},
        "rooms": [r.__dict__ for r in family.rooms],
        "actors": [a.__dict__ for a in family.actors],
        "paths": [p.__dict__ for p in family.paths],
    }
