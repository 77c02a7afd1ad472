"""Time a whole scan of the demo export: media analysed per second with 1 and 2 worker processes.

Usage: .venv/bin/python bench/scan_demo.py [--repeat N]

Each run uses a fresh data directory, so every media file is decoded, hashed, searched for faces
and scored. Prints wall time, messages/s, media/s and the peak resident memory of the scanning
process and its workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.config import load_settings
from ncii_shield.demo.build import build_demo
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store


def one_run(export: Path, photos: list[Path], workers: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(load_settings(Path(tmp)), create=KeySource(key=os.urandom(32)))
        with store.session() as session:
            case = open_case(session, "bench", consent_by="bench", consent_method="bench")
            enrol(session, store, case, photos)
            case_id = case.id
        start = time.perf_counter()
        result = run_scan(store, open_source(export), location=export, case_id=case_id, workers=workers)
        took = time.perf_counter() - start
        store.close()
    return took, result.items_seen, result.media_new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        truth = build_demo(Path(tmp))
        print(f"demo export: {len(truth.media)} distinct media")
        for workers in (1, 2):
            times = []
            for _ in range(args.repeat):
                took, messages, media = one_run(truth.export_dir, list(truth.enrol_photos), workers)
                times.append(took)
            best = min(times)
            print(
                f"workers={workers}: best {best:.2f}s of {args.repeat} | {messages / best:.0f} messages/s | "
                f"{media / best:.1f} media/s"
            )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: scanner {own:.0f} MB, largest worker {children:.0f} MB")


if __name__ == "__main__":
    main()
