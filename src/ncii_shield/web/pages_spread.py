"""Where the person's photos went, and who spread them: the case's image families, their first appearance, rooms, spreaders and
the forward paths between rooms, as tables and a small server-drawn graph (no script, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ncii_shield.read.actors import case_actors
from ncii_shield.read.families import Family, case_families
from ncii_shield.web.deps import get_store, load_case
from ncii_shield.web.render import render, signed_in

router = APIRouter(include_in_schema=False)


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
        families = case_families(session, case_id)
        graphs = {f.key: _graph(f) for f in families}
        return render(
            request, "spread.html.j2", who, case=case, tab="spread", families=families, graphs=graphs
        )


def _graph(family: Family) -> dict[str, object]:
    """Forward sources on the left (people, channels, and rooms that forwarded), the rooms reached on the
    right, a line per path, thicker for more copies: coordinates the template draws as SVG (no script)."""
    targets = [r.chat for r in family.rooms]
    sources = sorted({p.from_source for p in family.paths})
    row = 34
    left = {name: (10, 10 + i * row) for i, name in enumerate(sources)}
    right = {name: (330, 10 + i * row) for i, name in enumerate(targets)}
    nodes = [{"name": n, "x": x, "y": y, "side": "source"} for n, (x, y) in left.items()]
    nodes += [{"name": n, "x": x, "y": y, "side": "room"} for n, (x, y) in right.items()]
    edges = [
        {
            "x1": left[p.from_source][0] + 200,
            "y1": left[p.from_source][1] + 12,
            "x2": right[p.to_chat][0],
            "y2": right[p.to_chat][1] + 12,
            "width": min(8, 1 + p.copies),
            "copies": p.copies,
        }
        for p in family.paths
        if p.to_chat in right
    ]
    return {"nodes": nodes, "edges": edges, "height": 20 + max(len(sources), len(targets), 1) * row}
