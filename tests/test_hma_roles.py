"""HMA's roles as separate processes: `serve --roles hasher|matcher|curator|web`.

A platform runs curators (bank changes), matchers (lookups) and hashers apart, several matchers behind
a load balancer, all over one store. What must hold: each process answers only its roles' routes; a
matcher is ready (its index loaded) before the first lookup; and a hash a curator adds is matched by
every matcher process within 10 s (HMA promises 10 minutes) and stops matching as soon after its removal.
The processes here are real `ncii-shield serve` subprocesses on loopback, sharing one data directory
(or, under `make test-pg`, one PostgreSQL database).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from ncii_shield.store.db import Store
from ncii_shield.web.app import ROLES, create_app, parse_roles
from ncii_shield.web.auth import create_token, create_user
from tests.conftest import cli_env, new_store
from tests.web_server import free_port, live_server

MATCH_WITHIN = 10.0  # seconds: the bound for a new bank hash on every matcher


def _token(store: Store) -> str:
    with store.session() as s:
        create_user(s, "platform", "a long enough passphrase", "case_worker")
        return create_token(s, "platform", "hma-client", ["hma"])


@pytest.fixture
def token_store(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    store = new_store(tmp_path / "data")
    token = _token(store)
    yield store, token
    store.close()


# ------------------------------------------------------------------------------------- one process


def test_roles_parse_and_refuse_unknown_words() -> None:
    assert parse_roles(None) == parse_roles("all") == frozenset(ROLES)
    assert parse_roles(" Matcher, curator ") == {"matcher", "curator"}
    for bad in ("matcher,indexer", ",", "admin"):
        with pytest.raises(Exception, match=r"role|no role") as caught:
            parse_roles(bad)
        assert "--roles takes" in str(getattr(caught.value, "hint", ""))


@pytest.mark.parametrize(
    ("roles", "answered"),
    [
        ("matcher", {"/m/index/status"}),
        ("curator", {"/c/banks"}),
        ("hasher", {"/h/hash"}),
        ("web", {"/login", "/api/v1/cases"}),
        ("matcher,curator", {"/m/index/status", "/c/banks"}),
    ],
)
def test_a_process_answers_only_its_roles_routes(
    token_store: tuple[Store, str], roles: str, answered: set[str]
) -> None:
    store, token = token_store
    every = {"/m/index/status", "/c/banks", "/h/hash", "/login", "/api/v1/cases"}
    with (
        live_server(store, roles=parse_roles(roles)) as base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
    ):
        for path in every:
            got = http.get(path).status_code
            if path in answered:
                assert got != 404, (roles, path)
            else:
                assert got == 404, (roles, path, got)
        assert http.get("/status/live").text == "I-AM-ALIVE"  # every role: load balancers ask it
        assert http.get("/status").text == "I-AM-ALIVE"


def test_a_process_without_the_matcher_role_never_loads_the_index(token_store: tuple[Store, str]) -> None:
    """A curator or hasher process holds no bank index: it is never READY or STALE, only alive."""
    from fastapi.testclient import TestClient

    store, _ = token_store
    app = create_app(store, secure_cookies=False, roles=parse_roles("curator,hasher"))
    with TestClient(app) as http:
        assert http.get("/status").text == "I-AM-ALIVE"
    assert getattr(app.state, "hma_indexes", None) is None


def test_a_matcher_loads_its_index_at_start_not_on_the_first_lookup(token_store: tuple[Store, str]) -> None:
    """`serve` preloads (preload_index): the index is loaded with no request made at all; without it,
    nothing is loaded until a lookup or /status asks."""
    from fastapi.testclient import TestClient

    store, _ = token_store
    lazy = create_app(store, secure_cookies=False, roles=parse_roles("matcher"))
    with TestClient(lazy):
        time.sleep(0.3)
        assert getattr(lazy.state, "hma_indexes", None) is None
    eager = create_app(store, secure_cookies=False, roles=parse_roles("matcher"), preload_index=True)
    with TestClient(eager):
        deadline = time.monotonic() + 10
        while not eager.state.hma_indexes.loaded:
            assert time.monotonic() < deadline, "the matcher's index did not load at start"
            time.sleep(0.05)


# ------------------------------------------------------------------------------------- processes


@contextmanager
def _serving(store: Store, roles: str) -> Iterator[str]:
    """`ncii-shield serve --roles ROLES` as a subprocess on a free port; yields its base URL once /status
    answers I-AM-ALIVE (for a matcher: its index is loaded)."""
    port = free_port()
    command = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(store.settings.data_dir)]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--roles", roles],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(base + "/status", timeout=5).text == "I-AM-ALIVE":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"`serve --roles {roles}` did not become ready"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
        assert "Traceback" not in err, err


def _random_pdq(seed: int) -> str:
    return np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def _matched(http: httpx.Client, base: str, pdq: str) -> bool:
    found = http.get(base + "/m/lookup", params={"signal_type": "pdq", "signal": pdq})
    assert found.status_code == 200, found.text
    return bool(found.json().get("VICTIMS"))


def _until(condition, bound: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until condition() holds, polling; fails past the bound."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < bound, f"not within {bound:g} s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_hash_added_by_a_curator_is_matched_by_every_matcher_process_within_10_s(
    token_store: tuple[Store, str],
) -> None:
    """One curator and two matcher processes over one store: add, then remove, a bank hash."""
    store, token = token_store
    with ExitStack() as stack:
        curator = stack.enter_context(_serving(store, "curator"))
        matchers = [stack.enter_context(_serving(store, "matcher")) for _ in range(2)]
        http = stack.enter_context(httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30))
        # Both matchers answer from an index that is loaded and in use before the change.
        assert http.post(curator + "/c/banks", json={"name": "VICTIMS"}).status_code == 201
        known = _random_pdq(1)
        added = http.post(curator + "/c/bank/VICTIMS/signal", json={"pdq": known})
        assert added.status_code == 200, added.text
        for base in matchers:
            _until(lambda b=base: _matched(http, b, known), MATCH_WITHIN)

        new = _random_pdq(2)
        assert not any(_matched(http, base, new) for base in matchers)
        added = http.post(curator + "/c/bank/VICTIMS/signal", json={"pdq": new})
        assert added.status_code == 200, added.text
        content_id = added.json()["id"]
        waited = [_until(lambda b=base: _matched(http, b, new), MATCH_WITHIN) for base in matchers]
        assert max(waited) < MATCH_WITHIN
        # A curator process serves no lookups, and a matcher no bank changes.
        assert (
            http.get(curator + "/m/lookup", params={"signal_type": "pdq", "signal": new}).status_code == 404
        )
        assert http.post(matchers[0] + "/c/banks", json={"name": "OTHER"}).status_code == 404

        removed = http.delete(curator + f"/c/bank/VICTIMS/content/{content_id}")
        assert removed.status_code == 200, removed.text
        for base in matchers:
            _until(lambda b=base: not _matched(http, b, new), MATCH_WITHIN)
        assert all(_matched(http, base, known) for base in matchers)  # the other hash stays
