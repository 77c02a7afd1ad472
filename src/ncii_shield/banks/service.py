"""Banks in the store: import, export, list, and matching them against everything stored.

Matching runs the other way round from a case: a bank may hold millions of hashes, so the bank goes
into the multi-index PDQ index (index/pdq_index.py) and every stored PDQ is looked up in it. Hits are
unique per (bank, item, kind), so matching again adds nothing twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ncii_shield.banks.formats import SUPPORTED, BankEntry, Parsed
from ncii_shield.errors import NciiError
from ncii_shield.index.pdq_index import PDQIndex
from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY, as_words
from ncii_shield.store import audit
from ncii_shield.store.models import Bank, BankHit, BankSignal, Item, Media, Signal, Source


def get_bank(session: Session, name: str, *, create: bool = False) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        if not create:
            raise NciiError(f"no bank named {name!r}", hint="list banks with `ncii-shield bank list`")
        if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():
            raise NciiError(f"invalid bank name {name!r}", hint="use letters, digits, - and _")
        bank = Bank(name=name)
        session.add(bank)
        session.flush()
    return bank


def import_entries(session: Session, bank: Bank, parsed: Parsed) -> int:
    """Add entries not already in the bank. Returns how many were new."""
    existing = set(
        session.execute(
            select(BankSignal.signal_type, BankSignal.value).where(BankSignal.bank_id == bank.id)
        ).all()
    )
    new = 0
    for entry in parsed.entries:
        key = (entry.signal_type, entry.value)
        if key in existing:
            continue
        existing.add(key)
        session.add(
            BankSignal(bank_id=bank.id, signal_type=entry.signal_type, value=entry.value, label=entry.label)
        )
        new += 1
    session.flush()
    audit.record(session, "bank.imported", bank=bank.name, new=new, skipped_types=dict(parsed.skipped_types))
    return new


def export_entries(session: Session, bank: Bank) -> list[BankEntry]:
    rows = session.scalars(select(BankSignal).where(BankSignal.bank_id == bank.id).order_by(BankSignal.id))
    return [BankEntry(r.signal_type, r.value, r.label) for r in rows]


@dataclass(frozen=True)
class BankSummary:
    id: int
    name: str
    enabled: bool
    signals: dict[str, int]
    hits: int


def list_banks(session: Session) -> list[BankSummary]:
    counts: dict[int, dict[str, int]] = {}
    for bank_id, kind, n in session.execute(
        select(BankSignal.bank_id, BankSignal.signal_type, func.count()).group_by(
            BankSignal.bank_id, BankSignal.signal_type
        )
    ):
        counts.setdefault(bank_id, {})[kind] = n
    hits = dict(
        session.execute(
            select(BankHit.bank_id, func.count(func.distinct(BankHit.item_id))).group_by(BankHit.bank_id)
        ).all()
    )
    return [
        BankSummary(b.id, b.name, b.enabled, counts.get(b.id, {}), hits.get(b.id, 0))
        for b in session.scalars(select(Bank).order_by(Bank.name))
    ]


def delete_bank(session: Session, bank: Bank) -> None:
    session.execute(delete(BankHit).where(BankHit.bank_id == bank.id))
    session.execute(delete(BankSignal).where(BankSignal.bank_id == bank.id))
    audit.record(session, "bank.deleted", bank=bank.name)
    session.delete(bank)


def match_banks(session: Session, bank_ids: list[int] | None = None) -> Counter[str]:
    """Record a bank hit for every item whose media matches an enabled bank. Returns new hits by bank."""
    query = select(Bank).where(Bank.enabled.is_(True))
    if bank_ids is not None:
        query = query.where(Bank.id.in_(bank_ids))
    new: Counter[str] = Counter()
    for bank in session.scalars(query).all():
        found = _exact(session, bank) + _pdq(session, bank)
        if found and (count := _record(session, bank, found)):
            new[bank.name] += count
    return new


def _exact(session: Session, bank: Bank) -> list[tuple[int, int, str, float | None]]:
    sha = {
        v.hex(): i
        for i, v in session.execute(
            select(BankSignal.id, BankSignal.value).where(
                BankSignal.bank_id == bank.id, BankSignal.signal_type == "sha256"
            )
        )
    }
    if not sha:
        return []
    rows = session.execute(select(Media.id, Media.sha256).where(Media.sha256.in_(list(sha))))
    return [(media_id, sha[digest], "exact", None) for media_id, digest in rows]


def _pdq(session: Session, bank: Bank) -> list[tuple[int, int, str, float | None]]:
    """Stored PDQs against the bank, through the multi-index PDQ index (exact at distance <= 31)."""
    bank_rows = session.execute(
        select(BankSignal.id, BankSignal.value).where(
            BankSignal.bank_id == bank.id, BankSignal.signal_type == "pdq"
        )
    ).all()
    if not bank_rows:
        return []
    index = PDQIndex()
    index.add(np.array([i for i, _ in bank_rows], dtype=np.int64), as_words([v for _, v in bank_rows]))
    media = session.execute(
        select(Signal.media_id, Signal.value).where(Signal.kind == "pdq", Signal.quality >= MIN_QUALITY)
    ).all()
    found: list[tuple[int, int, str, float | None]] = []
    for start in range(0, len(media), 10_000):
        chunk = media[start : start + 10_000]
        results = index.search(as_words([v for _, v in chunk]), threshold=MATCH_THRESHOLD)
        for (media_id, _), matches in zip(chunk, results, strict=True):
            if matches:
                signal_id, distance = matches[0]  # nearest first
                found.append((media_id, int(signal_id), "pdq", float(distance)))
    return found


def _record(session: Session, bank: Bank, found: list[tuple[int, int, str, float | None]]) -> int:
    existing = set(
        session.execute(select(BankHit.item_id, BankHit.kind).where(BankHit.bank_id == bank.id)).all()
    )
    by_media: dict[int, list[tuple[int, str, float | None]]] = {}
    for media_id, signal_id, kind, distance in found:
        by_media.setdefault(media_id, []).append((signal_id, kind, distance))
    new = 0
    media_ids = list(by_media)
    for start in range(0, len(media_ids), 500):
        for item_id, media_id in session.execute(
            select(Item.id, Item.media_id).where(Item.media_id.in_(media_ids[start : start + 500]))
        ):
            for signal_id, kind, distance in by_media[media_id]:
                if (item_id, kind) not in existing:
                    existing.add((item_id, kind))
                    session.add(
                        BankHit(
                            bank_id=bank.id,
                            item_id=item_id,
                            media_id=media_id,
                            bank_signal_id=signal_id,
                            kind=kind,
                            distance=distance,
                        )
                    )
                    new += 1
    if new:
        audit.record(session, "bank.matched", bank=bank.name, new_hits=new)
    session.flush()
    return new


@dataclass(frozen=True)
class BankHitRow:
    bank: str
    kind: str
    distance: float | None
    signal: str
    source: str
    chat: str | None
    message_id: int | None
    sender: str | None
    date: str | None
    media_path: str | None


def bank_hits(session: Session, bank: Bank) -> list[BankHitRow]:
    rows = session.execute(
        select(BankHit, BankSignal, Item, Source.name)
        .join(BankSignal, BankHit.bank_signal_id == BankSignal.id)
        .join(Item, BankHit.item_id == Item.id)
        .join(Source, Item.source_id == Source.id)
        .where(BankHit.bank_id == bank.id)
        .order_by(BankHit.id)
    ).all()
    return [
        BankHitRow(
            bank.name,
            h.kind,
            h.distance,
            f"{s.signal_type} {s.value.hex()}",
            src,
            i.chat_title,
            i.message_id,
            i.sender_name,
            i.date.isoformat() if i.date else None,
            i.media_path,
        )
        for h, s, i, src in rows
    ]


# ------------------------------------------------------------------ one bank or signal at a time
# The HMA-compatible API (web/hma.py) creates banks and adds single hashes as they come, and keeps an
# in-memory index per bank that follows these changes without rebuilding (see BankIndexes there).

# The audit actions that change what a bank holds or whether it is matched.
BANK_ACTIONS = (
    "bank.created",
    "bank.updated",
    "bank.imported",
    "bank.deleted",
    "bank.signal_added",
    "bank.signal_removed",
)


def parse_signal(signal_type: str, text: str) -> tuple[str, bytes]:
    """(signal type, value) from their text forms; NciiError naming exactly what is wrong.

    Lenient in case (HMA itself wants lowercase hex) but strict in length and alphabet, so a truncated
    or mistyped hash is refused rather than stored as a hash that matches nothing.
    """
    kind = signal_type.strip().lower()
    if kind not in SUPPORTED:
        raise NciiError(f"No such SignalType '{signal_type}'", hint=f"supported: {', '.join(SUPPORTED)}")
    value = text.strip().lower()
    want = 2 * SUPPORTED[kind]
    if len(value) != want:
        raise NciiError(f"invalid {kind} signal: a {kind} hash has {want} hex characters, got {len(value)}")
    if value.strip("0123456789abcdef"):
        raise NciiError(f"invalid {kind} signal: only hex characters 0-9 and a-f are allowed")
    return kind, bytes.fromhex(value)


def create_bank(session: Session, name: str, *, enabled: bool = True) -> Bank:
    """A new, empty bank. NciiError if the name is taken or not a valid bank name."""
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise NciiError(f"bank {name!r} already exists")
    bank = get_bank(session, name, create=True)
    bank.enabled = enabled
    audit.record(session, "bank.created", bank=name, enabled=enabled)
    session.flush()
    return bank


def update_bank(
    session: Session, bank: Bank, *, name: str | None = None, enabled: bool | None = None
) -> Bank:
    """Rename and/or enable or disable a bank (a disabled bank is kept but not matched)."""
    changes: dict[str, object] = {}
    if name is not None and name != bank.name:
        if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
            raise NciiError(f"bank {name!r} already exists")
        if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():
            raise NciiError(f"invalid bank name {name!r}", hint="use letters, digits, - and _")
        changes["renamed_from"], bank.name = bank.name, name
    if enabled is not None and enabled != bank.enabled:
        changes["enabled"] = bank.enabled = enabled
    if changes:
        audit.record(session, "bank.updated", bank=bank.name, **changes)
        session.flush()
    return bank


def add_signal(
    session: Session, bank: Bank, signal_type: str, value: bytes, *, label: str | None = None
) -> tuple[BankSignal, bool]:
    """Add one signal; returns (its row, whether it is new). A signal already in the bank is not added
    twice (the row already there is returned), so retrying a request is harmless."""
    if signal_type not in SUPPORTED or len(value) != SUPPORTED[signal_type]:
        raise NciiError(f"invalid {signal_type} signal of {len(value)} bytes")
    row = session.scalar(
        select(BankSignal).where(
            BankSignal.bank_id == bank.id, BankSignal.signal_type == signal_type, BankSignal.value == value
        )
    )
    if row is not None:
        return row, False
    row = BankSignal(bank_id=bank.id, signal_type=signal_type, value=value, label=label)
    session.add(row)
    session.flush()
    audit.record(session, "bank.signal_added", bank=bank.name, signal_id=row.id, signal_type=signal_type)
    return row, True


def remove_signal(session: Session, bank: Bank, signal_id: int) -> int:
    """Remove one signal of the bank and the hits it made; returns 1 if it was there, else 0."""
    row = session.get(BankSignal, signal_id)
    if row is None or row.bank_id != bank.id:
        return 0
    session.execute(delete(BankHit).where(BankHit.bank_signal_id == signal_id))
    session.delete(row)
    audit.record(session, "bank.signal_removed", bank=bank.name, signal_id=signal_id)
    session.flush()
    return 1


def signal_rows(
    session: Session, *, after_id: int = 0, bank_id: int | None = None, chunk: int = 50_000
) -> Iterator[list[tuple[int, int, str, bytes]]]:
    """(id, bank id, signal type, value) of stored signals with id > ``after_id``, in id order, in chunks:
    how an in-memory index loads millions of signals without holding every row object at once."""
    last = after_id
    while True:
        query = select(BankSignal.id, BankSignal.bank_id, BankSignal.signal_type, BankSignal.value).where(
            BankSignal.id > last
        )
        if bank_id is not None:
            query = query.where(BankSignal.bank_id == bank_id)
        rows = [tuple(r) for r in session.execute(query.order_by(BankSignal.id).limit(chunk)).all()]
        if not rows:
            return
        yield rows  # type: ignore[misc]
        last = rows[-1][0]


def signal_counts(session: Session) -> dict[int, int]:
    """Signals per bank id."""
    return dict(
        session.execute(select(BankSignal.bank_id, func.count()).group_by(BankSignal.bank_id)).all()  # type: ignore[arg-type]
    )
