"""/api/v1 for what a case worker settles by hand in takedown: re-upload alerts and unmatched replies.

The same service calls as the board and the inbox page (takedown/reupload.py, takedown/inbox_record.py), so
a support centre's own tools can approve a re-notice, dismiss an alert with a reason, and place or dismiss a
platform's reply without the web app. Each needs a ``cases:write`` token of a user with the takedown
permission; a case (or a reply naming a case's notice) the user may not act on is a 403 as everywhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from ncii_shield.errors import Forbidden
from ncii_shield.read.reuploads import ReuploadAlert, reupload_alerts
from ncii_shield.takedown.inbox_read import InboxRow, inbox_message, unmatched_messages
from ncii_shield.web.api_common import ERRORS, ErrorOut, Reader, Writer, api_router, attribute
from ncii_shield.web.api_models import model_of
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import check, get_store, load_case, load_notice_case, may_see_reply

router = api_router(tags=["takedown"])

ReuploadAlertOut = model_of(ReuploadAlert, "ReuploadAlertOut")
InboxReplyOut = model_of(InboxRow, "InboxReplyOut")
BAD = {400: {"model": ErrorOut}, 409: {"model": ErrorOut}, **ERRORS}


class ApproveIn(BaseModel):
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class ReasonIn(BaseModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class AttachIn(BaseModel):
    notice_id: int = Field(description="the notice this reply is about")
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class NoteIn(BaseModel):
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


def _alert_row(session: Session, case_id: int, alert_id: int) -> ReuploadAlert:
    return next(a for a in reupload_alerts(session, case_id) if a.id == alert_id)


@router.get(
    "/cases/{case_id}/takedown/alerts",
    response_model=list[ReuploadAlertOut],  # type: ignore[valid-type]
    responses=ERRORS,
    summary="A case's re-upload alerts: a removed image seen again, and where its re-notice stands",
)
def alerts(case_id: int, request: Request, who: Reader) -> list[ReuploadAlert]:
    with get_store(request).session() as s:
        load_case(s, who, "takedown", case_id)
        return reupload_alerts(s, case_id)


@router.post(
    "/cases/{case_id}/takedown/alerts/{alert_id}/approve",
    response_model=ReuploadAlertOut,
    responses=BAD,
    summary="Approve a drafted re-notice: an e-mail notice is queued for the takedown worker",
)
def approve_alert(
    case_id: int, alert_id: int, body: ApproveIn, request: Request, who: Writer
) -> ReuploadAlert:
    from ncii_shield.takedown.reupload import approve

    with get_store(request).session() as s:
        load_case(s, who, "takedown", case_id)
        approve(s, case_id, alert_id, note=body.note or f"approved through the API by {who.username}")
        attribute(s, who, "takedown.reupload_approve", case_id=case_id, alert=alert_id)
        return _alert_row(s, case_id, alert_id)


@router.post(
    "/cases/{case_id}/takedown/alerts/{alert_id}/dismiss",
    response_model=ReuploadAlertOut,
    responses=BAD,
    summary="Dismiss a re-upload alert, saying why (its draft, if any, is closed)",
)
def dismiss_alert(
    case_id: int, alert_id: int, body: ReasonIn, request: Request, who: Writer
) -> ReuploadAlert:
    from ncii_shield.takedown.reupload import dismiss

    with get_store(request).session() as s:
        load_case(s, who, "takedown", case_id)
        dismiss(s, case_id, alert_id, body.reason)
        attribute(s, who, "takedown.reupload_dismiss", case_id=case_id, alert=alert_id)
        return _alert_row(s, case_id, alert_id)


@router.get(
    "/takedown/inbox",
    response_model=list[InboxReplyOut],  # type: ignore[valid-type]
    responses={403: {"model": ErrorOut}},
    summary="Replies no notice could be matched to, for a person to place or dismiss",
)
def inbox(request: Request, who: Reader) -> list[InboxRow]:
    with get_store(request).session() as s:
        check(s, who, "takedown")
        return [m for m in unmatched_messages(s) if may_see_reply(s, who, m.suggested_notice_id)]


def _reply(s: Session, who: Principal, message_id: int) -> InboxRow:
    row = inbox_message(s, message_id)
    if not may_see_reply(s, who, row.suggested_notice_id):
        raise Forbidden("not allowed: takedown")
    return row


@router.post(
    "/takedown/inbox/{message_id}/attach",
    response_model=InboxReplyOut,
    responses=BAD,
    summary="Place an unmatched reply on a notice of a case the caller may act on",
)
def attach_reply(message_id: int, body: AttachIn, request: Request, who: Writer) -> InboxRow:
    from ncii_shield.takedown.inbox_record import attach

    with get_store(request).session() as s:
        check(s, who, "takedown")
        _reply(s, who, message_id)
        load_notice_case(s, who, "takedown", body.notice_id)
        attach(s, message_id, body.notice_id, note=body.note or f"attached through the API by {who.username}")
        attribute(s, who, "takedown.inbox_attach", reply=message_id, notice=body.notice_id)
        return inbox_message(s, message_id)


@router.post(
    "/takedown/inbox/{message_id}/dismiss",
    response_model=InboxReplyOut,
    responses=BAD,
    summary="Dismiss an unmatched reply (spam, not about any notice)",
)
def dismiss_reply(message_id: int, body: NoteIn, request: Request, who: Writer) -> InboxRow:
    from ncii_shield.takedown.inbox_record import dismiss

    with get_store(request).session() as s:
        check(s, who, "takedown")
        _reply(s, who, message_id)
        dismiss(s, message_id, note=body.note or f"dismissed through the API by {who.username}")
        attribute(s, who, "takedown.inbox_dismiss", reply=message_id)
        return inbox_message(s, message_id)
