"""The authorisation matrix: every page route x every role x own case / other case, over real HTTP.

Expected outcomes come from the rules table in web/auth.py (PERMISSIONS) and the assignment rule, so the
test fails if a route forgets its check, checks the wrong action, or leaks another user's case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.review.decisions import decide
from ncii_shield.scan.match import match_case
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Notice
from ncii_shield.takedown.service import draft
from ncii_shield.web.auth import PERMISSIONS, assign, create_token, create_user
from tests.conftest import ASSETS, new_store
from tests.exports import message, write_export
from tests.test_scan import _case
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"
ROLES = ("admin", "case_worker", "reviewer", "auditor")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int], dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("authz")
    store: Store = new_store(tmp / "data")
    photo = ASSETS / "obama.jpg"
    own, other = _case(store, [photo]), _case(store, [photo])
    export = write_export(
        tmp / "export",
        [message(1, photo="photos/a.jpg")],
        chat_id=1801234567,
        files={"photos/a.jpg": photo.read_bytes()},
    )
    run_scan(store, open_source(export), location=export, case_id=own, workers=1)
    ids: dict[str, int] = {"own": own, "other": other}
    with store.session() as s:
        match_case(store, s, other)
        for case_id in (own, other):
            decide(s, case_id, "confirmed", "setup", undecided_only=True)
            draft(s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test")
        items = {
            key: s.scalars(select(Hit.item_id).where(Hit.case_id == cid)).first() for key, cid in ids.items()
        }
        notices = {
            key: s.scalars(select(Notice.id).where(Notice.case_id == cid)).first() for key, cid in ids.items()
        }
        tokens: dict[str, str] = {}
        for role in ROLES:
            create_user(s, role, PASSWORD, role, language="en")
            if role != "admin":
                assign(s, role, own)
            tokens[role] = create_token(s, role, "matrix", ["cases:read", "cases:write"])
            tokens[f"{role}:read"] = create_token(s, role, "matrix-read", ["cases:read"])
    ids.update({f"item_{k}": v for k, v in items.items() if v is not None})
    ids.update({f"notice_{k}": v for k, v in notices.items() if v is not None})
    with live_server(store) as url:
        yield url, ids, tokens
    store.close()


def _login(url: str, role: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": role, "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 303, (role, done.status_code)
    landing = client.get(done.headers["location"])
    found = re.search(r'name="csrf_token" value="([^"]+)"', landing.text)
    return client, found.group(1) if found else ""


# (method, path template, action, is it about a case)
ROUTES = [
    ("GET", "/cases", "case.list", False),
    ("POST", "/cases", "case.create", False),
    ("GET", "/cases/{case}", "case.view", True),
    ("GET", "/cases/{case}/review", "hits.review", True),
    ("POST", "/cases/{case}/review", "hits.review", True),
    ("GET", "/cases/{case}/items/{item}/thumb", "hits.review", True),
    ("POST", "/cases/{case}/items/{item}/reveal", "media.reveal", True),
    ("GET", "/cases/{case}/items/{item}/reference/thumb", "hits.review", True),  # the enrolled photo, blurred
    ("POST", "/cases/{case}/items/{item}/reference/reveal", "media.reveal", True),
    ("GET", "/cases/{case}/enrol", "case.enrol", True),
    ("POST", "/cases/{case}/watch", "case.enrol", True),
    ("GET", "/cases/{case}/spread", "case.view", True),
    ("GET", "/cases/{case}/actors", "case.actors", True),
    ("GET", "/cases/{case}/takedown", "takedown", True),
    ("POST", "/cases/{case}/takedown/draft", "takedown", True),
    ("GET", "/cases/{case}/transparency", "takedown", True),  # one case's transparency statistics
    ("GET", "/transparency", "takedown", False),  # over every case the user may see
    ("GET", "/cases/{case}/evidence", "evidence.export", True),
    ("POST", "/cases/{case}/evidence", "evidence.export", True),
    ("POST", "/notices/{notice}/mark", "takedown", True),
    # Re-upload alerts (takedown/reupload.py): allowed roles get 404 (no alert 0 in the case).
    ("POST", "/cases/{case}/takedown/alerts/0/approve", "takedown", True),
    ("POST", "/cases/{case}/takedown/alerts/0/dismiss", "takedown", True),
    ("GET", "/notices/{notice}", "takedown", True),
    # Unmatched replies (takedown/inbox*.py): the desk's, not a case's; attaching needs the notice's case too.
    ("GET", "/takedown/inbox", "takedown", False),
    ("POST", "/takedown/inbox/999999/attach", "takedown", False),  # allowed: 400, no notice given
    ("POST", "/takedown/inbox/999999/dismiss", "takedown", False),  # allowed: 404, no such message
    ("GET", "/cases/{case}/scans", "case.scan", True),
    ("POST", "/cases/{case}/scans", "case.scan", True),
    ("GET", "/cases/{case}/scans/" + "0" * 32 + "/progress", "case.scan", True),  # allowed: 404, no such job
    ("POST", "/cases/{case}/enrol", "case.enrol", True),  # allowed: refused for having no photo, never 403
    # Uploads (web/pages_upload.py): exactly who may start a scan; allowed roles get 400/404 (no such upload).
    ("POST", "/cases/{case}/uploads", "case.scan", True),
    ("GET", "/cases/{case}/uploads/" + "0" * 32, "case.scan", True),
    ("POST", "/cases/{case}/uploads/" + "0" * 32 + "/chunk", "case.scan", True),
    ("POST", "/cases/{case}/uploads/" + "0" * 32 + "/finish", "case.scan", True),
    ("POST", "/cases/{case}/uploads/" + "0" * 32 + "/delete", "case.scan", True),
    ("GET", "/audit", "audit.view", False),
    ("GET", "/admin/users", "users.manage", False),
    ("POST", "/admin/users/nobody-here/disable", "users.manage", False),  # admins: 404, no such user
    ("POST", "/admin/users/nobody-here/enable", "users.manage", False),
    ("POST", "/admin/tokens/999999/revoke", "users.manage", False),  # admins: 404, no such token
]


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(site: tuple[str, dict[str, int], dict[str, str]], role: str) -> None:
    url, ids, _ = site
    client, csrf = _login(url, role)
    # Forms for POSTs: valid enough to pass validation, so that 403 can only come from authorisation.
    forms = {
        "/cases": {"pseudonym": "T", "consent_by": "t", "consent_method": "t"},
        "/review": {"decision": "confirmed", "reason": "matrix"},
        "/watch": {"name": "홍길동"},
        "/takedown/draft": {"organisation": "Desk", "email": "desk@support.test"},
        "/evidence": {"media": "none"},
        "/mark": {"status": "acknowledged"},
        "/scans": {"name": "not-there"},
        "/uploads": {"name": "not-an-export", "size": "1"},
    }
    failures = []
    for method, template, action, about_case in ROUTES:
        for whose in ("own", "other") if about_case else ("-",):
            path = template.format(
                case=ids.get(whose, 0), item=ids.get(f"item_{whose}", 0), notice=ids.get(f"notice_{whose}", 0)
            )
            expected = role in PERMISSIONS[action] and (not about_case or whose == "own" or role == "admin")
            data = {"csrf_token": csrf}
            for suffix, fields in forms.items():
                if path.endswith(suffix):
                    data.update(fields)
            if path.endswith("/review") and method == "POST":
                data["item"] = str(ids.get(f"item_{whose}", 0))
            response = client.request(method, path, data=data if method == "POST" else None)
            got = response.status_code != 403
            if response.status_code >= 500 or got != expected:
                failures.append(
                    f"{role} {method} {path}: {response.status_code}, expected {'allowed' if expected else '403'}"
                )
    assert not failures, "\n".join(failures)


def test_anonymous_is_sent_to_login_and_forms_need_csrf(
    site: tuple[str, dict[str, int], dict[str, str]],
) -> None:
    url, ids, _ = site
    anonymous = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    for method, template, _, _ in ROUTES:
        path = template.format(case=ids["own"], item=ids.get("item_own", 0), notice=ids.get("notice_own", 0))
        response = anonymous.request(method, path)
        assert response.status_code in (303, 422) and (
            response.status_code == 422 or response.headers["location"] == "/login"
        ), (method, path, response.status_code)
    client, _ = _login(url, "case_worker")
    forged = client.post(f"/cases/{ids['own']}/watch", data={"csrf_token": "forged", "name": "홍길동"})
    assert forged.status_code == 403 and "CSRF" in forged.text


def test_security_headers_and_cookie_flags(site: tuple[str, dict[str, int], dict[str, str]]) -> None:
    url, _, _ = site
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = client.post(
        "/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_login_is_rate_limited(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    with store.session() as s:
        create_user(s, "someone", PASSWORD, "reviewer")
    with live_server(store) as url:
        client = httpx.Client(base_url=url, timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        codes = [
            client.post(
                "/login", data={"username": "someone", "password": "wrong password!", "csrf_token": token}
            ).status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
        right = client.post("/login", data={"username": "someone", "password": PASSWORD, "csrf_token": token})
        assert right.status_code == 429, "still locked out, even with the right password"
    store.close()


def test_a_scan_started_from_the_web_reports_progress(tmp_path: Path) -> None:
    import time

    store = new_store(tmp_path / "d")
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    with store.session() as s:
        create_user(s, "worker", PASSWORD, "case_worker", language="en")
        assign(s, "worker", case_id)
    imports = tmp_path / "d" / "imports"
    write_export(imports / "room-a", [message(1, photo="p/a.jpg")], files={"p/a.jpg": photo.read_bytes()})
    (imports / "../outside").mkdir()
    with live_server(store) as url:
        client, _ = _login(url, "worker")
        page = client.get(f"/cases/{case_id}/scans")
        assert page.status_code == 200 and "room-a" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        refused = client.post(f"/cases/{case_id}/scans", data={"csrf_token": csrf, "name": "../outside"})
        assert refused.status_code == 400
        started = client.post(f"/cases/{case_id}/scans", data={"csrf_token": csrf, "name": "room-a"})
        assert started.status_code == 303
        job = started.headers["location"].split("job=")[1]
        deadline = time.monotonic() + 120
        while True:
            state = client.get(f"/cases/{case_id}/scans/{job}/progress").json()
            if state["finished"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert state["finished"] and state["error"] is None, state
        assert state["items"] == 1 and state["summary"]["new_hits"] == {"exact": 1, "pdq": 1, "face": 1}
        assert "room-a" in client.get(f"/cases/{case_id}/scans").text
    store.close()


def test_the_interface_speaks_korean_and_english_alike() -> None:
    from ncii_shield.web.i18n import STRINGS

    assert set(STRINGS["ko"]) == set(STRINGS["en"])
    assert all(STRINGS["ko"][k] for k in STRINGS["ko"]) and all(STRINGS["en"][k] for k in STRINGS["en"])


def test_serve_demo_user_from_the_command_line(tmp_path: Path) -> None:
    """What `make web` does: serve on loopback with a fresh 'demo' password, printed once."""
    import subprocess
    import sys
    import time

    from tests.conftest import cli_env
    from tests.web_server import free_port

    store = new_store(tmp_path / "d")
    case_id = _case(store)
    store.close()
    base = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(tmp_path / "d"), "serve"]
    refused = subprocess.run(
        [*base, "--host", "0.0.0.0", "--demo-user"], capture_output=True, text=True, env=cli_env()
    )
    assert refused.returncode == 2 and "loopback only" in refused.stderr
    port = free_port()
    server = subprocess.Popen(
        [*base, "--port", str(port), "--demo-user"], stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        password = re.search(r"password (\S+)", line).group(1)  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        client = httpx.Client(base_url=url, timeout=30, follow_redirects=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        landing = client.post("/login", data={"username": "demo", "password": password, "csrf_token": token})
        assert landing.status_code == 200 and f"/cases/{case_id}" in landing.text
    finally:
        server.terminate()
        server.wait(timeout=20)


# /api/v1: (method, path template, action, is it about a case, JSON body)
API_ROUTES = [
    ("GET", "/api/v1/cases", "case.list", False, None),
    ("GET", "/api/v1/cases/{case}", "case.view", True, None),
    ("GET", "/api/v1/cases/{case}/hits", "case.view", True, None),
    (
        "POST",
        "/api/v1/cases/{case}/decisions",
        "hits.review",
        True,
        {"all": True, "decision": "confirmed", "reason": "matrix"},
    ),
    ("GET", "/api/v1/cases/{case}/rooms", "case.view", True, None),
    ("GET", "/api/v1/cases/{case}/takedown", "case.view", True, None),
    ("GET", "/api/v1/cases/{case}/transparency", "case.view", True, None),
    ("GET", "/api/v1/transparency", "case.list", False, None),
    # Re-upload alerts and unmatched replies (web/api_takedown.py): allowed roles get 404 (none of these ids).
    ("GET", "/api/v1/cases/{case}/takedown/alerts", "takedown", True, None),
    ("POST", "/api/v1/cases/{case}/takedown/alerts/0/approve", "takedown", True, {}),
    ("POST", "/api/v1/cases/{case}/takedown/alerts/0/dismiss", "takedown", True, {"reason": "matrix"}),
    ("GET", "/api/v1/takedown/inbox", "takedown", False, None),
    ("POST", "/api/v1/takedown/inbox/999999/attach", "takedown", False, {"notice_id": 1}),
    ("POST", "/api/v1/takedown/inbox/999999/dismiss", "takedown", False, {}),
    ("POST", "/api/v1/text/check", "case.view", False, {"messages": ["hello"]}),
    ("GET", "/api/v1/audit/verify", "audit.view", False, None),
]


@pytest.mark.parametrize("role", ROLES)
def test_api_authorisation_matrix(site: tuple[str, dict[str, int], dict[str, str]], role: str) -> None:
    """The same rules over bearer tokens: every /api/v1 route x role x own / other case, and scopes."""
    url, ids, tokens = site
    token = tokens[role]
    failures = []
    for method, template, action, about_case, body in API_ROUTES:
        for whose in ("own", "other") if about_case else ("-",):
            path = template.format(case=ids.get(whose, 0))
            expected = role in PERMISSIONS[action] and (not about_case or whose == "own" or role == "admin")
            response = httpx.request(
                method, url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            got = response.status_code != 403
            if response.status_code >= 500 or got != expected:
                failures.append(
                    f"{role} {method} {path}: {response.status_code}, expected {'allowed' if expected else '403'}"
                )
    read_only = tokens[f"{role}:read"]
    denied = httpx.post(
        f"{url}/api/v1/cases/{ids['own']}/decisions",
        json={"all": True, "decision": "confirmed", "reason": "x"},
        headers={"Authorization": f"Bearer {read_only}"},
        timeout=30,
    )
    if denied.status_code != 403:
        failures.append(f"{role}: a cases:read token could write decisions ({denied.status_code})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["case_worker", "reviewer", "auditor"])
def test_a_case_one_may_not_see_is_403_whether_it_exists_or_not(
    site: tuple[str, dict[str, int], dict[str, str]], role: str
) -> None:
    """A 404 for a missing case and a 403 for another's would let any user enumerate case ids."""
    url, ids, _ = site
    client, _ = _login(url, role)
    missing = max(v for k, v in ids.items() if k in ("own", "other")) + 1000
    for template in [
        t for m, t, _, about in ROUTES if m == "GET" and about and "{item}" not in t and "{notice}" not in t
    ]:
        for case_id in (ids["other"], missing):
            response = client.get(template.format(case=case_id))
            assert response.status_code == 403, (role, template, case_id, response.status_code)


def test_the_api_answers_403_for_a_case_one_may_not_see_whether_it_exists_or_not(
    site: tuple[str, dict[str, int], dict[str, str]],
) -> None:
    """Every /api/v1 route that takes a case id: 403 for another's case and for a missing one alike;
    only an admin, who may see every case, learns that an id does not exist (404)."""
    url, ids, tokens = site
    missing = max(ids["own"], ids["other"]) + 1000
    routes = [(method, template, body) for method, template, _, about, body in API_ROUTES if about]
    failures = []
    for role in ("case_worker", "reviewer", "auditor"):
        for method, template, body in routes:
            for case_id in (ids["other"], missing):
                response = httpx.request(
                    method,
                    url + template.format(case=case_id),
                    json=body,
                    headers={"Authorization": f"Bearer {tokens[role]}"},
                    timeout=30,
                )
                if response.status_code != 403:
                    failures.append(f"{role} {method} {template} {case_id}: {response.status_code}")
    for method, template, body in routes:
        response = httpx.request(
            method,
            url + template.format(case=missing),
            json=body,
            headers={"Authorization": f"Bearer {tokens['admin']}"},
            timeout=30,
        )
        if response.status_code != 404 or response.json()["detail"] != f"no case {missing}":
            failures.append(f"admin {method} {template}: {response.status_code} {response.text[:100]}")
    assert not failures, "\n".join(failures)


def test_pages_answer_404_only_to_admins_and_a_notice_is_403_like_a_case(
    site: tuple[str, dict[str, int], dict[str, str]],
) -> None:
    url, ids, _ = site
    missing_case = max(ids["own"], ids["other"]) + 1000
    missing_notice = max(ids["notice_own"], ids["notice_other"]) + 1000
    admin, _ = _login(url, "admin")
    for template in [t for m, t, _, about in ROUTES if m == "GET" and about and "{item}" not in t]:
        path = template.format(case=missing_case, notice=missing_notice)
        assert admin.get(path).status_code == 404, path
    for role in ("case_worker", "reviewer", "auditor"):
        client, _ = _login(url, role)
        for notice in (ids["notice_other"], missing_notice):
            assert client.get(f"/notices/{notice}").status_code == 403, (role, notice)


# Routes outside the role matrix, and why: open on purpose (they show nothing of a case), or the HMA-compatible
# API, whose token rules (401 without a token, 403 with a token not valid for HMA) tests/test_web_hma.py holds.
OUTSIDE_MATRIX = {
    ("GET", "/"): "redirects to the cases or the login page",
    ("GET", "/login"): "the login form",
    ("POST", "/login"): "signing in",
    ("POST", "/logout"): "signing out",
    ("POST", "/language"): "the page language, before or after signing in",
    ("GET", "/status"): "liveness, reveals nothing",
    ("GET", "/status/live"): "liveness, reveals nothing",
    ("GET", "/api/v1/openapi.json"): "the API's own description",
    ("GET", "/api/docs"): "the API's own description",
    ("GET", "/docs/oauth2-redirect"): "the API's own description",
}
HMA_PREFIXES = ("/c/", "/h/", "/m/")


def _served_routes(routes: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    """(method, path template) of every route, through included routers (FastAPI nests them)."""
    served: set[tuple[str, str]] = set()
    for route in routes:
        if hasattr(route, "original_router"):
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            served |= {(m, prefix + p) for m, p in _served_routes(route.original_router.routes)}
        elif getattr(route, "methods", None):
            served |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return served


def test_every_route_of_the_app_is_in_the_matrix(tmp_path: Path) -> None:
    """A route added without its row in ROUTES or API_ROUTES (who may, who may not) fails here."""
    from ncii_shield.web.app import create_app

    rows = [(m, t.format(case=1, item=1, notice=1)) for m, t, *_ in ROUTES]
    rows += [(m, t.format(case=1)) for m, t, *_ in API_ROUTES]
    store = new_store(tmp_path / "data")
    try:
        served = _served_routes(create_app(store).routes)
    finally:
        store.close()
    assert len(served) > 60
    missing = []
    for method, template in sorted(served):
        pattern = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)) + "$")
        if (method, template) in OUTSIDE_MATRIX or template.startswith(HMA_PREFIXES):
            continue
        if not any(m == method and pattern.match(path) for m, path in rows):
            missing.append(f"{method} {template}")
    assert not missing, f"routes with no row in the authorisation matrix: {missing}"
