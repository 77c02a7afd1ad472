"""Who may do what: users with argon2id passwords, browser sessions, API tokens, roles and case assignment.

The rules live here, in one table, so the pages, the API and the authorisation tests read the same
thing. A user sees only the cases assigned to them (admins see all); auditors see the audit log and
nothing of a case's content. Every secret handed out (session cookie, API token) is random and stored
only as its SHA-256, so a copy of the database logs no one in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError, NotFound
from ncii_shield.store import audit
from ncii_shield.store.models import ApiToken, Case, CaseAssignment, User, WebSession
from ncii_shield.web.limiter import LoginLimiter

__all__ = ["LoginLimiter"]  # re-exported: the limiter lives in web/limiter.py

ROLES = ("admin", "case_worker", "reviewer", "auditor")
# action -> roles allowed. Case actions also need the case to be assigned (admins excepted).
PERMISSIONS: dict[str, frozenset[str]] = {
    "case.list": frozenset({"admin", "case_worker", "reviewer"}),
    "case.view": frozenset({"admin", "case_worker", "reviewer"}),
    # Who spread it (senders, ids, first posts): investigators' work, not a reviewer's.
    "case.actors": frozenset({"admin", "case_worker"}),
    "case.create": frozenset({"admin", "case_worker"}),
    "case.enrol": frozenset({"admin", "case_worker"}),
    "case.scan": frozenset({"admin", "case_worker"}),
    "hits.review": frozenset({"admin", "case_worker", "reviewer"}),
    "media.reveal": frozenset({"admin", "case_worker", "reviewer"}),
    "takedown": frozenset({"admin", "case_worker"}),
    "evidence.export": frozenset({"admin", "case_worker"}),
    "audit.view": frozenset({"admin", "auditor"}),
    "users.manage": frozenset({"admin"}),
}
CASE_ACTIONS = frozenset(
    a for a in PERMISSIONS if a.startswith(("case.", "hits.", "media.", "takedown", "evidence."))
)
SCOPES = ("hma", "cases:read", "cases:write")
SESSION_HOURS = 8
_hasher = PasswordHasher()  # argon2id, library defaults (RFC 9106 low-memory profile)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ users


def create_user(session: Session, username: str, password: str, role: str, *, language: str = "ko") -> User:
    if role not in ROLES:
        raise NciiError(f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise NciiError("the password is shorter than 12 characters", hint="use a long passphrase")
    if not username.strip() or len(username) > 100:
        raise NciiError("a username is 1 to 100 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise NciiError(f"user {username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role, language=language)
    session.add(user)
    session.flush()
    audit.record(session, "user.created", user=username, role=role)
    return user


def set_password(session: Session, username: str, password: str) -> None:
    if len(password) < 12:
        raise NciiError("the password is shorter than 12 characters", hint="use a long passphrase")
    get_user(session, username).password_hash = _hasher.hash(password)
    audit.record(session, "user.password_set", user=username)


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", hint="create it with: ncii-shield user add NAME --role ROLE")
    return user


def assign(session: Session, username: str, case_id: int) -> None:
    user = get_user(session, username)
    if session.get(Case, case_id) is None:
        raise NciiError(f"no case {case_id}", hint="see the cases with: ncii-shield case list")
    if session.get(CaseAssignment, (user.id, case_id)) is None:
        session.add(CaseAssignment(user_id=user.id, case_id=case_id))
        audit.record(session, "user.assigned", case_id=case_id, user=username)


def assign_creator(session: Session, who: Principal, case_id: int) -> None:
    """The user who opened a case from the web is assigned to it, so they can go on working on it."""
    session.add(CaseAssignment(user_id=who.id, case_id=case_id))


def reset_demo_user(session: Session) -> str:
    """Give the loopback demo's case worker 'demo' a new password and every case not purged; return it.
    A new password each start: a demo left running is not a standing account with a known password."""
    password = secrets.token_urlsafe(12)
    if session.scalar(select(User).where(User.username == "demo")) is None:
        create_user(session, "demo", password, "case_worker", language="en")
    else:
        set_password(session, "demo", password)
    for case_id in session.scalars(select(Case.id).where(Case.status != "purged")):
        assign(session, "demo", case_id)
    return password


def toggle_language(session: Session, who: Principal) -> str:
    """Switch the user's interface between Korean and English; returns the new language."""
    user = session.get(User, who.id)
    assert user is not None
    user.language = "en" if user.language == "ko" else "ko"
    return user.language


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password is right; the same work is done for unknown users (no timing oracle).

    Names the caller for the audit log of this request: ``web:<username>`` once the password is right,
    ``web:anonymous`` until then (a failed login is not done by the account it tried)."""
    audit.act_as(ANONYMOUS)
    user = session.scalar(select(User).where(User.username == username))
    try:
        if user is None or user.disabled:
            _hasher.hash(password)
            return None
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    audit.act_as(web_actor(user.username))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


# ------------------------------------------------------------------------------------------ actors

ANONYMOUS = "web:anonymous"


def web_actor(username: str) -> str:
    """Who a browser request acts as, in the audit log."""
    return f"web:{username}"


def token_actor(name: str) -> str:
    """Who a bearer-token request acts as, in the audit log: the token's name (its user is in the
    request's ``web.request`` entry)."""
    return f"token:{name}"


# ------------------------------------------------------------------------------------------ sessions


def start_session(session: Session, user: User) -> tuple[str, str]:
    """A new browser session: (cookie value, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_sha(token),
            user_id=user.id,
            csrf=csrf,
            expires_at=datetime.now(UTC) + timedelta(hours=SESSION_HOURS),
        )
    )
    audit.act_as(web_actor(user.username))
    audit.record(session, "user.login", user=user.username)
    return token, csrf


def session_user(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    if not token:
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == _sha(token)))
    if row is None or row.expires_at < datetime.now(UTC):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return user, row


def end_session(session: Session, token: str | None) -> None:
    if token:
        row = session.scalar(select(WebSession).where(WebSession.token_hash == _sha(token)))
        if row is not None:
            session.delete(row)


# ------------------------------------------------------------------------------------------ tokens


def create_token(session: Session, username: str, name: str, scopes: list[str]) -> str:
    """A new API token (shown once). Scopes: hma (the HMA-compatible API), cases:read, cases:write."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise NciiError(
            f"unknown or missing scopes: {', '.join(unknown) or '(none)'}", hint=f"use {', '.join(SCOPES)}"
        )
    user = get_user(session, username)
    token = "ncii_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=_sha(token), user_id=user.id, scopes=sorted(set(scopes))))
    audit.record(session, "token.created", user=username, name=name, scopes=sorted(set(scopes)))
    return token


def token_user(session: Session, token: str | None, scope: str) -> User | None:
    """The token's user if the token is valid and carries ``scope``."""
    found = _token(session, token, scope)
    return found[0] if found else None


def token_principal_of(session: Session, token: str | None, scope: str) -> Principal | None:
    """The caller behind a bearer token carrying ``scope``, acting as ``token:<name>``."""
    found = _token(session, token, scope)
    return principal(found[0], actor=token_actor(found[1].name)) if found else None


def _token(session: Session, token: str | None, scope: str) -> tuple[User, ApiToken] | None:
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha(token)))
    if row is None or row.revoked or scope not in (row.scopes or []):
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    row.last_used_at = datetime.now(UTC)
    return user, row


# ------------------------------------------------------------------------------------------ rules


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    role: str
    language: str
    actor: str = ""  # who the audit log says acted: web:<username> or token:<name>


def principal(user: User, *, actor: str | None = None) -> Principal:
    return Principal(user.id, user.username, user.role, user.language, actor or web_actor(user.username))


def sees_every_case(who: Principal) -> bool:
    """Admins reach every case, assigned or not (and so may learn which case ids exist)."""
    return who.role == "admin"


def allowed(session: Session, who: Principal, action: str, case_id: int | None = None) -> bool:
    if who.role not in PERMISSIONS.get(action, frozenset()):
        return False
    if case_id is None or sees_every_case(who) or action not in CASE_ACTIONS:
        return True
    return session.get(CaseAssignment, (who.id, case_id)) is not None


def visible_cases(session: Session, who: Principal) -> list[int]:
    if sees_every_case(who):
        return list(session.scalars(select(Case.id).order_by(Case.id)))
    if "case.list" not in {a for a, roles in PERMISSIONS.items() if who.role in roles}:
        return []
    return list(
        session.scalars(
            select(CaseAssignment.case_id)
            .where(CaseAssignment.user_id == who.id)
            .order_by(CaseAssignment.case_id)
        )
    )
