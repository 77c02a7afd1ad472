"""Fill the report's plain data from the store: hits grouped by image, each copy with its sightings."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.evidence.model import Copy, ImageGroup, ReportData, Sighting
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.families import case_families
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.read.takedown_timeline import case_timeline
from ncii_shield.signals.registry import BY_NAME, report_groups
from ncii_shield.store.blobs import BlobStore
from ncii_shield.store.models import Item, Media, Reference, Source

FACE_GROUP = BY_NAME["face"].report_group or ""
TEXT_GROUP = BY_NAME["text"].report_group or ""
EXCERPT = 140


def _sighting(item: Item, source_name: str, redacted: str | None = None, zone: str | None = None) -> Sighting:
    """One place a copy was seen. A message naming the person shows only its redacted excerpt. An old
    export's date had no zone: the one assumed is said beside the source, where the date is read."""
    if item.extra.get("date_is_local"):
        source_name = f"{source_name}; date had no time zone, read as {zone or 'unknown'}"
    sender = None
    if item.sender_name or item.sender_id:
        sender = f"{item.sender_name or '?'} ({item.sender_id})" if item.sender_id else item.sender_name
    text = " ".join(item.text.split())
    return Sighting(
        item_id=item.id,
        source=source_name,
        chat=item.chat_title,
        chat_type=item.chat_type,
        message_id=item.message_id,
        sender=sender,
        date=item.date,
        forwarded_from=item.forwarded_from,
        reply_to=item.reply_to,
        media_path=item.media_path,
        text_excerpt=redacted
        if redacted is not None
        else text
        if len(text) <= EXCERPT
        else text[: EXCERPT - 1] + "…",
    )


def build_report_data(session: Session, blobs: BlobStore, case_id: int) -> ReportData:
    case = get_case(session, case_id)
    rows = list_hits(session, case_id)
    by_media: dict[str, list[HitRow]] = defaultdict(list)
    for row in rows:
        by_media[row.media_sha256 or f"item-{row.item_id}"].append(row)

    items = {
        i.id: (i, name, zone)
        for i, name, zone in session.execute(
            select(Item, Source.name, Source.assumed_timezone)
            .join(Source)
            .where(Item.id.in_([r.item_id for r in rows]))
        ).all()
    }
    media = {m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(list(by_media))))}

    groups: dict[str, list[Copy]] = defaultdict(list)
    for sha, hits in by_media.items():
        strongest = min(hits, key=lambda r: KIND_ORDER.index(r.kind))
        kinds = tuple(k for k in KIND_ORDER if any(k in r.kinds for r in hits))
        distance = min(
            (r.distances.get(strongest.kind) for r in hits if r.distances.get(strongest.kind) is not None),
            default=None,
        )
        m = media.get(sha)
        thumb = blobs.get(m.thumb_key) if m is not None and m.thumb_key else None
        sightings = tuple(
            sorted(
                (
                    _sighting(items[r.item_id][0], items[r.item_id][1], r.excerpt, items[r.item_id][2])
                    for r in hits
                ),
                key=lambda s: (s.date is None, s.date or datetime.min.replace(tzinfo=UTC), s.item_id),
            )
        )
        copy = Copy(
            media_sha256=sha,
            kinds=kinds,
            best_distance=distance,
            nudity=strongest.nudity,
            width=m.width if m else None,
            height=m.height if m else None,
            thumbnail_jpeg=thumb,
            sightings=sightings,
        )
        # A kind with a report group (face, text) is not about one enrolled photo: its copies go together.
        group = BY_NAME[strongest.kind].report_group or f"Enrolled photo: {strongest.reference}"
        groups[group].append(copy)

    special = report_groups()  # after the enrolled photos, in KIND_ORDER
    ordered = sorted(groups, key=lambda g: (special.index(g) if g in special else -1, g))
    image_groups = tuple(
        ImageGroup(
            title=g,
            reference_label=None if g in special else g.split(": ", 1)[1],
            copies=tuple(
                sorted(groups[g], key=lambda c: (c.sightings[0].date is None, c.sightings[0].item_id))
            ),
        )
        for g in ordered
    )
    ref_counts = dict(
        session.execute(
            select(Reference.kind, func.count()).where(Reference.case_id == case_id).group_by(Reference.kind)
        ).all()
    )
    photos = (
        session.scalar(
            select(func.count(func.distinct(Reference.photo_sha256))).where(Reference.case_id == case_id)
        )
        or 0
    )
    sources = tuple(sorted({name for _, name, _ in items.values()}))
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.kind] += 1
    return ReportData(
        case_id=case.id,
        pseudonym=case.pseudonym,
        generated_at=datetime.now(UTC),
        consent_summary=f"given by {case.consent_by} on {case.consent_at:%Y-%m-%d} ({case.consent_method})",
        references_summary=(
            f"{photos} photo(s): {ref_counts.get('pdq', 0)} PDQ hashes, "
            f"{ref_counts.get('face', 0)} face embedding(s), {ref_counts.get('sha256', 0)} SHA-256"
        ),
        sources=sources,
        groups=image_groups,
        counts_by_kind=dict(counts),
        families=tuple(case_families(session, case_id, rows)),
        takedown=case_timeline(session, case_id),
    )
