"""The review queue: a case's hits, most telling first, decided one by one or in bulk.

Images are shown blurred and in grey; revealing one is a POST that is written to the audit chain.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from PIL import Image, ImageOps

from ncii_shield.errors import NciiError
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.read.families import case_families
from ncii_shield.read.hits import HitRow, list_hits, thumb_key
from ncii_shield.review.decisions import decide
from ncii_shield.store import audit
from ncii_shield.web.deps import get_store, load_case
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


@router.get("/cases/{case_id}/review")
def review_queue(request: Request, case_id: int, family: str = "", kind: str = "", page: int = 1) -> Response:
    """The queue, optionally one image family (decide a whole family at once) or one route, PAGE_SIZE rows a
    page (undecided and most telling first, so page 1 is always where the work is)."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "hits.review", case_id)
        rows = list_hits(session, case_id)
        families = case_families(session, case_id, rows)
        family_of = {r.item_id: f for f in families for r in f.copies}
        spread = Counter(r.media_sha256 for r in rows if r.media_sha256)
        view = []
        for r in rows:
            if (family and family_of[r.item_id].key != family) or (kind and kind not in r.kinds):
                continue
            text = (r.details or {}).get("text") or {}
            view.append(
                dict(
                    item_id=r.item_id,
                    priority=_priority(r, spread.get(r.media_sha256 or "", 1)),
                    kinds=r.kinds,
                    has_thumb=bool(r.media_sha256),
                    what=r.excerpt if r.excerpt else (r.media_path or ""),
                    label=text.get("label"),  # type: ignore[union-attr]
                    score=float(text.get("score", 0.0)),  # type: ignore[union-attr]
                    chat=r.chat,
                    message_id=r.message_id,
                    date=f"{r.date:%Y-%m-%d %H:%M}" if r.date else "",
                    decision=r.decision,
                    family=family_of[r.item_id].key,
                    family_label=family_of[r.item_id].label,
                )
            )
        view.sort(key=lambda v: (v["decision"] is not None, -v["priority"], v["item_id"]))  # type: ignore[operator]
        total, undecided = len(view), sum(1 for v in view if v["decision"] is None)
        view, page, pages = page_of(view, page)
        flash = None
        saved, how = request.query_params.get("saved", ""), request.query_params.get("decision", "")
        if saved.isdigit() and how in ("confirmed", "rejected"):
            t = translator(who.language)
            left = undecided
            flash = t("saved_n").format(n=int(saved), decision=t(how), left=left)
        return render(
            request,
            "review.html.j2",
            who,
            case=case,
            tab="review",
            rows=view,
            flash=flash,
            families=families,
            family=family,
            kind=kind,
            page=page,
            pages=pages,
            total=total,
            undecided=undecided,
            query_string=urlencode({k: v for k, v in (("family", family), ("kind", kind)) if v}),
        )


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
    # Back to the same view (one family, one route), with what was saved.
    keep = {k: str(form.get(k, "")) for k in ("family", "kind") if form.get(k)}
    query = urlencode({**keep, "saved": len(done), "decision": decision})
    return redirect(f"/cases/{case_id}/review?{query}")


@router.get("/cases/{case_id}/items/{item_id}/thumb")
def thumb(request: Request, case_id: int, item_id: int) -> Response:
    """Blurred and grey, always: what the queue shows before anyone chooses to look."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        load_case(session, who, "hits.review", case_id)
        key = thumb_key(session, case_id, item_id)
    blurred = Image.open(io.BytesIO(blur_thumbnail(store.blobs.get(key))))
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
