"""Fifty audited actions at once over a real uvicorn on loopback, on SQLite and on PostgreSQL: no 5xx, the
audit chain verifies afterwards, and every action is in the log under the name of whoever did it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.store.chain import verify_store
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent
from ncii_shield.web.auth import create_token, create_user
from tests.conftest import new_store
from tests.pg import pg_bin, temporary_postgres
from tests.test_web_hardening import PASSWORD, _client, _login, _login_token, _stored
from tests.web_server import live_server

ACTIONS = 50


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = new_store(tmp_path / "data")
        yield store
        store.close()
        return
    if pg_bin() is None:
        pytest.skip("PostgreSQL not installed; .ci/run installs it")
    with temporary_postgres() as url:
        store = new_store(tmp_path / "data", url)
        yield store
        store.close()


def test_fifty_simultaneous_audited_actions(backend: Store) -> None:
    store = backend
    with backend.session() as s:
        tokens = {}
        for who in ("p1", "p2"):
            create_user(s, who, PASSWORD, "case_worker")
            tokens[who] = create_token(s, who, f"ingest-{who}", ["hma"])
        for n in range(10):
            create_user(s, f"worker{n}", PASSWORD, "case_worker")
    with live_server(store) as base:
        api = {
            w: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=60)
            for w, t in tokens.items()
        }

        def act(n: int) -> int:
            if n % 5 == 0:  # ten browser logins, each its own user and address
                browser = _client(base, f"127.0.1.{n // 5 + 1}")
                return _login(browser, f"worker{n // 5}", PASSWORD, _login_token(browser))
            who = "p1" if n % 2 else "p2"
            return api[who].post("/c/banks", json={"name": f"BANK_{who.upper()}_{n}"}).status_code

        with ThreadPoolExecutor(ACTIONS) as pool:
            codes = Counter(pool.map(act, range(ACTIONS)))
    assert codes == {201: 40, 303: 10}, codes  # no 5xx, nothing refused
    with store.session() as s:
        verification = verify_store(store, s)
        assert verification.ok, verification.problems
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.action.in_(("bank.created", "user.login")))
            .order_by(AuditEvent.id)
        ).all()
        rows = [(e.action, e.actor, dict(e.details or {})) for e in events]
    assert Counter(action for action, _, _ in rows) == {"bank.created": 40, "user.login": 10}
    for action, actor, details in rows:
        if action == "user.login":
            assert actor.startswith(_stored("web:worker")), actor
        else:
            who = str(details["bank"]).split("_")[1].lower()
            assert actor == _stored(f"token:ingest-{who}"), (actor, details)
    assert {a for action, a, _ in rows if action == "user.login"} == {
        _stored(f"web:worker{n}") for n in range(10)
    }
