"""What proves what was done: a case's evidence bundle to download, and the audit log with its check."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ncii_shield.errors import NciiError
from ncii_shield.evidence.bundle import export_bundle
from ncii_shield.read.audit import recent_events
from ncii_shield.store.chain import verify_store
from ncii_shield.web.deps import check, get_store, load_case
from ncii_shield.web.render import check_csrf, render, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/evidence")
def evidence_form(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "evidence.export", case_id)
        return render(request, "evidence.html.j2", who, case=case, tab="evidence")


@router.post("/cases/{case_id}/evidence")
def evidence_export(
    request: Request, case_id: int, media: str = Form("blurred"), csrf_token: str = Form("")
) -> Response:
    if media not in ("blurred", "none"):
        raise NciiError("media must be blurred or none here (encrypted originals: use the CLI)")
    store = get_store(request)
    with tempfile.TemporaryDirectory(prefix="ncii-bundle-") as tmp:
        out = Path(tmp) / f"case-{case_id}-evidence.zip"
        with store.session() as session:
            who = signed_in(request, session)
            check_csrf(request, csrf_token)
            load_case(session, who, "evidence.export", case_id)
            export_bundle(store, session, case_id, out, media=media)
        data = out.read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"'},
    )


@router.get("/audit")
def audit_log(request: Request) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check(session, who, "audit.view")
        result = verify_store(store, session)
        return render(
            request,
            "audit.html.j2",
            who,
            rows=recent_events(session),
            problems=result.problems,
            entries=result.entries,
            checkpoints=result.checkpoints,
            witnessed=result.witnessed,
            notes=result.notes,
        )
