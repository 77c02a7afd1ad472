"""`ncii-shield crawl` (issue 17, item 2): a local site on loopback crawled into a WARC that warcio
validates, within limits, refusing what it must: internal addresses (after DNS and on every redirect hop),
what robots.txt disallows unless the operator overrides it for the case, links a script would load."""

from __future__ import annotations

import dataclasses
import gzip
import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from warcio.archiveiterator import ArchiveIterator

from ncii_shield.crawl.crawler import Crawler, CrawlSummary, Limits
from ncii_shield.crawl.links import extract_links
from ncii_shield.crawl.service import run_crawl
from ncii_shield.crawl.warc_out import WarcOut
from ncii_shield.errors import Conflict, NciiError
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent
from ncii_shield.takedown.safe_fetch import HostPolicy, crawl_client, fetch_once
from tests.conftest import cli_env, new_store
from tests.crawl_site import Running, Site, site
from tests.test_scan import _case

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)  # the test site only: 127.0.0.2 stays internal
FAST = Limits(rate=200, max_bytes=1 << 20, timeout=5)


@pytest.fixture(scope="module")
def web() -> Iterator[Running]:
    with site() as running:
        yield running


def _allow(store: Store, **changes: object) -> Store:
    store.settings = dataclasses.replace(store.settings, crawl_allow=LOOPBACK, **changes)  # type: ignore[arg-type]
    return store


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, web: Running) -> tuple[Store, int, CrawlSummary]:
    store = _allow(new_store(tmp_path_factory.mktemp("crawl") / "data"))
    case_id = _case(store)
    web.hits.clear()
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    return store, case_id, summary


def _records(path: Path) -> list[dict[str, object]]:
    """Every record, read with digest checks: type, headers, HTTP status and payload."""
    rows = []
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle, check_digests=True):
            payload = record.content_stream().read()
            rows.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "status": record.http_headers.get_statuscode() if record.http_headers else None,
                    "http": record.http_headers,
                    "payload": payload,
                    "digest": record.digest_checker.passed,
                }
            )
    return rows


def test_the_warc_validates_with_warcio(crawled: tuple[Store, int, CrawlSummary]) -> None:
    _, _, summary = crawled
    path = Path(summary.warc)
    assert path.name.endswith(".warc.gz") and path.parent.name.startswith("case-")
    assert path.stat().st_mode & 0o077 == 0  # 0600: what was fetched is the case's
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from warcio.cli import main; main(sys.argv[1:])",
            "check",
            "-v",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "digest failed" not in check.stdout and "digest pass" in check.stdout
    records = _records(path)
    assert records[0]["type"] == "warcinfo"
    assert b"robots: obey" in records[0]["payload"]  # type: ignore[operator]
    responses = [r for r in records if r["type"] == "response"]
    requests = {r["headers"]["WARC-Concurrent-To"]: r for r in records if r["type"] == "request"}  # type: ignore[index]
    assert len(responses) == summary.responses == len(requests)
    for response in responses:
        headers = response["headers"]
        assert isinstance(headers, dict)
        assert headers["WARC-Target-URI"].startswith("http://127.0.0.1:")
        assert headers["WARC-Date"].endswith("Z") and headers["WARC-IP-Address"] == "127.0.0.1"
        assert headers["WARC-Payload-Digest"].startswith("sha1:") and headers["WARC-Block-Digest"]
        assert response["digest"] is True
        request = requests[headers["WARC-Record-ID"]]
        assert request["headers"]["WARC-Target-URI"] == headers["WARC-Target-URI"]  # type: ignore[index]
        assert request["http"].get_header("Cookie") is None  # type: ignore[union-attr]
        assert request["http"].protocol == "GET"  # type: ignore[union-attr]
    # every page's links are in a metadata record tied to its response
    metadata = [r for r in records if r["type"] == "metadata"]
    index = next(
        m
        for m in metadata
        if m["headers"]["WARC-Target-URI"].endswith(":" + summary.seeds[0].rsplit(":", 1)[1])
    )  # type: ignore[index,union-attr]
    assert b"outlink: " + summary.seeds[0].encode() + b"img/obama.jpg E img/@src" in index["payload"]  # type: ignore[operator]
    # the crawl's own account closes the file: what was refused and disallowed is evidence too
    assert records[-1]["headers"]["WARC-Target-URI"] == "metadata://ncii-shield/crawl-summary.json"  # type: ignore[index]
    logged = json.loads(records[-1]["payload"])  # type: ignore[arg-type]
    assert logged["refused"] == summary.refused and logged["records"] == len(records) == summary.records


def test_what_was_fetched_and_what_was_not(crawled: tuple[Store, int, CrawlSummary], web: Running) -> None:
    _, _, summary = crawled
    fetched = {
        str(r["headers"]["WARC-Target-URI"]).split("/", 3)[3]
        for r in _records(Path(summary.warc))
        if r["type"] == "response"
    }  # type: ignore[index]
    for path in ("", "robots.txt", "img/obama.jpg", "img/biden.jpg", "img/biden2.jpg", "img/og.jpg"):
        assert path in fetched  # <img src>, srcset candidates, og:image
    assert {"r1", "r2", "img/astronaut.jpg"} <= fetched  # the redirect chain, each hop recorded
    assert {"page2.html", "img/elephants.jpg"} <= fetched  # one link deep
    assert "page3.html" not in fetched  # two links deep: beyond --depth 1
    assert web.requested("/private/secret.html") == 0  # robots.txt disallows it
    assert any(u.endswith("/private/secret.html") for u in summary.robots_blocked)
    assert web.requested("/script-only.jpg") == 0 and web.requested("/scripted.jpg") == 0  # no script runs
    assert summary.off_site == 2  # 192.168.1.1 and elsewhere.example are other sites: not followed


def test_internal_addresses_are_refused_also_behind_a_redirect(
    crawled: tuple[Store, int, CrawlSummary], web: Running
) -> None:
    _, _, summary = crawled
    assert sum(n for key, n in web.hits.items() if key.startswith("127.0.0.2")) == 0
    refused = {r["url"]: r["reason"] for r in summary.refused}
    assert "private" in refused["http://10.255.255.1/x.jpg"]
    internal = next(reason for url, reason in refused.items() if url.startswith(web.internal))
    assert "loopback" in internal and "NCII_CRAWL_ALLOW" in internal  # /evil redirected there


def test_a_huge_file_is_capped_and_marked_truncated(crawled: tuple[Store, int, CrawlSummary]) -> None:
    _, _, summary = crawled
    huge = next(
        r
        for r in _records(Path(summary.warc))
        if str(r["headers"].get("WARC-Target-URI")).endswith("/huge.jpg")
    )  # type: ignore[union-attr]
    assert huge["headers"]["WARC-Truncated"] == "length"  # type: ignore[index]
    assert len(huge["payload"]) == 1 << 20  # type: ignore[arg-type]
    assert [t["why"] for t in summary.truncated] == ["length"]
    assert summary.bytes < 4 << 20


def test_the_crawl_is_audited(crawled: tuple[Store, int, CrawlSummary]) -> None:
    store, case_id, summary = crawled
    with store.session() as s:
        events = {e.action: e for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))}
    assert "crawl.robots_ignored" not in events
    started, finished = events["crawl.started"].details, events["crawl.finished"].details
    assert started["seeds"] == summary.seeds and started["limits"]["obey_robots"] is True  # type: ignore[index]
    assert finished["warc_sha256"] == summary.warc_sha256 and len(summary.warc_sha256) == 64


def test_robots_can_be_overridden_for_a_case_with_a_reason(tmp_path: Path, web: Running) -> None:
    store = _allow(new_store(tmp_path / "data"))
    case_id = _case(store)
    with pytest.raises(NciiError, match="needs a reason"):
        run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST, robots_override=" ")
    before = web.requested("/private/secret.html")
    reason = "the room moved its posts under /private/; approved by the case lead"
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST, robots_override=reason)
    assert web.requested("/private/secret.html") == before + 1 and not summary.robots_blocked
    with store.session() as s:
        actions = {
            e.action: e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))
        }
    assert actions["crawl.robots_ignored"]["reason"] == reason  # type: ignore[index]
    with Path(summary.warc).open("rb") as handle:
        assert b"robots: ignore" in next(iter(ArchiveIterator(handle))).content_stream().read()
    with pytest.raises(Conflict, match="exists already"):
        run_crawl(store, [f"{web.url}/"], case_id=case_id, out=Path(summary.warc), limits=FAST)


def test_loopback_is_refused_unless_the_allow_list_names_it(tmp_path: Path, web: Running) -> None:
    store = new_store(tmp_path / "data")  # no NCII_CRAWL_ALLOW
    case_id = _case(store)
    before = sum(web.hits.values())
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    assert sum(web.hits.values()) == before and summary.responses == 0
    assert summary.refused and "loopback" in summary.refused[0]["reason"]


def test_the_deployment_host_lists(tmp_path: Path, web: Running) -> None:
    store = _allow(new_store(tmp_path / "data"), crawl_deny=("127.0.0.1",))
    case_id = _case(store)
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    assert summary.responses == 0 and "NCII_CRAWL_DENY" in summary.refused[0]["reason"]
    _allow(store, crawl_deny=(), crawl_hosts=("example.org",))
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    assert summary.responses == 0 and "NCII_CRAWL_HOSTS" in summary.refused[0]["reason"]
    policy = HostPolicy.of(("example.org",), ("ads.example.org", "10.0.0.0/8"))
    assert policy.refusal("cdn.example.org") is None and policy.refusal("EXAMPLE.org.") is None
    assert "DENY" in str(policy.refusal("x.ads.example.org")) and "DENY" in str(policy.refusal("10.1.2.3"))
    assert "HOSTS" in str(policy.refusal("example.org.evil.test"))


def test_requests_to_a_host_are_spaced_by_the_rate(tmp_path: Path, web: Running) -> None:
    out = WarcOut(tmp_path / "rate.warc.gz", {"software": "test"})
    Site.times.clear()
    with crawl_client(LOOPBACK) as client:
        summary = Crawler(out, client, dataclasses.replace(FAST, rate=10, depth=0)).run([f"{web.url}/"])
    out.close()
    gaps = [b - a for a, b in zip(Site.times, Site.times[1:], strict=False)]
    assert summary.responses >= 8 and len(gaps) >= 7
    assert min(gaps) >= 0.09  # 10 requests a second at most


def test_a_slow_server_times_out_and_the_crawl_goes_on(tmp_path: Path, web: Running) -> None:
    out = WarcOut(tmp_path / "slow.warc", {"software": "test"})
    with crawl_client(LOOPBACK) as client:
        limits = dataclasses.replace(FAST, timeout=0.5, obey_robots=False, depth=0)
        summary = Crawler(out, client, limits).run([f"{web.url}/slow", f"{web.url}/img/obama.jpg"])
    out.close()
    assert [e["url"] for e in summary.errors] == [f"{web.url}/slow"] and "timed out" in summary.errors[0][
        "error"
    ]
    assert summary.responses == 1  # the image after it


def test_total_byte_limit_stops_the_crawl(tmp_path: Path, web: Running) -> None:
    out = WarcOut(tmp_path / "cap.warc.gz", {"software": "test"})
    with crawl_client(LOOPBACK) as client:
        limits = dataclasses.replace(FAST, max_total_bytes=300_000)
        summary = Crawler(out, client, limits).run([f"{web.url}/"])
    out.close()
    assert summary.stopped and "byte limit" in summary.stopped and summary.bytes <= 300_000


def test_links_are_read_from_the_html_only() -> None:
    page = b"""<html><head><base href="https://a.example/dir/">
    <meta property="og:image" content="og.jpg"><meta name="twitter:image" content="//cdn.example/t.png">
    </head><body><a href="next.html#top">n</a><a href="javascript:alert(1)">x</a><a href="mailto:a@b">m</a>
    <img src="data:image/png;base64,AAAA"><img src=" one.jpg " srcset="two.jpg 2x, /three.jpg 300w">
    <picture><source srcset="four.webp"></picture><a href="http://[::1">bad</a>
    <script>var i = '<img src="never.jpg">';</script><noscript><img src="ns.jpg"></noscript></body></html>"""
    links = extract_links(page, "https://a.example/page")
    assert links.pages == ["https://a.example/dir/next.html"]
    assert links.images == [
        "https://a.example/dir/og.jpg",
        "https://cdn.example/t.png",
        "https://a.example/dir/one.jpg",
        "https://a.example/dir/two.jpg",
        "https://a.example/three.jpg",
        "https://a.example/dir/four.webp",
        "https://a.example/dir/ns.jpg",
    ]
    assert links.how["https://a.example/dir/og.jpg"] == "meta/@og:image"


def test_the_crawl_command(tmp_path: Path, web: Running) -> None:
    data = tmp_path / "data"
    new_store(data).close()
    env = cli_env(NCII_CRAWL_ALLOW="127.0.0.1/32")
    base = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data)]
    run = subprocess.run(
        [
            *base,
            "case",
            "open",
            "--pseudonym",
            "Web case",
            "--consent-by",
            "the person",
            "--consent-method",
            "form",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# start here\n{web.url}/page2.html\n", encoding="utf-8")
    out = tmp_path / "out" / "site.warc.gz"
    run = subprocess.run(
        [
            *base,
            "crawl",
            "--case",
            "1",
            "--from-file",
            str(seeds),
            "--out",
            str(out),
            "--depth",
            "0",
            "--rate",
            "50",
            "--max-bytes",
            "2M",
            "--scan",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["warc"] == str(out) and summary["pages"] == 1 and summary["images"] == 1
    assert summary["scans"][0]["status"] == "done" and summary["scans"][0]["items_new"] == 1  # elephants.jpg
    with gzip.open(out, "rb") as handle:
        assert handle.read(8) == b"WARC/1.1"
    run = subprocess.run(
        [*base, "crawl", "--case", "1", web.url, "--max-bytes", "lots"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and "not a size" in run.stderr


def test_a_denied_range_is_refused_after_dns(tmp_path: Path, web: Running) -> None:
    """A name (localhost) that resolves into a denied range is refused when connecting, even though the
    allow list names the address: deny beats allow, and the check is on the resolved address."""
    policy = HostPolicy.of((), ("127.0.0.0/24",))
    port = web.url.rsplit(":", 1)[1]
    before = sum(web.hits.values())
    with crawl_client(LOOPBACK, policy) as client:
        fetched = fetch_once(client, f"http://localhost:{port}/", headers={}, max_bytes=1000, timeout=5)
    assert fetched.refused and fetched.status is None and "denied range" in str(fetched.error)
    assert sum(web.hits.values()) == before
    with crawl_client(LOOPBACK) as client:
        assert "not an http(s) URL" in str(
            fetch_once(client, "ftp://x/", headers={}, max_bytes=1, timeout=1).error
        )
        ok = fetch_once(client, f"{web.url}/img/obama.jpg", headers={}, max_bytes=100, timeout=5)
    assert ok.status == 200 and ok.truncated == "length" and len(ok.body) == 100 and ok.ip == "127.0.0.1"


def test_a_page_compressed_anyway_is_read_for_links_within_a_cap() -> None:
    import zlib
    from datetime import UTC, datetime

    from ncii_shield.crawl.crawler import MAX_PAGE_TEXT, _decoded
    from ncii_shield.takedown.safe_fetch import Fetched

    page = b'<a href="/next">n</a>'
    for coding, body in (
        ("gzip", gzip.compress(page)),
        ("deflate", zlib.compress(page)),
        ("deflate", zlib.compress(page)[2:-4]),  # raw deflate, as some servers send it
    ):
        fetched = Fetched(
            "http://a.example/", datetime.now(UTC), headers=[("Content-Encoding", coding)], body=body
        )
        assert _decoded(fetched) == page
    bomb = Fetched("http://a.example/", datetime.now(UTC), headers=[("Content-Encoding", "gzip")])
    bomb.body = gzip.compress(b"\0" * (64 << 20))
    assert len(_decoded(bomb)) == MAX_PAGE_TEXT
