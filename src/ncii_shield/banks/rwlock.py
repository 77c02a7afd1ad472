"""Many readers or one writer, for the bank index that web request threads search at once.

Searches run in parallel (the PDQ kernel releases the GIL); a PDQIndex must not be searched while it is
being changed. Waiting writers go first, so a stream of lookups cannot starve an update.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class RWLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0

    def try_read(self) -> bool:
        """Start reading if no writer is active or waiting; never waits (for the event loop)."""
        with self._cond:
            if self._writing or self._waiting:
                return False
            self._readers += 1
            return True

    def done_reading(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            self.done_reading()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
