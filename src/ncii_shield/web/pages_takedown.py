"""Takedown pages: the board of a case's notices by where they stand, each with its clock (due in / overdue
by, re-sends, escalation: takedown/clocks.py), drafting, one notice to send or paste into a platform's form,
marking one sent by hand or queueing it for the worker (`takedown run`)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.read.takedown import NoticeStatus, notice_text, takedown_status
from ncii_shield.takedown.clocks import notice_clocks, split_span
from ncii_shield.takedown.service import draft, mark
from ncii_shield.web.deps import get_store, load_case, load_notice_case
from ncii_shield.web.render import check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
COLUMNS = ("drafted", "sent", "removed", "reappeared")
KNOWN_STATUSES = {"drafted", "queued", "sent", "removed", "reappeared", "still_up", "acknowledged"}


def _column(notice: NoticeStatus) -> str:
    """The one board column a notice is shown in: the furthest any of its items got."""
    if "reappeared" in notice.items:
        return "reappeared"
    if "removed" in notice.items:
        return "removed"
    if notice.status in ("sent", "acknowledged"):
        return "sent"
    return "drafted" if notice.status in ("drafted", "queued") else ""


@router.get("/cases/{case_id}/takedown")
def takedown_board(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "takedown", case_id)
        found = takedown_status(session, case_id)
        clocks = {c.notice_id: c for c in notice_clocks(session, case_id)}
        columns = [
            dict(status=state, notices=[n for n in found.notices if _column(n) == state]) for state in COLUMNS
        ]
        return render(
            request,
            "takedown.html.j2",
            who,
            case=case,
            tab="takedown",
            columns=columns,
            stats=found.platforms,
            alerts=found.alerts,
            known=KNOWN_STATUSES,
            clocks=clocks,
            split_span=split_span,
            can_act=True,
            reuploads=reupload_alerts(session, case_id),  # the re-upload alerts' actions (block below)
        )


@router.post("/cases/{case_id}/takedown/draft")
def takedown_draft(
    request: Request,
    case_id: int,
    organisation: str = Form(...),
    email: str = Form(...),
    hosting_contact: str = Form(""),
    regulator: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "takedown", case_id)
        draft(
            session,
            case_id,
            reporter_organisation=organisation,
            reporter_email=email,
            hosting_contact=hosting_contact.strip() or None,
            regulator=bool(regulator),
            trusted_flagger=store.settings.trusted_flagger,
        )
    return redirect(f"/cases/{case_id}/takedown")


@router.get("/notices/{notice_id}")
def notice_page(request: Request, notice_id: int) -> Response:
    """A notice as it will be sent, to read or to paste into a platform's web form."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_notice_case(session, who, "takedown", notice_id)
        notice = notice_text(session, notice_id)
        return render(
            request,
            "notice.html.j2",
            who,
            case=case,
            tab="takedown",
            notice_id=notice_id,
            platform=notice.platform_id,
            text=notice.text,
        )


@router.post("/notices/{notice_id}/mark")
def notice_mark(
    request: Request, notice_id: int, status: str = Form(...), csrf_token: str = Form("")
) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        case = load_notice_case(session, who, "takedown", notice_id)
        mark(session, notice_id, status, note=f"marked in the web app by {who.username}")
    return redirect(f"/cases/{case.id}/takedown")


# ------------------------------------------------------------------------------------ re-upload alerts
# A removed image seen again: its re-notice is reviewed (/notices/N), approved (queued for the worker) or
# the alert dismissed with a reason (takedown/reupload.py), each audited.


@router.post("/cases/{case_id}/takedown/alerts/{alert_id}/approve")
def reupload_approve(request: Request, case_id: int, alert_id: int, csrf_token: str = Form("")) -> Response:
    from ncii_shield.takedown.reupload import approve

    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "takedown", case_id)
        approve(session, case_id, alert_id, note=f"approved in the web app by {who.username}")
    return redirect(f"/cases/{case_id}/takedown")


@router.post("/cases/{case_id}/takedown/alerts/{alert_id}/dismiss")
def reupload_dismiss(
    request: Request, case_id: int, alert_id: int, reason: str = Form(""), csrf_token: str = Form("")
) -> Response:
    from ncii_shield.takedown.reupload import dismiss

    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "takedown", case_id)
        dismiss(session, case_id, alert_id, reason)
    return redirect(f"/cases/{case_id}/takedown")
