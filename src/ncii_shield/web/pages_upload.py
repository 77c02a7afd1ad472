"""Routes of the browser upload (web/uploads.py): start or resume, send a chunk, ask how far, finish and scan.

Each is allowed exactly to those who may start a scan of the case (``case.scan``, through ``load_case``:
403 before 404), and finds an upload only under the case in its URL, so an upload id of another case is
"not found". They answer JSON (web/static/upload.js asks with ``Accept: application/json``); errors come
as ``{"detail", "hint"}`` with the status of their kind. Forms carry the session's CSRF token; a chunk,
whose body is the file's bytes, carries it in the ``X-CSRF-Token`` header. No chunk or finish changes
anything before its CSRF token is checked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from ncii_shield.errors import Conflict, NciiError
from ncii_shield.store import audit
from ncii_shield.web.deps import get_store, load_case
from ncii_shield.web.render import check_csrf, redirect, signed_in
from ncii_shield.web.scans import Jobs
from ncii_shield.web.uploads import Spool, Upload

router = APIRouter(include_in_schema=False)


def _allowed(request: Request, case_id: int) -> str:
    """The signed-in user's name, if they may scan this case (else 303 to login, or 403)."""
    with get_store(request).session() as session:
        who = signed_in(request, session)
        load_case(session, who, "case.scan", case_id)
        return who.username


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs  # type: ignore[no-any-return]


def upload_context(request: Request, case_id: int) -> dict[str, Any]:
    """What the scans page shows of uploads: the limit, this case's unfinished uploads, the last scan."""
    settings = get_store(request).settings
    latest = _jobs(request).latest(case_id)
    return dict(
        upload_max_mb=settings.upload_max_mb,
        uploads=Spool(settings).open_uploads(case_id),
        done_job=latest if latest is not None and latest.finished else None,
    )


@router.post("/cases/{case_id}/uploads")
def upload_start(
    request: Request,
    case_id: int,
    name: str = Form(""),
    size: int = Form(0),
    key: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    """Start an upload, or resume the unfinished one of the same file: answers the offset to send from."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "case.scan", case_id)
        spool = Spool(store.settings)
        upload = spool.start(
            case_id, name, size, key or name, who.username, keep=_jobs(request).scanning_uploads()
        )
        if upload.received == 0:
            audit.record(session, "upload.started", case_id=case_id, upload=upload.id, size=upload.size)
    return JSONResponse(upload.to_json())


@router.get("/cases/{case_id}/uploads/{upload_id}")
def upload_status(request: Request, case_id: int, upload_id: str) -> Response:
    """How many bytes have arrived: where the browser resumes after a dropped connection."""
    _allowed(request, case_id)
    return JSONResponse(Spool(get_store(request).settings).get(case_id, upload_id).to_json())


@router.post("/cases/{case_id}/uploads/{upload_id}/chunk")
async def upload_chunk(request: Request, case_id: int, upload_id: str, offset: int = -1) -> Response:
    """Append the body at ``offset``, which must be exactly the bytes held so far."""
    _allowed(request, case_id)
    spool = Spool(get_store(request).settings)
    spool.get(case_id, upload_id)
    check_csrf(request, request.headers.get("x-csrf-token", ""))
    if offset < 0:
        raise NciiError("a chunk needs its offset", hint="send ?offset=<bytes already sent>")
    with spool.receiving(case_id, upload_id, offset) as sink:
        async for piece in request.stream():
            sink.write(piece)
    return JSONResponse({"offset": sink.offset})


@router.post("/cases/{case_id}/uploads/{upload_id}/finish")
def upload_finish(
    request: Request, case_id: int, upload_id: str, sha256: str = Form(""), csrf_token: str = Form("")
) -> Response:
    """Verify the whole file (size, SHA-256, the intake layer's checks), then scan it; the scan deletes it."""
    store = get_store(request)
    user = _allowed(request, case_id)
    spool = Spool(store.settings)
    spool.get(case_id, upload_id)
    check_csrf(request, csrf_token)
    jobs = _jobs(request)
    if jobs.busy(case_id):
        raise Conflict("a scan of this case is already running", hint="wait for it to finish, then resume")
    upload = spool.finish(case_id, upload_id, sha256)
    job = _scan(request, spool, upload, user)
    return JSONResponse({"job": job, "url": f"/cases/{case_id}/scans?job={job}"})


@router.post("/cases/{case_id}/uploads/{upload_id}/delete")
def upload_delete(request: Request, case_id: int, upload_id: str, csrf_token: str = Form("")) -> Response:
    """Delete an unfinished upload now (the person's images need not wait a day for the clean-up)."""
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "case.scan", case_id)
        upload = Spool(store.settings).delete(case_id, upload_id)
        audit.record(session, "upload.deleted", case_id=case_id, upload=upload.id, size=upload.size)
    return redirect(f"/cases/{case_id}/scans")


def _scan(request: Request, spool: Spool, upload: Upload, user: str) -> str:
    """Hand a verified upload to the web scan; if the case's scan is busy the upload stays verified."""
    store, case_id = get_store(request), upload.case_id
    spool.mark(upload, "scanning")
    try:
        with store.session() as session:
            audit.record(
                session,
                "scan.requested",
                case_id=case_id,
                upload=upload.id,
                size=upload.size,
                sha256=upload.sha256,
                user=user,
            )
        job = _jobs(request).start_upload(
            store,
            case_id,
            upload.name,
            upload.id,
            spool.path(upload),
            done=lambda: spool.discard(case_id, upload.id),
        )
    except BaseException:
        spool.mark(upload, "received")
        raise
    return job.id
