"""Fetching URLs that untrusted input chose, without reaching the server's own network.

The URLs a recheck fetches come from crawl folders and exports, which come from the rooms being
investigated: a URL (or a redirect) aimed at ``http://127.0.0.1:…``, ``http://169.254.169.254/`` or an
intranet host would make this server read its own services (server-side request forgery).

So the check is made where it cannot be dodged: when a connection is opened. The host name is resolved
here, every address is checked, and the socket is connected to a checked address itself (never resolved
again), so DNS rebinding and names that point inside gain nothing. Redirects are followed by the caller
one hop at a time (takedown/recheck.py), and each hop opens its connection through the same check.

Refused: loopback, private (RFC 1918, carrier NAT, unique-local), link-local (cloud metadata),
multicast, unspecified and every other reserved or not globally routable range, also when wrapped in
IPv6 (IPv4-mapped, 6to4, NAT64, Teredo). An operator who must reach such a range (a test server, an
internal mirror) names it in ``NCII_RECHECK_ALLOW`` (comma-separated networks, e.g. ``127.0.0.0/8``);
crawls name theirs in ``NCII_CRAWL_ALLOW``. A deployment may also deny hosts and ranges outright, or name
the only hosts it fetches from (`HostPolicy`: ``NCII_CRAWL_DENY``, ``NCII_CRAWL_HOSTS``), and `fetch_once`
reads one response with its size and time capped, for the crawler (crawl/) to record hop by hop.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from ncii_shield.config import Network, parse_networks, read_setting, variable

ALLOW_VARIABLE = variable("recheck_allow")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fec0::/10")
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """A connection this fetcher will not open; the message is one line saying why."""


def allowed_networks(text: str | None) -> tuple[Network, ...]:
    """The networks named in ``text`` (comma- or space-separated); ValueError names a bad one."""
    try:
        return parse_networks(text)
    except ValueError as exc:
        raise ValueError(f"{ALLOW_VARIABLE}: {exc} (e.g. 127.0.0.0/8)") from None


def allowed_from_environment() -> tuple[Network, ...]:
    """NCII_RECHECK_ALLOW as it is now, for a caller given no settings (``settings.recheck_allow``);
    a bad value raises `SettingError`."""
    return tuple(read_setting("recheck_allow"))


def refusal(ip: Address, allowed: Iterable[Network]) -> str | None:
    """Why a connection to ``ip`` is refused (``"a loopback address"``…), or None if it may be opened."""
    allowed = tuple(allowed)
    if any(ip.version == net.version and ip in net for net in allowed):
        return None
    if (inner := _embedded(ip)) is not None:
        reason = refusal(inner, allowed)
        return f"{reason} ({inner} inside {ip})" if reason else None
    kind = _kind(ip)
    return f"a {kind} address" if kind else None


def denial(ip: Address, denied: Iterable[Network]) -> str | None:
    """Why ``ip`` is in a range the deployment denies (also when wrapped in IPv6), or None."""
    for candidate in (ip, _embedded(ip)):
        if candidate is not None and any(candidate.version == n.version and candidate in n for n in denied):
            return "in a denied range (NCII_CRAWL_DENY)"
    return None


def _kind(ip: Address) -> str | None:
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if any(ip.version == net.version and ip in net for net in _PRIVATE):
        return "private"
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "reserved"
    return None


def _embedded(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to, if it is one of the forms that route there."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _resolve(host: str, port: int) -> list[Address]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def _refused(
    host: str, addresses: list[Address], reason: str, allow_variable: str = ALLOW_VARIABLE
) -> Refused:
    where = host if [str(a) for a in addresses] == [host] else f"{host} ({', '.join(map(str, addresses))})"
    return Refused(f"refused to connect to {where}: {reason}; {allow_variable} can allow a range")


def precheck(host: str, port: int, allowed: tuple[Network, ...]) -> None:
    """For a client whose connections are not guarded: Refused unless every address ``host`` resolves
    to may be reached. Weaker than the guarded backend (the client resolves again when it connects)."""
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        return  # the client's own attempt fails and says why
    for ip in addresses:
        if (reason := refusal(ip, allowed)) is not None:
            raise _refused(host, addresses, f"{ip} is {reason}")


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the check: resolve, check every address, connect to a checked one."""

    def __init__(
        self,
        allowed: tuple[Network, ...],
        denied: tuple[Network, ...] = (),
        allow_variable: str = ALLOW_VARIABLE,
    ) -> None:
        self._allowed = allowed
        self._denied = denied  # refused even when public or allowed: NCII_CRAWL_DENY's ranges
        self._variable = allow_variable
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        refused: list[str] = []
        failed: httpcore.ConnectError | None = None
        for ip in addresses:
            reason = denial(ip, self._denied) or refusal(ip, self._allowed)
            if reason is not None:
                refused.append(f"{ip} is {reason}")
                continue
            try:
                return self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failed = exc
        if failed is not None:
            raise failed
        raise _refused(host, addresses, refused[0] if refused else "it has no address", self._variable)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise Refused("refused: no unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through :class:`GuardedBackend`.

    No proxy from the environment: a proxy would connect on our behalf, past the check."""

    def __init__(
        self,
        allowed: tuple[Network, ...],
        *,
        verify: bool = True,
        denied: tuple[Network, ...] = (),
        allow_variable: str = ALLOW_VARIABLE,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(allowed, denied, allow_variable),
        )


def guarded_client(allowed: tuple[Network, ...] | None = None) -> httpx.Client:
    """A client that refuses internal addresses (``allowed`` defaults to NCII_RECHECK_ALLOW; a bad
    setting raises `SettingError`). Redirects are not followed: the caller follows them hop by hop."""
    if allowed is None:
        allowed = allowed_from_environment()
    return httpx.Client(transport=GuardedTransport(allowed), follow_redirects=False, trust_env=False)


# ----------------------------------------------------------------------------------------- crawling


@dataclass(frozen=True)
class HostPolicy:
    """A deployment's own list: the only hosts fetched from (if any), and hosts and ranges never fetched.

    A host name covers its subdomains (``example.org`` covers ``cdn.example.org``). Names are checked
    here, before connecting; denied ranges are checked on every resolved address by `GuardedBackend`."""

    only: tuple[str, ...] = ()
    deny_hosts: tuple[str, ...] = ()
    deny_networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, only: Iterable[str] = (), deny: Iterable[str] = ()) -> HostPolicy:
        """From settings (``crawl_hosts``, ``crawl_deny``): deny entries are host names or networks."""
        hosts, networks = [], []
        for entry in deny:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(_host_name(entry))
        return cls(tuple(_host_name(h) for h in only), tuple(hosts), tuple(networks))

    def refusal(self, host: str) -> str | None:
        """Why ``host`` may not be fetched from by name, or None."""
        name = _host_name(host)
        if any(_covers(denied, name) for denied in self.deny_hosts):
            return f"refused {name}: denied by NCII_CRAWL_DENY"
        try:
            literal = ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None and (reason := denial(literal, self.deny_networks)):
            return f"refused {name}: {reason}"
        if self.only and not any(_covers(allowed, name) for allowed in self.only):
            return f"refused {name}: not among the hosts NCII_CRAWL_HOSTS allows"
        return None


NO_POLICY = HostPolicy()  # nothing denied by name, every host allowed


def _host_name(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("*.").lstrip(".")


def _covers(pattern: str, host: str) -> bool:
    return host == pattern or host.endswith("." + pattern)


def crawl_client(
    allowed: tuple[Network, ...], policy: HostPolicy = NO_POLICY, *, verify: bool = True
) -> httpx.Client:
    """The guarded client of crawls: internal addresses refused unless ``allowed`` (NCII_CRAWL_ALLOW),
    the policy's denied ranges refused always. Redirects are not followed: the crawler records each hop."""
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    transport = GuardedTransport(
        allowed, verify=verify, denied=policy.deny_networks, allow_variable="NCII_CRAWL_ALLOW"
    )
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # a crawl is never "logged in"
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False, cookies=no_cookies)


@dataclass
class Fetched:
    """One request and its response as received (body capped), or why there is no response."""

    url: str
    started: datetime
    request_line: str = ""
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: str | None = None  # WARC-Truncated: "length" (over the cap) or "time" (too slow)
    ip: str | None = None
    error: str | None = None
    refused: bool = False  # the fetcher refused it (an address or host the deployment does not reach)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def fetch_once(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str],
    max_bytes: int,
    timeout: float,
    policy: HostPolicy = NO_POLICY,
) -> Fetched:
    """GET ``url`` once (no redirect followed), reading at most ``max_bytes`` of the body as served
    (compressed if the server compressed it) for about ``timeout`` seconds; never raises for what the
    network or the server does. ``client`` should come from `crawl_client` (or `guarded_client`)."""
    seen = Fetched(url=url, started=datetime.now(UTC))
    try:
        target = httpx.URL(url)
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("not an http(s) URL")
        if (reason := policy.refusal(target.host)) is not None:
            raise Refused(reason)
        request = client.build_request("GET", target, headers=headers, timeout=timeout)
        seen.request_line = f"GET {target.raw_path.decode('ascii', 'replace')} HTTP/1.1"
        seen.request_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        response = client.send(request, stream=True, follow_redirects=False)
    except Refused as exc:
        seen.error, seen.refused = " ".join(str(exc).split()), True
        return seen
    except httpx.TimeoutException:
        seen.error = f"timed out after {timeout:g} s"
        return seen
    except (httpx.HTTPError, ValueError) as exc:
        seen.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        return seen
    try:
        seen.status, seen.reason = response.status_code, response.reason_phrase
        seen.http_version = response.http_version
        seen.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        seen.ip = _peer(response)
        seen.body, seen.truncated = _read_capped(response, max_bytes, timeout)
    except httpx.HTTPError as exc:
        seen.error = f"reading the body failed: {' '.join(str(exc).split())[:200]}"
        seen.truncated = "disconnect"
    finally:
        response.close()  # what was not read is dropped with the connection, never downloaded
    return seen


def _read_capped(response: httpx.Response, max_bytes: int, timeout: float) -> tuple[bytes, str | None]:
    """The body up to ``max_bytes`` and why it stops short ("length", "time"), if it does."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():  # as served: the bytes a payload digest is computed over
        if len(chunk) > max_bytes - size:
            chunks.append(chunk[: max_bytes - size])
            return b"".join(chunks), "length"
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            return b"".join(chunks), "time"
    return b"".join(chunks), None


def _peer(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # a backend that cannot say: the IP is optional in a WARC
        address = None
    return str(address[0]) if isinstance(address, tuple) and address else None
