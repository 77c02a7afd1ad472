"""How each ``NCII_*`` variable's text becomes its value: the parsers config.py's fields name.

Each turns the variable's text (never empty: an empty variable is unset) into its value, or raises
ValueError with the rest of a sentence that starts with the variable's name; config.py adds the name and
the hint. Kept apart from the Settings table so that it reads as a table. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KEY_BYTES = 32
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _not(raw: str, what: str) -> ValueError:
    return ValueError(f"is {raw.strip()!r}, not {what}")


def _text(raw: str) -> str | None:
    return raw.strip() or None


def _secret(raw: str) -> str:
    return raw  # as given: a passphrase may start or end with a space; never shown in a message


def _path(raw: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def _count(what: str) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise _not(raw, what) from None
        if value < 1:
            raise _not(raw, what)
        return value

    return parse


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise _not(raw, " or ".join(allowed))
        return value

    return parse


def _ratio(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise _not(raw, "a number") from None
    if not value > 0:
        raise _not(raw, "a number above 0")
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise _not(raw, "a port number")
    return value


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise _not(value, "a yes/no value")


def _zone(raw: str) -> str:
    name = raw.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _not(raw, "a time zone") from None
    return name


_HOST_NAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$")


def _hosts(networks_too: bool) -> Callable[[str], tuple[str, ...]]:
    """Host names (``example.org`` or ``*.example.org``; IDNs as their xn-- form) and, if allowed, networks."""

    def parse(raw: str) -> tuple[str, ...]:
        entries = []
        for part in raw.replace(",", " ").split():
            entry = part.strip().lower()
            if networks_too:
                try:
                    entries.append(str(ipaddress.ip_network(entry, strict=False)))
                    continue
                except ValueError:
                    pass
            if not _HOST_NAME.match(entry):
                raise ValueError(f"is {raw.strip()!r}; {part!r} is not a host name")
            entries.append(entry)
        return tuple(entries)

    return parse


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """The networks named in ``text`` (comma- or space-separated); ValueError names a bad one."""
    networks = []
    for part in (text or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a network") from None
    return tuple(networks)


def _networks(raw: str) -> tuple[Network, ...]:
    try:
        return parse_networks(raw)
    except ValueError as exc:
        raise ValueError(f"is {raw.strip()!r}; {exc}") from None


_TRUSTED_FLAGGER = re.compile(r"(?P<who>\S.*?)\s*[,;]\s*(?P<on>\d{4}-\d{2}-\d{2})")


def trusted_flagger_parts(text: str) -> tuple[str, date]:
    """(awarding Digital Services Coordinator, date awarded) from "Coimisiún na Meán, 2025-03-01";
    ValueError says what is wrong. Notices print both, so a half-filled status is refused, not printed."""
    found = _TRUSTED_FLAGGER.fullmatch(text.strip())
    if not found or len(text) > 200:
        raise _not(text, "'<Digital Services Coordinator>, <YYYY-MM-DD>'")
    try:
        awarded = date.fromisoformat(found["on"])
    except ValueError:
        raise _not(text, "a coordinator and a real date (YYYY-MM-DD)") from None
    return found["who"], awarded


def _trusted_flagger(raw: str) -> str | None:
    if not raw.strip():
        return None
    who, awarded = trusted_flagger_parts(raw)
    return f"{who}, {awarded.isoformat()}"


def decode_key(text: str) -> bytes:
    """A 32-byte key written as 64 hex characters or base64; ValueError says what is wrong (not the key)."""
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("is not a key") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"holds {len(key)} bytes; a key has {KEY_BYTES}")
    return key


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _blob_url(raw: str) -> str:
    """file:///absolute/path or s3://bucket[/prefix]; never credentials (they come from the AWS chain)."""
    text = raw.strip()
    url = urlsplit(text)
    if url.scheme == "file":
        if url.netloc not in ("", "localhost") or not url.path.startswith("/"):
            raise _not(raw, "file:///an/absolute/path")
        return text
    if url.scheme == "s3":
        if "@" in url.netloc or ":" in url.netloc:
            raise ValueError("holds credentials or a port; give only s3://bucket/prefix (credentials: AWS_*)")
        if not _BUCKET.match(url.netloc) or url.query or url.fragment:
            raise _not(raw, "s3://bucket/prefix with a valid bucket name")
        return text
    raise _not(raw, "file:///path or s3://bucket/prefix")


def _endpoint(raw: str) -> str:
    """An http(s) URL of an S3-compatible server, with no credentials in it."""
    text = raw.strip().rstrip("/")
    url = urlsplit(text)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise _not(raw, "an http(s):// URL")
    if "@" in url.netloc:
        raise ValueError("holds credentials; give them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY")
    return text
