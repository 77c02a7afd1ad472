"""A case's hits: rows a person reads (one per message, every route that matched it) and their counts.

An enrolled photo reposted as-is matches three ways (exact, pdq, face); listing it three times would
bury the composites that only the face route finds, so routes are folded into one row, strongest
first, with each route's distance kept. Counting has the same two sides, and :class:`HitCounts` keeps
them apart by name: ``messages`` are rows, ``routes`` are the hits behind them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from sqlalchemy import case, null, or_, select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.evidence import Evidence, HitEvidence, hit_evidence, reference_image
from ncii_shield.read.memo import remembered
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Hit, Item, Media, Reference, Signal, Source

__all__ = [
    "Evidence",
    "HitCounts",
    "HitEvidence",
    "HitRow",
    "count_hits",
    "hit_dates",
    "hit_evidence",
    "list_hits",
    "reference_image",
    "thumb_key",
]


@dataclass(frozen=True)
class HitCounts:
    """A case's hits (or one chat's share of them), counted the ways that mean something.

    ``messages`` is what a reviewer reads: one row each. ``routes`` counts the hits themselves: a message
    found by pdq and by face is one message and two routes, so routes add up to more than messages.
    ``strongest`` puts each message once under the strongest route that found it (exact > pdq > video >
    partial > face > text), so it adds up to ``messages``.
    """

    messages: Annotated[int, Doc("messages with at least one hit")]
    routes: Annotated[
        dict[str, int], Doc("hits per route (exact, pdq, face, text…): a message counts under each route")
    ]
    strongest: Annotated[
        dict[str, int], Doc("messages by the strongest route that found them (adds up to messages)")
    ]


def count_hits(pairs: Iterable[tuple[int, str]]) -> HitCounts:
    """Counts from (item id, route kind) pairs: the one place the three counts are worked out."""
    kinds: dict[int, set[str]] = {}
    for item_id, kind in pairs:
        kinds.setdefault(item_id, set()).add(kind)
    routes: Counter[str] = Counter(k for found in kinds.values() for k in found)
    strongest: Counter[str] = Counter(min(found, key=KIND_ORDER.index) for found in kinds.values())
    return HitCounts(messages=len(kinds), routes=_ordered(routes), strongest=_ordered(strongest))


def _ordered(counts: Counter[str]) -> dict[str, int]:
    return {k: counts[k] for k in sorted(counts, key=KIND_ORDER.index)}


@dataclass(frozen=True)
class HitRow:
    """One message that matched a case, with every route that found it and the latest review decision."""

    item_id: int
    kind: Annotated[str, Doc("the strongest route that matched: exact > pdq > video > partial > face > text")]
    kinds: Annotated[tuple[str, ...], Doc("every route that matched, strongest first")]
    distances: Annotated[dict[str, float | None], Doc("each route's distance (none for exact and text)")]
    reference: Annotated[str | None, Doc("label of the enrolled photo the strongest route matched")]
    source: Annotated[str, Doc("the source (export) the message came from")]
    media_path: Annotated[str | None, Doc("the media file's path inside the export")]
    media_sha256: Annotated[str | None, Doc("SHA-256 of the media file")]
    chat: Annotated[str | None, Doc("the chat's title")]
    chat_id: Annotated[str | None, Doc("the chat's id")]
    message_id: Annotated[int | None, Doc("the message's id in its chat")]
    sender: Annotated[str | None, Doc("the sender's name")]
    sender_id: Annotated[str | None, Doc("the sender's id")]
    date: Annotated[datetime | None, Doc("when the message was sent (UTC)")]
    forwarded_from: Annotated[str | None, Doc("who it was forwarded from")]
    reply_to: Annotated[int | None, Doc("the message it replies to")]
    nudity: Annotated[float | None, Doc("nudity score of the image (for ranking only)")]
    details: Annotated[
        dict[str, object] | None,
        Doc("per route, how it was found (partial copies: route, region; text: fields, score, label, cues)"),
    ] = None
    excerpt: Annotated[str | None, Doc("text hits: the message around its cues, identifiers masked")] = None
    url: Annotated[
        str | None, Doc("where it was found on the web (crawled pages, WARCs, folders with URLs)")
    ] = None
    decision: Annotated[
        Literal["confirmed", "rejected"] | None, Doc("the latest review decision (none: not reviewed)")
    ] = None

    def to_json(self) -> dict[str, object]:
        data = self.__dict__.copy()
        data["kinds"] = list(self.kinds)
        data["date"] = self.date.isoformat() if self.date else None
        return data


def list_hits(
    session: Session,
    case_id: int,
    *,
    kind: str | None = None,
    items: Collection[int] | None = None,
    light: bool = False,
) -> list[HitRow]:
    """The case's hits as rows (only those ``kind`` found, if given; only these ``items``, if given): most
    telling first, each with its latest review decision.

    The rows of a whole case are remembered while its hits are unchanged (read/memo.py): a queue of 5,000
    hits reads them once, not at every page load. Decisions change with every save, so they are read fresh
    each time (one column query) and laid over the remembered rows.
    """
    if items is None:
        base = remembered(
            session, case_id, ("hit rows", light), lambda: _read_rows(session, case_id, None, light)
        )
    else:
        base = _read_rows(session, case_id, items, light)
    from ncii_shield.review.decisions import latest  # with the audit chain: not for a case list

    decided = latest(session, case_id)
    return [
        row if row.item_id not in decided else replace(row, decision=decided[row.item_id])  # type: ignore[arg-type]
        for row in base
        if not kind or kind in row.kinds
    ]


def _read_rows(session: Session, case_id: int, items: Collection[int] | None, light: bool) -> list[HitRow]:
    """The rows without decisions, sorted. Columns, not entities, and each message's sealed columns opened
    once (not once per route that found it); a message's text only for text hits. ``light`` leaves out what
    only a shown row needs (sender, forward source, file path, source name, excerpt: None), so a queue of
    5,000 hits opens one sealed column per message to filter, group and sort, then reads its page in full
    with ``items`` (bench/review_scale.py)."""
    where = [Hit.case_id == case_id] + ([Hit.item_id.in_(list(items))] if items is not None else [])
    in_case = select(Hit.item_id).where(*where)
    # light: only text hits' details (their score orders the queue); the rest are read for the shown page
    details = case((Hit.kind == "text", Hit.details), else_=null()).label("details") if light else Hit.details
    hits = session.execute(
        select(Hit.item_id, Hit.kind, Hit.distance, details, Hit.media_id, Hit.reference_id).where(*where)
    ).all()
    grouped: dict[int, list[Any]] = {}
    for h in hits:
        grouped.setdefault(h.item_id, []).append(h)
    plain = (
        Item.id,
        Item.source_id,
        Item.chat_title,
        Item.chat_id,
        Item.message_id,
        Item.sender_id,
        Item.date,
    )
    # A web address is only in what crawls and folders collect: Telegram messages' sealed `extra` is not
    # opened for it (that was +23 % CPU on a 5,000-hit case, bench/review_scale.py).
    web = or_(Item.chat_type == "website", Item.chat_type.is_(None))
    extra = case((web, Item.extra), else_=null()).label("extra")
    full = (Item.media_path, Item.sender_name, Item.forwarded_from, Item.reply_to, extra)
    columns = (*plain, *(() if light else full))
    names = [c.key for c in columns]
    rows_of = {  # plain dicts: a Row's _mapping costs ~16 us each, a tenth of a 5,000-hit page
        row[0]: dict(zip(names, row, strict=True))
        for row in session.execute(select(*columns).where(Item.id.in_(in_case)))
    }
    texts = (
        {}
        if light
        else dict(
            session.execute(
                select(Item.id, Item.text).where(Item.id.in_(in_case.where(Hit.kind == "text")))
            ).all()
        )
    )
    media_ids = {h.media_id for h in hits if h.media_id}
    shas = dict(session.execute(select(Media.id, Media.sha256).where(Media.id.in_(media_ids))).all())
    nudity = dict(
        session.execute(
            select(Signal.media_id, Signal.score).where(
                Signal.kind == "nudity", Signal.media_id.in_(media_ids)
            )
        ).all()
    )
    reference_ids = {h.reference_id for h in hits if h.reference_id}
    labels = dict(
        session.execute(
            select(Reference.id, Reference.photo_label).where(Reference.id.in_(reference_ids))
        ).all()
    )
    sources: dict[int, str] = (
        {}
        if light
        else dict(
            session.execute(
                select(Source.id, Source.name).where(
                    Source.id.in_({i["source_id"] for i in rows_of.values()})
                )
            ).all()
        )
    )
    result: list[HitRow] = []
    for item_id, entries in grouped.items():
        entries.sort(key=lambda e: KIND_ORDER.index(e.kind))
        hit, item = entries[0], rows_of[item_id]
        kinds = tuple(e.kind for e in entries)
        text_details = next((e.details or {} for e in entries if e.kind == "text"), None)
        result.append(
            HitRow(
                item_id=item_id,
                kind=hit.kind,
                kinds=kinds,
                details={e.kind: e.details for e in entries if e.details} or None,
                distances={e.kind: e.distance for e in entries},
                reference=labels.get(hit.reference_id) if hit.reference_id else None,
                source=sources.get(item["source_id"], ""),
                media_path=item.get("media_path"),
                media_sha256=shas.get(hit.media_id) if hit.media_id else None,
                chat=item["chat_title"],
                chat_id=item["chat_id"],
                message_id=item["message_id"],
                sender=item.get("sender_name"),
                sender_id=item["sender_id"],
                date=item["date"],
                forwarded_from=item.get("forwarded_from"),
                reply_to=item.get("reply_to"),
                nudity=nudity.get(hit.media_id) if hit.media_id else None,
                excerpt=_excerpt(texts.get(item_id) or "", text_details)
                if text_details and not light
                else None,
                url=_url(item.get("extra")),
            )
        )
    result.sort(key=_order)
    return result


def _url(extra: object) -> str | None:
    """The web address an item was found at (sources put it in the sealed `extra`), if it has one."""
    url = extra.get("url") if isinstance(extra, dict) else None
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def hit_dates(session: Session, case_id: int) -> list[datetime]:
    """When each message with a hit was sent (messages without a date left out): for a timeline."""
    return list(
        session.scalars(
            select(Item.date)
            .where(Item.id.in_(select(Hit.item_id).where(Hit.case_id == case_id)), Item.date.is_not(None))
            .order_by(Item.id)
        )
    )


def thumb_key(session: Session, case_id: int, item_id: int) -> str:
    """The thumbnail blob key of a hit's image: one indexed lookup, not a listing of the case's hits."""
    keys = session.execute(
        select(Media.thumb_key)
        .join(Hit, Hit.media_id == Media.id)
        .where(Hit.case_id == case_id, Hit.item_id == item_id)
    ).all()
    if not keys:
        raise NotFound("no image for this hit")
    key = next((k for (k,) in keys if k), None)
    if key is None:
        raise NotFound("no thumbnail kept for this image")
    return key


def _excerpt(text: str, details: dict[str, object]) -> str:
    from ncii_shield.text.redact import excerpt  # its patterns cost ~25 ms to compile: only for text hits

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
