"""Server-rendered pages for support-centre staff: cases, review, enrolment, takedown, evidence, audit.

Every page checks the same rules as the API (web/auth.py). Every form carries the session's CSRF token;
the login form a token of its own (double-submit cookie), since there is no session yet. Images are
shown blurred and in grey; revealing one is a POST that is written to the audit chain.
"""

from __future__ import annotations

import io
import secrets
import tempfile
from collections import Counter
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image, ImageOps
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.review.hits import HitRow, list_hits
from ncii_shield.store import audit
from ncii_shield.store.models import AuditEvent, Case, Media, User
from ncii_shield.web.auth import Principal, allowed, authenticate, end_session, start_session, visible_cases
from ncii_shield.web.deps import SESSION_COOKIE, browser_principal, check, get_store
from ncii_shield.web.i18n import LANGUAGES, translator

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "ncii_login_csrf"
_env = Environment(
    loader=FileSystemLoader(str(files("ncii_shield.web") / "templates")),
    autoescape=select_autoescape(["j2", "html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_KIND_WEIGHT = {"exact": 3.0, "pdq": 3.0, "video": 3.0, "partial": 2.5, "face": 2.0, "text": 1.0}


def _render(
    request: Request, template: str, who: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = who.language if who else request.cookies.get("ncii_lang", "ko")
    lang = lang if lang in LANGUAGES else "ko"
    html = _env.get_template(template).render(
        t=translator(lang),
        lang=lang,
        who=who,
        csrf=getattr(request.state, "csrf", ""),
        here=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, detail: str) -> Response:
    lang = request.cookies.get("ncii_lang", "ko")
    t = translator(lang if lang in LANGUAGES else "ko")
    message = {403: t("forbidden"), 404: t("not_found")}.get(status, detail)
    if status == 403 and detail and not detail.startswith("not allowed"):
        message = detail  # e.g. a stale form: say what to do
    html = _env.get_template("error.html.j2").render(
        t=t, lang=lang, who=None, csrf="", status=status, message=message
    )
    return HTMLResponse(html, status_code=status, headers={"Location": "/login"} if status == 303 else None)


def _who(request: Request, session: Session) -> Principal:
    """The logged-in user, or a redirect to the login page."""
    who = browser_principal(request, session)
    if who is None:
        raise HTTPException(303, "login needed", headers={"Location": "/login"})
    return who


def _csrf(request: Request, token: str) -> None:
    expected = getattr(request.state, "csrf", "")
    if not expected or not secrets.compare_digest(expected, token or ""):
        raise HTTPException(403, "the form is stale or forged (CSRF token mismatch): reload the page")


def _case(session: Session, who: Principal, case_id: int, action: str) -> Case:
    """Permission first, existence after: a 404 only for those who may see every case (admins), so no one
    learns which case ids exist by telling 403 from 404."""
    check(session, who, action, case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    return case


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------------------------------ login


@router.get("/login")
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html.j2", None, login_csrf=token, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.app.state.secure_cookies
    )
    return response


@router.post("/login")
def login(
    request: Request, username: str = Form(...), password: str = Form(...), csrf_token: str = Form("")
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise HTTPException(403, "the login form is stale: reload the page")
    limiter = request.app.state.limiter
    keys = (f"user:{username}", f"ip:{request.client.host if request.client else '?'}")
    t = translator(request.cookies.get("ncii_lang", "ko"))
    if limiter.blocked(*keys):
        return _render(
            request, "login.html.j2", None, status=429, login_csrf=csrf_token, error=t("login_blocked")
        )
    with get_store(request).session() as session:
        user = authenticate(session, username, password)
        if user is None:
            limiter.failed(*keys)
            audit.record(session, "user.login_failed", user=username[:100])
            return _render(
                request, "login.html.j2", None, status=401, login_csrf=csrf_token, error=t("login_failed")
            )
        limiter.succeeded(*keys)
        token, _ = start_session(session, user)
        target = "/audit" if user.role == "auditor" else "/cases"
    response = _redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        max_age=8 * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        end_session(session, request.cookies.get(SESSION_COOKIE))
        audit.record(session, "user.logout", user=who.username)
    response = _redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def language(request: Request, csrf_token: str = Form(""), back: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        user = session.get(User, who.id)
        assert user is not None
        user.language = "en" if user.language == "ko" else "ko"
        lang = user.language
    # Back to the page it was asked from: the form says which (no Referer is sent: Referrer-Policy).
    local = back.startswith("/") and not back.startswith(("//", "/\\"))
    response = _redirect(back if local else request.headers.get("referer") or "/cases")
    response.set_cookie("ncii_lang", lang, samesite="strict", secure=request.app.state.secure_cookies)
    return response


@router.get("/")
def home() -> Response:
    return _redirect("/cases")


# ------------------------------------------------------------------------------------------ cases


@router.get("/cases")
def cases(request: Request) -> Response:
    with get_store(request).session() as session:
        who = _who(request, session)
        check(session, who, "case.list")
        ids = visible_cases(session, who)
        rows = []
        for case_id in ids:
            case = session.get(Case, case_id)
            assert case is not None
            listed = list_hits(session, case_id) if case.status != "purged" else []
            rows.append(
                dict(
                    id=case.id,
                    pseudonym=case.pseudonym,
                    status=case.status,
                    created=f"{case.created_at:%Y-%m-%d}",
                    hits=len(listed),
                    pending=sum(1 for r in listed if r.decision is None),
                )
            )
        return _render(
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
    from ncii_shield.cases.service import open_case
    from ncii_shield.store.models import CaseAssignment

    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        check(session, who, "case.create")
        case = open_case(session, pseudonym, consent_by=consent_by, consent_method=consent_method)
        session.add(CaseAssignment(user_id=who.id, case_id=case.id))
        case_id = case.id
    return _redirect(f"/cases/{case_id}")


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
    from ncii_shield.text.rooms import room_graph

    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "case.view")
        rows = list_hits(session, case_id)
        graph = room_graph(store, session, case_id)
        by_kind = Counter(r.kind for r in rows)
        return _render(
            request,
            "case.html.j2",
            who,
            case=case,
            tab="dashboard",
            by_kind=[(k, by_kind[k]) for k in KIND_ORDER if by_kind[k]],
            pending=sum(1 for r in rows if r.decision is None),
            chart=_chart([r.date for r in rows if r.date]),
            graph=graph,
            titles={c.chat_id: c.title or c.chat_id for c in graph.chats},
        )


# ------------------------------------------------------------------------------------------ review


def _priority(row: HitRow, spread: int) -> float:
    """Face and exact copies, nudity, a solicitation, and how far it spread: what to look at first."""
    text = (row.details or {}).get("text") or {}
    score = max(_KIND_WEIGHT.get(k, 1.0) for k in row.kinds)
    score += 2.0 * (row.nudity or 0.0) + 2.0 * float(text.get("score", 0.0)) + min(spread, 10) / 5
    return round(score, 2)


@router.get("/cases/{case_id}/review")
def review_queue(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "hits.review")
        rows = list_hits(session, case_id)
        spread = Counter(r.media_sha256 for r in rows if r.media_sha256)
        view = []
        for r in rows:
            text = (r.details or {}).get("text") or {}
            view.append(
                dict(
                    item_id=r.item_id,
                    priority=_priority(r, spread.get(r.media_sha256 or "", 1)),
                    kinds=r.kinds,
                    has_thumb=bool(r.media_sha256),
                    what=r.excerpt if r.excerpt else (r.media_path or ""),
                    label=text.get("label"),
                    score=float(text.get("score", 0.0)),
                    chat=r.chat,
                    message_id=r.message_id,
                    date=f"{r.date:%Y-%m-%d %H:%M}" if r.date else "",
                    decision=r.decision,
                )
            )
        view.sort(key=lambda v: (v["decision"] is not None, -v["priority"], v["item_id"]))
        flash = translator(who.language)("saved") if request.query_params.get("saved") else None
        return _render(request, "review.html.j2", who, case=case, tab="review", rows=view, flash=flash)


@router.post("/cases/{case_id}/review")
async def review_decide(request: Request, case_id: int) -> Response:
    from ncii_shield.review.decisions import decide

    form = await request.form()
    items = [int(v) for v in form.getlist("item") if str(v).isdigit()]
    decision, reason, token = (
        str(form.get("decision", "")),
        str(form.get("reason", "")),
        str(form.get("csrf_token", "")),
    )
    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, token)
        _case(session, who, case_id, "hits.review")
        if not items:
            raise HTTPException(400, "select at least one hit")
        try:
            decide(session, case_id, decision, reason, item_ids=items)
        except NciiError as exc:
            raise HTTPException(400, exc.message) from exc
    return _redirect(f"/cases/{case_id}/review?saved=1")


def _thumb(session: Session, case_id: int, item_id: int) -> str:
    """The thumbnail blob key of a hit's image: one indexed lookup, not a listing of the case's hits."""
    from ncii_shield.store.models import Hit

    keys = session.execute(
        select(Media.thumb_key)
        .join(Hit, Hit.media_id == Media.id)
        .where(Hit.case_id == case_id, Hit.item_id == item_id)
    ).all()
    if not keys:
        raise HTTPException(404, "no image for this hit")
    key = next((k for (k,) in keys if k), None)
    if key is None:
        raise HTTPException(404, "no thumbnail kept for this image")
    return key


@router.get("/cases/{case_id}/items/{item_id}/thumb")
def thumb(request: Request, case_id: int, item_id: int) -> Response:
    """Blurred and grey, always: what the queue shows before anyone chooses to look."""
    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        _case(session, who, case_id, "hits.review")
        key = _thumb(session, case_id, item_id)
    blurred = Image.open(io.BytesIO(blur_thumbnail(store.blobs.get(key))))
    out = io.BytesIO()
    ImageOps.grayscale(blurred).save(out, format="JPEG", quality=70)
    return Response(out.getvalue(), media_type="image/jpeg")


@router.post("/cases/{case_id}/items/{item_id}/reveal")
def reveal(request: Request, case_id: int, item_id: int, csrf_token: str = Form("")) -> Response:
    """The clear thumbnail, for one person who chose to look; the reveal is in the audit chain."""
    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        _case(session, who, case_id, "media.reveal")
        key = _thumb(session, case_id, item_id)
        audit.record(session, "media.revealed", case_id=case_id, item=item_id, user=who.username)
    return Response(store.blobs.get(key), media_type="image/jpeg")


# ------------------------------------------------------------------------------------------ enrolment


@router.get("/cases/{case_id}/enrol")
def enrol_form(request: Request, case_id: int) -> Response:
    from ncii_shield.store.models import Reference

    with get_store(request).session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "case.enrol")
        photos = session.scalar(
            select(func.count(func.distinct(Reference.photo_sha256))).where(Reference.case_id == case_id)
        )
        return _render(request, "enrol.html.j2", who, case=case, tab="enrol", references=f"{photos} ✓")


@router.post("/cases/{case_id}/enrol")
async def enrol_upload(request: Request, case_id: int) -> Response:
    from ncii_shield.cases.service import enrol

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
            who = _who(request, session)
            _csrf(request, str(form.get("csrf_token", "")))
            case = _case(session, who, case_id, "case.enrol")
            if not paths:
                raise HTTPException(400, "choose at least one photo")
            try:
                enrol(session, store, case, paths)
            except NciiError as exc:
                raise HTTPException(400, exc.message) from exc
    return _redirect(f"/cases/{case_id}/enrol")


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
    from ncii_shield.text.service import add_terms

    store = get_store(request)
    values = [
        (f, v.strip())
        for f, v in (("name", name), ("school", school), ("birth_year", birth_year), ("handle", handle))
        if v.strip()
    ]
    with store.session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        case = _case(session, who, case_id, "case.enrol")
        try:
            add_terms(store, session, case, values)
        except NciiError as exc:
            raise HTTPException(400, exc.message) from exc
    return _redirect(f"/cases/{case_id}/enrol")


# ------------------------------------------------------------------------------------------ takedown


@router.get("/cases/{case_id}/takedown")
def takedown_board(request: Request, case_id: int) -> Response:
    from ncii_shield.takedown.service import status

    with get_store(request).session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "takedown")
        notices, stats, alerts = status(session, case_id)
        columns = []
        for state in ("drafted", "sent", "removed", "reappeared"):

            def lands(n: Any, state: str = state) -> bool:
                if state == "reappeared":
                    return "reappeared" in n.items
                if state == "removed":
                    return "removed" in n.items and "reappeared" not in n.items
                if state == "sent":
                    return n.status in ("sent", "acknowledged") and not (
                        {"removed", "reappeared"} & set(n.items)
                    )
                return n.status == "drafted"

            columns.append(dict(status=state, notices=[n for n in notices if lands(n)]))
        return _render(
            request,
            "takedown.html.j2",
            who,
            case=case,
            tab="takedown",
            columns=columns,
            stats=stats,
            alerts=alerts,
            known={"drafted", "sent", "removed", "reappeared", "still_up", "acknowledged"},
            can_act=True,
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
    from ncii_shield.takedown.service import draft

    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        _case(session, who, case_id, "takedown")
        try:
            draft(
                session,
                case_id,
                reporter_organisation=organisation,
                reporter_email=email,
                hosting_contact=hosting_contact.strip() or None,
                regulator=bool(regulator),
            )
        except NciiError as exc:
            raise HTTPException(400, exc.message + (f" ({exc.hint})" if exc.hint else "")) from exc
    return _redirect(f"/cases/{case_id}/takedown")


@router.get("/notices/{notice_id}")
def notice_text(request: Request, notice_id: int) -> Response:
    """A notice as it will be sent, to read or to paste into a platform's web form."""
    from ncii_shield.store.models import Notice

    with get_store(request).session() as session:
        who = _who(request, session)
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise HTTPException(404, f"no notice {notice_id}")
        case = _case(session, who, notice.case_id, "takedown")
        text = f"To: {notice.to}\nSubject: {notice.subject}\n\n{notice.body}"
        return _render(
            request,
            "notice.html.j2",
            who,
            case=case,
            tab="takedown",
            notice_id=notice_id,
            platform=notice.platform_id,
            text=text,
        )


@router.post("/notices/{notice_id}/mark")
def notice_mark(
    request: Request, notice_id: int, status: str = Form(...), csrf_token: str = Form("")
) -> Response:
    from ncii_shield.store.models import Notice
    from ncii_shield.takedown.service import mark

    with get_store(request).session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise HTTPException(404, f"no notice {notice_id}")
        _case(session, who, notice.case_id, "takedown")
        try:
            mark(session, notice_id, status, note=f"marked in the web app by {who.username}")
        except NciiError as exc:
            raise HTTPException(400, exc.message) from exc
        case_id = notice.case_id
    return _redirect(f"/cases/{case_id}/takedown")


# ------------------------------------------------------------------------------------------ evidence


@router.get("/cases/{case_id}/evidence")
def evidence_form(request: Request, case_id: int) -> Response:
    with get_store(request).session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "evidence.export")
        return _render(request, "evidence.html.j2", who, case=case, tab="evidence")


@router.post("/cases/{case_id}/evidence")
def evidence_export(
    request: Request, case_id: int, media: str = Form("blurred"), csrf_token: str = Form("")
) -> Response:
    from ncii_shield.evidence.bundle import export_bundle

    if media not in ("blurred", "none"):
        raise HTTPException(400, "media must be blurred or none here (encrypted originals: use the CLI)")
    store = get_store(request)
    with tempfile.TemporaryDirectory(prefix="ncii-bundle-") as tmp:
        out = Path(tmp) / f"case-{case_id}-evidence.zip"
        with store.session() as session:
            who = _who(request, session)
            _csrf(request, csrf_token)
            _case(session, who, case_id, "evidence.export")
            export_bundle(store, session, case_id, out, media=media)
        data = out.read_bytes()
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}-evidence.zip"'},
    )


# ------------------------------------------------------------------------------------------ audit


@router.get("/audit")
def audit_log(request: Request) -> Response:
    from ncii_shield.store.chain import verify_store

    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        check(session, who, "audit.view")
        result = verify_store(store, session)
        rows = [
            dict(seq=e.seq, at=f"{e.at:%Y-%m-%d %H:%M:%S}", actor=e.actor, action=e.action, case_id=e.case_id)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(300))
        ]
        return _render(
            request,
            "audit.html.j2",
            who,
            rows=rows,
            problems=result.problems,
            entries=result.entries,
            checkpoints=result.checkpoints,
            witnessed=result.witnessed,
            notes=result.notes,
        )


# ------------------------------------------------------------------------------------------ scans


@router.get("/cases/{case_id}/scans")
def scans_page(request: Request, case_id: int) -> Response:
    from ncii_shield.store.models import Scan, Source
    from ncii_shield.web.scans import import_dir, importable

    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        case = _case(session, who, case_id, "case.scan")
        rows = [
            dict(
                id=scan.id,
                source=name,
                status=scan.status,
                started=f"{scan.started_at:%Y-%m-%d %H:%M}",
                items=scan.items_seen,
            )
            for scan, name in session.execute(
                select(Scan, Source.name).join(Source).where(Scan.case_id == case_id).order_by(Scan.id.desc())
            ).all()
        ]
        job = request.app.state.jobs.get(request.query_params.get("job", ""))
        return _render(
            request,
            "scans.html.j2",
            who,
            case=case,
            tab="scans",
            scans=rows,
            names=importable(store),
            folder=str(import_dir(store)),
            job=job if job is not None and job.case_id == case_id else None,
        )


@router.post("/cases/{case_id}/scans")
def scans_start(
    request: Request, case_id: int, name: str = Form(...), csrf_token: str = Form("")
) -> Response:
    store = get_store(request)
    with store.session() as session:
        who = _who(request, session)
        _csrf(request, csrf_token)
        _case(session, who, case_id, "case.scan")
        audit.record(session, "scan.requested", case_id=case_id, name=name, user=who.username)
    try:
        job = request.app.state.jobs.start(store, case_id, name)
    except NciiError as exc:
        raise HTTPException(400, exc.message) from exc
    return _redirect(f"/cases/{case_id}/scans?job={job.id}")


@router.get("/cases/{case_id}/scans/{job_id}/progress")
def scans_progress(request: Request, case_id: int, job_id: str) -> Response:
    from fastapi.responses import JSONResponse

    with get_store(request).session() as session:
        who = _who(request, session)
        _case(session, who, case_id, "case.scan")
    job = request.app.state.jobs.get(job_id)
    if job is None or job.case_id != case_id:
        raise HTTPException(404, "no such scan job")
    return JSONResponse(job.to_json())
