"""FastAPI dependencies shared by the pages, /api/v1 and the HMA-compatible API.

Endpoints are plain ``def`` functions and open ``with get_store(request).session() as s`` themselves:
the data key that unseals columns is a context variable, and FastAPI runs each dependency and the
endpoint in separate thread-pool calls, so a session must live inside one of them. The caller is a
browser session for pages and a bearer token (with a scope) for programs.

Who acts, for the audit log, is a context variable too (``store.audit.act_as``): ``web:<username>`` for
a browser, ``token:<name>`` for a bearer token. It is set inside the call that writes (``check`` and
``browser_principal`` run in the endpoint's own thread-pool call; HMA's async dependency sets it on the
request's task, which the endpoint's thread-pool calls copy). Each request runs in a copy of the
context, so one request's name never reaches another's.

Every route that takes a case id loads it through :func:`load_case` (a notice through
:func:`load_notice_case`): permission first, existence after, so a user who may not see a case gets the
same 403 whether it exists or not, and only those who may see every case (admins) get a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import HTTPException, Request, Response
from sqlalchemy.orm import Session

from ncii_shield.errors import Forbidden, NciiError, NotFound
from ncii_shield.read.cases import CaseRef, get_case_ref
from ncii_shield.read.takedown import notice_case
from ncii_shield.store.audit import act_as
from ncii_shield.store.db import Store
from ncii_shield.web.auth import (
    Principal,
    allowed,
    principal,
    sees_every_case,
    session_user,
    token_principal_of,
    web_actor,
)

SESSION_COOKIE = "ncii_session"


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_principal(scope: str) -> Callable[..., Principal]:
    """Dependency: the caller of an API route, by bearer token carrying ``scope`` (401 / 403 otherwise)."""

    def dependency(request: Request) -> Principal:
        token = bearer(request)
        if token is None:
            raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
        with get_store(request).session() as session:
            who = token_principal_of(session, token, scope)
            if who is None:
                raise HTTPException(403, f"the token is not valid for {scope}")
            act_as(who.actor)
            return who

    return dependency


def browser_principal(request: Request, session: Session) -> Principal | None:
    found = session_user(session, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    request.state.csrf = found[1].csrf
    act_as(web_actor(found[0].username))
    return principal(found[0])


def check(session: Session, who: Principal, action: str, case_id: int | None = None) -> None:
    """:class:`Forbidden` (403) unless ``who`` may do ``action`` (on ``case_id``), whether the case exists
    or not.

    Also names ``who`` (``web:<username>`` or ``token:<name>``) as the actor of whatever this request
    then writes to the audit chain.
    """
    act_as(who.actor or web_actor(who.username))
    if not allowed(session, who, action, case_id):
        raise Forbidden(f"not allowed: {action}")


def load_case(session: Session, who: Principal, action: str, case_id: int) -> CaseRef:
    """The case ``who`` may do ``action`` on: 403 before existence is looked at, 404 after."""
    check(session, who, action, case_id)
    return get_case_ref(session, case_id)


def load_notice_case(session: Session, who: Principal, action: str, notice_id: int) -> CaseRef:
    """The case of a notice ``who`` may do ``action`` on. A missing notice is a 404 only for those who
    may see every case; anyone else gets the 403 they would get for another case's notice."""
    case_id = notice_case(session, notice_id)
    if case_id is None:
        check(session, who, action)
        if not sees_every_case(who):
            raise Forbidden(f"not allowed: {action}")
        raise NotFound(f"no notice {notice_id}")
    return load_case(session, who, action, case_id)


def may_see_reply(session: Session, who: Principal, suggested_notice_id: int | None) -> bool:
    """An unmatched reply whose headers name a notice is shown only to those who may act on that
    notice's case (a reply can quote a victim's details); one naming none, to anyone with takedown."""
    if suggested_notice_id is None:
        return True
    case_id = notice_case(session, suggested_notice_id)
    return case_id is None or allowed(session, who, "takedown", case_id)


def warm_after(response: Response, request: Request, case_id: int) -> Response:
    """Read the case's rows for its other page once this response is sent (read/families.warm_in_background),
    not while this page is being made: in the same process, that thread would slow the page it follows."""
    from starlette.background import BackgroundTask

    from ncii_shield.read.families import warm_in_background

    response.background = BackgroundTask(warm_in_background, get_store(request).session, case_id)
    return response


def form_date(text: str, what: str) -> date | None:
    """A filter form's YYYY-MM-DD (empty: no filter); a one-line 400 for anything else."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise NciiError(f"{what} must be a date as YYYY-MM-DD, not {text[:40]!r}") from None
