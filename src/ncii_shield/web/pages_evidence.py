"""What proves what was done: a case's evidence bundle to download, and the audit log with its check."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ncii_shield.errors import NciiError
from ncii_shield.evidence.bundle import export_bundle
from ncii_shield.read.audit import AuditFilter, audit_page
from ncii_shield.store.chain import verify_store
from ncii_shield.web.deps import check, form_date, get_store, load_case
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
def audit_log(
    request: Request,
    actor: str = "",
    action: str = "",
    case: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    """The log, filtered and paged. Details (sealed at rest) are shown to auditors only."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check(session, who, "audit.view")
        where = AuditFilter(
            actor=actor.strip() or None,
            action=action.strip() or None,
            case_id=_number(case, "case"),
            since=_day(since, "since"),
            until=_day(until, "until", next_day=True),
        )
        result = verify_store(store, session)
        found = audit_page(session, where, page=page, with_details=who.role == "auditor")
        query = {"actor": actor, "action": action, "case": case, "since": since, "until": until}
        return render(
            request,
            "audit.html.j2",
            who,
            found=found,
            families=sorted({a.split(".")[0] + "." for a in found.actions if "." in a}),
            query=query,
            query_string=urlencode({k: v for k, v in query.items() if v}),
            problems=result.problems,
            entries=result.entries,
            checkpoints=result.checkpoints,
            witnessed=result.witnessed,
            notes=result.notes,
        )


def _number(text: str, what: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise NciiError(f"{what} must be a number, not {text[:40]!r}")
    return int(text)


def _day(text: str, what: str, *, next_day: bool = False) -> datetime | None:
    """A YYYY-MM-DD from the filter form as a UTC moment (the start of the next day for `until`)."""
    day = form_date(text, what)
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1 if next_day else 0)
