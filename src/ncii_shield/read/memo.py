"""Remembering a case's costly reads between requests, for as long as its hits and enrolled photos stay the same.

At 5,000 hits, reading a case's hit rows opens ~18,000 sealed columns and costs ~250 ms; the review queue,
the spread view and the actors page read them at every load, and reviewers load a page after every decision.
What those rows hold (the messages, the routes that matched, the enrolled photo's label) changes only when a
scan adds hits, a purge deletes them, or a photo is enrolled: rows in ``hits`` and ``refs`` are only ever
inserted or deleted, never edited. So each entry is kept under a *version* read in one indexed query (count
and largest id of the case's hits and references) and is used only while that version is unchanged — in this
process or any other writing to the same database. Decisions are *not* part of what is remembered: they change
with every save, and callers apply the latest ones to the remembered rows (read/hits.py).

Entries live in memory only, per engine (a closed store drops them), at most ``SIZE`` cases, and no longer
than ``TTL`` seconds since they were computed, so opened identifiers do not linger in a long-running server
after their case stops being looked at.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ncii_shield.store.models import Hit, Reference

T = TypeVar("T")

SIZE = 8  # (case, what) entries per engine
TTL = 300.0  # seconds an entry is used after it was computed

_lock = threading.Lock()
_by_engine: weakref.WeakKeyDictionary[Engine, OrderedDict[Hashable, tuple[float, tuple[Any, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)


def case_version(session: Session, case_id: int) -> tuple[Any, ...]:
    """What changes whenever a case's hits or enrolled photos do (rows there are inserted or deleted, never
    edited): their counts and largest ids, in one round trip."""
    row = session.execute(
        select(
            select(func.count(Hit.id)).where(Hit.case_id == case_id).scalar_subquery(),
            select(func.max(Hit.id)).where(Hit.case_id == case_id).scalar_subquery(),
            select(func.count(Reference.id)).where(Reference.case_id == case_id).scalar_subquery(),
            select(func.max(Reference.id)).where(Reference.case_id == case_id).scalar_subquery(),
        )
    ).one()
    return tuple(row)


def remembered(session: Session, case_id: int, what: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s result for this case, reused while the case's version is unchanged (see above)."""
    version = case_version(session, case_id)
    engine = session.get_bind()
    key = (case_id, what)
    now = time.monotonic()
    with _lock:
        entries = _by_engine.get(engine)  # type: ignore[call-overload]
        hit = entries.get(key) if entries is not None else None
        if hit is not None and hit[1] == version and now - hit[0] < TTL:
            entries.move_to_end(key)  # type: ignore[union-attr]
            return hit[2]  # type: ignore[no-any-return]
    value = compute()
    with _lock:
        entries = _by_engine.setdefault(engine, OrderedDict())  # type: ignore[call-overload]
        entries[key] = (now, version, value)
        entries.move_to_end(key)
        for stale in [k for k, (at, _, _) in entries.items() if now - at >= TTL]:
            del entries[stale]
        while len(entries) > SIZE:
            entries.popitem(last=False)
    return value


def has(session: Session, case_id: int, what: Hashable) -> bool:
    """Is ``what`` remembered for the case at its current version (so reading it costs nothing)?"""
    version = case_version(session, case_id)
    with _lock:
        entries = _by_engine.get(session.get_bind())  # type: ignore[call-overload]
        hit = entries.get((case_id, what)) if entries is not None else None
    return hit is not None and hit[1] == version and time.monotonic() - hit[0] < TTL


def forget(session: Session, case_id: int) -> None:
    """Drop everything remembered for a case (a purge calls this: its opened rows must not outlive it)."""
    with _lock:
        entries = _by_engine.get(session.get_bind())  # type: ignore[call-overload]
        if entries is not None:
            for key in [k for k in entries if k[0] == case_id]:
                del entries[key]
