"""Decode + PDQ throughput against python-threatexchange, on the same 1280-px JPEGs, in one run.

Usage: .venv/bin/python bench/hashing.py [--files 240] [--repeat 3]

Builds N distinct 1280-px JPEGs (q85) from the bundled photographs (varied crops), then times:
python-threatexchange's `PdqSignal.hash_from_file` (the reference: full Pillow decode + pdqhash), our
full-decode path, our reduced-scale path on one core, and our reduced-scale path in a process pool over
all cores (`ncii-shield hash`). Also reports how far the reduced path lands from the full decode.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ncii_shield.scan.hashing import hash_file, hash_files
from ncii_shield.signals.pdq import pdq_from_bytes

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"


def make_files(folder: Path, count: int) -> list[Path]:
    sources = sorted(ASSETS.glob("*.jpg"))
    rng = np.random.default_rng(5)
    paths = []
    for i in range(count):
        img = Image.open(sources[i % len(sources)]).convert("RGB")
        w, h = img.size
        cut = rng.uniform(0, 0.2, 4)
        img = img.crop(
            (int(w * cut[0] / 2), int(h * cut[1] / 2), w - int(w * cut[2] / 2), h - int(h * cut[3] / 2))
        )
        img = img.resize((1280, round(1280 * img.height / img.width)), Image.Resampling.LANCZOS)
        path = folder / f"{i:04d}.jpg"
        img.save(path, format="JPEG", quality=85)
        paths.append(path)
    return paths


def timed(label: str, fn, repeat: int, n: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:48s} {best / n * 1000:7.2f} ms/file  {n / best:8.1f} files/s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from threatexchange.signal_type.pdq.signal import PdqSignal

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.files)
        n = len(paths)
        print(
            f"{n} JPEGs of 1280 px, {sum(p.stat().st_size for p in paths) / n / 1024:.0f} KB each; "
            f"{os.cpu_count()} cores"
        )
        ref = timed(
            "threatexchange PdqSignal.hash_from_file (1 core)",
            lambda: [PdqSignal.hash_from_file(p) for p in paths],
            args.repeat,
            n,
        )
        full = timed(
            "ncii-shield full decode (1 core)",
            lambda: [hash_file(str(p), fast=False) for p in paths],
            args.repeat,
            n,
        )
        one = timed(
            "ncii-shield reduced-scale decode (1 core)",
            lambda: [hash_file(str(p)) for p in paths],
            args.repeat,
            n,
        )
        pool = timed(
            f"ncii-shield reduced-scale, pool of {os.cpu_count()} (ncii hash)",
            lambda: list(hash_files(paths)),
            args.repeat,
            n,
        )
        print(
            f"\nspeed-up vs threatexchange: full {ref / full:.1f}x, reduced 1 core {ref / one:.1f}x, "
            f"reduced pool {ref / pool:.1f}x"
        )

        distances, qualities = [], []
        for p in paths:
            data = p.read_bytes()
            a, q = pdq_from_bytes(data, fast=False)
            b, _ = pdq_from_bytes(data, fast=True)
            distances.append(
                int(
                    np.unpackbits(
                        np.frombuffer(bytes(x ^ y for x, y in zip(a, b, strict=True)), np.uint8)
                    ).sum()
                )
            )
            qualities.append(q)
        d = np.array(distances)
        print(
            f"reduced vs full decode on these files: median {np.median(d):.0f} bits, 95th pct "
            f"{np.percentile(d, 95):.0f}, max {d.max()}, over 10 bits: {(d > 10).sum()}/{len(d)} "
            f"(all quality >= 80: {min(qualities) >= 80})"
        )


if __name__ == "__main__":
    main()
