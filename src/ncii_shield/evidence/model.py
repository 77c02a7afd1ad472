"""What a report shows, as plain data: the store fills it, the renderers only format it.

Keeping this free of database objects means a report can be rendered (and tested) from data alone,
and the evidence bundle of a later issue can reuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ncii_shield.read.families import Family
    from ncii_shield.read.takedown_timeline import CaseTimeline


@dataclass(frozen=True)
class Sighting:
    """One place a copy was seen: a message in a chat (or a file in a folder)."""

    item_id: int
    source: str  # human name of the source, e.g. "Telegram export demo"
    chat: str | None
    chat_type: str | None
    message_id: int | None
    sender: str | None  # "name (user123)" or None
    date: datetime | None
    forwarded_from: str | None
    reply_to: int | None
    media_path: str | None
    text_excerpt: str  # already shortened; may be ""


@dataclass(frozen=True)
class Copy:
    """One distinct media file (by SHA-256) that matched, with every place it was seen."""

    media_sha256: str
    kinds: tuple[str, ...]  # hit kinds on this copy, strongest first: exact, pdq, face
    best_distance: float | None  # of the strongest kind (PDQ bits, face euclidean); None for exact
    nudity: float | None  # 0..1 from the nudity model, for ranking; None if not computed
    width: int | None
    height: int | None
    thumbnail_jpeg: bytes | None  # small JPEG (<= 256 px), unblurred; the renderer blurs it
    sightings: tuple[Sighting, ...]


@dataclass(frozen=True)
class ImageGroup:
    """Copies grouped by what they match: one enrolled photo, or 'the person's face'."""

    title: str  # e.g. "Enrolled photo #1 (ref 3)" or "The person's face on other images"
    reference_label: str | None
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class ReportData:
    case_id: int
    pseudonym: str
    generated_at: datetime
    consent_summary: str  # "given by X on 2026-11-25 via signed form"
    references_summary: str  # "2 photos: 18 PDQ hashes, 2 faces"
    sources: tuple[str, ...]
    groups: tuple[ImageGroup, ...]
    counts_by_kind: dict[str, int] = field(default_factory=dict)
    # Image families and how far each spread (read/families): the web app's Spread tab, in the report.
    families: tuple[Family, ...] = ()
    # Each notice's steps and clock, and the case's transparency table (read/takedown_timeline.py); None
    # for a report made from data alone.
    takedown: CaseTimeline | None = None
