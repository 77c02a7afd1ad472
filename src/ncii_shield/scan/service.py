"""Scan whatever a path holds: every export found in it (folder, zip, several side by side)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ncii_shield.errors import NciiError
from ncii_shield.scan.pipeline import Progress, ScanResult, run_scan
from ncii_shield.sources import check_size, open_sources
from ncii_shield.sources.tree import ZipLimits
from ncii_shield.store.db import Store


def timezone_named(name: str) -> ZoneInfo:
    """An IANA zone (Asia/Seoul, Europe/Berlin, UTC) or a one-line error saying so."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise NciiError(
            f"unknown time zone {name!r}", hint="give an IANA name such as Asia/Seoul, Europe/London or UTC"
        ) from exc


@dataclass
class PathScan:
    """One scan per export found under the path, and what detection noticed."""

    results: list[ScanResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return any(r.status == "partial" for r in self.results)


def scan_path(
    store: Store,
    path: Path,
    *,
    case_id: int | None,
    workers: int | None = None,
    timezone: str | None = None,
    progress: Callable[[int, int, str], Progress] | None = None,
    cluster: str | None = None,
) -> PathScan:
    """Detect, then scan each export in turn; `progress(index, count, name)` gives each its bar.

    `timezone` (for offset-less dates) defaults to the settings' (NCII_TIMEZONE); the size and zip limits
    come from the settings too. `cluster` (default NCII_CLUSTER): a Dask scheduler address or local:N runs
    the media work there (scan/cluster.py); none, a local process pool."""
    settings = store.settings
    zone = timezone_named(timezone or settings.timezone)
    done = PathScan()
    address = cluster or settings.cluster
    with ExitStack() as stack:
        opened = stack.enter_context(
            open_sources(Path(path), assumed_timezone=zone, limits=ZipLimits.from_settings(settings))
        )
        done.notes = list(opened.notes)
        for source in opened.sources:
            check_size(source, settings.max_export_bytes)
        remote = None
        if address and opened.sources:
            from ncii_shield.scan.cluster import open_cluster

            remote = stack.enter_context(open_cluster(address, store))
        for index, source in enumerate(opened.sources):
            where = Path(source.tree.location)
            done.results.append(
                run_scan(
                    store,
                    source,
                    location=where,
                    case_id=case_id,
                    workers=workers,
                    progress=progress(index, len(opened.sources), source.describe()) if progress else None,
                    remote=remote,
                )
            )
    done.notes.extend(_renotice(store))
    return done


def _renotice(store: Store) -> list[str]:
    """New hits may be re-uploads of removed content: a notice is drafted for each (takedown/reupload.py)."""
    from ncii_shield.takedown.reupload import renotice_cases

    try:
        found = renotice_cases(store, store.settings)
    except NciiError as exc:  # the scan itself is done and kept; the next worker pass tries again
        return [f"re-uploads not looked for: {exc}"]
    notes = [f"re-upload of removed content: notice {n} drafted for review" for n in found.drafted]
    return notes + found.problems
