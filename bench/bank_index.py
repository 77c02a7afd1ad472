"""Start-up of the bank index: reading every bank from the database against loading the persisted index.

Usage: .venv/bin/python bench/bank_index.py [--bank-size 1000000] [--lookups 2000]

Builds a throwaway encrypted data directory with one bank of ``--bank-size`` random PDQ hashes (inserted
in bulk), then times, each in a new BankIndexes as a new process would have: the first load with no
index on disk (read from the database, indexed, written to disk), a load from disk (what every later
start does), a load from disk after one hash was added elsewhere (reads only that hash), and a
rebuild without persistence (what every start did before the index was persisted). Then ``match_banks``
(scans and imports call it) twice, and single-hash lookups (half near a banked hash, half random) on the
loaded index.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from ncii_shield.banks.formats import parse
from ncii_shield.banks.index import BankIndexes
from ncii_shield.banks.service import get_bank, import_entries, match_banks
from ncii_shield.config import load_settings
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from ncii_shield.store.models import BankSignal


def timed(label: str, store: Store, **options: object) -> BankIndexes:
    index = BankIndexes(store, **options)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    index.ensure_fresh()
    elapsed = time.perf_counter() - t0
    print(f"{label:<58} {elapsed * 1000:8.0f} ms  (banks read from the store: {index.rebuilt})")
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank-size", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    hashes = rng.integers(0, 256, (args.bank_size, 32), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="ncii-bank-index-") as tmp:
        store = Store(load_settings(Path(tmp) / "data"), create=KeySource(key=os.urandom(32)))
        with store.session() as s:
            bank = get_bank(s, "bench", create=True)
            rows = [{"bank_id": bank.id, "signal_type": "pdq", "value": h.tobytes()} for h in hashes]
            for start in range(0, len(rows), 100_000):
                s.execute(insert(BankSignal), rows[start : start + 100_000])
        print(f"bank of {args.bank_size:,} PDQ hashes")
        timed("first start: read from the database, indexed, saved", store)
        loaded = timed("later start: loaded from disk (HMAC checked)", store)
        with store.session() as s:
            import_entries(s, get_bank(s, "bench"), parse(f"pdq {'ab' * 32}\n", "te"))
        timed("start after one hash was added elsewhere", store)
        timed("start without persistence (before): read and indexed", store, persist=False)
        for label in ("match_banks, first call in a process (loads from disk)", "match_banks, next call"):
            with store.session() as s:
                t0 = time.perf_counter()
                match_banks(s)
                print(f"{label:<58} {(time.perf_counter() - t0) * 1000:8.0f} ms")

        near = hashes[rng.integers(0, len(hashes), args.lookups // 2)].copy()
        near[:, 0] ^= 0x0F  # 4 bits away
        queries = [q.tobytes() for q in near] + [
            rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(args.lookups // 2)
        ]
        times = []
        for q in queries:
            t0 = time.perf_counter()
            loaded.lookup("pdq", q)
            times.append(time.perf_counter() - t0)
        times.sort()
        print(
            f"lookup of one hash: p50 {statistics.median(times) * 1e6:.0f} us, "
            f"p99 {times[int(0.99 * len(times))] * 1e6:.0f} us ({len(times)} lookups)"
        )
        store.close()


if __name__ == "__main__":
    main()
