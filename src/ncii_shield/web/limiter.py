"""The login limiter: wrong passwords per (address, account) and per address, with exponential back-off.

``pages.login`` asks ``blocked(user_key, ip_key)`` before it checks a password and then reports
``failed(...)`` or ``succeeded(...)`` with the same keys. Three properties matter:

- **The limit holds under concurrency.** ``blocked`` is check-and-reserve under one lock: when it answers
  False, the attempt is counted as in flight before argon2 runs, so 40 wrong passwords sent at once are
  40 reservations competing for ``limit`` places, and only ``limit`` passwords are hashed. A reservation
  whose request dies without reporting is dropped after ``hold`` seconds.
- **Nobody can lock an account out for everyone.** Failures are counted per (address, account) pair,
  never per account alone: a stranger who guesses the admin's password wrong from one address is held
  off there, and the admin still logs in from anywhere else. Each address also has a budget across all
  accounts (``address_limit``), so one address cannot spray passwords over many accounts.
- **Back-off, not a hard lock.** After ``limit`` failures a key waits ``base`` seconds, then may try once;
  each further failure doubles the wait (up to ``cap``). A key that stays quiet for ``window`` seconds
  after its last failure and back-off is forgotten; a successful login forgets its pair at once.

The address is what the server sees as the peer. ``ncii-shield serve`` believes ``X-Forwarded-For``
only from the proxies named by ``--forwarded-allow-ips`` (none by default), so a client cannot make up
a new address per try. State is in memory, per server process (``serve`` runs one).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0  # time of the last failure
    blocked_until: float = 0.0
    pending: list[float] = field(default_factory=list)  # reservation times of attempts in flight


class LoginLimiter:
    """At most ``limit`` wrong passwords per (address, account) and ``address_limit`` per address, then
    exponential back-off from ``base`` seconds (at most ``cap``); forgotten after ``window`` quiet seconds."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 300.0,
        *,
        address_limit: int = 20,
        base: float = 30.0,
        cap: float = 3600.0,
        hold: float = 120.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.address_limit = limit, window, address_limit
        self.base, self.cap, self.hold, self.max_entries = base, cap, hold, max_entries
        self._clock = clock
        self._records: dict[bytes, _Record] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------------- interface

    def blocked(self, *keys: str) -> bool:
        """True if this attempt must wait. False *reserves* the attempt: report ``failed`` or
        ``succeeded`` with the same keys once the password is checked."""
        return not self.reserve(*keys)

    def reserve(self, *keys: str) -> bool:
        """Atomically: may this attempt go ahead? If so it is counted as in flight."""
        with self._lock:
            now = self._clock()
            self._tidy(now)
            records = [(self._record(bucket, now), limit) for bucket, limit in self._buckets(keys)]
            if not all(self._open(record, limit, now) for record, limit in records):
                return False
            for record, _ in records:
                record.pending.append(now)
            return True

    def failed(self, *keys: str) -> None:
        with self._lock:
            now = self._clock()
            for bucket, limit in self._buckets(keys):
                record = self._record(bucket, now)
                _release(record)
                record.failures += 1
                record.last = now
                if record.failures >= limit:
                    doublings = min(record.failures - limit, 32)
                    record.blocked_until = now + min(self.cap, self.base * 2**doublings)

    def succeeded(self, *keys: str) -> None:
        """The pair is forgotten; the address keeps its count (a login of one's own does not wash
        away wrong passwords tried on other accounts)."""
        with self._lock:
            buckets = self._buckets(keys)
            self._records.pop(buckets[0][0], None)
            for bucket, _ in buckets[1:]:
                if (record := self._records.get(bucket)) is not None:
                    _release(record)

    # -------------------------------------------------------------------------------------- internals

    def _buckets(self, keys: tuple[str, ...]) -> list[tuple[bytes, int]]:
        """(bucket, limit): first all the keys together (the address and account pair), then the address."""
        buckets = [(_digest("pair", *sorted(keys)), self.limit)]
        buckets += [(_digest("address", k), self.address_limit) for k in keys if k.startswith("ip:")][:1]
        return buckets

    def _record(self, bucket: bytes, now: float) -> _Record:
        record = self._records.get(bucket)
        if record is not None:
            record.pending = [t for t in record.pending if now - t < self.hold]
            if self._stale(record, now):
                record = None
        if record is None:
            record = self._records[bucket] = _Record()
        return record

    def _open(self, record: _Record, limit: int, now: float) -> bool:
        """May one more attempt start now? Within the limit: while fewer than ``limit`` are spent or in
        flight. Past it: one at a time, once the back-off has run out."""
        if now < record.blocked_until:
            return False
        if record.failures < limit:
            return record.failures + len(record.pending) < limit
        return not record.pending

    def _stale(self, record: _Record, now: float) -> bool:
        quiet_since = max(record.last, record.blocked_until)
        return not any(now - t < self.hold for t in record.pending) and now - quiet_since >= self.window

    def _tidy(self, now: float) -> None:
        """Bound memory: drop forgotten records; if still too many, the longest quiet ones."""
        if len(self._records) < self.max_entries:
            return
        for bucket in [b for b, r in self._records.items() if self._stale(r, now)]:
            del self._records[bucket]
        if len(self._records) >= self.max_entries:
            by_age = sorted(
                self._records, key=lambda b: max(self._records[b].last, self._records[b].blocked_until)
            )
            for bucket in by_age[: len(by_age) - self.max_entries // 2]:
                del self._records[bucket]


def _release(record: _Record) -> None:
    if record.pending:
        record.pending.pop(0)


def _digest(*parts: str) -> bytes:
    """Keys are kept as digests: a long made-up username costs 16 bytes."""
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).digest()
