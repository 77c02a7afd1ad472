"""The audit page: filters, paging, details for auditors only, bad filter values answered in one line."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from ncii_shield.read.audit import PAGE_SIZE, AuditFilter, audit_page
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.web.auth import create_user
from tests.conftest import new_store
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    store = new_store(tmp_path_factory.mktemp("audit") / "data")
    with store.session() as s:
        create_user(s, "boss", PASSWORD, "admin")
        create_user(s, "eve", PASSWORD, "auditor")
        create_user(s, "kim", PASSWORD, "case_worker")
        audit.act_as("web:kim")
        for n in range(PAGE_SIZE + 30):
            audit.record(s, "hits.reviewed", case_id=7 if n % 2 else 8, reason=f"checked {n}")
        audit.act_as("token:platform-x")
        audit.record(s, "hma.lookup", matches=0)
    with live_server(store) as url:
        yield url, store
    store.close()


def _client(url: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    assert (
        client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token}).status_code
        == 303
    )
    return client


def test_filters_and_paging_in_the_read_layer(site: tuple[str, Store]) -> None:
    _, store = site
    with store.session() as s:
        everything = audit_page(s)
        assert (
            everything.total >= PAGE_SIZE + 31 and everything.pages >= 2 and len(everything.rows) == PAGE_SIZE
        )
        assert [r.seq for r in everything.rows] == sorted((r.seq for r in everything.rows), reverse=True)
        assert all(r.details is None for r in everything.rows)  # not asked for: stay sealed
        kim = audit_page(s, AuditFilter(actor="web:kim", case_id=7), with_details=True)
        assert kim.total == (PAGE_SIZE + 30) // 2 and {r.case_id for r in kim.rows} == {7}
        assert all(str(r.details["reason"]).startswith("checked") for r in kim.rows)  # type: ignore[index]
        family = audit_page(s, AuditFilter(action="hma."))
        assert [r.action for r in family.rows] == ["hma.lookup"]
        assert audit_page(s, AuditFilter(actor="%")).total == 0  # a wildcard is a character, not a pattern
        last = audit_page(s, page=999)
        assert last.page == last.pages and last.rows


def test_details_are_shown_to_auditors_only(site: tuple[str, Store]) -> None:
    url, _ = site
    auditor = _client(url, "eve").get("/audit", params={"actor": "web:kim", "case": "7"})
    assert auditor.status_code == 200 and "세부 내용" in auditor.text  # the Details column (Korean account)
    assert re.search(r"checked \d+", auditor.text)
    admin = _client(url, "boss").get("/audit", params={"actor": "web:kim", "case": "7"})
    assert admin.status_code == 200 and not re.search(r"checked \d+", admin.text)
    assert "세부 내용은 감사인에게만 보입니다." in admin.text  # says why there is no Details column
    assert 'id="audit-older"' in _client(url, "boss").get("/audit").text  # more than one page


def test_bad_filter_values_get_one_line(site: tuple[str, Store]) -> None:
    url, _ = site
    client = _client(url, "eve")
    for params, needle in (
        ({"case": "seven"}, "case must be a number"),
        ({"since": "yesterday"}, "since must be a date"),
    ):
        response = client.get("/audit", params=params)
        assert response.status_code == 400 and needle in response.text and "Traceback" not in response.text
    assert _client(url, "kim").get("/audit").status_code == 403
