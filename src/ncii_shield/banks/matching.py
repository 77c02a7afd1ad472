"""Matching banks against everything stored, through the one bank index (banks/index.py).

Matching runs the other way round from a case: a bank may hold millions of hashes, so it is the bank
that is indexed and every stored PDQ that is looked up in it. The index reflects committed banks; a
bank changed in the caller's own transaction (`ncii-shield bank import` matches before it commits) is
searched as the index holds it plus the hashes added since, or read whole if that does not add up.
Every hit is checked against the hash stored in the database before it is recorded: the index is an
accelerator and its files could have been edited, the database is the truth.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.banks import changes
from ncii_shield.banks.bank_hashes import EXACT_KINDS, BankHashes
from ncii_shield.banks.index import BankIndexes, bank_index, bank_rows, read_bank
from ncii_shield.signals.pdq import MIN_QUALITY, as_words
from ncii_shield.signals.registry import kind as signal_kind
from ncii_shield.store import audit
from ncii_shield.store.models import Bank, BankHit, BankSignal, Item, Media, Signal

PDQ = signal_kind("pdq")  # a bank's PDQ hashes match as the pdq kind does: its distance, its threshold

Found = tuple[int, int, str, float | None]  # (media id, bank signal id, kind, distance)
Group = tuple[list[Found], bytes | None]  # one media's candidates, nearest first, and the PDQ looked up
QUERY_CHUNK = 10_000


@dataclass
class _Searcher:
    """One bank as this session sees it: the shared index's copy (if it applies) plus private parts."""

    bank_id: int
    shared: BankIndexes | None
    parts: list[BankHashes]

    def pdq(self, words: np.ndarray) -> list[list[tuple[int, int]]]:
        found: list[list[tuple[int, int]]] = [[] for _ in range(len(words))]
        results = [part.search_pdq(words) for part in self.parts]
        if self.shared is not None:
            shared = self.shared.search_bank(self.bank_id, words)  # None: dropped since (not matched)
            results.append(shared if shared is not None else [[] for _ in range(len(words))])
        for result in results:
            for mine, more in zip(found, result, strict=True):
                mine.extend(more)
        return [sorted(hits, key=lambda h: (h[1], h[0])) for hits in found]

    def exact(self, kind: str) -> dict[bytes, list[int]]:
        held = self.shared.exact_values(self.bank_id, kind) if self.shared is not None else {}
        for part in self.parts:
            for value, ids in part.exact.get(kind, {}).items():
                held.setdefault(value, []).extend(sorted(ids))
        return held


def _searcher(session: Session, index: BankIndexes | None, bank: Bank) -> _Searcher:
    count = session.scalar(select(func.count()).where(BankSignal.bank_id == bank.id)) or 0
    held = index.stamps(bank.id) if index is not None else None
    if held is not None:
        version, removed_at, size, max_id = held
        if removed_at == bank.removed_at:
            new = bank_rows(session, bank.id, after_id=max_id) if version != bank.version else []
            if size + len(new) == count:
                delta = BankHashes(bank.id, bank.name, bank.enabled)
                delta.add(new)
                return _Searcher(bank.id, index, [delta])
    whole = read_bank(session, bank.id, bank.name, bank.enabled)
    changes.built(session, bank.id, whole)  # the index can take it once this transaction commits
    return _Searcher(bank.id, None, [whole])


def match_banks(
    session: Session, bank_ids: list[int] | None = None, *, index: BankIndexes | None = None
) -> Counter[str]:
    """Record a bank hit for every item whose media matches an enabled bank. Returns new hits by bank."""
    query = select(Bank).where(Bank.enabled.is_(True))
    if bank_ids is not None:
        query = query.where(Bank.id.in_(bank_ids))
    banks = session.scalars(query).all()
    if not banks:
        return Counter()  # most scans: no bank, so no index to load either
    if index is None and (store := session.info.get(changes.STORE)) is not None:
        index = bank_index(store)
    if index is not None:
        index.ensure_fresh()
    media = session.execute(
        select(Signal.media_id, Signal.value).where(Signal.kind == "pdq", Signal.quality >= MIN_QUALITY)
    ).all()
    words = as_words([v for _, v in media])
    new: Counter[str] = Counter()
    for bank in banks:
        searcher = _searcher(session, index, bank)
        candidates = _exact(session, searcher) + _pdq(searcher, media, words)
        found = _verified(session, bank.id, candidates)
        if found and (count := _record(session, bank, found)):
            new[bank.name] += count
    return new


def _exact(session: Session, searcher: _Searcher) -> list[Group]:
    out: list[Group] = []
    for kind in EXACT_KINDS:
        held = {value.hex(): ids for value, ids in searcher.exact(kind).items()}
        digests = list(held)
        for start in range(0, len(digests), 500):
            rows = session.execute(
                select(Media.id, Media.sha256).where(Media.sha256.in_(digests[start : start + 500]))
            )
            out += [([(media_id, i, "exact", None) for i in held[digest]], None) for media_id, digest in rows]
    return out


def _pdq(searcher: _Searcher, media: Sequence[Any], words: np.ndarray) -> list[Group]:
    """Every stored PDQ (a video has one per frame) against the bank."""
    out: list[Group] = []
    for start in range(0, len(media), QUERY_CHUNK):
        results = searcher.pdq(words[start : start + QUERY_CHUNK])
        for (media_id, value), matches in zip(media[start : start + QUERY_CHUNK], results, strict=True):
            if matches:
                out.append(([(media_id, i, "pdq", float(d)) for i, d in matches], value))
    return out


def _verified(session: Session, bank_id: int, candidates: list[Group]) -> list[Found]:
    """Per media and kind, the nearest candidate that the database confirms: the signal is in this
    bank, of this type, and its stored hash is within the threshold (distance recomputed from it)."""
    ids = sorted({c[1] for group, _ in candidates for c in group})
    stored: dict[int, tuple[int, str, bytes]] = {}
    for start in range(0, len(ids), 500):
        query = select(BankSignal.id, BankSignal.bank_id, BankSignal.signal_type, BankSignal.value)
        for i, b, t, v in session.execute(query.where(BankSignal.id.in_(ids[start : start + 500]))):
            stored[int(i)] = (int(b), str(t), bytes(v))
    digests = {}
    exact_media = sorted({c[0] for group, _ in candidates for c in group if c[2] == "exact"})
    if exact_media:
        for start in range(0, len(exact_media), 500):
            chunk = exact_media[start : start + 500]
            digests.update(session.execute(select(Media.id, Media.sha256).where(Media.id.in_(chunk))).all())
    out: list[Found] = []
    for group, looked_up in candidates:
        for media_id, signal_id, kind, _ in group:
            row = stored.get(signal_id)
            if row is None or row[0] != bank_id:
                continue
            if kind == "exact":
                if row[1] in EXACT_KINDS and row[2].hex() == digests.get(media_id):
                    out.append((media_id, signal_id, kind, None))
                    break
            elif row[1] == "pdq" and looked_up is not None:
                distance = int(PDQ.distance(row[2], looked_up))
                if PDQ.within(distance):
                    out.append((media_id, signal_id, kind, float(distance)))
                    break
    return out


def _record(session: Session, bank: Bank, found: list[Found]) -> int:
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
