"""Keeping a cluster's workers busy between chunks: the next chunk's media work starts before this one is
written.

A scan writes its rows chunk by chunk, one transaction each, in the export's order (scan/pipeline.py). On a
cluster the workers would otherwise wait while the scanning process inserts and commits a chunk, then reads,
hashes and submits the next. So the chunk after the one being written is read, hashed and its new files
submitted first: at most CHUNKS_IN_FLIGHT chunks' files are held and analysed at once, and a chunk is begun
ahead only while those in flight hold less than BYTES_AHEAD of new files. The scanning process's memory for
media bytes is then at most BYTES_AHEAD plus one chunk's new files (without prefetching: one chunk's): for
photos ~2 × 64 × 150 KiB ≈ 19 MiB; for large videos (≤ 256 MiB each) no more than one chunk's worth beyond
256 MiB. The scheduler holds the same bytes until the tasks are done.

Nothing here decides a row: a chunk prepared ahead is checked again when it is written, in its transaction,
and whatever changed meanwhile (the chunk before it failed and kept fewer media, another scan stored a file)
is done again there, so the rows are those of a local scan. Imports no cluster library.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

CHUNKS_IN_FLIGHT = 2  # the chunk being written and the one after it
BYTES_AHEAD = 256 << 20  # no chunk is begun ahead while those in flight hold this much of new files

T = TypeVar("T")


@dataclass
class ChunkFiles:
    """A chunk's files as read: SHA-256 by path, why some could not be read, the new files' bytes by hash,
    and the hashes of files that changed between hashing and reading."""

    digests: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    todo: dict[str, bytes] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)


@dataclass
class Ahead:
    """A chunk prepared before it is written: its files, and its new files' media work if it was started."""

    files: ChunkFiles
    started: Iterable[Any] | None = None

    @property
    def size(self) -> int:
        """The bytes of its new files, held until it is written."""
        return sum(len(data) for data in self.files.todo.values())

    def take(self, todo: dict[str, bytes]) -> Iterable[Any] | None:
        """The started work if it is for exactly these files, in this order (once); otherwise it is
        cancelled and None (the caller starts what it needs)."""
        started, self.started = self.started, None
        if started is not None and list(todo) == list(self.files.todo):
            return started
        _close(started)
        return None

    def cancel(self) -> None:
        """Release the started work (its tasks are cancelled on the cluster)."""
        started, self.started = self.started, None
        _close(started)


def _close(started: Iterable[Any] | None) -> None:
    close = getattr(started, "close", None)
    if callable(close):
        close()


def prefetched(
    items: Iterable[T],
    start: Callable[[T, list[Ahead]], Ahead] | None,
    window: int = CHUNKS_IN_FLIGHT,
    most_bytes: int | None = None,
) -> Iterator[tuple[T, Ahead | None]]:
    """Each item with what `start(item, in_flight)` began for it, begun while up to `window - 1` items
    before it (`in_flight`) were still being handled, if they hold less than `most_bytes` (default
    BYTES_AHEAD); the next item is read only when there is room.
    Without `start`, each item as it comes (with None). What the handler did not take of an item is
    cancelled when it asks for the next; closing the iterator (an error, Ctrl-C) cancels what was begun."""
    if start is None:
        for item in items:
            yield item, None
        return
    most_bytes = BYTES_AHEAD if most_bytes is None else most_bytes
    queue: deque[tuple[T, Ahead]] = deque()  # the item being handled first, then those begun after it
    source = iter(items)
    try:
        while True:
            if not queue or (len(queue) < window and sum(begun.size for _, begun in queue) < most_bytes):
                item = next(source, _END)
                if item is not _END:
                    queue.append((item, start(item, [begun for _, begun in queue])))
                    continue
            if not queue:
                break
            yield queue[0]
            queue.popleft()[1].cancel()
    finally:
        for _, begun in queue:
            begun.cancel()


_END: Any = object()
