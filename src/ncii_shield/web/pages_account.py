"""Pages anyone reaches: signing in and out, and the interface language.

The login form carries a token of its own (double-submit cookie), since there is no session yet to hold
one; attempts are limited per address and account before the password is hashed (web/limiter.py).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ncii_shield.errors import Forbidden
from ncii_shield.store import audit
from ncii_shield.web.auth import authenticate, end_session, start_session, toggle_language
from ncii_shield.web.deps import SESSION_COOKIE, get_store
from ncii_shield.web.i18n import LANGUAGES, translator
from ncii_shield.web.render import LANGUAGE_COOKIE, check_csrf, page_language, redirect, render, signed_in

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "ncii_login_csrf"


@router.get("/login")
def login_form(request: Request, lang: str | None = None) -> Response:
    """The sign-in page, in the language asked for (?lang=en|ko, remembered in a cookie) or guessed."""
    token = secrets.token_urlsafe(24)
    secure = request.app.state.secure_cookies
    response = render(request, "login.html.j2", None, language=lang, login_csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure)
    if lang in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, lang, samesite="strict", secure=secure)
    return response


@router.post("/login")
def login(
    request: Request, username: str = Form(...), password: str = Form(...), csrf_token: str = Form("")
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise Forbidden("the login form is stale: reload the page")
    limiter = request.app.state.limiter
    keys = (f"user:{username}", f"ip:{request.client.host if request.client else '?'}")
    t = translator(page_language(request))
    if limiter.blocked(*keys):
        return render(
            request, "login.html.j2", None, status=429, login_csrf=csrf_token, error=t("login_blocked")
        )
    with get_store(request).session() as session:
        user = authenticate(session, username, password)
        if user is None:
            limiter.failed(*keys)
            audit.record(session, "user.login_failed", user=username[:100])
            return render(
                request, "login.html.j2", None, status=401, login_csrf=csrf_token, error=t("login_failed")
            )
        limiter.succeeded(*keys)
        token, _ = start_session(session, user)
        target = "/audit" if user.role == "auditor" else "/cases"
        language = user.language
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies,
        max_age=8 * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    # The account's language from now on, on every page, error pages included.
    response.set_cookie(LANGUAGE_COOKIE, language, samesite="strict", secure=request.app.state.secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        end_session(session, request.cookies.get(SESSION_COOKIE))
        audit.record(session, "user.logout", user=who.username)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def language(request: Request, csrf_token: str = Form(""), back: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check_csrf(request, csrf_token)
        lang = toggle_language(session, who)
    # Back to the page it was asked from: the form says which (no Referer is sent: Referrer-Policy).
    local = back.startswith("/") and not back.startswith(("//", "/\\"))
    response = redirect(back if local else request.headers.get("referer") or "/cases")
    response.set_cookie(LANGUAGE_COOKIE, lang, samesite="strict", secure=request.app.state.secure_cookies)
    return response


@router.get("/")
def home() -> Response:
    return redirect("/cases")
