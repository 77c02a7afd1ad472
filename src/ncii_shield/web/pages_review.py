"""The review queue: a case's hits, most telling first, decided one by one or in bulk.

Images are shown blurred and in grey; revealing one is a POST that is written to the audit chain.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, datetime
from typing import TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from PIL import Image, ImageOps

from ncii_shield.errors import NciiError
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.read.families import case_families
from ncii_shield.read.hits import HitRow, hit_evidence, list_hits, reference_image, thumb_key
from ncii_shield.read.memo import has
from ncii_shield.review.decisions import decide
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.web.deps import form_date, get_store, load_case, warm_after
from ncii_shield.web.evidence_view import facts, overlay_svg
from ncii_shield.web.i18n import translator
from ncii_shield.web.render import check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
_KIND_WEIGHT = {"exact": 3.0, "pdq": 3.0, "video": 3.0, "partial": 2.5, "face": 2.0, "text": 1.0}


PAGE_SIZE = 100


def page_of(rows: list[T], page: int, size: int = PAGE_SIZE) -> tuple[list[T], int, int]:
    """(the rows of `page`, the page actually shown, how many pages): out-of-range pages are clamped."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return rows[(page - 1) * size : page * size], page, pages


def _priority(row: HitRow, spread: int) -> float:
    """Face and exact copies, nudity, a solicitation, and how far it spread: what to look at first."""
    text = (row.details or {}).get("text") or {}
    score = max(_KIND_WEIGHT.get(k, 1.0) for k in row.kinds)
    score += 2.0 * (row.nudity or 0.0) + 2.0 * float(text.get("score", 0.0)) + min(spread, 10) / 5  # type: ignore[union-attr]
    return round(score, 2)


FILTERS = ("family", "kind", "chat", "decision", "since", "until")


def _keep(row: HitRow, want: dict[str, str], family_key: str, since: date | None, until: date | None) -> bool:
    """Does a row pass the queue's filters (posted between `since` and `until`, both days included)?"""
    decision = row.decision or "undecided"
    day: date | None = row.date.date() if isinstance(row.date, datetime) else None
    return not (
        (want["family"] and family_key != want["family"])
        or (want["kind"] and want["kind"] not in row.kinds)
        or (want["chat"] and (row.chat or row.chat_id or "") != want["chat"])
        or (want["decision"] and decision != want["decision"])
        or ((since or until) and day is None)
        or (since and day and day < since)
        or (until and day and day > until)
    )


@router.get("/cases/{case_id}/review")
def review_queue(
    request: Request,
    case_id: int,
    family: str = "",
    kind: str = "",
    chat: str = "",
    decision: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    """The queue, filtered by image family (decide a whole family at once), route, chat, decision and the
    days posted, PAGE_SIZE rows a page (undecided and most telling first, so page 1 is where the work is).
    Each row shows the copy beside the enrolled photo it matched, with its route's evidence drawn on it."""
    want = dict(family=family, kind=kind, chat=chat, decision=decision, since=since, until=until)
    first, last = form_date(since, "since"), form_date(until, "until")
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "hits.review", case_id)
        t = translator(who.language)
        rows = list_hits(
            session, case_id, light=True
        )  # what filters, groups and sorts; the page in full below
        families = case_families(session, case_id, rows, spread=False)
        # The other page's rows, if not remembered, are read once this response is sent (deps.warm_after).
        cold_other = not has(session, case_id, ("hit rows", False))
        family_of = {r.item_id: f for f in families for r in f.copies}
        spread = Counter(r.media_sha256 for r in rows if r.media_sha256)
        chats = sorted({r.chat or r.chat_id or "" for r in rows} - {""})
        picked = [r for r in rows if _keep(r, want, family_of[r.item_id].key, first, last)]
        priority = {r.item_id: _priority(r, spread.get(r.media_sha256 or "", 1)) for r in picked}
        picked.sort(key=lambda r: (r.decision is not None, -priority[r.item_id], r.item_id))
        total, undecided = len(picked), sum(1 for r in picked if r.decision is None)
        shown, page, pages = page_of(picked, page)
        full = {r.item_id: r for r in list_hits(session, case_id, items=[r.item_id for r in shown])}
        shown = [full.get(r.item_id, r) for r in shown]
        evidence = hit_evidence(session, case_id, [r.item_id for r in shown])
        view = []
        for r in shown:
            text = (r.details or {}).get("text") or {}
            ev = evidence.get(r.item_id)
            view.append(
                dict(
                    item_id=r.item_id,
                    priority=priority[r.item_id],
                    kinds=r.kinds,
                    has_thumb=bool(r.media_sha256),
                    what=r.excerpt if r.excerpt else (r.media_path or ""),
                    label=text.get("label"),  # type: ignore[union-attr]
                    score=float(text.get("score", 0.0)),  # type: ignore[union-attr]
                    chat=r.chat,
                    url=r.url,
                    message_id=r.message_id,
                    date=f"{r.date:%Y-%m-%d %H:%M}" if r.date else "",
                    decision=r.decision,
                    family=family_of[r.item_id].key,
                    family_label=family_of[r.item_id].label,
                    overlay=overlay_svg(ev, t),
                    facts=facts(ev, t),
                    reference=ev.reference_label if ev else None,
                    reference_shown=bool(ev and ev.reference_shown),
                )
            )
        flash = None
        saved, how = request.query_params.get("saved", ""), request.query_params.get("decision_saved", "")
        if saved.isdigit() and how in ("confirmed", "rejected"):
            flash = t("saved_n").format(n=int(saved), decision=t(how), left=undecided)
        filters = {k: v for k, v in want.items() if v}
        page = render(
            request,
            "review.html.j2",
            who,
            case=case,
            tab="review",
            rows=view,
            flash=flash,
            families=families,
            chats=chats,
            filters=filters,
            family=family,
            kind=kind,
            chat=chat,
            decision=decision,
            since=since,
            until=until,
            page=page,
            pages=pages,
            total=total,
            undecided=undecided,
            query_string=urlencode(filters),
        )
        return warm_after(page, request, case_id) if cold_other else page


@router.post("/cases/{case_id}/review")
async def review_decide(request: Request, case_id: int) -> Response:
    form = await request.form()
    items = [int(v) for v in form.getlist("item") if str(v).isdigit()]
    decision, reason, token = (
        str(form.get("decision", "")),
        str(form.get("reason", "")),
        str(form.get("csrf_token", "")),
    )
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, token)
        load_case(session, who, "hits.review", case_id)
        if not items:
            raise NciiError("select at least one hit")
        done = decide(session, case_id, decision, reason, item_ids=items)
    # Back to the same view (its filters), with what was saved.
    keep = {k: str(form.get(f"keep_{k}", "")) for k in FILTERS if form.get(f"keep_{k}")}
    keep.update({k: str(form.get(k, "")) for k in ("family", "kind") if form.get(k)})  # older forms
    query = urlencode({**keep, "saved": len(done), "decision_saved": decision})
    return redirect(f"/cases/{case_id}/review?{query}")


@router.get("/cases/{case_id}/items/{item_id}/thumb")
def thumb(request: Request, case_id: int, item_id: int) -> Response:
    """Blurred and grey, always: what the queue shows before anyone chooses to look."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        load_case(session, who, "hits.review", case_id)
        key = thumb_key(session, case_id, item_id)
    return _blurred_grey(store.blobs.get(key))


def _blurred_grey(jpeg: bytes) -> Response:
    """What every thumbnail is until someone chooses to look: blurred, grey, small."""
    blurred = Image.open(io.BytesIO(blur_thumbnail(jpeg)))
    out = io.BytesIO()
    ImageOps.grayscale(blurred).save(out, format="JPEG", quality=70)
    return Response(out.getvalue(), media_type="image/jpeg")


@router.post("/cases/{case_id}/items/{item_id}/reveal")
def reveal(request: Request, case_id: int, item_id: int, csrf_token: str = Form("")) -> Response:
    """The clear thumbnail, for one person who chose to look; the reveal is in the audit chain."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "media.reveal", case_id)
        key = thumb_key(session, case_id, item_id)
        audit.record(session, "media.revealed", case_id=case_id, item=item_id, user=who.username)
    return Response(store.blobs.get(key), media_type="image/jpeg")


def _reference_jpeg(store: Store, key: str, original: bool) -> bytes:
    """The enrolled photo's thumbnail: a stored thumbnail as is, a kept original made small first."""
    data = store.blobs.get(key)
    if not original:
        return data
    with Image.open(io.BytesIO(data)) as im:
        small = ImageOps.exif_transpose(im).convert("RGB")
        small.thumbnail((256, 256))
        out = io.BytesIO()
        small.save(out, format="JPEG", quality=80)
        return out.getvalue()


@router.get("/cases/{case_id}/items/{item_id}/reference/thumb")
def reference_thumb(request: Request, case_id: int, item_id: int) -> Response:
    """The enrolled photo a hit matched, blurred and grey like the copy beside it."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        load_case(session, who, "hits.review", case_id)
        key, original = reference_image(session, case_id, item_id)
    return _blurred_grey(_reference_jpeg(store, key, original))


@router.post("/cases/{case_id}/items/{item_id}/reference/reveal")
def reveal_reference(request: Request, case_id: int, item_id: int, csrf_token: str = Form("")) -> Response:
    """The enrolled photo in clear, for one person who chose to look: audited like the copy's reveal."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "media.reveal", case_id)
        key, original = reference_image(session, case_id, item_id)
        audit.record(
            session, "media.revealed", case_id=case_id, item=item_id, user=who.username, what="reference"
        )
    return Response(_reference_jpeg(store, key, original), media_type="image/jpeg")
