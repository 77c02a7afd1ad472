"""What a scan reports: its result, its progress callbacks, and one chunk's tally (kept apart so the
pipeline module holds only the work)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ncii_shield.scan.exports import ChatSummary


@dataclass
class ScanResult:
    scan_id: int
    source_id: int
    status: str
    items_seen: int = 0
    items_new: int = 0
    media_new: int = 0
    items_skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    new_hits: Counter[str] = field(default_factory=Counter)
    bank_hits: Counter[str] = field(default_factory=Counter)  # new hits by bank name
    room_links: int = 0  # links to rooms found in the new messages
    items_repeated: int = 0  # messages already stored from an earlier export of the same chat
    dates_assumed: int = 0  # messages whose date had no zone: the assumed one was applied
    chats: list[ChatSummary] = field(default_factory=list)


class Progress:
    """What a scan reports while it works; the CLI draws it as Rich progress bars."""

    def items(self, n: int) -> None: ...

    def media(self, n: int) -> None: ...

    def stage(self, name: str) -> None: ...

    def position(self, done: int, total: int) -> None: ...


@dataclass
class Tally:
    """What one chunk added; merged into the scan's result only once its transaction has committed."""

    items_seen: int = 0
    items_new: int = 0
    items_repeated: int = 0
    media_new: int = 0
    items_skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def add_to(self, result: ScanResult | Tally) -> None:
        result.items_seen += self.items_seen
        result.items_new += self.items_new
        result.items_repeated += self.items_repeated
        result.media_new += self.media_new
        result.items_skipped += self.items_skipped
        result.skip_reasons.update(self.skip_reasons)
