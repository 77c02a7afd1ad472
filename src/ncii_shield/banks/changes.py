"""The bank change counter, moved in the same transaction as every change to a bank or its hashes.

Bank indexes live in memory in several processes at once (the web server, a CLI import, a scan) and on
disk (banks/index_files.py). Each needs to know, cheaply and for certain, whether the banks changed since
it read them. One counter row (`bank_counter`) is incremented by every change, and the changed bank is
stamped with the new value (`banks.version`; `banks.removed_at` too when hashes were removed or the bank
was created). Counter values are never reused, so a stamp names one state of one bank for good: an index
that holds a bank at the stamp the store shows holds exactly the store's hashes.

After the transaction commits, the changes are handed to this process's index for the store (if one is
listening), which applies them in place instead of reading the banks again (`BankIndexes.committed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ncii_shield.store.models import Bank, BankCounter

Row = tuple[int, str, bytes]  # (bank signal id, signal type, value)

_PENDING = "bank_changes"  # session.info key: the Changes of the open transaction
STORE = "store"  # session.info key under which Store.session() puts its Store


@dataclass
class Changes:
    """What one committed transaction did to the banks, in order, and the counter around it."""

    base: int  # the counter before the transaction's first change
    final: int = 0  # the counter after its last
    ops: list[tuple[str, int, Any]] = field(default_factory=list)  # (op, bank id, payload)
    stamps: dict[int, tuple[str, bool, int, int]] = field(default_factory=dict)  # name, enabled, stamps
    # Banks read whole inside the transaction (to match before committing), with the counter then: if
    # it did not move after, the index may take the copy instead of indexing the same hashes again.
    built: dict[int, tuple[int, Any]] = field(default_factory=dict)


class Listener(Protocol):
    def committed(self, changes: Changes) -> None: ...


_listeners: WeakKeyDictionary[Any, Listener] = WeakKeyDictionary()


def listen(store: Any, listener: Listener) -> None:
    """Hand `listener` the changes of every transaction of `store` that commits in this process."""
    _listeners[store] = listener


def listener_for(store: Any) -> Listener | None:
    return _listeners.get(store) if store is not None else None


def current(session: Session) -> int:
    """The counter as the session sees it."""
    return int(session.scalar(select(BankCounter.value).where(BankCounter.id == 1)) or 0)


def _bump(session: Session) -> int:
    statement = (
        update(BankCounter)
        .where(BankCounter.id == 1)
        .values(value=BankCounter.value + 1)
        .returning(BankCounter.value)
    )
    value = int(session.execute(statement).scalar_one())
    changes = session.info.get(_PENDING)
    if changes is None:
        changes = session.info[_PENDING] = Changes(base=value - 1)
    changes.final = value
    return value


def changed(session: Session, bank: Bank, *, created: bool = False) -> None:
    """The bank was created, renamed, enabled or disabled."""
    _stamp(session, bank, "set", None, removed=created)


def added(session: Session, bank: Bank, rows: list[Row]) -> None:
    """Hashes were added to the bank (their ids are assigned: flush first)."""
    if rows:
        _stamp(session, bank, "add", rows, removed=False)


def removed(session: Session, bank: Bank, ids: list[int]) -> None:
    """Hashes were removed from the bank."""
    if ids:
        _stamp(session, bank, "remove", ids, removed=True)


def dropped(session: Session, bank: Bank) -> None:
    """The bank is being deleted, with its hashes."""
    _bump(session)
    changes: Changes = session.info[_PENDING]
    changes.ops.append(("drop", bank.id, None))
    changes.stamps.pop(bank.id, None)


def built(session: Session, bank_id: int, hashes: Any) -> None:
    """A bank was read whole through this session after its changes (banks/matching.py)."""
    changes = session.info.get(_PENDING)
    if changes is not None:
        changes.built[bank_id] = (changes.final, hashes)


def _stamp(session: Session, bank: Bank, op: str, payload: Any, *, removed: bool) -> None:
    value = _bump(session)
    bank.version = value
    if removed:
        bank.removed_at = value
    session.flush()
    changes: Changes = session.info[_PENDING]
    changes.ops.append((op, bank.id, payload))
    changes.stamps[bank.id] = (bank.name, bank.enabled, bank.version, bank.removed_at)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    changes = session.info.pop(_PENDING, None)
    if changes is None:
        return
    listener = listener_for(session.info.get(STORE))
    if listener is not None:
        listener.committed(changes)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
