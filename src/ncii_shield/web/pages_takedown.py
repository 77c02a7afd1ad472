"""Takedown pages: the board of a case's notices by where they stand, each with its clock (due in / overdue
by, re-sends, escalation: takedown/clocks.py), drafting, one notice to send or paste into a platform's form,
marking one sent by hand or queueing it for the worker (`takedown run`), acknowledged (with the platform's
ticket number) or, item by item, removed (with when); and the inbound replies no notice could be matched to,
for a case worker to attach to one or dismiss (takedown/inbox*.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ncii_shield.errors import Forbidden, NciiError
from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.read.takedown import NoticeStatus, notice_text, takedown_status
from ncii_shield.takedown.clocks import notice_clocks, split_span
from ncii_shield.takedown.inbox_read import InboxRow, inbox_message, notice_detail, unmatched_messages
from ncii_shield.takedown.inbox_record import acknowledge, attach, dismiss, mark_removed
from ncii_shield.takedown.service import draft, mark, notices_of
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import check, get_store, load_case, load_notice_case, may_see_reply
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
    """A notice as it will be sent (to read, or to paste into a platform's web form), its items with a
    form to mark each removed, the acknowledgement form, and the replies read for it."""
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
            detail=notice_detail(session, notice_id),
            known=KNOWN_STATUSES,
        )


def _when(text: str) -> datetime | None:
    """A datetime-local field's value, in UTC (the form says so); empty: now."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    except ValueError:
        raise NciiError(f"{text!r} is not a date and time", hint="e.g. 2026-12-05T09:30") from None


@router.post("/notices/{notice_id}/mark")
def notice_mark(
    request: Request,
    notice_id: int,
    status: str = Form(...),
    ticket: str = Form(""),
    item: str = Form(""),
    removed_at: str = Form(""),
    back: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Record by hand: sent (through a form), queued, acknowledged (with the platform's ticket number),
    closed, or one item removed (with when it was seen gone, UTC)."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        case = load_notice_case(session, who, "takedown", notice_id)
        note = f"marked in the web app by {who.username}"
        if status == "acknowledged":
            (notice,) = notices_of(session, [notice_id])
            acknowledge(session, notice, ticket, via="web", note=note)
        elif status == "removed":
            if not item.strip().isdigit():
                raise NciiError("say which item was removed", hint="use the form beside the item")
            mark_removed(session, notice_id, int(item), _when(removed_at), note=note)
        else:
            mark(session, notice_id, status, note=note)
    return redirect(f"/notices/{notice_id}" if back == "notice" else f"/cases/{case.id}/takedown")


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


def _may_see(session: Session, who: Principal, message: InboxRow) -> bool:
    return may_see_reply(session, who, message.suggested_notice_id)


@router.get("/takedown/inbox")
def inbox_page(request: Request) -> Response:
    """Replies no notice could be matched to (no reference, a forged one, HTML-only, too large…)."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "takedown")
        messages = [m for m in unmatched_messages(session) if _may_see(session, who, m)]
        return render(request, "takedown_inbox.html.j2", who, messages=messages)


@router.post("/takedown/inbox/{message_id}/attach")
def inbox_attach(
    request: Request, message_id: int, notice: str = Form(""), csrf_token: str = Form("")
) -> Response:
    """A case worker places a reply: on a notice of a case they may act on."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        check(session, who, "takedown")
        if not notice.strip().isdigit():
            raise NciiError("give the notice this reply is about", hint="its number, e.g. 12")
        load_notice_case(session, who, "takedown", int(notice))
        if not _may_see(session, who, inbox_message(session, message_id)):
            raise Forbidden("not allowed: takedown")
        attach(session, message_id, int(notice), note=f"attached in the web app by {who.username}")
    return redirect(f"/notices/{int(notice)}")


@router.post("/takedown/inbox/{message_id}/dismiss")
def inbox_dismiss(request: Request, message_id: int, csrf_token: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        check(session, who, "takedown")
        if not _may_see(session, who, inbox_message(session, message_id)):
            raise Forbidden("not allowed: takedown")
        dismiss(session, message_id, note=f"dismissed in the web app by {who.username}")
    return redirect("/takedown/inbox")
