"""Takedown rechecks fetch URLs that come from untrusted crawl folders: they must not reach the server's
own network (issue 12, item 10). Loopback, private, link-local, multicast and reserved addresses are
refused when connecting (after DNS, on every redirect hop) unless NCII_RECHECK_ALLOW names the range.

Real HTTP servers on 127.0.0.1 and 127.0.0.2 stand in for internal services; nothing here connects
outside 127.0.0.0/8 (the other categories are checked on the address alone).
"""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select

from ncii_shield.review.decisions import decide
from ncii_shield.store.db import Store
from ncii_shield.store.models import TakedownEvent
from ncii_shield.takedown.recheck import check_url
from ncii_shield.takedown.safe_fetch import ALLOW_VARIABLE, allowed_networks, refusal
from ncii_shield.takedown.service import draft, mark, recheck
from tests.conftest import ASSETS
from tests.test_scan import _case
from tests.test_takedown_flow import _crawl, _jpeg, _scan

PAGE = b"<html><body>internal admin page</body></html>"


class Internal(BaseHTTPRequestHandler):
    """An internal service; it counts what reached it. /go?to=URL redirects there (302)."""

    hits: ClassVar[Counter[str]] = Counter()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        type(self).hits[f"{self.server.server_address[0]}{self.path}"] += 1
        if self.path.startswith("/go?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/go?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    """Two internal services: on 127.0.0.1 and on 127.0.0.2."""
    started = []
    for host in ("127.0.0.1", "127.0.0.2"):
        httpd = ThreadingHTTPServer((host, 0), Internal)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        started.append(httpd)
    Internal.hits.clear()
    yield tuple(f"http://{h.server_address[0]}:{h.server_address[1]}" for h in started)  # type: ignore[misc]
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def no_allowance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)


def _one_line(error: str | None) -> str:
    assert error and "\n" not in error and "Traceback" not in error and len(error) <= 200, error
    return error


def test_loopback_is_refused_before_connecting(servers: tuple[str, str]) -> None:
    first, _ = servers
    result = check_url(f"{first}/admin", retries=2, backoff=0.01)
    assert (result.status, result.http_status, result.attempts) == ("unknown", None, 1), "not retried"
    error = _one_line(result.error)
    assert "127.0.0.1" in error and "loopback" in error and "refused" in error
    assert sum(Internal.hits.values()) == 0, "nothing reached the internal service"


def test_names_are_checked_after_resolution(servers: tuple[str, str]) -> None:
    port = servers[0].rsplit(":", 1)[1]
    result = check_url(f"http://localhost:{port}/admin", retries=0)
    assert result.status == "unknown" and "loopback" in _one_line(result.error)
    assert sum(Internal.hits.values()) == 0


def test_a_redirect_to_an_internal_address_is_refused(
    servers: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = servers
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.1/32")  # the first server stands in for a public host
    assert check_url(f"{first}/page").status == "up"
    port = second.rsplit(":", 1)[1]
    for target in (f"{second}/internal", f"http://[::1]:{port}/internal", "http://127.0.0.2/internal"):
        Internal.hits.clear()
        result = check_url(f"{first}/go?to={target}", retries=1, backoff=0.01)
        assert (result.status, result.http_status, result.attempts) == ("unknown", 302, 1), target
        error = _one_line(result.error)
        assert "refused" in error and ("127.0.0.2" in error or "::1" in error), error
        assert not any(hit.startswith("127.0.0.2") for hit in Internal.hits), Internal.hits
        assert Internal.hits[f"127.0.0.1/go?to={target}"] == 1


def test_an_allowed_range_is_fetched(servers: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = servers
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.0/8, ::1/128")
    result = check_url(f"{first}/go?to={second}/internal")
    assert (result.status, result.final_url) == ("up", f"{second}/internal")
    monkeypatch.setenv(ALLOW_VARIABLE, "127.0.0.0/33")
    broken = check_url(f"{first}/page")
    assert broken.status == "unknown" and ALLOW_VARIABLE in _one_line(broken.error)
    assert sum(Internal.hits.values()) == 2, "the redirect and its target; nothing with a bad setting"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),  # shared address space (carrier NAT)
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("192.0.2.1", "reserved"),  # documentation
        ("198.18.0.1", "reserved"),  # benchmarking
    ],
)
def test_address_categories_are_refused(address: str, kind: str) -> None:
    reason = refusal(ipaddress.ip_address(address), ())
    assert reason is not None and kind in reason, (address, reason)


def test_public_addresses_and_allowed_ranges_pass() -> None:
    for address in ("93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert refusal(ipaddress.ip_address(address), ()) is None, address
    allowed = allowed_networks("10.0.0.0/8,fd00::/8")
    assert refusal(ipaddress.ip_address("10.9.9.9"), allowed) is None
    assert refusal(ipaddress.ip_address("fd12::1"), allowed) is None
    assert refusal(ipaddress.ip_address("192.168.0.1"), allowed) is not None
    with pytest.raises(ValueError, match="not a network"):
        allowed_networks("10.0.0.0/8, nonsense")


def test_the_refusal_is_recorded_on_the_recheck(
    store: Store, tmp_path: Path, servers: tuple[str, str]
) -> None:
    """A crawl folder that points at internal services: the recheck records why, in one line."""
    first, _ = servers
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    crawl = _crawl(tmp_path / "crawl", first, {"a.jpg": _jpeg(photo, 800)})
    _scan(store, crawl, case_id)
    with store.session() as s:
        decide(s, case_id, "confirmed", "her photo", undecided_only=True)
        (notice,) = draft(
            s, case_id, reporter_organisation="Desk", reporter_email="d@desk.test", hosting_contact="a@h.test"
        )
        mark(s, notice.id, "sent", "by hand")
    with store.session() as s:
        (row,) = recheck(s, case_id, retries=0, timeout=5)
        assert (row.status, row.http_status) == ("unknown", None)
        assert "loopback" in _one_line(row.error)
        event = s.scalars(select(TakedownEvent).where(TakedownEvent.status == "unknown")).one()
        assert event.evidence["response"]["error"] == row.error
    assert sum(Internal.hits.values()) == 0
