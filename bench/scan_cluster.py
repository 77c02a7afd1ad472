"""The distributed scan (scan/cluster.py) on 1, 2 and 4 local Dask workers against the local pool, same run.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/scan_cluster.py [--n 160] [--workers 1,2,4]
       [--repeat 3] [--no-window-1] [--chunk 64]

1. Generates N distinct benign 1280-px photos (scan_throughput.generate) in a folder: N new media.
2. Each run scans that folder (no case) into a fresh data directory: the whole scan, reading, hashing,
   decode + signals + sealed blobs, inserting rows, matching. The local pool (1 and 2 processes, the
   default on this 2-core machine) is the reference; each cluster size is started once (start-up timed
   apart) and scans with the next chunk prefetched (scan/cluster_prefetch.py, the default) and, as the
   reference of the same run, with one chunk in flight (as before prefetching; `--no-window-1` leaves it
   out); then `--repeat` rounds scan once with each configuration in turn (interleaved, so a change in the
   machine's load touches all alike; every other round in the reverse order, so none always runs first).
3. Prints photos/s (median) and the scaling factors: against the 2-process local pool and against one
   cluster worker; the driver's CPU per photo (what a bigger cluster cannot take off the scanning
   process); how busy the workers were (their tasks' compute time over wall time × workers, from Dask's
   task stream); the most chunks in flight; and the machine's load (`os.getloadavg`) around each round.
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
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scan_throughput import generate

from ncii_shield.config import load_settings
from ncii_shield.scan import cluster_prefetch
from ncii_shield.scan.cluster import DaskMedia, open_cluster
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.signals.analyse import prepare_worker
from ncii_shield.sources import open_source
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store

KEY = KeySource(key=os.urandom(32))  # one deployment key for every data directory: the workers hold it
CHUNK = [64]  # messages per chunk (NCII_SCAN_CHUNK's default); smaller: more chunk ends, as in an export
# whose media are sparse among its messages


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # the scanning process's CPU seconds
    busy: float | None = None  # the workers' compute time over wall time × workers
    idle: float | None = None  # seconds a worker waited between two of its tasks (mean over the workers)
    most: int = 0  # the most chunks in flight


def _timed(
    root: Path, folder: Path, n: int, scan: Callable[[Store], object], remote: DaskMedia | None
) -> Run:
    """One scan of the folder into a fresh data directory; on a cluster, with its workers' task stream."""
    from contextlib import nullcontext

    store = Store(replace(load_settings(root / f"d{time.monotonic_ns()}"), scan_chunk=CHUNK[0]), create=KEY)
    stream: Any = nullcontext()
    if remote is not None:
        from distributed import get_task_stream

        stream = get_task_stream(client=remote.client)
        remote.most_in_flight = 0
    try:
        with stream as tasks:
            cpu, wall = time.process_time(), time.perf_counter()
            result = scan(store)
            run = Run(time.perf_counter() - wall, time.process_time() - cpu)
        assert result.media_new == n, result  # type: ignore[attr-defined]
        if remote is not None:
            spans: dict[str, list[tuple[float, float]]] = {}
            for task in tasks.data:
                for part in task.get("startstops", ()):
                    if part.get("action") == "compute":
                        spans.setdefault(task["worker"], []).append((part["start"], part["stop"]))
            workers = remote.workers()
            run.busy = sum(b - a for done in spans.values() for a, b in done) / (run.wall * workers)
            gaps = [sum(max(0.0, b[0] - a[1]) for a, b in pairwise(d)) for d in map(sorted, spans.values())]
            run.idle = sum(gaps) / workers
            run.most = remote.most_in_flight
        return run
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=160)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-window-1", action="store_true", help="leave out the runs without prefetching")
    ap.add_argument("--chunk", type=int, default=64, help="items per chunk (NCII_SCAN_CHUNK)")
    args = ap.parse_args()
    CHUNK[0] = args.chunk
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = root / "photos"
        folder.mkdir()
        generate(args.n, folder)

        def local(workers: int) -> Callable[[Store], object]:
            return lambda store: run_scan(
                store, open_source(folder), location=folder, case_id=None, workers=workers
            )

        scans: dict[str, tuple[Callable[[Store], object], DaskMedia | None]] = {
            "local pool, 1 process": (local(1), None),
            "local pool, 2 processes": (local(2), None),
        }
        starts: dict[str, float] = {}
        prepare_worker()  # the scanning process's own models (the local pool of 1 runs in it)
        with ExitStack() as stack:
            for count in (int(w) for w in args.workers.split(",")):
                began = time.perf_counter()
                holder = Store(load_settings(root / f"c{count}"), create=KEY)
                stack.callback(holder.close)
                remote = stack.enter_context(open_cluster(f"local:{count}", holder))
                remote.client.wait_for_workers(count)
                # a first scan (two photos a worker) loads each worker's models: not in the first timed run
                warm = root / f"warm{count}"
                warm.mkdir()
                for photo in sorted(folder.iterdir())[: 2 * count]:
                    (warm / photo.name).write_bytes(photo.read_bytes())
                with ExitStack() as warming:
                    store = Store(load_settings(root / f"w{count}"), create=KEY)
                    warming.callback(store.close)
                    run_scan(store, open_source(warm), location=warm, case_id=None, remote=remote)
                label = f"cluster, {count} worker{'s' * (count > 1)}"
                starts[label] = time.perf_counter() - began

                for window in (cluster_prefetch.CHUNKS_IN_FLIGHT, 1)[: 1 if args.no_window_1 else 2]:

                    def on_cluster(store: Store, remote=remote, window=window) -> object:  # type: ignore[no-untyped-def]
                        # the same workers for every fresh data directory: each task names its directory,
                        # and a worker opens it (once) with the key it was started with
                        cluster_prefetch.CHUNKS_IN_FLIGHT, default = window, cluster_prefetch.CHUNKS_IN_FLIGHT
                        try:
                            return run_scan(
                                store, open_source(folder), location=folder, case_id=None, remote=remote
                            )
                        finally:
                            cluster_prefetch.CHUNKS_IN_FLIGHT = default

                    scans[label if window > 1 else f"{label}, no prefetch"] = (on_cluster, remote)
            # Interleaved (every configuration once per round), so a change in the machine's load during
            # the run touches them all alike; the clusters sit idle meanwhile.
            runs: dict[str, list[Run]] = {label: [] for label in scans}
            loads: list[float] = [os.getloadavg()[0]]
            for round_ in range(args.repeat):
                order = list(scans.items())  # every other round backwards: no configuration always first
                for label, (scan, remote_) in order if round_ % 2 == 0 else order[::-1]:
                    runs[label].append(_timed(root, folder, args.n, scan, remote_))
                    print(
                        f"  round {round_ + 1}, {label}: {args.n / runs[label][-1].wall:.2f} photos/s",
                        flush=True,
                    )
                loads.append(os.getloadavg()[0])
        rows: list[tuple[str, float, list[float], float, str, str, float | None]] = []
        for label, done in runs.items():
            rates = [args.n / run.wall for run in done]
            cpu_ms = statistics.median(run.cpu for run in done) * 1000 / args.n
            busy = statistics.median(run.busy for run in done) if done[0].busy is not None else None
            idles = [run.idle for run in done if run.idle is not None]
            idle = f"{statistics.median(idles):.2f} ({', '.join(f'{i:.2f}' for i in idles)})" if idles else ""
            busy_text = f"{busy:.0%}" if busy is not None else ""
            rows.append((label, statistics.median(rates), rates, cpu_ms, busy_text, idle, starts.get(label)))
    pool2 = rows[1][1]
    ones = {
        r[0].removeprefix("cluster, 1 worker"): r[1] for r in rows if r[0].startswith("cluster, 1 worker")
    }
    print(f"\n{args.n} photos, chunks of {args.chunk}, {os.cpu_count()} cores, median of {args.repeat}")
    print("load (1-min average) before and after each round: " + " → ".join(f"{x:.1f}" for x in loads))
    most = {
        label: max(run.most for run in done) for label, done in runs.items() if label.startswith("cluster")
    }
    print(f"chunks in flight at most: {most}")
    print(
        "| run | photos/s (runs) | vs local pool of 2 | vs 1 cluster worker | driver CPU ms/photo "
        "| workers busy | s a worker waited between tasks (runs) | start-up s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, rate, rates, cpu_ms, busy_text, idle, start in rows:
        runs = ", ".join(f"{r:.2f}" for r in rates)
        one = (
            ones.get(label.split(" worker", 1)[-1].removeprefix("s")) if label.startswith("cluster") else None
        )
        vs_one = f"{rate / one:.2f}×" if one else ""  # against one worker scanning the same way
        begun = f"{start:.1f}" if start is not None else ""
        print(
            f"| {label} | {rate:.2f} ({runs}) | {rate / pool2:.2f}× | {vs_one} | {cpu_ms:.0f} | {busy_text} "
            f"| {idle} | {begun} |"
        )


if __name__ == "__main__":
    main()
