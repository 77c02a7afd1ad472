"""Administering accounts: disable and enable users, revoke API tokens. Each change is audited.

A disabled user's browser sessions end at once and their tokens stop working (auth.py refuses a disabled
user's session and token); enabling them again does not bring sessions back. An admin cannot disable their
own account or the last enabled admin, so the deployment always keeps someone who can undo a mistake.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import Conflict, NotFound
from ncii_shield.store import audit
from ncii_shield.store.models import ApiToken, User, WebSession
from ncii_shield.web.auth import get_user


def set_disabled(session: Session, username: str, disabled: bool, *, by: str | None = None) -> User:
    """Disable (or enable) a user; `by` is the admin doing it, who may not disable themselves."""
    user = get_user(session, username)
    if disabled and by is not None and by == username:
        raise Conflict("you cannot disable your own account", hint="ask another admin")
    if disabled and user.role == "admin" and not user.disabled:
        admins = session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.disabled.is_(False))
        )
        if (admins or 0) <= 1:
            raise Conflict(f"{username} is the last enabled admin", hint="add or enable another admin first")
    if user.disabled == disabled:
        return user
    user.disabled = disabled
    if disabled:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    audit.record(session, "user.disabled" if disabled else "user.enabled", user=username)
    return user


def revoke_token(session: Session, token_id: int) -> ApiToken:
    """Revoke an API token for good (a new one can be made with `user token`)."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}", hint="list them with `ncii-shield user tokens`")
    if not token.revoked:
        token.revoked = True
        owner = session.get(User, token.user_id)
        audit.record(
            session,
            "token.revoked",
            token_id=token_id,
            name=token.name,
            user=owner.username if owner else None,
        )
    return token
