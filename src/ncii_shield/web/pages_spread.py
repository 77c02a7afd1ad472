"""Where the person's photos went, and who spread them: the case's image families, their first appearance, rooms, spreaders and
the forward paths between rooms and a timeline, as tables and server-drawn SVG (evidence/spread_svg, shared with
the HTML report; no script, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ncii_shield.evidence.spread_svg import paths_svg, timeline_svg
from ncii_shield.read.actors import case_actors
from ncii_shield.read.families import case_families
from ncii_shield.read.memo import has
from ncii_shield.web.deps import get_store, load_case, warm_after
from ncii_shield.web.i18n import translator
from ncii_shield.web.render import render, signed_in

router = APIRouter(include_in_schema=False)

TOP_SPREADERS = 25  # per family on the Spread tab; the Actors tab lists everyone, with their messages


@router.get("/cases/{case_id}/actors")
def actors(request: Request, case_id: int) -> Response:
    """Who posted and forwarded the copies, across rooms and exports, with the messages as evidence."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "case.actors", case_id)
        return render(
            request, "actors.html.j2", who, case=case, tab="spread", actors=case_actors(session, case_id)
        )


@router.get("/cases/{case_id}/spread")
def spread(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "case.view", case_id)
        t = translator(who.language)
        families = case_families(session, case_id)
        # The other page's rows, if not remembered, are read once this response is sent (deps.warm_after).
        cold_other = not has(session, case_id, ("hit rows", True))
        figures = {
            f.key: {
                "paths": paths_svg(f, t("forward_paths")),
                "timeline": timeline_svg(f, t("spread_timeline"), t("spread_first")),
            }
            for f in families
        }
        page = render(
            request,
            "spread.html.j2",
            who,
            case=case,
            tab="spread",
            families=families,
            figures=figures,
            top_spreaders=TOP_SPREADERS,
        )
        return warm_after(page, request, case_id) if cold_other else page
