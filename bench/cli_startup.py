"""CLI start-up: time to first byte of `ncii-shield --help`, a wrong argument, `case list` and `hash` of
one photo, before/after.

Usage: .venv/bin/python bench/cli_startup.py --reference /tmp/cli-ref/src [--runs 15]

Every command is a fresh `python -m ncii_shield.cli.main` subprocess, timed on the wall clock from spawn to
the first byte on stdout or stderr (and to its exit). `--reference` is the `src/` folder of another
checkout, e.g. the CLI before it was split (`git archive b4a7a86 src | tar -x -C /tmp/cli-ref`); the same
commands run against it and against this checkout, interleaved round by round so a busy machine slows both
alike, and `python -c pass` gives the interpreter's own floor. `case list` runs on a data directory each
tree initialised itself (`init --generate-key-file`), one case open; the target is under 300 ms to its exit
(median), which it meets by reading SQLite with sqlite3 instead of SQLAlchemy (read/quick.py). Byte-code caches are allowed and
warmed by one untimed run, as an installed package has them. Prints medians (ms) and reference/current.
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ["-m", "ncii_shield.cli.main"]
PHOTO = ROOT / "src" / "ncii_shield" / "demo" / "assets" / "obama.jpg"
CASE = ["--pseudonym", "A", "--consent-by", "A", "--consent-method", "signed form"]


def environment(src: Path, key_file: Path | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("NCII_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(PYTHONPATH=str(src), COLUMNS="100")
    if key_file is not None:
        env["NCII_KEY_FILE"] = str(key_file)
    return env


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the first byte of output, and to the exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = None
    with selectors.DefaultSelector() as selector:
        assert proc.stdout is not None and proc.stderr is not None
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        open_streams = 2
        while open_streams:
            for key, _ in selector.select():
                chunk = os.read(key.fd, 65536)
                if chunk and first is None:
                    first = time.perf_counter() - start
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
    proc.wait()
    end = time.perf_counter() - start
    return (first if first is not None else end), end


def prepare(src: Path, work: Path, name: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The timed commands against one source tree, with its own initialised data directory."""
    data, key = work / f"{name}-data", work / f"{name}.key"
    python = [sys.executable]
    setup = environment(src)
    subprocess.run(
        [*python, *CLI, "--data-dir", str(data), "init", "--generate-key-file", str(key)],
        env=setup,
        check=True,
        capture_output=True,
    )
    opened = environment(src, key)
    subprocess.run(
        [*python, *CLI, "--data-dir", str(data), "case", "open", *CASE],
        env=opened,
        check=True,
        capture_output=True,
    )
    return {
        "--help": ([*python, *CLI, "--help"], setup),
        "wrong argument (case lst)": ([*python, *CLI, "case", "lst"], setup),
        "case list": ([*python, *CLI, "--data-dir", str(data), "case", "list"], opened),
        "hash --te (one photo)": ([*python, *CLI, "hash", "--te", str(PHOTO)], setup),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reference", type=Path, required=True, help="src/ folder of the CLI to compare with"
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        trees = {"reference": args.reference.resolve(), "current": ROOT / "src"}
        commands = {name: prepare(src, Path(tmp), name) for name, src in trees.items()}
        floor_cmd = ([sys.executable, "-c", "pass"], environment(ROOT / "src"))
        jobs = [("python -c pass", "", floor_cmd)] + [
            (label, name, commands[name][label]) for label in commands["current"] for name in trees
        ]
        for _, _, (argv, env) in jobs:
            timed(argv, env)  # warm the byte-code caches and the page cache; not counted
        first: dict[tuple[str, str], list[float]] = {(label, name): [] for label, name, _ in jobs}
        total: dict[tuple[str, str], list[float]] = {(label, name): [] for label, name, _ in jobs}
        for _ in range(args.runs):  # round-robin: noise from other work on the machine hits every column
            for label, name, (argv, env) in jobs:
                ttfb, end = timed(argv, env)
                first[(label, name)].append(ttfb)
                total[(label, name)].append(end)

    def ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values):.0f}"

    print(f"python {sys.version.split()[0]}, {args.runs} runs each, median ms (first byte / exit)")
    print(f"python -c pass: {ms(first[('python -c pass', '')])} / {ms(total[('python -c pass', '')])}")
    print(f"{'command':28} {'reference':>13} {'current':>13} {'ratio':>6}")
    for label in commands["current"]:
        ref, cur = (label, "reference"), (label, "current")
        ratio = statistics.median(first[ref]) / statistics.median(first[cur])
        print(
            f"{label:28} {ms(first[ref]):>6} / {ms(total[ref]):>4} {ms(first[cur]):>6} / {ms(total[cur]):>4}"
            f" {ratio:>5.1f}x"
        )
    listing = 1000 * statistics.median(total[("case list", "current")])
    print(
        f"case list, spawn to exit: {listing:.0f} ms (target < 300 ms: {'met' if listing < 300 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
