"""The crawl itself: a breadth-first walk from the seeds, within limits, every fetch into the WARC.

Pages are followed to `Limits.depth` links from a seed and, by default, only on the seeds' sites (a host
or its subdomains, ``www.`` aside); the images a page shows are fetched wherever they are served from
(image hosts and CDNs are where copies spread). Each redirect is its own fetch, recorded, and checked like
any other: robots.txt, the deployment's host list, and the guarded connection that refuses loopback,
private, link-local and reserved addresses after DNS. Requests to one host are spaced by the rate (or the
site's Crawl-delay if longer). Nothing a page says is executed: links are read from the HTML (links.py).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ncii_shield import __version__
from ncii_shield.crawl.links import absolute, extract_links
from ncii_shield.crawl.robots import AGENT, MAX_ROBOTS_BYTES, RobotsCache
from ncii_shield.crawl.warc_out import WarcOut, warc_date
from ncii_shield.takedown.safe_fetch import NO_POLICY, Fetched, HostPolicy, fetch_once

USER_AGENT = f"{AGENT}/{__version__} (collects evidence of non-consensual imagery for a support centre)"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".avif", ".heic", ".tif", ".tiff")


@dataclass(frozen=True)
class Limits:
    """How far a crawl may go. Sizes are bytes; `rate` is requests per second per host."""

    depth: int = 1  # 0: the seed pages and their images only
    same_site: bool = True
    rate: float = 1.0
    max_bytes: int = 20 * 1024 * 1024  # per response
    max_total_bytes: int = 1024 * 1024 * 1024  # per crawl
    max_pages: int = 500
    max_images: int = 5000
    timeout: float = 20.0  # per request: connecting, each read, and the body as a whole
    max_seconds: float | None = None  # the whole crawl
    max_redirects: int = 5
    obey_robots: bool = True


DEFAULT_LIMITS = Limits()


@dataclass
class _Task:
    url: str
    depth: int
    kind: Literal["page", "image"]
    referer: str | None
    hops: int = 0


@dataclass
class CrawlSummary:
    """What a crawl did; `--json` prints it."""

    warc: str
    seeds: list[str]
    started: str
    warc_sha256: str = ""
    finished: str = ""
    pages: int = 0
    images: int = 0
    responses: int = 0
    bytes: int = 0
    records: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)  # fetcher refused: address or host list
    robots_blocked: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    truncated: list[dict[str, str]] = field(default_factory=list)
    off_site: int = 0  # page links not followed because they leave the seeds' sites
    stopped: str | None = None  # the limit that ended the crawl early, if one did
    scans: list[dict[str, object]] = field(default_factory=list)  # with --scan: each scan of the WARC
    warc_deleted: bool = False  # a hash-only case's WARC, deleted once scanned

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


Progress = Callable[[int, int, str], None]  # (fetched, still queued, url)


def site_of(host: str) -> str:
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


class Crawler:
    """One crawl into one WARC. `client` comes from `safe_fetch.crawl_client`; `sleep` and `clock` are
    for tests."""

    def __init__(
        self,
        out: WarcOut,
        client: httpx.Client,
        limits: Limits,
        policy: HostPolicy = NO_POLICY,
        *,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.out, self.client, self.limits, self.policy = out, client, limits, policy
        self._progress, self._clock, self._sleep = progress, clock, sleep
        self._next_slot: dict[str, float] = {}
        self._seen: set[str] = set()
        self._queue: deque[_Task] = deque()
        self._sites: set[str] = set()
        self._robots = RobotsCache(self._fetch_robots)
        self.summary = CrawlSummary(warc=str(out.path), seeds=[], started=_now())

    def run(self, seeds: Iterable[str]) -> CrawlSummary:
        started = self._clock()
        for raw in seeds:
            url = absolute(raw, raw)
            if url is None:
                self.summary.errors.append({"url": raw, "error": "not an http(s) URL"})
                continue
            self.summary.seeds.append(url)
            self._sites.add(site_of(urlsplit(url).hostname or ""))
            self._push(_Task(url, 0, "page", None))
        while self._queue:
            if self.limits.max_seconds is not None and self._clock() - started > self.limits.max_seconds:
                self.summary.stopped = f"time limit ({self.limits.max_seconds:g} s) reached"
                break
            if self.summary.bytes >= self.limits.max_total_bytes:
                self.summary.stopped = f"crawl byte limit ({self.limits.max_total_bytes:,}) reached"
                break
            self._visit(self._queue.popleft())
        self.summary.finished = _now()
        self.summary.records = self.out.records + 1  # with the summary itself
        self.out.log(self.summary.to_json())
        return self.summary

    # ------------------------------------------------------------------------------------------ steps

    def _push(self, task: _Task, *, first: bool = False) -> None:
        if task.url in self._seen:
            return
        self._seen.add(task.url)
        (self._queue.appendleft if first else self._queue.append)(task)

    def _visit(self, task: _Task) -> None:
        limits, summary = self.limits, self.summary
        if task.kind == "page" and task.hops == 0 and summary.pages >= limits.max_pages:
            summary.stopped = summary.stopped or f"page limit ({limits.max_pages}) reached"
            return
        if task.kind == "image" and task.hops == 0 and summary.images >= limits.max_images:
            summary.stopped = summary.stopped or f"image limit ({limits.max_images}) reached"
            return
        if (reason := self.policy.refusal(urlsplit(task.url).hostname or "")) is not None:
            summary.refused.append({"url": task.url, "reason": reason})
            return
        if limits.obey_robots:
            rules = self._robots.rules(task.url)
            if rules.refused is not None:
                summary.refused.append({"url": task.url, "reason": rules.refused})
                return
            if not rules.allows(task.url):
                summary.robots_blocked.append(task.url)
                return
        fetched = self._fetch(task.url, task.referer, limits.max_bytes)
        if task.hops == 0:
            if task.kind == "page":
                summary.pages += 1
            else:
                summary.images += 1
        if fetched.status is None:
            entry = {"url": task.url, "reason" if fetched.refused else "error": fetched.error or "failed"}
            (summary.refused if fetched.refused else summary.errors).append(entry)
            return
        response_id = self._record(fetched)
        location = fetched.header("location")
        if 300 <= fetched.status < 400 and location:
            self._redirect(task, location)
            return
        if task.kind == "page" and 200 <= fetched.status < 300 and _is_html(fetched):
            self._follow(task, fetched, response_id)

    def _redirect(self, task: _Task, location: str) -> None:
        target = absolute(task.url, location)
        if target is None:
            self.summary.errors.append({"url": task.url, "error": "redirect to a non-http(s) URL"})
        elif task.hops >= self.limits.max_redirects:
            self.summary.errors.append(
                {"url": task.url, "error": f"more than {self.limits.max_redirects} redirects"}
            )
        else:  # followed at once, as the next fetch: the chain stays together in the WARC
            self._push(_Task(target, task.depth, task.kind, task.referer, task.hops + 1), first=True)

    def _follow(self, task: _Task, fetched: Fetched, response_id: str) -> None:
        links = extract_links(_decoded(fetched), fetched.url, _charset(fetched))
        self.out.outlinks(fetched.url, response_id, warc_date(fetched), links)
        for image in links.images:
            self._push(_Task(image, task.depth, "image", fetched.url))
        for page in links.pages:
            if urlsplit(page).path.lower().endswith(_IMAGE_SUFFIXES):  # a link to the full-size image
                self._push(_Task(page, task.depth, "image", fetched.url))
            elif task.depth >= self.limits.depth:
                continue
            elif self.limits.same_site and not self._on_site(page):
                if page not in self._seen:
                    self.summary.off_site += 1
                    self._seen.add(page)
            else:
                self._push(_Task(page, task.depth + 1, "page", fetched.url))

    def _on_site(self, url: str) -> bool:
        host = site_of(urlsplit(url).hostname or "")
        return any(host == site or host.endswith("." + site) for site in self._sites)

    # ------------------------------------------------------------------------------------------ fetching

    def _fetch(self, url: str, referer: str | None, max_bytes: int) -> Fetched:
        """One GET, after waiting for the host's next slot; capped by what is left of the crawl's bytes."""
        host = (urlsplit(url).hostname or "").lower()
        wait = self._next_slot.get(host, 0.0) - self._clock()
        if wait > 0:
            self._sleep(wait)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Accept": "*/*"}
        if referer:
            headers["Referer"] = referer
        room = max(0, self.limits.max_total_bytes - self.summary.bytes)
        fetched = fetch_once(
            self.client,
            url,
            headers=headers,
            max_bytes=min(max_bytes, room),
            timeout=self.limits.timeout,
            policy=self.policy,
        )
        interval = 1.0 / self.limits.rate if self.limits.rate > 0 else 0.0
        if self.limits.obey_robots and not url.endswith("/robots.txt"):
            interval = max(interval, self._robots.rules(url).delay())
        self._next_slot[host] = self._clock() + interval
        if self._progress is not None:
            self._progress(self.summary.responses + 1, len(self._queue), url)
        return fetched

    def _record(self, fetched: Fetched) -> str:
        self.summary.responses += 1
        self.summary.bytes += len(fetched.body)
        if fetched.truncated:
            self.summary.truncated.append({"url": fetched.url, "why": fetched.truncated})
        return self.out.exchange(fetched)

    def _fetch_robots(self, url: str) -> Fetched | None:
        """robots.txt and its redirects (up to the limit), each recorded; the final response or None."""
        for _ in range(self.limits.max_redirects + 1):
            fetched = self._fetch(url, None, MAX_ROBOTS_BYTES)
            if fetched.status is None:
                return fetched
            self._record(fetched)
            location = fetched.header("location")
            target = absolute(url, location) if location and 300 <= fetched.status < 400 else None
            if target is None or self.policy.refusal(urlsplit(target).hostname or ""):
                return fetched
            url = target
        return None


def _is_html(fetched: Fetched) -> bool:
    kind = (fetched.header("content-type") or "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml") or (
        not kind and fetched.body[:512].lstrip()[:1] == b"<"
    )


MAX_PAGE_TEXT = 8 * 1024 * 1024


def _decoded(fetched: Fetched) -> bytes:
    """The page as text bytes: a server that compresses although asked not to is inflated, up to 8 MiB
    (a bomb stops there); the WARC keeps the body as served."""
    coding = (fetched.header("content-encoding") or "").strip().lower()
    if coding not in ("gzip", "x-gzip", "deflate"):
        return fetched.body
    import zlib

    for bits in (47,) if "gzip" in coding else (15, -15):  # deflate: zlib-wrapped, or raw as some send it
        try:
            return zlib.decompressobj(bits).decompress(fetched.body, MAX_PAGE_TEXT)
        except zlib.error:
            continue
    return b""


def _charset(fetched: Fetched) -> str | None:
    for part in (fetched.header("content-type") or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
