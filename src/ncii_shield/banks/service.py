"""Banks in the store: create, import, export, list, change, and (banks/matching.py) match.

Every change here moves the bank change counter in the same transaction (banks/changes.py), which is
how every process's bank index (banks/index.py) knows what changed. Hits are unique per (bank, item,
kind), so matching again adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ncii_shield.banks import changes
from ncii_shield.banks.formats import SUPPORTED, BankEntry, Parsed
from ncii_shield.banks.matching import match_banks as match_banks  # the CLI and scans import it here
from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.store import audit
from ncii_shield.store.models import Bank, BankHit, BankSignal, Item, Source


def _check_name(name: str) -> None:
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():
        raise NciiError(f"invalid bank name {name!r}", hint="use letters, digits, - and _")


def find_bank(session: Session, name: str) -> Bank | None:
    return session.scalar(select(Bank).where(Bank.name == name))


def get_bank(session: Session, name: str, *, create: bool = False, enabled: bool = True) -> Bank:
    """The bank named `name`; NotFound unless `create`, which makes it (enabled as asked)."""
    bank = find_bank(session, name)
    if bank is None:
        if not create:
            raise NotFound(f"no bank named {name!r}", hint="list banks with `ncii-shield bank list`")
        _check_name(name)
        bank = Bank(name=name, enabled=enabled)
        session.add(bank)
        session.flush()
        changes.changed(session, bank, created=True)
    return bank


def import_entries(session: Session, bank: Bank, parsed: Parsed) -> int:
    """Add entries not already in the bank. Returns how many were new."""
    existing = set(
        session.execute(
            select(BankSignal.signal_type, BankSignal.value).where(BankSignal.bank_id == bank.id)
        ).all()
    )
    rows: list[BankSignal] = []
    for entry in parsed.entries:
        key = (entry.signal_type, entry.value)
        if key in existing:
            continue
        existing.add(key)
        rows.append(
            BankSignal(bank_id=bank.id, signal_type=entry.signal_type, value=entry.value, label=entry.label)
        )
    session.add_all(rows)
    session.flush()
    new = len(rows)
    changes.added(session, bank, [(r.id, r.signal_type, r.value) for r in rows])
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


def all_banks(session: Session) -> list[Bank]:
    """Every bank by name (the HMA API lists their configs)."""
    return list(session.scalars(select(Bank).order_by(Bank.name)))


def partial_ratios(session: Session, names: list[str]) -> dict[str, float]:
    """The banks among `names` matched on a coin flip, with their ratio (HMA's /m/lookup)."""
    query = select(Bank.name, Bank.matching_ratio).where(
        Bank.name.in_(names), Bank.matching_ratio.is_not(None)
    )
    return {str(n): float(r) for n, r in session.execute(query)}


def bank_content(session: Session, bank: Bank, content_id: int) -> BankSignal:
    """One banked signal of this bank, or NotFound (a signal of another bank is not found either)."""
    row = session.get(BankSignal, content_id)
    if row is None or row.bank_id != bank.id:
        raise NotFound(f"content '{content_id}' not found")
    return row


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
    changes.dropped(session, bank)
    session.execute(delete(BankHit).where(BankHit.bank_id == bank.id))
    session.execute(delete(BankSignal).where(BankSignal.bank_id == bank.id))
    audit.record(session, "bank.deleted", bank=bank.name)
    session.delete(bank)


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
# The HMA-compatible API (web/hma.py) creates banks and adds single hashes as they come; the bank index
# follows each change in place once it commits (banks/changes.py, banks/index.py).


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


def create_bank(session: Session, name: str, *, enabled: bool = True, ratio: float | None = None) -> Bank:
    """A new, empty bank. Conflict if the name is taken, NciiError if it is not a valid bank name.
    `ratio` is HMA's partial matching ratio (0 < ratio < 1), which makes the bank enabled."""
    if find_bank(session, name) is not None:
        raise Conflict(f"bank {name!r} already exists")
    enabled = enabled if ratio is None else ratio > 0
    bank = get_bank(session, name, create=True, enabled=enabled)
    bank.matching_ratio = _partial(ratio)
    audit.record(session, "bank.created", bank=name, enabled=enabled, **_ratio_detail(bank))
    session.flush()
    return bank


def _partial(ratio: float | None) -> float | None:
    return ratio if ratio is not None and 0.0 < ratio < 1.0 else None


def _ratio_detail(bank: Bank) -> dict[str, object]:
    return {} if bank.matching_ratio is None else {"matching_ratio": bank.matching_ratio}


def update_bank(
    session: Session,
    bank: Bank,
    *,
    name: str | None = None,
    enabled: bool | None = None,
    ratio: float | None = None,
) -> Bank:
    """Rename and/or enable or disable a bank (a disabled bank is kept but not matched), or give it
    HMA's matching ratio (0 disables, 1 enables, between: matched on a coin flip, web/hma_content.py)."""
    done: dict[str, object] = {}
    if name is not None and name != bank.name:
        if find_bank(session, name) is not None:
            raise Conflict(f"bank {name!r} already exists")
        _check_name(name)
        done["renamed_from"], bank.name = bank.name, name
    if ratio is not None:
        enabled = ratio > 0
        if _partial(ratio) != bank.matching_ratio:
            done["matching_ratio"] = bank.matching_ratio = _partial(ratio)
    elif enabled is not None and bank.matching_ratio is not None:
        done["matching_ratio"] = bank.matching_ratio = None
    if enabled is not None and enabled != bank.enabled:
        done["enabled"] = bank.enabled = enabled
    if done:
        audit.record(session, "bank.updated", bank=bank.name, **done)
        session.flush()
        changes.changed(session, bank)
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
    changes.added(session, bank, [(row.id, signal_type, value)])
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
    changes.removed(session, bank, [signal_id])
    return 1
