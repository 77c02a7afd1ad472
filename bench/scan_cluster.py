"""The distributed scan (scan/cluster.py) on 1, 2 and 4 local Dask workers against the local pool, same run.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/scan_cluster.py [--n 160] [--workers 1,2,4]
       [--repeat 3]

1. Generates N distinct benign 1280-px photos (scan_throughput.generate) in a folder: N new media.
2. Each run scans that folder (no case) into a fresh data directory: the whole scan, reading, hashing,
   decode + signals + sealed blobs, inserting rows, matching. The local pool (1 and 2 processes, the
   default on this 2-core machine) is the reference; each cluster size is started once (start-up timed
   apart); then `--repeat` rounds scan once with each configuration in turn (interleaved, so a change in
   the machine's load touches all alike).
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
from contextlib import ExitStack
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
    ap.add_argument("--n", type=int, default=160)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=3)
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

        scans: dict[str, Callable[[Store], object]] = {
            "local pool, 1 process": local(1),
            "local pool, 2 processes": local(2),
        }
        starts: dict[str, float] = {}
        with ExitStack() as stack:
            for count in (int(w) for w in args.workers.split(",")):
                began = time.perf_counter()
                holder = Store(load_settings(root / f"c{count}"), create=KEY)
                stack.callback(holder.close)
                remote = stack.enter_context(open_cluster(f"local:{count}", holder))
                remote.client.wait_for_workers(count)
                label = f"cluster, {count} worker{'s' * (count > 1)}"
                starts[label] = time.perf_counter() - began

                def on_cluster(store: Store, remote=remote) -> object:  # type: ignore[no-untyped-def]
                    # the same workers for every fresh data directory: each task names its directory, and
                    # a worker opens it (once) with the key it was started with
                    return run_scan(store, open_source(folder), location=folder, case_id=None, remote=remote)

                scans[label] = on_cluster
            # Interleaved (every configuration once per round), so a change in the machine's load during
            # the run touches them all alike; the clusters sit idle meanwhile.
            runs: dict[str, list[tuple[float, float]]] = {label: [] for label in scans}
            for round_ in range(args.repeat):
                for label, scan in scans.items():
                    runs[label].append(_timed(root, folder, args.n, scan))
                    print(
                        f"  round {round_ + 1}, {label}: {args.n / runs[label][-1][0]:.2f} photos/s",
                        flush=True,
                    )
        rows: list[tuple[str, float, list[float], float, float | None]] = []
        for label, done in runs.items():
            rates = [args.n / wall for wall, _ in done]
            cpu_ms = statistics.median(cpu for _, cpu in done) * 1000 / args.n
            rows.append((label, statistics.median(rates), rates, cpu_ms, starts.get(label)))
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
