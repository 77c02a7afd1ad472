"""Checking whether reported content is still up.

A recheck answers one question for a follow-up or an escalation: is the URL still serving the content?
Three answers only. "removed" needs positive evidence (404/410/451, or a page saying the post is gone);
"up" needs a 2xx page without such words; everything we could not settle (5xx after retries, timeouts,
403 walls, redirect loops) is "unknown", never guessed: telling a victim content is gone when it is not
would stop the very follow-up that gets it removed. The SHA-256 of the bytes read is kept as evidence
of what was seen at `checked_at`.

The URLs come from untrusted crawl folders, so every connection, redirects included, goes through
takedown/safe_fetch.py: loopback, private, link-local, multicast and reserved addresses are refused after
DNS resolution (unless NCII_RECHECK_ALLOW names the range), and the refusal is the check's one-line error.
"""

from __future__ import annotations

import hashlib
import html
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from ncii_shield import __version__
from ncii_shield.config import Network, SettingError
from ncii_shield.takedown.safe_fetch import Refused, allowed_from_environment, guarded_client, precheck

Status = Literal["removed", "up", "unknown"]

USER_AGENT = f"ncii-shield/{__version__} (takedown recheck; checks whether reported content was removed)"
MAX_BODY = (
    1 << 20
)  # 1 MiB: enough for any "not found" page, and a cap on what a hostile server can make us hold
MAX_REDIRECTS = 5
MAX_WAIT = 30.0  # seconds between attempts at most, whatever the backoff or the server's Retry-After says
REMOVED_CODES = frozenset({404, 410, 451})
# Path segments of sign-in pages a platform redirects a logged-out visitor to (a 200 that proves nothing).
_LOGIN_PATHS = frozenset(
    {"login", "signin", "sign-in", "log-in", "logon", "auth", "sso", "accounts", "session", "sessions"}
)
KEPT_HEADERS = ("content-type", "content-length", "date", "server", "location", "last-modified")

# Phrases of the "soft 404" pages platforms serve with status 200 once a post is gone. Matched
# case-insensitively on the decoded first MiB, after HTML entities are undone and curly apostrophes made
# straight. Kept short and specific on purpose: a false "removed" is worse than an "up" a person rechecks.
DEFAULT_REMOVED_MARKERS: tuple[str, ...] = (
    "tgme_widget_message_error",  # Telegram post widget (t.me/<channel>/<id>?embed=1): "Post not found"
    "can't be displayed",  # Telegram channel blocked: "This channel can't be displayed because it violated…"
    "this post was deleted",  # Reddit and forum software
    "content isn't available",  # Facebook/Instagram: "This content isn't available right now"
    "page not found",  # generic soft-404 pages
    "페이지를 찾을 수 없습니다",  # Korean soft-404 pages (portals, blogs, boards)
)


@dataclass(frozen=True)
class CheckResult:
    """What one recheck saw. `body_sha256` covers the first `body_bytes` bytes of the final response body."""

    url: str
    status: Status
    http_status: int | None
    final_url: str | None  # the URL that gave the final answer, after redirects
    checked_at: datetime  # UTC
    body_sha256: str | None
    body_bytes: int
    headers: dict[str, str] = field(default_factory=dict)  # a safe subset, see KEPT_HEADERS
    error: str | None = None
    attempts: int = 0
    marker: str | None = None  # the removed-marker that made a 2xx page "removed"


class _Retry(Exception):
    """This attempt failed in a way another attempt may not (5xx, 429, timeout, connection error)."""

    def __init__(self, error: str, response: _Seen | None = None, wait: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.response = response
        self.wait = wait


class _Final(Exception):
    """This attempt settled the check as unknown and retrying would not change it (403, redirect loop…)."""

    def __init__(self, error: str, response: _Seen | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.response = response


class _BodyTimeout(Exception):
    """The body kept trickling in for longer than the timeout."""


@dataclass(frozen=True)
class _Seen:
    """The final response of one attempt."""

    http_status: int
    final_url: str
    headers: dict[str, str]
    body_sha256: str | None = None
    body_bytes: int = 0
    text: str = ""


def check_url(
    url: str,
    *,
    client: httpx.Client | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 10,
    removed_markers: tuple[str, ...] = DEFAULT_REMOVED_MARKERS,
    allowed: tuple[Network, ...] | None = None,
) -> CheckResult:
    """Check one URL; never raises for anything the network or the server does.

    Up to 1 + `retries` attempts: 429, 5xx, timeouts and connection errors are retried after
    `backoff`, 2×, 4×… seconds (or the server's Retry-After, capped at 30 s). `timeout` bounds each network
    operation and, roughly, the reading of one body. For Telegram posts check the `?embed=1` form of the
    link: the plain post page loads the post in a frame, so it reads the same whether the post exists or not.

    Internal addresses are refused (see safe_fetch.py) except in the `allowed` ranges
    (``settings.recheck_allow``; without it NCII_RECHECK_ALLOW is read now); a caller's own ``client`` is
    checked by name before each hop instead, which a host that resolves differently the second time can dodge.
    """
    return check_urls(
        [url],
        client=client,
        retries=retries,
        backoff=backoff,
        timeout=timeout,
        removed_markers=removed_markers,
        allowed=allowed,
    )[0]


def check_urls(
    urls: Iterable[str],
    *,
    client: httpx.Client | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 10,
    removed_markers: tuple[str, ...] = DEFAULT_REMOVED_MARKERS,
    allowed: tuple[Network, ...] | None = None,
) -> list[CheckResult]:
    """Check URLs one after the other over one shared client, so connections to a host are reused."""
    try:
        allowed = allowed_from_environment() if allowed is None else allowed
    except SettingError as exc:  # NCII_RECHECK_ALLOW cannot be read: nothing is fetched
        return [_result(url, "unknown", None, error=_one_line(exc), attempts=0) for url in urls]
    own = guarded_client(allowed) if client is None else None
    http = own or client
    assert http is not None
    guard = None if own is not None else allowed  # a caller's client: each hop is checked by name
    try:
        return [_check(http, url, retries, backoff, timeout, removed_markers, guard) for url in urls]
    finally:
        if own is not None:
            own.close()


def _check(
    client: httpx.Client,
    url: str,
    retries: int,
    backoff: float,
    timeout: float,
    markers: tuple[str, ...],
    precheck_allowed: tuple[Network, ...] | None = None,
) -> CheckResult:
    try:
        start = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return _result(url, "unknown", None, error=f"not a valid URL: {exc}", attempts=0)
    if start.scheme not in ("http", "https") or not start.host:
        return _result(url, "unknown", None, error="not an http(s) URL", attempts=0)

    attempts = 0
    while True:
        attempts += 1
        try:
            seen = _attempt(client, start, timeout, precheck_allowed)
        except _Retry as failed:
            if attempts > retries:
                return _result(url, "unknown", failed.response, error=failed.error, attempts=attempts)
            wait = failed.wait if failed.wait is not None else backoff * 2 ** (attempts - 1)
            time.sleep(min(wait, MAX_WAIT))
            continue
        except _Final as final:
            return _result(url, "unknown", final.response, error=final.error, attempts=attempts)
        return _classify(url, seen, markers, attempts)


def _attempt(
    client: httpx.Client, start: httpx.URL, timeout: float, precheck_allowed: tuple[Network, ...] | None
) -> _Seen:
    """One request, following redirects by hand so the hop count, schemes, final URL and the address
    check of every hop are ours. `precheck_allowed` is given for a caller's client, which the guarded
    transport does not protect: each hop's host is then checked by name first."""
    url = start
    last: _Seen | None = None
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            if precheck_allowed is not None:  # a caller's client: checked by name before the hop
                precheck(url.host, url.port or (443 if url.scheme == "https" else 80), precheck_allowed)
            request = client.build_request("GET", url, timeout=timeout, headers=_headers(client))
            response = client.send(request, stream=True, follow_redirects=False)
        except Refused as exc:  # an internal address: final, and said in one line
            raise _Final(_one_line(exc), last) from None
        except httpx.TimeoutException:
            raise _Retry(f"timed out after {timeout:g} s waiting for {url.host}", last) from None
        except httpx.ConnectError as exc:
            raise _Retry(f"could not connect to {url.host}: {_one_line(exc)}", last) from None
        except httpx.HTTPError as exc:
            raise _Retry(f"{type(exc).__name__} from {url.host}: {_one_line(exc)}", last) from None
        except (httpx.InvalidURL, ValueError) as exc:  # e.g. a host name IDNA cannot encode
            raise _Final(f"cannot request {url}: {_one_line(exc)}", last) from None
        try:
            code = response.status_code
            if response.is_redirect:
                last = _seen(response)
                try:
                    url = url.join(response.headers["location"])
                except (httpx.InvalidURL, ValueError):
                    raise _Final(f"HTTP {code} to an invalid Location", last) from None
                if url.scheme not in ("http", "https"):
                    raise _Final(f"HTTP {code} to a non-http(s) URL", last)
                continue
            body_needed = 200 <= code < 300  # only a 2xx answer depends on what the page says
            try:
                seen = _seen(response, _read(response, timeout))
            except (httpx.TimeoutException, _BodyTimeout):
                if body_needed:
                    raise _Retry(f"timed out after {timeout:g} s reading the page", _seen(response)) from None
                seen = _seen(response)
            except httpx.HTTPError as exc:
                if body_needed:
                    raise _Retry(f"reading the page failed: {_one_line(exc)}", _seen(response)) from None
                seen = _seen(response)
        finally:
            response.close()  # unread bytes are dropped with the connection, never downloaded
        if code == 429 or code >= 500:
            raise _Retry(f"HTTP {code} {response.reason_phrase}".strip(), seen, _retry_after(response))
        return seen
    raise _Final(f"more than {MAX_REDIRECTS} redirects", last)


def _read(response: httpx.Response, timeout: float) -> bytes:
    """At most MAX_BODY bytes of the body, and no longer than about `timeout` after the headers came."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # as they arrive: a chunk_size would buffer past the deadline
        take = chunk[: MAX_BODY - size]
        chunks.append(take)
        size += len(take)
        if size >= MAX_BODY:
            break
        if time.monotonic() > deadline:
            raise _BodyTimeout
    return b"".join(chunks)


def _seen(response: httpx.Response, body: bytes | None = None) -> _Seen:
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    if body is None:
        return _Seen(response.status_code, str(response.url), headers)
    return _Seen(
        response.status_code,
        str(response.url),
        headers,
        body_sha256=hashlib.sha256(body).hexdigest(),
        body_bytes=len(body),
        text=_decode(body, response.charset_encoding),
    )


def _decode(body: bytes, charset: str | None) -> str:
    """Leniently: a wrong or unknown charset must not stop the check (markers are mostly ASCII anyway)."""
    try:
        text = body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return html.unescape(text).replace("\u2019", "'").casefold()


def _login_wall(url: str, seen: _Seen) -> bool:
    """Redirected to a sign-in page: what it says is about the login, not about the post."""
    if seen.final_url in (url, str(httpx.URL(url))):
        return False  # not redirected: a reported URL that is itself a sign-in page is classified as usual
    path = httpx.URL(seen.final_url).path.casefold()
    return any(part in _LOGIN_PATHS for part in path.replace("_", "-").split("/"))


def _classify(url: str, seen: _Seen, markers: tuple[str, ...], attempts: int) -> CheckResult:
    code = seen.http_status
    if 200 <= code < 300 and _login_wall(url, seen):
        return _result(
            url, "unknown", seen, error="redirected to a sign-in page: check by hand", attempts=attempts
        )
    if code in REMOVED_CODES:
        return _result(url, "removed", seen, attempts=attempts)
    if 200 <= code < 300:
        for marker in markers:
            if marker.casefold() in seen.text:
                return _result(url, "removed", seen, attempts=attempts, marker=marker)
        return _result(url, "up", seen, attempts=attempts)
    reason = {401: "login required", 403: "access refused"}.get(code, "not a removal answer")
    return _result(url, "unknown", seen, error=f"HTTP {code} ({reason}): check by hand", attempts=attempts)


def _result(
    url: str,
    status: Status,
    seen: _Seen | None,
    *,
    error: str | None = None,
    attempts: int,
    marker: str | None = None,
) -> CheckResult:
    return CheckResult(
        url=url,
        status=status,
        http_status=seen.http_status if seen else None,
        final_url=seen.final_url if seen else None,
        checked_at=datetime.now(UTC),
        body_sha256=seen.body_sha256 if seen else None,
        body_bytes=seen.body_bytes if seen else 0,
        headers=dict(seen.headers) if seen else {},
        error=error,
        attempts=attempts,
        marker=marker,
    )


def _headers(client: httpx.Client) -> dict[str, str]:
    """Our user agent unless the caller's client names one of its own.

    identity: the hash is of the bytes as served, and nothing compressed inflates in memory (a server
    that compresses anyway is decoded one network read at a time, and the read stops at the cap).
    """
    headers = {"Accept-Encoding": "identity"}
    if client.headers.get("user-agent", "").startswith("python-httpx/"):
        headers["User-Agent"] = USER_AGENT
    return headers


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (delta or HTTP date), capped at MAX_WAIT; None if absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_WAIT)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_WAIT)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
