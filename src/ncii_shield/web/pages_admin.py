"""Administration, for admins: who can sign in, and which API tokens work (disable, enable, revoke).

The same operations as `ncii-shield user disable|enable|revoke`, over web/accounts.py; the page lists what
read/users.py returns. Permission is checked before anything is looked up (403 before 404).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ncii_shield.errors import NotFound
from ncii_shield.read.users import list_tokens, list_users
from ncii_shield.web.accounts import revoke_token, set_disabled
from ncii_shield.web.deps import check, get_store
from ncii_shield.web.render import check_csrf, redirect, render, signed_in

router = APIRouter(include_in_schema=False)


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "users.manage")
        return render(request, "admin.html.j2", who, users=list_users(session), tokens=list_tokens(session))


@router.post("/admin/users/{username}/{change}")
def change_user(request: Request, username: str, change: str, csrf_token: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "users.manage")
        check_csrf(request, csrf_token)
        if change not in ("disable", "enable"):
            raise NotFound(f"no such change {change[:40]!r}", hint="use disable or enable")
        set_disabled(session, username, change == "disable", by=who.username)
    return redirect("/admin/users")


@router.post("/admin/tokens/{token_id}/revoke")
def revoke(request: Request, token_id: int, csrf_token: str = Form("")) -> Response:
    with get_store(request).session() as session:
        who = signed_in(request, session)
        check(session, who, "users.manage")
        check_csrf(request, csrf_token)
        revoke_token(session, token_id)
    return redirect("/admin/users")
