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
internal mirror) names it in ``NCII_RECHECK_ALLOW`` (comma-separated networks, e.g. ``127.0.0.0/8``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
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


def _refused(host: str, addresses: list[Address], reason: str) -> Refused:
    where = host if [str(a) for a in addresses] == [host] else f"{host} ({', '.join(map(str, addresses))})"
    return Refused(f"refused to connect to {where}: {reason}; {ALLOW_VARIABLE} can allow a range")


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

    def __init__(self, allowed: tuple[Network, ...]) -> None:
        self._allowed = allowed
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
            reason = refusal(ip, self._allowed)
            if reason is not None:
                refused.append(f"{ip} is {reason}")
                continue
            try:
                return self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failed = exc
        if failed is not None:
            raise failed
        raise _refused(host, addresses, refused[0] if refused else "it has no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise Refused("refused: no unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through :class:`GuardedBackend`.

    No proxy from the environment: a proxy would connect on our behalf, past the check."""

    def __init__(self, allowed: tuple[Network, ...], *, verify: bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(allowed),
        )


def guarded_client(allowed: tuple[Network, ...] | None = None) -> httpx.Client:
    """A client that refuses internal addresses (``allowed`` defaults to NCII_RECHECK_ALLOW; a bad
    setting raises `SettingError`). Redirects are not followed: the caller follows them hop by hop."""
    if allowed is None:
        allowed = allowed_from_environment()
    return httpx.Client(transport=GuardedTransport(allowed), follow_redirects=False, trust_env=False)
