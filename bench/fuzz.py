"""Fuzz the hostile-input readers for minutes, with the generators and checks of tests/test_fuzz.py.

Usage: .venv/bin/python bench/fuzz.py --target telegram|image|all --seconds N [--seed S]

CI runs those properties for 60 to 1,200 derandomized examples each; this runs them for as long as it
is given, in batches with fresh randomness, so it keeps finding new inputs. Targets:
  telegram  result.json documents (generated, serialized, damaged), random bytes after "{",
            ControlEscapeFilter against its byte-by-byte reference, safe_relative_path
  image     decode_image on damaged real images/videos and random bytes after magic numbers,
            analyse_bytes on lightly damaged ones
A failure is shrunk by Hypothesis and its minimal input saved under bench/fuzz-findings/ (the input
as a file, plus a .txt with the traceback); so is any input slower than --slow seconds, and one still
running after --hang seconds ends the run. Memory is capped (--max-memory-mb), so a blow-up is
reported as a MemoryError instead of ending the run.
Prints examples/s per check and the outcomes seen (decoded/refused, items read), for docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import resource
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ is not installed; the generators live there, next to the CI checks
os.environ.setdefault("NCII_FUZZ_PROFILE", "fuzz-explore")

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.database import InMemoryExampleDatabase  # noqa: E402

from ncii_shield.media.decode import Decoded  # noqa: E402
from ncii_shield.signals.analyse import Analysis  # noqa: E402
from tests.test_fuzz import TARGETS  # noqa: E402

FINDINGS = ROOT / "bench" / "fuzz-findings"
# Share of a group's time per check: the export and decode checks find the most, so they get the most.
WEIGHTS = {"export": 5, "export-random": 1, "escape-filter": 1, "safe-path": 1, "decode": 3, "analyse": 1}


@dataclass
class Run:
    """What one check did: counts, timings and the distinct failures it saved."""

    name: str
    examples: int = 0
    seconds: float = 0.0
    batches: int = 0
    slowest: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: dict[str, Path] = field(default_factory=dict)
    slow: list[Path] = field(default_factory=list)


def _outcome(result: object) -> str:
    """A coarse label for what the reader made of an input, to see how deep the fuzzer gets."""
    if isinstance(result, Decoded):
        return f"decoded {result.format}"
    if isinstance(result, Analysis):
        return "analysed" if result.error is None else "refused"
    if isinstance(result, list):
        return "items read" if result else "no items"
    if isinstance(result, str):
        return result
    return "refused" if result is None else "ok"


def _input_bytes(value: Any) -> tuple[bytes, str]:
    """The raw input to save as a file, and its extension."""
    if isinstance(value, bytes):
        return value, "bin"
    if isinstance(value, tuple) and value and isinstance(value[0], bytes):
        return value[0], "bin"
    return repr(value).encode("utf-8", "backslashreplace"), "repr"


def _save(run: Run, kind: str, value: Any, text: str) -> Path:
    data, extension = _input_bytes(value)
    digest = hashlib.sha256(data).hexdigest()[:12]
    FINDINGS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{run.name}-{kind}-{digest}")
    (FINDINGS / f"{stem}.{extension}").write_bytes(data)
    (FINDINGS / f"{stem}.txt").write_text(f"{run.name}: {kind}\ninput: {value!r:.2000}\n\n{text}\n", "utf-8")
    return FINDINGS / f"{stem}.{extension}"


def _failure_key(exc: BaseException) -> str:
    """Type plus the innermost frame in the project: one key per distinct bug, not per input."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "site-packages/hypothesis" not in f.filename
    ]
    inner = next(
        (f for f in reversed(frames) if "/src/ncii_shield/" in f.filename), frames[-1] if frames else None
    )
    where = f"{Path(inner.filename).name}:{inner.lineno}" if inner else "?"
    return f"{type(exc).__name__}@{where}"


class Watchdog(threading.Thread):
    """Saves the input and ends the run if one example outlives `limit` seconds: a hang is a finding too.

    Pillow, FFmpeg and yajl release the GIL while decoding, so this thread still runs when they spin.
    """

    def __init__(self, limit: float) -> None:
        super().__init__(daemon=True)
        self.limit = limit
        self.current: tuple[Run, Any, float] | None = None

    def run(self) -> None:
        while True:
            time.sleep(1.0)
            current = self.current
            if current is not None and time.perf_counter() - current[2] > self.limit:
                run, value, _ = current
                path = _save(run, "hang", value, f"still running after {self.limit:g} s")
                print(f"  HANG {run.name}: input saved to {path}; stopping", flush=True)
                os._exit(3)


def fuzz(
    group: str, name: str, budget: float, rng: random.Random, slow_after: float, watchdog: Watchdog
) -> Run:
    """Run one check in batches sized to the time left, until its budget is spent."""
    strategy, check = TARGETS[group][name]
    run = Run(f"{group}:{name}")
    failing: dict[str, tuple[Any, BaseException]] = {}  # last (= minimal, replayed last) input per bug

    def body(value: Any) -> None:
        run.examples += 1
        started = time.perf_counter()
        watchdog.current = (run, value, started)
        try:
            result = check(value)
        except Exception as exc:
            failing[_failure_key(exc)] = (value, exc)
            raise
        finally:
            watchdog.current = None
            took = time.perf_counter() - started
            run.slowest = max(run.slowest, took)
            if took > slow_after and len(run.slow) < 5:
                run.slow.append(_save(run, f"slow-{took:.1f}s", value, f"took {took:.2f} s"))
        run.outcomes[_outcome(result)] += 1

    deadline = time.monotonic() + budget
    per_example = 0.01
    while (left := deadline - time.monotonic()) > 0.5:
        batch = int(max(20, min(20_000, left / per_example)))
        test = seed(rng.getrandbits(64))(
            settings(
                max_examples=batch,
                deadline=None,
                database=InMemoryExampleDatabase(),
                derandomize=False,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )(given(strategy)(body))
        )
        before, started = run.examples, time.perf_counter()
        try:
            test()
        except BaseException as exc:  # an ExceptionGroup when one batch finds several bugs
            if isinstance(exc, KeyboardInterrupt):
                raise
            for key, (value, error) in failing.items():
                if key not in run.failures:
                    text = "".join(traceback.format_exception(error))
                    run.failures[key] = _save(run, key, value, text)
                    print(
                        f"  FAILURE {run.name} {key}: {str(error)[:200]!r} -> {run.failures[key]}", flush=True
                    )
        took = time.perf_counter() - started
        run.seconds += took
        run.batches += 1
        per_example = max(1e-5, took / max(1, run.examples - before))
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=60.0, help="total time, shared between checks")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed the random stream (batch sizes follow timing: close, not exact)",
    )
    parser.add_argument(
        "--hang", type=float, default=60.0, help="save the input and stop after this (seconds)"
    )
    parser.add_argument("--slow", type=float, default=2.0, help="save inputs slower than this (seconds)")
    parser.add_argument("--max-memory-mb", type=int, default=6144, help="address-space cap; 0 for none")
    args = parser.parse_args()

    if args.max_memory_mb:
        limit = args.max_memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")  # Pillow's "Corrupt EXIF" and Hypothesis' repr warnings, by the thousand
    run_seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(run_seed)
    groups = list(TARGETS) if args.target == "all" else [args.target]
    checks = [(g, n) for g in groups for n in TARGETS[g]]
    print(f"fuzz: target={args.target} seconds={args.seconds:g} seed={run_seed}", flush=True)

    watchdog = Watchdog(args.hang)
    watchdog.start()
    runs: list[Run] = []
    started = time.perf_counter()
    for group, name in checks:
        share = WEIGHTS[name] / sum(WEIGHTS[m] for m in TARGETS[group]) / len(groups)  # groups share equally
        print(f"- {group}:{name} for {args.seconds * share:.0f} s", flush=True)
        runs.append(fuzz(group, name, args.seconds * share, rng, args.slow, watchdog))
    wall = time.perf_counter() - started

    print(
        f"\n{'check':<24} {'examples':>9} {'seconds':>8} {'ex/s':>8} {'slowest':>9} {'failures':>8}  outcomes"
    )
    for run in runs:
        rate = run.examples / run.seconds if run.seconds else 0.0
        outcomes = ", ".join(f"{k} {v / max(1, run.examples):.0%}" for k, v in run.outcomes.most_common(6))
        print(
            f"{run.name:<24} {run.examples:>9,} {run.seconds:>8.1f} {rate:>8,.0f} {run.slowest * 1000:>7,.0f}ms"
            f" {len(run.failures):>8}  {outcomes}"
        )
    total = sum(r.examples for r in runs)
    found = [(r.name, key, path) for r in runs for key, path in r.failures.items()]
    slow = [path for r in runs for path in r.slow]
    print(f"\ntotal: {total:,} examples in {wall:.0f} s ({total / wall:,.0f}/s); seed {run_seed}")
    print(f"failures: {len(found)}" + "".join(f"\n  {n} {k} -> {p.relative_to(ROOT)}" for n, k, p in found))
    print(
        f"slow inputs (> {args.slow:g} s): {len(slow)}" + "".join(f"\n  {p.relative_to(ROOT)}" for p in slow)
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
