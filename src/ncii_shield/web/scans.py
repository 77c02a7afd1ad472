"""Scans started from the web app, run in a background thread, with progress the page polls.

An export reaches a scan one of two ways. A monitor puts it in the import folder (``NCII_IMPORT_DIR``,
default ``<data dir>/imports``) and picks one from a list: only names listed there can be chosen, so no
path typed into a form ever reaches the file system. Or a case worker uploads it from the browser
(web/uploads.py): once verified, the scan reads it from the upload spool and deletes it when done.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ncii_shield.errors import Conflict, NciiError
from ncii_shield.read.families import warm
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
    upload: str | None = None  # the upload it scans, if it came from the browser
    spool_deleted: bool = False  # the uploaded file is gone from the server (it was ingested)

    @property
    def new_hits(self) -> int:
        found = self.summary.get("new_hits")
        return sum(found.values()) if isinstance(found, dict) else 0

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

    def latest(self, case_id: int) -> Job | None:
        """The last scan of this case started here (what the scans page reports after it reloads)."""
        mine = [j for j in self._jobs.values() if j.case_id == case_id]
        return mine[-1] if mine else None

    def busy(self, case_id: int) -> bool:
        return any(j.case_id == case_id and not j.finished for j in self._jobs.values())

    def scanning_uploads(self) -> set[str]:
        """Uploads a running scan reads: never cleaned up under it."""
        return {j.upload for j in self._jobs.values() if j.upload and not j.finished}

    def start(self, store: Store, case_id: int, name: str) -> Job:
        if name not in importable(store):
            raise NciiError(
                f"{name!r} is not in the import folder", hint=f"put the export in {import_dir(store)}"
            )
        return self._launch(store, Job(uuid.uuid4().hex[:12], case_id, name), import_dir(store) / name)

    def start_upload(
        self, store: Store, case_id: int, name: str, upload_id: str, path: Path, done: Callable[[], None]
    ) -> Job:
        """Scan a verified upload; ``done`` (deleting the spool) runs when the scan ends, however it ends."""
        job = Job(uuid.uuid4().hex[:12], case_id, name, upload=upload_id)
        return self._launch(store, job, path, done)

    def _launch(self, store: Store, job: Job, path: Path, done: Callable[[], None] | None = None) -> Job:
        with self._lock:
            if self.busy(job.case_id):
                raise Conflict("a scan of this case is already running", hint="wait for it to finish")
            self._jobs[job.id] = job
        # The scan runs in the request's context, so the audit log names the web user who started it.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(self._run, store, job, path, done), daemon=True, name=f"scan-{job.id}"
        ).start()
        return job

    def _run(self, store: Store, job: Job, path: Path, cleanup: Callable[[], None] | None) -> None:
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
            with store.session() as session:
                warm(session, job.case_id)  # the first review page after the scan is then a quick one
        except NciiError as exc:
            job.error = exc.message
        except Exception as exc:  # reported on the page, never lost silently
            job.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            if cleanup is not None:
                try:
                    cleanup()
                    job.spool_deleted = True
                except Exception as exc:  # the scan's outcome stands; say the file is still there
                    job.error = (job.error + "; " if job.error else "") + f"upload not deleted: {exc}"
            job.stage, job.finished = "done", True
