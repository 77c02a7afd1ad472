"""Timing one real scan from outside: the functions the pipeline calls are wrapped, nothing in it changes.

Used by bench/scan_scale.py (one scan per fresh process, so CPU and peak RSS are that scan's alone).
"""

from __future__ import annotations

import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _vm(pid: int | str, field: str) -> float:
    """A /proc/PID/status memory field in MB (VmHWM: peak resident), 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak_rss() -> bool:
    """Linux resets VmHWM to the current RSS on writing 5 to clear_refs: the scan's peak, not enrolment's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Probe:
    """Wall and CPU time of the scanning process, per part, by wrapping what the pipeline calls. Nothing in
    the scan changes: the same functions run, timed."""

    def __init__(self) -> None:
        self.wall: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.sql: Counter[str] = Counter()  # statements by verb
        self.sql_wall: Counter[str] = Counter()
        self.worker_peaks: list[float] = []
        self._undo: list[Callable[[], None]] = []
        self._sql_start: list[float] = []
        self.stage = "setup"

    @contextmanager
    def timing(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - start
            self.calls[name] += 1

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.timing(name):
                return original(*args, **kwargs)

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    def install(self, store: Any) -> None:
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        from ncii_shield.scan import pipeline
        from ncii_shield.sources import tree

        probe = self
        for attr, name in (
            ("store_media", "store media + signals"),
            ("earlier_versions", "dedup: earlier exports"),
            ("_count_chats", "chat counting"),
            ("match_case", "match: case"),
            ("match_banks", "match: banks"),
            ("index_links", "match: room links"),
            ("record_chats", "match: chat summaries"),
        ):
            self.wrap(pipeline, attr, name)
        self.wrap(tree._Reading, "sha256", "dedup: sha256 of files")
        self.wrap(tree._Reading, "read_bytes", "read new files")
        self.wrap(Session, "commit", "commits")

        class TimedPool(ProcessPoolExecutor):
            """The scan's pool; waiting on its results is timed and its workers' peak RSS read at shutdown."""

            def map(self, fn, *iterables, timeout=None, chunksize=1):  # type: ignore[no-untyped-def,override]
                results = super().map(fn, *iterables, timeout=timeout, chunksize=chunksize)

                def timed() -> Iterator[Any]:
                    while True:
                        with probe.timing("waiting for analyses"):
                            try:
                                value = next(results)
                            except StopIteration:
                                return
                        yield value

                return timed()

            def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
                for process in list((self._processes or {}).values()):
                    probe.worker_peaks.append(_vm(process.pid, "VmHWM"))
                super().shutdown(wait=wait, cancel_futures=cancel_futures)

        original_pool = pipeline.ProcessPoolExecutor
        pipeline.ProcessPoolExecutor = TimedPool  # type: ignore[misc]
        self._undo.append(lambda: setattr(pipeline, "ProcessPoolExecutor", original_pool))

        def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            probe._sql_start.append(time.perf_counter())

        def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            verb = statement.lstrip().split(None, 1)[0].upper()
            key = f"{probe.stage}:{verb}"
            probe.sql[key] += len(parameters) if executemany and isinstance(parameters, list) else 1
            probe.sql_wall[key] += time.perf_counter() - probe._sql_start.pop()

        event.listen(store.engine, "before_cursor_execute", before)
        event.listen(store.engine, "after_cursor_execute", after)


class StageClock:
    """The scan's own progress callbacks, timed: reading (ingest) and matching."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.marks: list[tuple[str, float, float]] = []

    def items(self, n: int) -> None: ...

    def media(self, n: int) -> None: ...

    def position(self, done: int, total: int) -> None: ...

    def stage(self, name: str) -> None:
        self.probe.stage = name
        self.marks.append((name, time.perf_counter(), time.process_time()))


def measure_scan(store: Any, export: Path, case_id: int, workers: int) -> dict[str, Any]:
    """One `scan_path` with the probe on: times, CPU, statements and peaks."""
    from ncii_shield.scan.service import scan_path

    probe = Probe()
    probe.install(store)
    clock = StageClock(probe)
    reset = _reset_peak_rss()
    rss_before = _vm("self", "VmRSS")
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        done = scan_path(store, export, case_id=case_id, workers=workers, progress=lambda i, n, name: clock)  # type: ignore[arg-type,return-value]
    finally:
        for undo in reversed(probe._undo):
            undo()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    marks = {name: (w, c) for name, w, c in clock.marks}
    result = done.results[0]
    return {
        "wall": wall,
        "cpu_main": cpu,
        "cpu_workers": (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime),
        "reading_wall": marks["matching"][0] - marks["reading"][0],
        "reading_cpu": marks["matching"][1] - marks["reading"][1],
        "matching_wall": marks["done"][0] - marks["matching"][0],
        "matching_cpu": marks["done"][1] - marks["matching"][1],
        "parts": dict(probe.wall),
        "calls": dict(probe.calls),
        "sql": dict(probe.sql),
        "sql_wall": dict(probe.sql_wall),
        "rss_main_peak": _vm("self", "VmHWM")
        if reset
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_main_before": rss_before,
        "rss_workers": probe.worker_peaks,
        "items_seen": result.items_seen,
        "items_new": result.items_new,
        "items_repeated": result.items_repeated,
        "media_new": result.media_new,
        "items_skipped": result.items_skipped,
        "new_hits": dict(result.new_hits),
        "bank_hits": dict(result.bank_hits),
        "status": result.status,
    }
