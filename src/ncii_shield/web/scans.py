"""Scans started from the web app, run in a background thread, with progress the page polls.

Exports are not uploaded through the browser (they can be gigabytes); a monitor puts them in the import
folder (``NCII_IMPORT_DIR``, default ``<data dir>/imports``) and picks one from a list. Only names listed
there can be chosen, so no path typed into a form ever reaches the file system.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.errors import NciiError
from ncii_shield.scan.pipeline import Progress
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store


def import_dir(store: Store) -> Path:
    return store.settings.import_dir or store.settings.data_dir / "imports"


def importable(store: Store) -> list[str]:
    """Names in the import folder that can be scanned (folders, zips, result.json files), sorted."""
    root = import_dir(store)
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in (".json", ".zip", ".html"))
    )


@dataclass
class Job:
    id: str
    case_id: int
    name: str
    stage: str = "queued"
    items: int = 0
    media: int = 0
    done_positions: int = 0
    total_positions: int = 0
    finished: bool = False
    error: str | None = None
    summary: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class _JobProgress(Progress):
    def __init__(self, job: Job) -> None:
        self.job = job

    def items(self, n: int) -> None:
        self.job.items += n

    def media(self, n: int) -> None:
        self.job.media += n

    def stage(self, name: str) -> None:
        self.job.stage = name

    def position(self, done: int, total: int) -> None:
        self.job.done_positions, self.job.total_positions = done, total


class Jobs:
    """The scans this server process started (kept in memory; the scan rows in the store are the record)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def start(self, store: Store, case_id: int, name: str) -> Job:
        if name not in importable(store):
            raise NciiError(
                f"{name!r} is not in the import folder", hint=f"put the export in {import_dir(store)}"
            )
        with self._lock:
            if any(j.case_id == case_id and not j.finished for j in self._jobs.values()):
                raise NciiError("a scan of this case is already running", hint="wait for it to finish")
            job = Job(uuid.uuid4().hex[:12], case_id, name)
            self._jobs[job.id] = job
        # The scan runs in the request's context, so the audit log names the web user who started it.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._run, store, job), daemon=True, name=f"scan-{job.id}"
        ).start()
        return job

    def _run(self, store: Store, job: Job) -> None:
        path = import_dir(store) / job.name
        try:
            # One worker: a process pool forked from a threaded web server is not safe.
            done = scan_path(
                store,
                path,
                case_id=job.case_id,
                workers=1,
                timezone=store.settings.timezone,
                progress=lambda i, n, name: _JobProgress(job),
            )
            job.summary = {
                "scan_ids": [r.scan_id for r in done.results],
                "items": sum(r.items_seen for r in done.results),
                "items_new": sum(r.items_new for r in done.results),
                "items_repeated": sum(r.items_repeated for r in done.results),
                "media_new": sum(r.media_new for r in done.results),
                "new_hits": dict(sum((r.new_hits for r in done.results), Counter())),
                "status": "partial" if done.partial else "done",
                "notes": done.notes,
            }
            job.error = "; ".join(r.error for r in done.results if r.error) or None
        except NciiError as exc:
            job.error = exc.message
        except Exception as exc:  # reported on the page, never lost silently
            job.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            job.stage, job.finished = "done", True
