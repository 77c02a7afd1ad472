"""Transparency pages: per platform, how fast what was sent came down and how often it came back, over every
case the user may see (``/transparency``) or one case (``/cases/{id}/transparency``). The numbers and their
definitions are read/transparency.py's, the same as `takedown stats` and /api/v1/transparency."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ncii_shield.read.transparency import case_transparency, transparency
from ncii_shield.web.auth import sees_every_case, visible_cases
from ncii_shield.web.deps import check, get_store, load_case
from ncii_shield.web.render import redirect, render, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/transparency")
def transparency_page(request: Request, case: int | None = None) -> Response:
    """Every case the user may see; ``?case=N`` (the page's form) goes to that case's page."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "takedown")
        if case is not None:
            return redirect(f"/cases/{case}/transparency")
        found = transparency(session, None if sees_every_case(who) else visible_cases(session, who))
        return render(request, "transparency.html.j2", who, stats=found, case=None)


@router.get("/cases/{case_id}/transparency")
def case_transparency_page(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "takedown", case_id)
        found = case_transparency(session, case_id)
        return render(request, "transparency.html.j2", who, stats=found, case=case, tab="takedown")
