"""Web hardening over a real uvicorn on loopback (issue 12, items 9, 11 and 12).

- The login limiter holds under concurrency, ignores X-Forwarded-For unless `serve` is told to trust a
  proxy, and locks out an (address, account) pair with exponential back-off, never the account itself.
- Every audited web, API and HMA action names who did it: ``web:<username>`` or ``token:<name>``, per
  request, also when requests of different callers run at the same time.
- HMA's liveness checks (/status, /status/live) answer without a token.

Other loopback addresses (127.0.0.2, 127.0.0.3…) stand in for other clients.
"""

from __future__ import annotations

import contextvars
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from ncii_shield.store.audit import act_as, current_actor
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent
from ncii_shield.web.auth import LoginLimiter, create_token, create_user
from tests.conftest import cli_env, new_store
from tests.test_web_api import World, world  # noqa: F401 - the fixture
from tests.web_server import free_port, live_server

PASSWORD = "a long enough passphrase"
WRONG = "not the password at all"


def _client(base: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from ``source`` (any address of 127.0.0.0/8 is loopback)."""
    return httpx.Client(
        base_url=base, timeout=60, follow_redirects=False, transport=httpx.HTTPTransport(local_address=source)
    )


def _login_token(client: httpx.Client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def _login(client: httpx.Client, username: str, password: str, token: str, **headers: str) -> int:
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, headers=headers).status_code


def _stored(identity: str) -> str:
    """The actor string the audit log keeps for a request that named ``identity`` (store/audit.py)."""

    def named() -> str:
        act_as(identity)
        return current_actor()

    return contextvars.copy_context().run(named)


def _events(store: Store, *actions: str) -> list[tuple[str, str, dict[str, object]]]:
    with store.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id))
        return [(e.action, e.actor, dict(e.details or {})) for e in rows]


# ------------------------------------------------------------------------------------------ item 9


def test_concurrent_wrong_passwords_are_checked_at_most_limit_times(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "admin", PASSWORD, "admin")
    with live_server(store) as base:
        client = _client(base)
        token = _login_token(client)
        barrier = threading.Barrier(40, timeout=30)

        def attempt(_: int) -> int:
            barrier.wait()
            return _login(client, "admin", WRONG, token)

        with ThreadPoolExecutor(40) as pool:
            codes = Counter(pool.map(attempt, range(40)))
    assert codes == {401: 5, 429: 35}, codes
    assert len(_events(store, "user.login_failed")) == 5, "a password is checked only within the limit"
    store.close()


def test_a_stranger_cannot_lock_the_admin_out(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "admin", PASSWORD, "admin")
    with live_server(store) as base:
        stranger = _client(base, "127.0.0.3")
        token = _login_token(stranger)
        assert [_login(stranger, "admin", WRONG, token) for _ in range(6)] == [401] * 5 + [429]
        admin = _client(base, "127.0.0.2")
        assert _login(admin, "admin", PASSWORD, _login_token(admin)) == 303, "the admin, from elsewhere"
        assert _login(stranger, "admin", PASSWORD, token) == 429, "the stranger's address stays held off"
    store.close()


def test_lockout_backs_off_exponentially_per_address_and_account() -> None:
    now = [1000.0]
    limiter = LoginLimiter(limit=5, base=30, cap=3600, window=300, clock=lambda: now[0])
    keys = ("user:admin", "ip:127.0.0.3")
    for _ in range(5):
        assert not limiter.blocked(*keys)
        limiter.failed(*keys)
    for wait in (30, 60, 120, 240, 480):
        assert limiter.blocked(*keys)
        now[0] += wait - 1
        assert limiter.blocked(*keys), f"still waiting ({wait} s)"
        now[0] += 1
        assert not limiter.blocked(*keys), f"one try after {wait} s"
        limiter.failed(*keys)
    assert not limiter.blocked("user:admin", "ip:127.0.0.2"), "the same account from another address"
    limiter.succeeded("user:admin", "ip:127.0.0.2")
    assert not limiter.blocked("user:other", "ip:127.0.0.3"), "another account from the same address"
    limiter.succeeded("user:other", "ip:127.0.0.3")
    now[0] += 960 + 300  # the last back-off, then a quiet window: forgotten
    assert not limiter.blocked(*keys)
    limiter.succeeded(*keys)

    # An attempt is reserved before the password is checked: the limit holds for attempts in flight.
    fresh = ("user:x", "ip:127.0.0.4")
    for _ in range(4):
        assert not limiter.blocked(*fresh)
        limiter.failed(*fresh)
    assert not limiter.blocked(*fresh)
    assert limiter.blocked(*fresh), "the fifth attempt is in flight: a sixth waits"
    limiter.succeeded(*fresh)
    assert not limiter.blocked(*fresh)
    limiter.succeeded(*fresh)

    # One address trying many accounts is held off too (password spraying), only that address.
    for i in range(limiter.address_limit):
        assert not limiter.blocked(f"user:u{i}", "ip:127.0.0.9")
        limiter.failed(f"user:u{i}", "ip:127.0.0.9")
    assert limiter.blocked("user:someone-else", "ip:127.0.0.9")
    assert not limiter.blocked("user:someone-else", "ip:127.0.0.10")


@contextmanager
def _serve(data_dir: Path, *options: str) -> Iterator[str]:
    """``ncii-shield serve`` as an operator runs it, on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data_dir), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--insecure-cookies", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise AssertionError(f"serve stopped: {server.stderr.read() if server.stderr else ''}")
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "someone", PASSWORD, "reviewer")
    store.close()
    with _serve(tmp_path / "d") as base:
        client = _client(base)
        token = _login_token(client)
        codes = [
            _login(client, "someone", WRONG, token, **{"X-Forwarded-For": f"127.0.0.{100 + i}"})
            for i in range(6)
        ]
        assert codes == [401] * 5 + [429], "a made-up X-Forwarded-For is no new address"
        # Spraying other accounts from the same address, each try with a new made-up X-Forwarded-For.
        spray = [
            _login(client, f"user{i}", WRONG, token, **{"X-Forwarded-For": f"127.0.1.{i}"}) for i in range(16)
        ]
        assert spray == [401] * 15 + [429], "one address: at most address_limit wrong passwords"


def test_forwarded_for_from_a_configured_proxy_names_the_client(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "someone", PASSWORD, "reviewer")
    store.close()
    with _serve(tmp_path / "d", "--forwarded-allow-ips", "127.0.0.1") as base:
        proxy = _client(base)
        token = _login_token(proxy)
        behind = {"X-Forwarded-For": "127.0.0.50"}
        assert [_login(proxy, "someone", WRONG, token, **behind) for _ in range(6)] == [401] * 5 + [429]
        other = {"X-Forwarded-For": "127.0.0.51"}
        assert _login(proxy, "someone", PASSWORD, token, **other) == 303, "another client behind the proxy"
        # From an address that is not the configured proxy, the header is ignored again.
        elsewhere = _client(base, "127.0.0.2")
        token2 = _login_token(elsewhere)
        spoofed = {"X-Forwarded-For": "127.0.0.50"}
        assert _login(elsewhere, "someone", PASSWORD, token2, **spoofed) == 303


# ------------------------------------------------------------------------------------------ item 11


def test_web_logins_name_the_web_user(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "alice", PASSWORD, "case_worker")
    with live_server(store) as base:
        client = _client(base)
        token = _login_token(client)
        assert _login(client, "alice", WRONG, token) == 401
        assert _login(client, "alice", PASSWORD, token) == 303
        page = client.get("/cases")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    actors = {
        action: actor for action, actor, _ in _events(store, "user.login", "user.login_failed", "user.logout")
    }
    assert actors == {
        "user.login_failed": _stored("web:anonymous"),
        "user.login": _stored("web:alice"),
        "user.logout": _stored("web:alice"),
    }
    store.close()


def test_api_calls_name_the_token(world: World, store: Store) -> None:  # noqa: F811 - the fixture
    decided = world.client("worker").post(
        f"/api/v1/cases/{world.case_a}/decisions",
        json={"item_ids": world.items[:1], "decision": "confirmed", "reason": "hers"},
    )
    assert decided.status_code == 201, decided.text
    events = _events(store, "review.confirmed", "web.request")
    assert [a for a, _, _ in events] == ["review.confirmed", "web.request"]
    assert {actor for _, actor, _ in events} == {_stored("token:rw")}


def test_concurrent_callers_each_name_themselves(store: Store) -> None:
    """HMA tokens of two users and browser logins at the same time: no request borrows another's name."""
    with store.session() as s:
        tokens = {}
        for who in ("p1", "p2"):
            create_user(s, who, PASSWORD, "case_worker")
            tokens[who] = create_token(s, who, f"matcher-{who}", ["hma"])
        create_user(s, "alice", PASSWORD, "case_worker")
    with live_server(store) as base:
        clients = {
            who: httpx.Client(base_url=base, headers={"Authorization": f"Bearer {t}"}, timeout=60)
            for who, t in tokens.items()
        }

        def work(job: tuple[str, int]) -> int:
            who, i = job
            if who == "alice":
                # A browser each (a login ends the login form's cookie), each from its own address: one
                # address gets at most `limit` logins in flight for one account, right password or not.
                browser = _client(base, f"127.0.0.{10 + i}")
                return _login(browser, "alice", PASSWORD, _login_token(browser))
            return clients[who].post("/c/banks", json={"name": f"BANK_{who.upper()}_{i}"}).status_code

        jobs = [(who, i) for i in range(12) for who in ("p1", "p2", "alice")]
        with ThreadPoolExecutor(12) as pool:
            codes = Counter(pool.map(work, jobs))
    assert codes == {201: 24, 303: 12}, codes
    events = _events(store, "bank.created", "web.request", "user.login")
    assert len(events) == 24 * 2 + 12
    for action, actor, details in events:
        if action == "user.login":
            expected = "web:alice"
        elif action == "bank.created":
            expected = f"token:matcher-{str(details['bank']).split('_')[1].lower()}"  # HMA: names upper case
        else:
            expected = f"token:matcher-{details['user']}"
        assert actor == _stored(expected), (action, actor, details)


# ------------------------------------------------------------------------------------------ item 12


def test_liveness_is_open_and_everything_else_closed(store: Store) -> None:
    with live_server(store) as base:
        for path in ("/status", "/status/live"):
            alive = httpx.get(base + path)
            assert (alive.status_code, alive.text) == (200, "I-AM-ALIVE"), path
            bogus = httpx.get(base + path, headers={"Authorization": "Bearer ncii_nope"})
            assert bogus.status_code == 200, "a liveness check looks at no token"
        for path in ("/m/index/status", "/c/banks", "/api/v1/cases"):
            assert httpx.get(base + path).status_code == 401, path


def test_review_pages_are_clamped_and_complete() -> None:
    """The review queue is paged: every row on exactly one page, an out-of-range page shows the last one."""
    from ncii_shield.web.pages_review import page_of

    rows = list(range(250))
    pages = [page_of(rows, p, 100) for p in (1, 2, 3)]
    assert [p[0] for p in pages] == [rows[:100], rows[100:200], rows[200:]]
    assert all(p[2] == 3 for p in pages)
    assert page_of(rows, 99, 100)[1:] == (3, 3) and page_of(rows, -4, 100)[1:] == (1, 3)
    assert page_of([], 1, 100) == ([], 1, 1)
