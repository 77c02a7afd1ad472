"""FastAPI dependencies shared by the pages, /api/v1 and the HMA-compatible API.

Endpoints are plain ``def`` functions and open ``with get_store(request).session() as s`` themselves:
the data key that unseals columns is a context variable, and FastAPI runs each dependency and the
endpoint in separate thread-pool calls, so a session must live inside one of them. The caller is a
browser session for pages and a bearer token (with a scope) for programs.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, Request
from sqlalchemy.orm import Session

from ncii_shield.store.audit import act_as
from ncii_shield.store.db import Store
from ncii_shield.web.auth import Principal, allowed, principal, session_user, token_user

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
            user = token_user(session, token, scope)
            if user is None:
                raise HTTPException(403, f"the token is not valid for {scope}")
            return principal(user)

    return dependency


def browser_principal(request: Request, session: Session) -> Principal | None:
    found = session_user(session, request.cookies.get(SESSION_COOKIE))
    if found is None:
        return None
    request.state.csrf = found[1].csrf
    act_as(found[0].username)
    return principal(found[0])


def check(session: Session, who: Principal, action: str, case_id: int | None = None) -> None:
    """403 unless ``who`` may do ``action`` (on ``case_id``); 404 is not used, to be explicit in tests.

    Also names ``who`` as the actor of whatever this request then writes to the audit chain.
    """
    act_as(who.username)
    if not allowed(session, who, action, case_id):
        raise HTTPException(403, f"not allowed: {action}")
