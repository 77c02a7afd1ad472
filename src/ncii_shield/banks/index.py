"""The one bank index: every bank's hashes in memory, shared by scans, the CLI and the HMA routes.

Why one: matching after a scan, matching after an import and answering HMA lookups all ask the same
question ("which banked hashes are near this one"), so they share one index per process and store,
loaded from disk at start (banks/index_files.py) instead of rebuilt, and kept current three ways:

- changes committed in this process are applied in place right after they commit (`committed`,
  called by banks/changes.py): an added hash is matchable as soon as the request that added it returns;
- changes committed by another process (a CLI import while the server runs) are noticed through the
  bank change counter within `check_every` seconds: one indexed read says whether anything changed;
  then a bank whose stamps moved has only the hashes added since read, or is read again in full if
  hashes were removed from it or its size disagrees with the store;
- what is on disk is used only for banks whose stamps and size equal the store's.

The index is an accelerator, not a source of truth: `banks/matching.py` checks every hit against the
stored hash before recording it. Thread safety: searches take the read side of an RWLock, changes the
write side; one writer (a sync, an applied change, a save) at a time.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.banks import changes
from ncii_shield.banks.bank_hashes import EXACT_KINDS, BankHashes, Row
from ncii_shield.banks.index_files import IndexFiles, index_folder
from ncii_shield.banks.rwlock import RWLock
from ncii_shield.errors import NotFound
from ncii_shield.store.crypto import DATA_SCOPE
from ncii_shield.store.db import Store
from ncii_shield.store.models import Bank, BankSignal

log = logging.getLogger(__name__)

INLINE_MAX = 2_000_000  # hashes below which a lookup costs less than handing it to a worker thread
CHUNK = 50_000  # signal rows read at a time


class UnknownBank(NotFound):
    """A lookup named a bank that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"bank '{name}' not found")
        self.name = name


def bank_rows(session: Session, bank_id: int, *, after_id: int) -> list[Row]:
    """(id, type, value) of the hashes added to a bank since `after_id`: a range of the primary key
    (`bank_id + 0` keeps SQLite from scanning the whole bank through the bank_id index instead)."""
    query = select(BankSignal.id, BankSignal.signal_type, BankSignal.value).where(
        BankSignal.id > after_id, (BankSignal.bank_id + 0) == bank_id
    )
    return [(int(i), str(t), bytes(v)) for i, t, v in session.execute(query.order_by(BankSignal.id))]


def read_bank(session: Session, bank_id: int, name: str, enabled: bool) -> BankHashes:
    """A bank read whole, streamed in chunks of CHUNK rows into arrays and indexed in one go (one
    segment to build, not one per chunk; no Python object per hash kept)."""
    bank = BankHashes(bank_id, name, enabled)
    query = select(BankSignal.id, BankSignal.signal_type, BankSignal.value).where(
        BankSignal.bank_id == bank_id
    )
    ids: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for part in session.execute(query.execution_options(yield_per=CHUNK)).partitions():
        pdq = [(i, v) for i, t, v in part if t == "pdq"]
        if pdq:
            ids.append(np.fromiter((i for i, _ in pdq), dtype=np.int64, count=len(pdq)))
            values.append(np.frombuffer(b"".join(v for _, v in pdq), dtype=np.uint8).reshape(-1, 32))
        bank.add([(int(i), str(t), bytes(v)) for i, t, v in part if t != "pdq"])
    if ids:
        bank.add_pdq(np.concatenate(ids), np.concatenate(values))
    return bank


def signal_counts(session: Session) -> dict[int, int]:
    """Hashes per bank id."""
    query = select(BankSignal.bank_id, func.count()).group_by(BankSignal.bank_id)
    return {int(b): int(n) for b, n in session.execute(query)}


def bank_stamps(session: Session) -> dict[int, tuple[str, bool, int, int]]:
    """Bank id -> (name, enabled, version, removed_at)."""
    query = select(Bank.id, Bank.name, Bank.enabled, Bank.version, Bank.removed_at)
    return {int(i): (n, bool(e), int(v), int(r)) for i, n, e, v, r in session.execute(query)}


class BankIndexes:
    """Every bank of one store in memory; see the module's docstring for how it stays current."""

    def __init__(
        self, store: Store, *, check_every: float = 1.0, persist: bool = True, save_every: float = 0.0
    ) -> None:
        self._store = weakref.ref(store)  # the store owns its index (changes.listen), not the reverse
        self.check_every = check_every
        self.save_every = save_every  # seconds between saves of changed banks (0: at once)
        self._persist = persist
        self._files: IndexFiles | None = None
        self._rw = RWLock()
        self._writer = threading.Lock()  # one writer at a time: syncs, applied changes, saves
        self._banks: dict[int, BankHashes] = {}
        self._loaded = False
        self._seen = -1  # the bank change counter the index reflects
        self._dirty: set[int] = set()  # banks changed since they were last saved
        self._dropped = False  # a bank was deleted since the last save: its file must go
        self._saved = 0.0  # time.monotonic() of the last save
        self._checked = 0.0  # time.monotonic() of the last look at the store
        self._changed = 0.0  # time.time() of the last change to the index
        self._size = 0
        self.rebuilt = 0  # banks read in full from the store (tests and benchmarks read these)
        self.extended = 0  # banks brought up to date by reading only the hashes added
        self.adopted = 0  # banks taken as read whole by the transaction that changed them
        self._loader: threading.Thread | None = None  # a first load started by load_in_background
        self._loader_lock = threading.Lock()

    @property
    def store(self) -> Store:
        store = self._store()
        if store is None:
            raise RuntimeError("the store of this bank index is gone")
        return store

    @property
    def files(self) -> IndexFiles | None:
        if self._files is None and self._persist:
            store = self.store
            self._files = IndexFiles(index_folder(store.settings.data_dir), store.key_for(DATA_SCOPE))
        return self._files

    # -------------------------------------------------------------------------------- reading

    @property
    def loaded(self) -> bool:
        return self._loaded

    def checked_age(self) -> float | None:
        """Seconds since the index last looked at the store (None before it is loaded)."""
        return time.monotonic() - self._checked if self._loaded else None

    def readiness(self, stale_after: float) -> str | None:
        """None if lookups can be answered; else HMA's word: INDEX-NOT-LOADED before the first load,
        INDEX-STALE when the index has not managed to look at the store for stale_after seconds."""
        if not self._loaded:
            return "INDEX-NOT-LOADED"
        if stale_after > 0 and time.monotonic() - self._checked > stale_after:
            return "INDEX-STALE"
        return None

    def load_in_background(self) -> threading.Thread:
        """The thread loading the index (started if none is): /status waits for it, but not forever."""
        with self._loader_lock:
            if self._loader is None or not self._loader.is_alive():
                self._loader = threading.Thread(target=self._load, name="bank-index-load", daemon=True)
                self._loader.start()
            return self._loader

    def _load(self) -> None:
        try:
            self.ensure_fresh()
        except Exception:
            log.exception("loading the bank index failed")

    def ensure_fresh(self) -> None:
        """Load on first use (callers wait); later, look for outside changes at most every check_every
        seconds, without making anyone wait for it while another request is already looking."""
        if not self._loaded:
            self.refresh(wait=True)
        elif time.monotonic() - self._checked >= self.check_every:
            self.refresh(wait=False)

    def lookup(
        self, kind: str, value: bytes, *, banks: set[str] | None = None, enabled_only: bool = False
    ) -> dict[str, list[tuple[int, int]]]:
        """Bank name -> [(bank_content_id, distance)], nearest first, for the banks with a match.
        Raises UnknownBank if ``banks`` names a bank that is not there."""
        with self._rw.read():
            return self._lookup(kind, value, banks, enabled_only)

    def lookup_nowait(
        self, kind: str, value: bytes, *, banks: set[str] | None = None, enabled_only: bool = False
    ) -> dict[str, list[tuple[int, int]]] | None:
        """The lookup if it can be answered at once, on the event loop: loaded, looked at recently, no
        writer at work, and small enough that a search (< 0.1 ms below INLINE_MAX hashes) costs less
        than handing it to a worker thread. Otherwise None: then call ensure_fresh and lookup in a thread."""
        if (
            not self._loaded
            or self._size > INLINE_MAX
            or time.monotonic() - self._checked >= self.check_every
        ):
            return None
        if not self._rw.try_read():
            return None
        try:
            return self._lookup(kind, value, banks, enabled_only)
        finally:
            self._rw.done_reading()

    def _lookup(
        self, kind: str, value: bytes, banks: set[str] | None, enabled_only: bool
    ) -> dict[str, list[tuple[int, int]]]:
        if banks is not None:
            unknown = banks - {b.name for b in self._banks.values()}
            if unknown:
                raise UnknownBank(sorted(unknown)[0])
        found: dict[str, list[tuple[int, int]]] = {}
        for bank in self._banks.values():
            if (banks is not None and bank.name not in banks) or (enabled_only and not bank.enabled):
                continue
            hits = bank.search(kind, value)
            if hits:
                found[bank.name] = hits
        return found

    def search_bank(self, bank_id: int, words: np.ndarray) -> list[list[tuple[int, int]]] | None:
        """Many PDQ queries against one bank: per query [(id, distance)], nearest first; None if the
        bank is not held."""
        with self._rw.read():
            bank = self._banks.get(bank_id)
            return None if bank is None else bank.search_pdq(words)

    def exact_values(self, bank_id: int, kind: str) -> dict[bytes, list[int]]:
        """A bank's exact hashes of one kind: value -> ids."""
        with self._rw.read():
            bank = self._banks.get(bank_id)
            held = {} if bank is None else bank.exact.get(kind, {})
            return {value: sorted(ids) for value, ids in held.items()}

    def stamps(self, bank_id: int) -> tuple[int, int, int, int] | None:
        """(version, removed_at, size, max_id) of the bank as held, or None."""
        with self._rw.read():
            bank = self._banks.get(bank_id)
            return None if bank is None else (bank.version, bank.removed_at, bank.size, bank.max_id)

    def status(self) -> dict[str, dict[str, Any]]:
        """Per signal type, HMA's index status: present, built_to (unix time of the last change), size."""
        with self._rw.read():
            sizes = {"pdq": sum(len(b.pdq) for b in self._banks.values())}
            for kind in EXACT_KINDS:
                sizes[kind] = sum(
                    sum(1 for t, _ in b.exact_ids.values() if t == kind) for b in self._banks.values()
                )
        built_to = int(self._changed) if self._loaded else -1
        return {k: {"present": self._loaded, "built_to": built_to, "size": n} for k, n in sizes.items()}

    # -------------------------------------------------------------------------------- writing

    def committed(self, done: changes.Changes) -> None:
        """Apply a transaction's bank changes right after it committed (called by banks/changes.py).
        The index takes the transaction's stamps only if it reflected the counter just before it;
        otherwise the next look at the store reconciles the banks touched."""
        try:
            with self._writer:
                if not self._loaded:
                    return  # the first load reads the store, these changes included
                touched = self._apply(done)
                self._dirty |= touched
                self._changed = time.time()
                self._maybe_save()
        except Exception:  # never fail the request whose change committed: look at the store instead
            log.exception("applying bank changes in place failed: the banks will be read again")
            self._seen = -1
            self._checked = 0.0

    def _apply(self, done: changes.Changes) -> set[int]:
        touched: set[int] = set()
        # A bank read whole in the transaction after its last change is the committed bank: taken as is.
        adopt = {i: h for i, (counter, h) in done.built.items() if counter == done.final and i in done.stamps}
        with self._rw.write():
            for bank_id, hashes in adopt.items():
                self._banks[bank_id] = hashes
                touched.add(bank_id)
            self.adopted += len(adopt)
            for op, bank_id, payload in done.ops:
                if bank_id in adopt:
                    continue
                if op == "drop":
                    self._banks.pop(bank_id, None)
                    touched.discard(bank_id)
                    self._dropped = True
                    continue
                name, enabled, _, _ = done.stamps.get(bank_id, ("", True, -1, -1))
                bank = self._banks.setdefault(bank_id, BankHashes(bank_id, name, enabled))
                if op == "add":
                    bank.add(payload)
                    touched.add(bank_id)
                elif op == "remove":
                    bank.remove(payload)
                    touched.add(bank_id)
            in_step = self._seen == done.base
            for bank_id, (name, enabled, version, removed_at) in done.stamps.items():
                bank = self._banks.get(bank_id)
                if bank is not None:
                    bank.name, bank.enabled = name, enabled
                    if in_step:
                        bank.version, bank.removed_at = version, removed_at
            if in_step:
                self._seen = done.final
            self._size = sum(b.size for b in self._banks.values())
        return touched

    # -------------------------------------------------------------------------------- syncing

    def refresh(self, *, wait: bool = True) -> None:
        if not self._writer.acquire(blocking=wait):
            return
        try:
            with self.store.session() as session:
                self._sync(session)
            self._maybe_save()
        finally:
            self._writer.release()

    def _sync(self, session: Session) -> None:
        counter = changes.current(session)  # first: what is read next is at least this new
        if self._loaded and counter == self._seen:
            self._checked = time.monotonic()
            return
        stamps = bank_stamps(session)
        counts = signal_counts(session)
        held = self._banks if self._loaded else self._from_disk({i: s[:2] for i, s in stamps.items()})
        fresh: dict[int, BankHashes] = {}
        added: dict[int, list[Row]] = {}
        for bank_id, (name, enabled, version, removed_at) in stamps.items():
            bank, count = held.get(bank_id), counts.get(bank_id, 0)
            if bank is not None and bank.removed_at == removed_at:
                new = bank_rows(session, bank_id, after_id=bank.max_id) if bank.version != version else []
                if bank.size + len(new) == count:
                    if new:
                        added[bank_id] = new
                    continue
            fresh[bank_id] = read_bank(session, bank_id, name, enabled)
        with self._rw.write():
            for bank_id, rows in added.items():
                held[bank_id].add(rows)
            banks = {i: fresh[i] if i in fresh else held[i] for i in stamps}
            for bank_id, (name, enabled, version, removed_at) in stamps.items():
                bank = banks[bank_id]
                bank.name, bank.enabled, bank.version, bank.removed_at = name, enabled, version, removed_at
            self._banks = banks
            self._size = sum(b.size for b in banks.values())
        self.rebuilt += len(fresh)
        self.extended += len(added)
        self._dropped |= bool(set(held) - set(banks))
        self._dirty = (self._dirty & set(banks)) | set(fresh) | set(added)
        self._loaded, self._seen = True, counter
        self._checked, self._changed = time.monotonic(), time.time()

    def _from_disk(self, banks: dict[int, tuple[str, bool]]) -> dict[int, BankHashes]:
        try:
            files = self.files
            if files is None:
                return {}
            found = files.load(banks)
            self._dropped |= files.stale  # a deleted bank's hashes must not stay on disk
            return found
        except OSError as exc:  # e.g. a read-only data directory: the banks are read from the store
            log.warning("cannot read the bank index files: %s", exc)
            return {}

    def _maybe_save(self) -> None:
        """Write the changed banks if persisting and save_every has passed (the writer lock is held)."""
        files = self.files if self._dirty or self._dropped else None
        if files is None or (not self._dropped and time.monotonic() - self._saved < self.save_every):
            return
        try:
            files.save(self._banks, self._dirty)
        except OSError as exc:  # the index still works from memory; the next start reads the store
            log.warning("cannot save the bank index: %s", exc)
            return
        self._dirty.clear()
        self._dropped = False
        self._saved = time.monotonic()

    def save(self) -> None:
        """Write every changed bank now (e.g. when the server stops)."""
        with self._writer:
            self._saved = 0.0
            self._maybe_save()


_create_lock = threading.Lock()


def bank_index(store: Store, *, save_every: float | None = None) -> BankIndexes:
    """The store's one BankIndexes in this process, made on first use and told of every committed change."""
    with _create_lock:
        found = changes.listener_for(store)
        if not isinstance(found, BankIndexes):
            found = BankIndexes(store)
            changes.listen(store, found)
        if save_every is not None:
            found.save_every = save_every
        return found
