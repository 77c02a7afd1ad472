"""Administering accounts: list, disable and enable users, list and revoke tokens (CLI, service, web)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.errors import Conflict, NotFound
from ncii_shield.read.users import list_tokens, list_users
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, User
from ncii_shield.web.accounts import revoke_token, set_disabled
from ncii_shield.web.auth import create_token, create_user, start_session, token_user
from tests.conftest import cli_env, new_store
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"


def _people(store: Store) -> dict[str, str]:
    with store.session() as s:
        create_user(s, "boss", PASSWORD, "admin")
        create_user(s, "kim", PASSWORD, "case_worker", language="en")
        create_user(s, "lee", PASSWORD, "reviewer")
        return {
            "kim": create_token(s, "kim", "platform-x", ["cases:read"]),
            "lee": create_token(s, "lee", "hma-client", ["hma"]),
        }


def test_listing_never_shows_a_secret(store: Store) -> None:
    tokens = _people(store)
    with store.session() as s:
        users, listed = list_users(s), list_tokens(s)
    assert [u.username for u in users] == ["boss", "kim", "lee"]
    assert [u.tokens for u in users] == [0, 1, 1] and not any(u.disabled for u in users)
    text = json.dumps([u.to_json() for u in users] + [t.to_json() for t in listed])
    assert not any(secret in text for secret in tokens.values())
    assert "argon2" not in text and "hash" not in text
    assert [(t.name, t.username, t.scopes) for t in listed] == [
        ("hma-client", "lee", ("hma",)),
        ("platform-x", "kim", ("cases:read",)),
    ]


def test_disabling_ends_sessions_and_stops_tokens(store: Store) -> None:
    tokens = _people(store)
    with store.session() as s:
        user = s.scalars(select(User).where(User.username == "kim")).one()
        start_session(s, user)
    with store.session() as s:
        assert next(u for u in list_users(s) if u.username == "kim").sessions == 1
        set_disabled(s, "kim", True, by="boss")
    with store.session() as s:
        assert token_user(s, tokens["kim"], "cases:read") is None
        kim = next(u for u in list_users(s) if u.username == "kim")
        assert kim.disabled and kim.sessions == 0
        set_disabled(s, "kim", False, by="boss")
    with store.session() as s:
        assert token_user(s, tokens["kim"], "cases:read") is not None  # enabled again: the token works
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions[-2:] == ["user.disabled", "user.enabled"]


def test_no_one_locks_the_deployment_out(store: Store) -> None:
    _people(store)
    with store.session() as s, pytest.raises(Conflict, match="your own account"):
        set_disabled(s, "boss", True, by="boss")
    with store.session() as s, pytest.raises(Conflict, match="last enabled admin"):
        set_disabled(s, "boss", True, by="someone else")
    with store.session() as s, pytest.raises(NotFound, match="no user 'ghost'"):
        set_disabled(s, "ghost", True)


def test_a_revoked_token_is_refused_for_good(store: Store) -> None:
    tokens = _people(store)
    with store.session() as s:
        token_id = next(t.id for t in list_tokens(s) if t.name == "hma-client")
        revoke_token(s, token_id)
        revoke_token(s, token_id)  # twice: nothing more happens
    with store.session() as s:
        assert token_user(s, tokens["lee"], "hma") is None
        assert [t.revoked for t in list_tokens(s) if t.id == token_id] == [True]
        revoked = s.scalars(select(AuditEvent).where(AuditEvent.action == "token.revoked")).all()
        assert len(revoked) == 1
    with store.session() as s, pytest.raises(NotFound, match="no API token 999"):
        revoke_token(s, 999)


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )


def test_the_cli(tmp_path: Path) -> None:
    store = new_store(tmp_path / "data")
    _people(store)
    store.close()
    data = tmp_path / "data"
    listed = json.loads(_cli(data, "user", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in listed] == [
        ("boss", "admin", False),
        ("kim", "case_worker", False),
        ("lee", "reviewer", False),
    ]
    assert _cli(data, "user", "disable", "kim").returncode == 0
    assert [u["disabled"] for u in json.loads(_cli(data, "user", "list", "--json").stdout)] == [
        False,
        True,
        False,
    ]
    tokens = json.loads(_cli(data, "user", "tokens", "--json").stdout)
    assert _cli(data, "user", "revoke", str(tokens[0]["id"])).returncode == 0
    assert json.loads(_cli(data, "user", "tokens", "--json").stdout)[0]["revoked"] is True
    table = _cli(data, "user", "list").stdout
    assert "disabled" in table and "kim" in table
    missing = _cli(data, "user", "disable", "ghost")
    assert (
        missing.returncode == 2 and "no user 'ghost'" in missing.stderr and "Traceback" not in missing.stderr
    )
    last = _cli(data, "user", "disable", "boss")
    assert last.returncode == 2 and "last enabled admin" in last.stderr


def test_the_admin_page(tmp_path: Path) -> None:
    store = new_store(tmp_path / "data")
    tokens = _people(store)
    with live_server(store) as url:
        client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        assert (
            client.post(
                "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token}
            ).status_code
            == 303
        )
        page = client.get("/admin/users")
        assert page.status_code == 200 and 'data-user="kim"' in page.text and "platform-x" in page.text
        assert tokens["kim"] not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert client.post("/admin/users/kim/disable", data={"csrf_token": csrf}).status_code == 303
        assert client.post("/admin/users/boss/disable", data={"csrf_token": csrf}).status_code == 409
        assert client.post("/admin/users/kim/frobnicate", data={"csrf_token": csrf}).status_code == 404
        assert client.post("/admin/users/kim/enable", data={"csrf_token": "forged"}).status_code == 403
        with store.session() as s:
            token_id = next(t.id for t in list_tokens(s) if t.name == "platform-x")
        assert client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 303
        with store.session() as s:
            assert next(u for u in list_users(s) if u.username == "kim").disabled
            assert token_user(s, tokens["kim"], "cases:read") is None
            events = [
                e.actor
                for e in s.scalars(
                    __import__("sqlalchemy")
                    .select(AuditEvent)
                    .where(AuditEvent.action.in_(("user.disabled", "token.revoked")))
                )
            ]
        assert events == ["web:boss", "web:boss"]  # the audit log names the admin who did it
    store.close()
