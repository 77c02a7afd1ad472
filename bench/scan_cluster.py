"""The distributed scan (scan/cluster.py) on 1, 2 and 4 local Dask workers against the local pool, same run.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/scan_cluster.py [--n 80] [--workers 1,2,4]
       [--repeat 2]

1. Generates N distinct benign 1280-px photos (scan_throughput.generate) in a folder: N new media.
2. Each run scans that folder (no case) into a fresh data directory: the whole scan, reading, hashing,
   decode + signals + sealed blobs, inserting rows, matching. The local pool (1 and 2 processes, the
   default on this 2-core machine) is the reference; each cluster size is started once (start-up timed
   apart), then scanned `--repeat` times.
3. Prints photos/s (median) and the scaling factors: against the 2-process local pool and against one
   cluster worker; and the driver's CPU per photo (what a bigger cluster cannot take off the scanning
   process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import generate

from ncii_shield.config import load_settings
from ncii_shield.scan.cluster import open_cluster
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store

KEY = KeySource(key=os.urandom(32))  # one deployment key for every data directory: the workers hold it


def _timed(root: Path, folder: Path, n: int, scan: Callable[[Store], object]) -> tuple[float, float]:
    """(wall seconds, driver CPU seconds) of one scan of the folder into a fresh data directory."""
    store = Store(load_settings(root / f"d{time.monotonic_ns()}"), create=KEY)
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        result = scan(store)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert result.media_new == n, result  # type: ignore[attr-defined]
        return wall, cpu
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=80)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        folder.mkdir()
        generate(args.n, folder)

        def local(workers: int) -> Callable[[Store], object]:
            return lambda store: run_scan(
                store, open_source(folder), location=folder, case_id=None, workers=workers
            )

        rows: list[tuple[str, float, list[float], float, float | None]] = []

        def measure(label: str, scan: Callable[[Store], object], start: float | None) -> None:
            runs = [_timed(root, folder, args.n, scan) for _ in range(args.repeat)]
            rates = [args.n / wall for wall, _ in runs]
            cpu_ms = statistics.median(cpu for _, cpu in runs) * 1000 / args.n
            rows.append((label, statistics.median(rates), rates, cpu_ms, start))
            print(f"  {label}: {statistics.median(rates):.2f} photos/s", flush=True)

        measure("local pool, 1 process", local(1), None)
        measure("local pool, 2 processes", local(2), None)
        for count in (int(w) for w in args.workers.split(",")):
            began = time.perf_counter()
            holder = Store(load_settings(root / f"c{count}"), create=KEY)
            with open_cluster(f"local:{count}", holder) as remote:
                remote.client.wait_for_workers(count)
                start = time.perf_counter() - began

                def on_cluster(store: Store, remote=remote) -> object:  # type: ignore[no-untyped-def]
                    # the same workers for every fresh data directory: each task names its directory, and
                    # a worker opens it (once) with the key it was started with
                    return run_scan(store, open_source(folder), location=folder, case_id=None, remote=remote)

                measure(f"cluster, {count} worker{'s' * (count > 1)}", on_cluster, start)
            holder.close()
    pool2 = rows[1][1]
    one = next((r[1] for r in rows if r[0] == "cluster, 1 worker"), None)
    print(f"\n{args.n} photos, {os.cpu_count()} cores, median of {args.repeat}")
    print(
        "| run | photos/s (runs) | vs local pool of 2 | vs 1 cluster worker | driver CPU ms/photo | start-up s |"
    )
    print("|---|---|---|---|---|---|")
    for label, rate, rates, cpu_ms, start in rows:
        runs = ", ".join(f"{r:.2f}" for r in rates)
        vs_one = f"{rate / one:.2f}×" if one and label.startswith("cluster") else ""
        begun = f"{start:.1f}" if start is not None else ""
        print(f"| {label} | {rate:.2f} ({runs}) | {rate / pool2:.2f}× | {vs_one} | {cpu_ms:.0f} | {begun} |")


if __name__ == "__main__":
    main()
