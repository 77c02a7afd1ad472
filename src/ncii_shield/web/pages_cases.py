"""Pages of the case work itself: the case list, a case's overview, enrolment and the watchlist, scans.

Every page that takes a case id loads it with ``deps.load_case`` (permission first, existence after) and
renders what the read layer returns; counts are shown labelled, messages beside routes (read/hits.py).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ncii_shield.cases.service import enrol, get_case, open_case
from ncii_shield.errors import NciiError, NotFound
from ncii_shield.read.cases import case_summary, list_cases, photo_count
from ncii_shield.read.crawls import case_crawls
from ncii_shield.read.hits import hit_dates
from ncii_shield.read.rooms import room_graph
from ncii_shield.read.sources import case_scans
from ncii_shield.read.watch import case_watched_chats
from ncii_shield.store import audit
from ncii_shield.text.service import add_terms
from ncii_shield.web.auth import allowed, assign_creator, visible_cases
from ncii_shield.web.deps import check, get_store, load_case
from ncii_shield.web.pages_upload import upload_context
from ncii_shield.web.render import check_csrf, redirect, render, signed_in
from ncii_shield.web.scans import import_dir, importable

router = APIRouter(include_in_schema=False)


@router.get("/cases")
def cases(request: Request) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "case.list")
        rows = list_cases(session, visible_cases(session, who))
        return render(
            request, "cases.html.j2", who, rows=rows, can_create=allowed(session, who, "case.create")
        )


@router.post("/cases")
def create_case(
    request: Request,
    pseudonym: str = Form(...),
    consent_by: str = Form(...),
    consent_method: str = Form(...),
    csrf_token: str = Form(""),
) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        check(session, who, "case.create")
        case = open_case(session, pseudonym, consent_by=consent_by, consent_method=consent_method)
        assign_creator(session, who, case.id)
        case_id = case.id
    return redirect(f"/cases/{case_id}")


def _chart(dates: list[datetime]) -> dict[str, Any] | None:
    if not dates:
        return None
    days = Counter(d.astimezone(UTC).date() for d in dates)
    first, last = min(days), max(days)
    span = (last - first).days + 1
    width, height, top = 600, 140, max(days.values())
    bar = width / span
    bars = [
        dict(
            x=round((day - first).days * bar, 1),
            y=round(height - 14 - (n / top) * (height - 24), 1),
            w=max(round(bar - 1, 1), 1),
            h=round((n / top) * (height - 24), 1),
            n=n,
            label=day.isoformat(),
        )
        for day, n in sorted(days.items())
    ]
    return dict(width=width, height=height, bars=bars, first=first.isoformat(), last=last.isoformat())


@router.get("/cases/{case_id}")
def dashboard(request: Request, case_id: int) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "case.view", case_id)
        summary = case_summary(session, case_id)
        graph = room_graph(store, session, case_id)
        return render(
            request,
            "case.html.j2",
            who,
            case=case,
            tab="dashboard",
            counts=summary.hit_counts,
            pending=summary.decisions.undecided,
            chart=_chart(hit_dates(session, case_id)),
            graph=graph,
            titles={c.chat_id: c.title or c.chat_id for c in graph.chats},
        )


# ------------------------------------------------------------------------------------------ enrolment


@router.get("/cases/{case_id}/enrol")
def enrol_form(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "case.enrol", case_id)
        photos = photo_count(session, case_id)
        return render(request, "enrol.html.j2", who, case=case, tab="enrol", references=f"{photos} ✓")


@router.post("/cases/{case_id}/enrol")
async def enrol_upload(request: Request, case_id: int) -> Response:
    form = await request.form()
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile)]
    store = get_store(request)
    with tempfile.TemporaryDirectory(prefix="ncii-upload-") as tmp:
        paths = []
        for n, upload in enumerate(uploads[:20]):
            data = await upload.read(64 << 20)
            path = Path(tmp) / f"{n:02d}-{Path(upload.filename or 'photo').name[:80]}"
            path.write_bytes(data)
            paths.append(path)
        with store.session() as session:
            who = signed_in(request, session)
            check_csrf(request, str(form.get("csrf_token", "")))
            load_case(session, who, "case.enrol", case_id)
            if not paths:
                raise NciiError("choose at least one photo")
            enrol(session, store, get_case(session, case_id), paths)
    return redirect(f"/cases/{case_id}/enrol")


@router.post("/cases/{case_id}/watch")
def watch(
    request: Request,
    case_id: int,
    name: str = Form(""),
    school: str = Form(""),
    birth_year: str = Form(""),
    handle: str = Form(""),
    csrf_token: str = Form(""),
) -> Response:
    store = get_store(request)
    values = [
        (f, v.strip())
        for f, v in (("name", name), ("school", school), ("birth_year", birth_year), ("handle", handle))
        if v.strip()
    ]
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "case.enrol", case_id)
        add_terms(store, session, get_case(session, case_id), values)
    return redirect(f"/cases/{case_id}/enrol")


# ------------------------------------------------------------------------------------------ scans


@router.get("/cases/{case_id}/scans")
def scans_page(request: Request, case_id: int) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        case = load_case(session, who, "case.scan", case_id)
        scans = case_scans(session, case_id)
        job = request.app.state.jobs.get(request.query_params.get("job", ""))
        return render(
            request,
            "scans.html.j2",
            who,
            case=case,
            tab="scans",
            scans=scans,
            crawls=case_crawls(session, case_id),
            names=importable(store),
            folder=str(import_dir(store)),
            job=job if job is not None and job.case_id == case_id else None,
            watched=case_watched_chats(session, case_id),
            **upload_context(request, case_id),
        )


@router.post("/cases/{case_id}/scans")
def scans_start(
    request: Request, case_id: int, name: str = Form(...), csrf_token: str = Form("")
) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        load_case(session, who, "case.scan", case_id)
        audit.record(session, "scan.requested", case_id=case_id, name=name, user=who.username)
    job = request.app.state.jobs.start(store, case_id, name)
    return redirect(f"/cases/{case_id}/scans?job={job.id}")


@router.get("/cases/{case_id}/scans/{job_id}/progress")
def scans_progress(request: Request, case_id: int, job_id: str) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        load_case(session, who, "case.scan", case_id)
    job = request.app.state.jobs.get(job_id)
    if job is None or job.case_id != case_id:
        raise NotFound("no such scan job")
    return JSONResponse(job.to_json())
