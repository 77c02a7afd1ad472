"""What every page shares: the Jinja2 templates, the signed-in user, CSRF checks, redirects, error pages."""

from __future__ import annotations

import secrets
from importlib.resources import files
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from ncii_shield.errors import Forbidden
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import browser_principal
from ncii_shield.web.i18n import LANGUAGES, translator

_env = Environment(
    loader=FileSystemLoader(str(files("ncii_shield.web") / "templates")),
    autoescape=select_autoescape(["j2", "html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


LANGUAGE_COOKIE = "ncii_lang"


def page_language(request: Request, who: Principal | None = None) -> str:
    """One language for every page a person sees: their account's once signed in (login copies it into the
    cookie, so error pages agree), else the cookie, else what the browser asks for, else Korean."""
    if who is not None and who.language in LANGUAGES:
        return who.language
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "ko"


def render(
    request: Request,
    template: str,
    who: Principal | None,
    status: int = 200,
    *,
    language: str | None = None,
    **context: Any,
) -> HTMLResponse:
    lang = language if language in LANGUAGES else page_language(request, who)
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
    lang = page_language(request)
    t = translator(lang)
    message = {403: t("forbidden"), 404: t("not_found")}.get(status, detail)
    if status == 403 and detail and not detail.startswith("not allowed"):
        message = detail  # e.g. a stale form: say what to do
    html = _env.get_template("error.html.j2").render(
        t=t, lang=lang, who=None, csrf="", status=status, message=message
    )
    return HTMLResponse(html, status_code=status, headers={"Location": "/login"} if status == 303 else None)


def signed_in(request: Request, session: Session) -> Principal:
    """The logged-in user, or a redirect to the login page."""
    who = browser_principal(request, session)
    if who is None:
        raise HTTPException(303, "login needed", headers={"Location": "/login"})
    return who


def check_csrf(request: Request, token: str) -> None:
    expected = getattr(request.state, "csrf", "")
    if not expected or not secrets.compare_digest(expected, token or ""):
        raise Forbidden("the form is stale or forged (CSRF token mismatch): reload the page")


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
