"""Hashing many files fast: reduced-scale decodes in a pool of processes, one per core.

This is the path for jobs that only need hashes (building a bank, the HMA /h/hash endpoint, hashing
a folder to share): decoding dominates, and PDQ needs no more than ~256 px. Scans decode at full
resolution anyway, for faces, and hash that.

NumPy, Pillow and pdqhash are imported by whoever hashes: with a pool, only the workers, each while the
parent is still drawing its progress bar (`ncii-shield hash` pays for them once, on every core at once).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ncii_shield.errors import MediaError

MAX_FILE_BYTES = 256 * 1024 * 1024  # as media/decode.py refuses; read without importing the decoders
POOL_FROM = 8  # fewer files than this are hashed in this process: a worker's start costs ~2 files' work


@dataclass(frozen=True)
class FileHash:
    path: str
    pdq: str | None  # 64 hex characters
    quality: int | None
    error: str | None = None


def hash_file(path: str, *, fast: bool = True) -> FileHash:
    """PDQ of one file (the stored pixels, not EXIF-rotated, as everywhere), or why it has none."""
    from ncii_shield.media.decode import decode_image
    from ncii_shield.signals.pdq import FAST_MIN_SIDE, pdq_hash

    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return FileHash(path, None, None, f"file too large ({size} bytes)")
        with open(path, "rb") as handle:
            data = handle.read()
        decoded = decode_image(data, min_side=FAST_MIN_SIDE if fast else None, upright=False)
        value, quality = pdq_hash(decoded.rgb)
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


def _keep_freed_memory() -> None:
    """Let glibc's malloc reuse freed buffers instead of returning them to the kernel after every file.

    Each file allocates and frees a few MB (the decoded pixels, PDQ's float64 luma temporaries). By
    default glibc maps buffers over 128 KB afresh and trims the heap top on free, so every file pays
    ~1,200 page faults again: ~2.5 ms of kernel time a file, a third of a worker's CPU. A worker's peak
    is a few MB, so keeping it costs nothing. Elsewhere than glibc this does nothing.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024)
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's maximum; larger buffers are still mapped


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _load_decoders() -> None:
    """A worker's first job: import the decoders and Pillow's JPEG reader before the files arrive."""
    _keep_freed_memory()
    from PIL import Image

    import ncii_shield.media.decode
    import ncii_shield.signals.pdq  # noqa: F401

    Image.preinit()


_early: tuple[ProcessPoolExecutor, int] | None = None  # a pool started by start_pool, and its size


def start_pool(workers: int | None = None) -> None:
    """Start the workers now, before the caller knows its files: `ncii-shield hash` calls this before it
    imports Typer and Rich (~100 ms on one core), so the workers load the decoders on the other core
    meanwhile. ``hash_files`` uses the pool if it wants one of this size, else shuts it down."""
    global _early
    workers = workers or os.cpu_count() or 1
    if _early is None and workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_load_decoders)
        pool.submit(int)  # processes are forked on the first submission
        _early = (pool, workers)


def _take_pool(workers: int) -> ProcessPoolExecutor | None:
    """The pool start_pool started, if it has ``workers`` workers; a pool of another size is shut down."""
    global _early
    early, _early = _early, None
    if early is not None and early[1] == workers:
        return early[0]
    if early is not None:
        early[0].shutdown(wait=False, cancel_futures=True)
    return None


def hash_files(paths: list[Path], *, workers: int | None = None, fast: bool = True) -> Iterator[FileHash]:
    """PDQ of every file, in the order given.

    The pool starts now (if start_pool has not started it), not on the first ``next()``: its workers load
    the decoders while the caller sets up (and before it starts any thread, such as a progress bar's,
    which a fork must not copy).
    """
    workers = min(workers or os.cpu_count() or 1, max(1, len(paths)))
    work = partial(hash_file, fast=fast)
    names = [str(p) for p in paths]
    if workers == 1 or len(names) < POOL_FROM:
        _take_pool(0)
        return map(work, names)
    pool = _take_pool(workers) or ProcessPoolExecutor(max_workers=workers, initializer=_load_decoders)
    # Small chunks (~30 per worker, ~3 files each for 240): the last one decides when the slowest worker
    # ends, and a chunk costs ~0.2 ms of pickling where a file costs ~4 ms of decoding.
    chunk = max(1, min(16, len(names) // (workers * 32)))
    return _drain(pool, pool.map(work, names, chunksize=chunk))


def _drain(pool: Executor, results: Iterator[FileHash]) -> Iterator[FileHash]:
    try:
        yield from results
    finally:
        pool.shutdown(cancel_futures=True)
