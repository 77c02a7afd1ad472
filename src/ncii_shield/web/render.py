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


def render(
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
