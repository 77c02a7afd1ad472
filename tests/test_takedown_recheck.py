"""Rechecking URLs against a real HTTP server on loopback: every answer a platform can give."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from ncii_shield.takedown.recheck import MAX_BODY, USER_AGENT, check_url, check_urls

PAGE = "<html><body><h1>채널</h1><p>a post that is still up</p></body></html>".encode()
BIG = bytes(range(256)) * (5 * 1024 * 1024 // 256)  # 5 MiB
MARKER_PAGES: dict[str, tuple[bytes, str]] = {
    # path: (body, content type) of 200 pages saying the content is gone
    "/telegram-deleted": (
        b'<div class="tgme_widget_message_error">Post not found</div>',
        "text/html; charset=utf-8",
    ),
    "/telegram-blocked": (
        b"<div>This channel can&rsquo;t be displayed because it was used to spread pornographic content.</div>",
        "text/html; charset=utf-8",
    ),
    "/korean-soft-404": (
        "<p>요청하신 페이지를 찾을 수 없습니다.</p>".encode("euc-kr"),
        "text/html; charset=euc-kr",
    ),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so check_urls really shares connections
    # Shared across requests on purpose: the tests read what the server saw.
    hits: ClassVar[Counter[str]] = Counter()
    user_agents: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: test output shows failures, not access logs."""

    def send(self, code: int, body: bytes = b"", content_type: str = "text/html", **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        with contextlib.suppress(
            BrokenPipeError, ConnectionResetError
        ):  # the client stopped reading: the point
            self.wfile.write(body)

    def do_GET(self) -> None:
        type(self).hits[self.path] += 1
        type(self).user_agents.append(self.headers.get("User-Agent", ""))
        count = type(self).hits[self.path]
        path = self.path.split("?")[0]
        if path == "/page":
            self.send(200, PAGE, "text/html; charset=utf-8", Set_Cookie="session=secret", X_Internal="x")
        elif path in ("/404", "/410", "/451"):
            self.send(int(path[1:]), b"<h1>gone</h1>")
        elif path in MARKER_PAGES:
            body, content_type = MARKER_PAGES[path]
            self.send(200, body, content_type)
        elif path == "/moved":
            self.send(302, Location="/404")
        elif path == "/loop":
            self.send(302, Location="/loop")
        elif path == "/flaky":
            self.send(503, b"busy") if count <= 2 else self.send(200, PAGE)
        elif path == "/limited":
            self.send(429, b"slow down", Retry_After="1") if count == 1 else self.send(200, PAGE)
        elif path == "/error":
            self.send(500, b"oops")
        elif path == "/forbidden":
            self.send(403, b"no")
        elif path == "/slow":
            time.sleep(1.0)
            self.send(200, PAGE)
        elif path == "/trickle":
            self.trickle()
        elif path == "/big":
            self.send(200, BIG, "application/octet-stream")
        else:
            self.send(500, b"unknown test path")

    def trickle(self) -> None:
        """A body that arrives a byte at a time, each within any read timeout, for far too long."""
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test server is on loopback, which rechecks refuse unless the operator allows it
    (tests/test_ssrf.py checks the refusal)."""
    monkeypatch.setenv("NCII_RECHECK_ALLOW", "127.0.0.0/8")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def base(server: str) -> str:
    """The server, with its per-path counters reset so retry sequences start over in each test."""
    Handler.hits.clear()
    Handler.user_agents.clear()
    return server


def test_page_that_is_up(base: str) -> None:
    result = check_url(f"{base}/page")
    assert result.status == "up"
    assert result.http_status == 200
    assert result.body_sha256 == hashlib.sha256(PAGE).hexdigest()
    assert result.body_bytes == len(PAGE)
    assert result.final_url == f"{base}/page"
    assert result.error is None and result.marker is None
    assert result.attempts == 1
    assert result.checked_at.tzinfo is not None and result.checked_at.utcoffset().total_seconds() == 0
    assert set(result.headers) == {"content-type", "content-length", "date", "server"}
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert Handler.user_agents == [USER_AGENT]
    assert "ncii-shield" in USER_AGENT


@pytest.mark.parametrize("code", [404, 410, 451])
def test_gone_codes_are_removed(base: str, code: int) -> None:
    result = check_url(f"{base}/{code}")
    assert (result.status, result.http_status, result.attempts) == ("removed", code, 1)
    assert result.body_sha256 == hashlib.sha256(b"<h1>gone</h1>").hexdigest()


@pytest.mark.parametrize("path", sorted(MARKER_PAGES))
def test_page_saying_it_is_gone_is_removed(base: str, path: str) -> None:
    result = check_url(f"{base}{path}")
    assert (result.status, result.http_status) == ("removed", 200)
    assert result.marker is not None
    assert result.body_sha256 == hashlib.sha256(MARKER_PAGES[path][0]).hexdigest()


def test_custom_markers_replace_the_defaults(base: str) -> None:
    assert check_url(f"{base}/page", removed_markers=("STILL UP",)).status == "removed"
    assert check_url(f"{base}/telegram-deleted", removed_markers=()).status == "up"


def test_redirect_to_404_is_removed(base: str) -> None:
    result = check_url(f"{base}/moved")
    assert (result.status, result.http_status, result.final_url) == ("removed", 404, f"{base}/404")


def test_redirect_loop_is_unknown(base: str) -> None:
    result = check_url(f"{base}/loop", backoff=0.01)
    assert result.status == "unknown"
    assert result.error == "more than 5 redirects"
    assert result.http_status == 302 and result.headers["location"] == "/loop"
    assert Handler.hits["/loop"] == 6  # the first request and five redirects, no retries
    assert result.attempts == 1


def test_unavailable_twice_then_up(base: str) -> None:
    result = check_url(f"{base}/flaky", backoff=0.01)
    assert (result.status, result.http_status, result.attempts) == ("up", 200, 3)
    assert result.error is None


def test_retry_after_is_respected(base: str) -> None:
    started = time.monotonic()
    result = check_url(f"{base}/limited", backoff=0.01)
    assert (result.status, result.attempts) == ("up", 2)
    assert time.monotonic() - started >= 1.0


def test_always_failing_is_unknown_after_retries(base: str) -> None:
    result = check_url(f"{base}/error", retries=3, backoff=0.01)
    assert (result.status, result.http_status, result.attempts) == ("unknown", 500, 4)
    assert result.error == "HTTP 500 Internal Server Error"
    assert Handler.hits["/error"] == 4


def test_forbidden_is_unknown_without_retrying(base: str) -> None:
    result = check_url(f"{base}/forbidden", backoff=0.01)
    assert (result.status, result.http_status, result.attempts) == ("unknown", 403, 1)
    assert result.error and "403" in result.error


def test_slow_server_times_out(base: str) -> None:
    started = time.monotonic()
    result = check_url(f"{base}/slow", timeout=0.2, retries=1, backoff=0.01)
    assert (result.status, result.http_status, result.attempts) == ("unknown", None, 2)
    assert result.error and "timed out after 0.2 s" in result.error
    assert time.monotonic() - started < 1.0


def test_trickling_body_times_out(base: str) -> None:
    result = check_url(f"{base}/trickle", timeout=0.2, retries=0)
    assert (result.status, result.http_status, result.attempts) == ("unknown", 200, 1)
    assert result.error == "timed out after 0.2 s reading the page"


def test_huge_body_is_read_only_up_to_the_cap(base: str) -> None:
    result = check_url(f"{base}/big")
    assert result.status == "up"
    assert result.body_bytes == MAX_BODY == 1024 * 1024
    assert result.body_sha256 == hashlib.sha256(BIG[:MAX_BODY]).hexdigest()
    assert result.headers["content-length"] == str(len(BIG))


def test_closed_port_is_unknown() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = check_url(f"http://127.0.0.1:{port}/x", retries=1, backoff=0.01)
    assert (result.status, result.http_status, result.final_url, result.attempts) == (
        "unknown",
        None,
        None,
        2,
    )
    assert result.error and result.error.startswith("could not connect to 127.0.0.1")


@pytest.mark.parametrize("url", ["ftp://example.org/x", "not a url", "http://"])
def test_urls_that_cannot_be_checked(url: str) -> None:
    result = check_url(url)
    assert (result.status, result.attempts) == ("unknown", 0)
    assert result.error


def test_check_urls_in_order_over_one_client(base: str) -> None:
    urls = [f"{base}/page", f"{base}/404", f"{base}/telegram-deleted"]
    results = check_urls(urls)
    assert [r.url for r in results] == urls
    assert [r.status for r in results] == ["up", "removed", "removed"]


def test_callers_client_and_user_agent(base: str) -> None:
    with httpx.Client(headers={"User-Agent": "partner-desk/2"}) as client:
        assert check_url(f"{base}/page", client=client).status == "up"
        assert not client.is_closed  # the caller's client stays the caller's
    with httpx.Client() as client:
        check_url(f"{base}/page", client=client)
    assert Handler.user_agents == ["partner-desk/2", USER_AGENT]
