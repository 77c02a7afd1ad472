"""robots.txt, fetched through the same guarded fetcher and obeyed unless the operator overrides it.

The rules follow RFC 9309 as Python's parser reads them: a missing file (4xx) allows everything; a file
that cannot be had (5xx, timeout, refused connection) disallows the whole site for this crawl, as the RFC
asks of an unreachable one. A Crawl-delay longer than the per-host rate is honoured, up to a minute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from ncii_shield.takedown.safe_fetch import Fetched

AGENT = "ncii-shield"  # the product token robots.txt groups are matched against
MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: at least 500 KiB must be parsed
MAX_DELAY = 60.0


@dataclass
class Rules:
    """One origin's robots.txt as this crawl understood it."""

    parser: RobotFileParser | None  # None: everything allowed (no file)
    blocked_all: str | None = None  # why the whole origin is off limits (robots.txt unreachable)
    refused: str | None = None  # the fetcher refused the origin itself (its address or the host list)

    def allows(self, url: str) -> bool:
        if self.blocked_all is not None:
            return False
        return self.parser is None or self.parser.can_fetch(AGENT, url)

    def delay(self) -> float:
        if self.parser is None:
            return 0.0
        value = self.parser.crawl_delay(AGENT)
        return min(float(value), MAX_DELAY) if value else 0.0


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def rules_from(fetched: Fetched | None) -> Rules:
    """The rules a final robots.txt response (after redirects) gives; None: none could be fetched."""
    if fetched is not None and fetched.refused:
        return Rules(None, blocked_all=fetched.error, refused=fetched.error)
    if fetched is None or fetched.status is None:
        why = fetched.error if fetched is not None and fetched.error else "robots.txt could not be fetched"
        return Rules(None, blocked_all=why)
    if 400 <= fetched.status < 500:
        return Rules(None)
    if not 200 <= fetched.status < 300:
        return Rules(None, blocked_all=f"robots.txt answered HTTP {fetched.status}")
    parser = RobotFileParser()
    parser.parse(fetched.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace").splitlines())
    return Rules(parser)


class RobotsCache:
    """Each origin's rules, fetched once per crawl with ``fetch(robots_url) -> final response or None``."""

    def __init__(self, fetch: Callable[[str], Fetched | None]) -> None:
        self._fetch = fetch
        self._rules: dict[str, Rules] = {}

    def rules(self, url: str) -> Rules:
        key = origin(url)
        if key not in self._rules:
            self._rules[key] = rules_from(self._fetch(f"{key}/robots.txt"))
        return self._rules[key]
