"""Hashing many files fast: reduced-scale decodes in a pool of processes, one per core.

This is the path for jobs that only need hashes (building a bank, the HMA /h/hash endpoint, hashing
a folder to share): decoding dominates, and PDQ needs no more than ~256 px. Scans decode at full
resolution anyway, for faces, and hash that.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import MAX_FILE_BYTES
from ncii_shield.signals.pdq import pdq_from_bytes


@dataclass(frozen=True)
class FileHash:
    path: str
    pdq: str | None  # 64 hex characters
    quality: int | None
    error: str | None = None


def hash_file(path: str, *, fast: bool = True) -> FileHash:
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return FileHash(path, None, None, f"file too large ({size} bytes)")
        with open(path, "rb") as handle:
            value, quality = pdq_from_bytes(handle.read(), fast=fast)
    except MediaError as exc:
        return FileHash(path, None, None, exc.message)
    except OSError as exc:
        return FileHash(path, None, None, f"cannot read: {exc.strerror or exc}")
    return FileHash(path, value.hex(), quality)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and files under folders named (sorted, hidden files skipped, links not followed)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if (
                    child.is_file()
                    and not child.is_symlink()
                    and not any(p.startswith(".") for p in child.parts)
                ):
                    yield child
        else:
            yield path


def hash_files(
    paths: list[Path],
    *,
    workers: int | None = None,
    fast: bool = True,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[FileHash]:
    """PDQ of every file, in the order given."""
    workers = workers or os.cpu_count() or 1
    work = partial(hash_file, fast=fast)
    names = [str(p) for p in paths]
    if workers == 1 or len(names) < 8:
        results: Iterable[FileHash] = map(work, names)
        for result in results:
            if on_done:
                on_done(1)
            yield result
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(work, names, chunksize=16):
            if on_done:
                on_done(1)
            yield result
