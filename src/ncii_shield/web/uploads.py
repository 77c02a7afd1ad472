"""Exports uploaded from the browser: a resumable, size-capped spool under the data directory.

The browser sends a file in chunks, each with the offset it starts at. The server appends a chunk only if
the offset is exactly what it already holds, so a retried chunk never duplicates bytes and a skipped one
never leaves a hole; after a dropped connection or a reload the browser asks how much arrived and goes on
from there. A finished upload is checked against the size and SHA-256 the browser declares, then against
the intake layer (``sources.open_sources``: a crafted zip, a zip bomb, a link or a path leaving the archive
is refused whole, by the same checks a scan from disk runs), and only then appears under its own name.

At rest: an upload holds the victim's images in clear, as an export folder in the import folder does.
The spool is owner-only (folders 0700, files 0600) inside the data directory, and the web scan deletes it
as soon as the scan has ingested it (media then live sealed in the blob store); uploads nobody finished are
deleted a day after their last chunk, when the next upload starts.

Layout: ``<data dir>/uploads/<case id>/<upload id>/`` holds ``.upload.json`` (what was declared),
``.part`` (the bytes so far) and, once verified, the file under its own (cleaned) name.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from ncii_shield.config import Settings
from ncii_shield.errors import Conflict, NciiError, NotFound, Unavailable
from ncii_shield.sources.folder import media_type_for
from ncii_shield.store.files import atomic_write

MIB = 1 << 20
CHUNK = 4 * MIB  # what the browser is told to send at a time
MAX_CHUNK = 32 * MIB  # one request's body: bounded however large the file is
STALE_SECONDS = 24 * 3600  # an upload untouched this long is deleted when the next one starts
OPEN_PER_CASE = 4  # unfinished uploads a case may have at once (each may be as large as the cap)
DISK_MARGIN = 256 * MIB  # left free for the database and the blob store
_ID = re.compile(r"^[0-9a-f]{32}$")
_META, _PART = ".upload.json", ".part"
_SUFFIXES = (".zip", ".json", ".html", ".htm")
_HASH_CHUNK = 4 * MIB


@dataclass
class Upload:
    """One upload as declared at its start, and how far it has come."""

    id: str
    case_id: int
    name: str
    size: int
    key: str  # the browser's resume key (name, size, modification time): the same file resumes
    user: str
    created: float
    state: str = "receiving"  # receiving | received (verified, under its name) | scanning
    sha256: str | None = None
    received: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.received / self.size) if self.size else 100

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "offset": self.received,
            "state": self.state,
            "chunk": CHUNK,
        }


def clean_name(raw: str) -> str:
    """The file's own name, if it is one: no folders, no NUL or control characters, nothing hidden."""
    name = raw.strip()
    if (
        not name
        or len(name) > 200
        or any(ord(c) < 32 or c in "/\\\x7f" for c in name)
        or name.startswith(".")
        or ".." in name
    ):
        raise NciiError(
            f"the file name {raw[:80]!r} cannot be used",
            hint="rename the file to a plain name such as ChatExport_2024-08-24.zip and upload it again",
        )
    if not name.lower().endswith(_SUFFIXES) and media_type_for(name)[0] == "file":
        raise NciiError(
            f"{name} is not an export",
            hint="upload the zip of a Telegram Desktop export, its result.json, or an image or video",
        )
    return name


class Spool:
    """The uploads of every case, on disk. Every method takes the case id the caller was allowed to use:
    an upload id of another case is simply not found."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.upload_dir
        self.cap = settings.upload_max_mb * MIB

    # ------------------------------------------------------------------------------------------ reading

    def _folder(self, case_id: int, upload_id: str) -> Path:
        if not _ID.match(upload_id):
            raise NotFound("no such upload")
        return self.root / str(int(case_id)) / upload_id

    def get(self, case_id: int, upload_id: str) -> Upload:
        folder = self._folder(case_id, upload_id)
        try:
            upload = Upload(**json.loads((folder / _META).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise NotFound("no such upload", hint="start the upload again") from exc
        if upload.case_id != case_id:
            raise NotFound("no such upload")
        part = folder / _PART
        upload.received = part.stat().st_size if part.exists() else upload.size
        return upload

    def open_uploads(self, case_id: int) -> list[Upload]:
        """This case's uploads not yet scanned, newest first (the scans page offers to resume them)."""
        folder = self.root / str(int(case_id))
        found = []
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            with contextlib.suppress(NciiError):
                found.append(self.get(case_id, entry.name))
        return sorted((u for u in found if u.state != "scanning"), key=lambda u: -u.created)

    def path(self, upload: Upload) -> Path:
        """Where a verified upload is, under its own name (what the scan reads and records)."""
        return self._folder(upload.case_id, upload.id) / upload.name

    # ------------------------------------------------------------------------------------------ writing

    def _save(self, upload: Upload) -> None:
        meta = asdict(upload)
        meta.pop("received")
        atomic_write(self._folder(upload.case_id, upload.id) / _META, json.dumps(meta).encode())

    def start(self, case_id: int, name: str, size: int, key: str, user: str, *, keep: set[str]) -> Upload:
        """A new upload, or the unfinished one of the same file by the same user (it resumes)."""
        name = clean_name(name)
        if size < 1:
            raise NciiError("the file is empty")
        if size > self.cap:
            raise NciiError(
                f"{name} is {size / MIB:,.0f} MiB, over the upload limit of {self.cap // MIB:,} MiB",
                hint="put it in the import folder instead, or raise NCII_UPLOAD_MAX_MB",
            )
        self.cleanup(keep=keep)
        key = key[:300]
        mine = [u for u in self.open_uploads(case_id) if u.key == key and u.user == user and u.size == size]
        if mine:
            return mine[0]
        if len(self.open_uploads(case_id)) >= OPEN_PER_CASE:
            raise Conflict(
                f"this case already has {OPEN_PER_CASE} unfinished uploads",
                hint="finish one of them, or delete it on the scans page",
            )
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        free = shutil.disk_usage(self.root).free
        if free < size + DISK_MARGIN:
            raise Unavailable(
                f"not enough free disk space for {name} ({free // MIB:,} MiB free)",
                hint="free some space on the server, then upload again",
            )
        upload = Upload(secrets.token_hex(16), case_id, name, size, key, user, time.time())
        folder = self._folder(case_id, upload.id)
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700)
        try:
            os.close(os.open(folder / _PART, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._save(upload)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return upload

    @contextlib.contextmanager
    def _locked(self, upload: Upload) -> Iterator[BinaryIO]:
        """The part file, held exclusively: a second request for the same upload at once is refused."""
        folder = self._folder(upload.case_id, upload.id)
        try:
            handle = (folder / _PART).open("r+b")
        except FileNotFoundError:
            raise Conflict("this upload is complete", hint="reload the page") from None
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(
                    "another chunk of this upload is being received", hint="send one chunk at a time"
                ) from None
            yield handle

    @contextlib.contextmanager
    def receiving(self, case_id: int, upload_id: str, offset: int) -> Iterator[ChunkSink]:
        """A sink for one chunk starting at ``offset``. If anything goes wrong before the block ends (a cap
        crossed, a dropped connection, a full disk), the part file is cut back to where it was."""
        upload = self.get(case_id, upload_id)
        with self._locked(upload) as handle:
            held = os.fstat(handle.fileno()).st_size
            if offset != held:
                raise Conflict(
                    f"the chunk starts at byte {offset:,} but {held:,} bytes have arrived",
                    hint=f"resume from byte {held}",
                )
            sink = ChunkSink(handle, held, upload.size)
            try:
                yield sink
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                _cut(handle, held)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise Unavailable(
                        "the server's disk is full", hint="free some space, then resume the upload"
                    ) from exc
                raise Unavailable(f"the chunk could not be stored ({exc.strerror or exc})") from exc
            except BaseException:
                _cut(handle, held)
                raise
            os.utime(self._folder(case_id, upload_id) / _META)  # last activity, for the clean-up

    def finish(self, case_id: int, upload_id: str, sha256: str) -> Upload:
        """Check size and SHA-256, then the content by the intake layer's rules; a verified upload is then
        under its own name. A damaged or refused file is deleted (nothing of it was stored)."""
        upload = self.get(case_id, upload_id)
        if upload.state == "scanning":
            raise Conflict("this upload is being scanned", hint="wait for the scan to finish")
        if upload.state != "receiving":
            return upload  # verified before (a retried finish, or the case's scan was busy)
        if upload.received != upload.size:
            raise Conflict(
                f"only {upload.received:,} of {upload.size:,} bytes have arrived",
                hint=f"resume from byte {upload.received}",
            )
        folder = self._folder(case_id, upload_id)
        with self._locked(upload) as handle:
            digest = hashlib.sha256()
            while block := handle.read(_HASH_CHUNK):
                digest.update(block)
            if not secrets.compare_digest(digest.hexdigest(), sha256.strip().lower()):
                self.discard(case_id, upload_id)
                raise NciiError(
                    f"{upload.name} arrived damaged (its SHA-256 differs from the browser's)",
                    hint="upload it again",
                )
            final = folder / upload.name
            os.replace(folder / _PART, final)
        try:
            _check_content(final, self.settings)
        except NciiError:
            self.discard(case_id, upload_id)
            raise
        except OSError as exc:  # e.g. the disk: the file stays, finishing again re-checks it
            os.replace(final, folder / _PART)
            raise Unavailable(f"{upload.name} could not be checked ({exc.strerror or exc})") from exc
        upload.state, upload.sha256 = "received", digest.hexdigest()
        self._save(upload)
        return upload

    def mark(self, upload: Upload, state: str) -> None:
        """Record the state, unless the upload is gone already (its scan ended and deleted it)."""
        upload.state = state
        if self._folder(upload.case_id, upload.id).is_dir():
            self._save(upload)

    def delete(self, case_id: int, upload_id: str) -> Upload:
        """A case worker's delete of an unfinished upload (never of one a scan is reading)."""
        upload = self.get(case_id, upload_id)
        if upload.state == "scanning":
            raise Conflict("this upload is being scanned", hint="it is deleted when the scan ends")
        self.discard(case_id, upload_id)
        return upload

    def discard(self, case_id: int, upload_id: str) -> None:
        shutil.rmtree(self._folder(case_id, upload_id), ignore_errors=True)

    def cleanup(self, *, keep: set[str], now: float | None = None) -> int:
        """Delete uploads untouched for a day (except those a running scan reads); how many were deleted."""
        now = time.time() if now is None else now
        gone = 0
        for folder in self.root.glob("*/*") if self.root.is_dir() else []:
            if folder.name in keep or not folder.is_dir():
                continue
            touched = max((p.stat().st_mtime for p in folder.iterdir()), default=folder.stat().st_mtime)
            if now - touched > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone


class ChunkSink:
    """Appends one chunk's pieces, refusing the piece that would pass the declared size or the chunk cap."""

    def __init__(self, handle: BinaryIO, start: int, size: int) -> None:
        self.handle, self.start, self.size, self.written = handle, start, size, 0
        handle.seek(start)

    def write(self, piece: bytes) -> None:
        if self.start + self.written + len(piece) > self.size:
            raise NciiError(
                "the chunk runs past the size declared for the file", hint="upload the file again"
            )
        if self.written + len(piece) > MAX_CHUNK:
            raise NciiError(f"a chunk may be at most {MAX_CHUNK // MIB} MiB")
        self.handle.write(piece)
        self.written += len(piece)

    @property
    def offset(self) -> int:
        return self.start + self.written


def _cut(handle: BinaryIO, size: int) -> None:
    with contextlib.suppress(OSError):
        handle.truncate(size)
        os.fsync(handle.fileno())


def _check_content(path: Path, settings: Settings) -> None:
    """What a scan would refuse, refused now: the intake layer's detection and its zip and size limits."""
    from ncii_shield.sources import check_size, open_sources
    from ncii_shield.sources.tree import ZipLimits

    with open_sources(path, limits=ZipLimits.from_settings(settings)) as opened:
        for source in opened.sources:
            check_size(source, settings.max_export_bytes)
