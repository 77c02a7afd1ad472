"""Writing files so that a crash never leaves half a file under its final name."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`.

    The temporary file is created owner-only (0600) and keeps that mode: everything ncii-shield writes
    (media, reports) concerns a victim. Readers see either the old file or the whole new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_directory(path.parent)  # the rename itself must survive a power cut
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def fsync_directory(folder: Path) -> None:
    """Make a new or renamed entry in `folder` durable (POSIX: fsync the directory itself)."""
    descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def create_durably(path: Path, data: bytes) -> Path:
    """Create `path` (never overwrite it), owner-only, and make it and its directory entry durable
    before returning: a key file written just before a database commit must outlive a power cut."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path
