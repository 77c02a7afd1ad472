"""Web users and API tokens as an administrator reads them: never a password hash or a token's hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.store.models import ApiToken, CaseAssignment, User, WebSession


@dataclass(frozen=True)
class UserRow:
    username: str
    role: str
    language: str
    disabled: bool
    created_at: datetime
    cases: tuple[int, ...]  # assigned cases (admins see every case anyway)
    sessions: int  # browser sessions still valid
    tokens: int  # API tokens not revoked

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "cases": list(self.cases), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    username: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    def to_json(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "scopes": list(self.scopes),
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def list_users(session: Session) -> list[UserRow]:
    """Every user, by name, with what they can reach and how they are signed in."""
    cases: dict[int, list[int]] = {}
    for user_id, case_id in session.execute(
        select(CaseAssignment.user_id, CaseAssignment.case_id).order_by(CaseAssignment.case_id)
    ):
        cases.setdefault(user_id, []).append(case_id)
    live = dict(
        session.execute(  # type: ignore[arg-type]
            select(WebSession.user_id, func.count())
            .where(WebSession.expires_at > datetime.now(UTC))
            .group_by(WebSession.user_id)
        ).all()
    )
    tokens = dict(
        session.execute(  # type: ignore[arg-type]
            select(ApiToken.user_id, func.count())
            .where(ApiToken.revoked.is_(False))
            .group_by(ApiToken.user_id)
        ).all()
    )
    return [
        UserRow(
            username=u.username,
            role=u.role,
            language=u.language,
            disabled=u.disabled,
            created_at=u.created_at,
            cases=tuple(cases.get(u.id, ())),
            sessions=int(live.get(u.id, 0)),
            tokens=int(tokens.get(u.id, 0)),
        )
        for u in session.scalars(select(User).order_by(User.username))
    ]


def list_tokens(session: Session) -> list[TokenRow]:
    """Every API token ever made (revoked ones too: the audit log refers to them by name), newest first."""
    return [
        TokenRow(
            id=t.id,
            name=t.name,
            username=username,
            scopes=tuple(t.scopes or ()),
            created_at=t.created_at,
            last_used_at=t.last_used_at,
            revoked=t.revoked,
        )
        for t, username in session.execute(
            select(ApiToken, User.username)
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id.desc())
        )
    ]
