"""The hits of a case as rows a person can read: one per item, every route that matched it.

An enrolled photo reposted as-is matches three ways (exact, pdq, face); listing it three times would
bury the composites that only the face route finds, so routes are folded into one row, strongest
first, with each route's distance kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.review.decisions import current
from ncii_shield.store.models import Hit, Item, Media, Reference, Signal, Source
from ncii_shield.text.redact import excerpt


@dataclass(frozen=True)
class HitRow:
    item_id: int
    kind: str  # strongest route: exact > pdq > face
    kinds: tuple[str, ...]
    distances: dict[str, float | None]
    reference: str | None  # label of the enrolled photo of the strongest route
    source: str
    media_path: str | None
    media_sha256: str | None
    chat: str | None
    chat_id: str | None
    message_id: int | None
    sender: str | None
    sender_id: str | None
    date: datetime | None
    forwarded_from: str | None
    reply_to: int | None
    nudity: float | None
    details: dict[str, object] | None = None  # per kind, how it was found (partial copies: route, region)
    excerpt: str | None = None  # text hits: the message around its cues, identifiers masked
    decision: str | None = None  # the latest review decision: confirmed | rejected | None (not reviewed)

    def to_json(self) -> dict[str, object]:
        data = self.__dict__.copy()
        data["kinds"] = list(self.kinds)
        data["date"] = self.date.isoformat() if self.date else None
        return data


def list_hits(session: Session, case_id: int, *, kind: str | None = None) -> list[HitRow]:
    rows = session.execute(
        select(Hit, Item, Source.name, Media.sha256, Reference.photo_label)
        .join(Item, Hit.item_id == Item.id)
        .join(Source, Item.source_id == Source.id)
        .outerjoin(Media, Hit.media_id == Media.id)
        .outerjoin(Reference, Hit.reference_id == Reference.id)
        .where(Hit.case_id == case_id)
    ).all()
    media_ids = {hit.media_id for hit, *_ in rows if hit.media_id}
    nudity = dict(
        session.execute(
            select(Signal.media_id, Signal.score).where(
                Signal.kind == "nudity", Signal.media_id.in_(media_ids)
            )
        ).all()
    )
    grouped: dict[int, list[tuple[Hit, Item, str, str | None, str | None]]] = {}
    for hit, item, source_name, sha, label in rows:
        grouped.setdefault(item.id, []).append((hit, item, source_name, sha, label))
    result: list[HitRow] = []
    for entries in grouped.values():
        entries.sort(key=lambda e: KIND_ORDER.index(e[0].kind))
        hit, item, source_name, sha, label = entries[0]
        kinds = tuple(e[0].kind for e in entries)
        if kind and kind not in kinds:
            continue
        result.append(
            HitRow(
                item_id=item.id,
                kind=hit.kind,
                kinds=kinds,
                details={e[0].kind: e[0].details for e in entries if e[0].details} or None,
                distances={e[0].kind: e[0].distance for e in entries},
                reference=label,
                source=source_name,
                media_path=item.media_path,
                media_sha256=sha,
                chat=item.chat_title,
                chat_id=item.chat_id,
                message_id=item.message_id,
                sender=item.sender_name,
                sender_id=item.sender_id,
                date=item.date,
                forwarded_from=item.forwarded_from,
                reply_to=item.reply_to,
                nudity=nudity.get(hit.media_id) if hit.media_id else None,
                excerpt=_excerpt(item.text, text_details)
                if (text_details := _text_details(entries))
                else None,
            )
        )
    decided = current(session, case_id)
    result = [replace(r, decision=decided[r.item_id].decision) if r.item_id in decided else r for r in result]
    result.sort(key=_order)
    return result


def _text_details(entries: list[tuple[Hit, Item, str, str | None, str | None]]) -> dict[str, object] | None:
    return next((e[0].details or {} for e in entries if e[0].kind == "text"), None)


def _excerpt(text: str, details: dict[str, object]) -> str:
    anchors = details.get("anchors") or []
    masks = details.get("masks") or []
    return excerpt(text, anchors, masks)  # type: ignore[arg-type]


def _order(row: HitRow) -> tuple[int, float, float, int]:
    """Strongest route first; among text hits, solicitations first (highest score); then oldest first."""
    score = 0.0
    if row.kind == "text" and row.details:
        score = float((row.details.get("text") or {}).get("score", 0.0))  # type: ignore[union-attr]
    return (
        KIND_ORDER.index(row.kind),
        -score,
        row.date.timestamp() if row.date else float("inf"),
        row.item_id,
    )
