"""Decode + PDQ throughput against python-threatexchange, on the same 1280-px JPEGs, in one run.

Usage: .venv/bin/python bench/hashing.py [--files 240] [--repeat 3] [--runs 7] [--reference SRC]

Builds N distinct 1280-px JPEGs (q85) from the bundled photographs (varied crops), then times, in this
process: python-threatexchange's `PdqSignal.hash_from_file` (the reference: full Pillow decode + pdqhash),
our full-decode path, our reduced-scale path on one core, and our reduced-scale path in a process pool
over all cores (what `ncii-shield hash` runs). Also reports how far the reduced path lands from the full
decode. Then whole processes, start-up included, timed from spawn to exit (median of `--runs`, the
commands interleaved round by round so other load on the machine slows each alike): threatexchange's own
CLI (`threatexchange hash photo FILES...`) against `ncii-shield hash --te FILES...` (the same
'pdq <hex>' lines) and `ncii-shield hash FILES...` (the table); `--reference` adds the `hash --te` of
another checkout's `src/` (e.g. main) to the same rounds.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ncii_shield.scan.hashing import hash_file, hash_files
from ncii_shield.signals.pdq import pdq_from_bytes

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "ncii_shield" / "demo" / "assets"


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


def threatexchange_cli() -> list[str]:
    """How python-threatexchange's CLI is started: its console script next to this interpreter."""
    script = Path(sys.executable).parent / "threatexchange"
    return [str(script)] if script.exists() else [sys.executable, "-m", "threatexchange.cli.main"]


def whole_processes(paths: list[Path], runs: int, reference: Path | None, home: Path) -> None:
    """Spawn-to-exit wall time of each command on all the files, interleaved; medians and ratios."""
    names = [str(p) for p in paths]
    te_env = dict(os.environ, HOME=str(home))  # its state (~/.threatexchange) in a throw-away home
    ours = [sys.executable, "-m", "ncii_shield.cli.main", "hash"]
    commands: dict[str, tuple[list[str], dict[str, str]]] = {
        "threatexchange hash photo FILES (its CLI)": (
            [*threatexchange_cli(), "hash", "photo", *names],
            te_env,
        ),
        "ncii-shield hash --te FILES": (
            [*ours, "--te", *names],
            dict(os.environ, PYTHONPATH=str(ROOT / "src")),
        ),
        "ncii-shield hash FILES (table)": ([*ours, *names], dict(os.environ, PYTHONPATH=str(ROOT / "src"))),
    }
    if reference is not None:
        env = dict(os.environ, PYTHONPATH=str(reference.resolve()))
        commands["reference tree: ncii-shield hash --te FILES"] = ([*ours, "--te", *names], env)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for label, (argv, env) in commands.items():  # warm-up (byte-code caches, page cache), and a check
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
        if "--te" in argv or "photo" in argv:
            lines = [line for line in out.splitlines() if line.startswith("pdq ")]
            assert len(lines) == len(paths), (label, len(lines))
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, (argv, env) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(argv, env=env, capture_output=True, check=True)
            times[label].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers included: the pool joins them
            cpu[label].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    te_label = "threatexchange hash photo FILES (its CLI)"
    te, te_cpu = statistics.median(times[te_label]), statistics.median(cpu[te_label])
    print(
        f"\nwhole process, spawn to exit, {len(paths)} files, median of {runs} (min); CPU of the process tree:"
    )
    for label, values in times.items():
        median, used = statistics.median(values), statistics.median(cpu[label])
        print(
            f"{label:48s} {median * 1000:7.0f} ms ({min(values) * 1000:.0f})  {te / median:5.1f}x"
            f"   CPU {used * 1000:6.0f} ms  {te_cpu / used:5.1f}x"
        )
    ours = te / statistics.median(times["ncii-shield hash --te FILES"])
    print(
        f"ncii-shield hash --te: {ours:.1f}x threatexchange's CLI, wall (target >= 10x: {'met' if ours >= 10 else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7, help="whole-process runs of each command")
    parser.add_argument("--reference", type=Path, help="src/ of another checkout for the whole-process rows")
    parser.add_argument("--whole-only", action="store_true", help="only the whole-process rows")
    args = parser.parse_args()
    from threatexchange.signal_type.pdq.signal import PdqSignal

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_files(Path(tmp), args.files)
        n = len(paths)
        print(
            f"{n} JPEGs of 1280 px, {sum(p.stat().st_size for p in paths) / n / 1024:.0f} KB each; "
            f"{os.cpu_count()} cores"
        )
        if args.whole_only:
            whole_processes(paths, args.runs, args.reference, Path(tmp))
            return
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
        whole_processes(paths, args.runs, args.reference, Path(tmp))


if __name__ == "__main__":
    main()
