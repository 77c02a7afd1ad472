"""WARC files as a source (issue 17, item 2): ours from `crawl`, one written by hand in the layout real
crawlers write (Heritrix/wget: request and response records, a revisit, a dns: record), and wget's own when
wget is installed. Each image response is an item with URL, fetch time, HTTP status, WARC-Record-ID and the
page that linked it; the same URL with the same content is one item across crawls; damage is one line
naming the file and the byte offset, and what was read before it is kept."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import ipaddress
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from ncii_shield.crawl.crawler import Limits
from ncii_shield.crawl.service import run_crawl
from ncii_shield.read.hits import list_hits
from ncii_shield.scan.service import scan_path
from ncii_shield.sources import open_source
from ncii_shield.sources.detect import open_all
from ncii_shield.sources.warc import WarcSource, is_warc
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Source
from ncii_shield.web.auth import assign, create_user
from tests.conftest import ASSETS, cli_env, new_store
from tests.crawl_site import Running, site
from tests.test_scan import _case
from tests.test_web_authz import PASSWORD, _login
from tests.web_server import live_server

CLI = [sys.executable, "-m", "ncii_shield.cli.main"]
FAST = Limits(rate=200, max_bytes=1 << 20, timeout=5)
OBAMA = (ASSETS / "obama.jpg").read_bytes()


@pytest.fixture(scope="module")
def web() -> Iterator[Running]:
    with site() as running:
        yield running


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    store = new_store(tmp_path_factory.mktemp("warc") / "data")
    store.settings = dataclasses.replace(store.settings, crawl_allow=(ipaddress.ip_network("127.0.0.1/32"),))
    return store, _case(store, [ASSETS / "obama.jpg"])


def _items(store: Store, source_kind: str = "warc") -> dict[str, Item]:
    with store.session() as s:
        rows = s.scalars(select(Item).join(Source).where(Source.kind == source_kind)).all()
        return {str(r.extra["url"]): r for r in rows}


def test_a_crawl_scans_into_hits_with_url_provenance(enrolled: tuple[Store, int], web: Running) -> None:
    store, case_id = enrolled
    summary = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    done = scan_path(store, Path(summary.warc), case_id=case_id)
    (result,) = done.results
    assert result.status == "done" and result.error is None
    assert result.new_hits["exact"] == 1  # obama.jpg, served as-is
    items = _items(store)
    obama = items[f"{web.url}/img/obama.jpg"]
    assert obama.extra["http_status"] == 200 and obama.extra["linked_from"] == f"{web.url}/"
    assert str(obama.extra["warc_record_id"]).startswith("<urn:uuid:") and obama.extra["warc_digest"] == "ok"
    assert obama.date is not None and obama.extra["fetched_at"] == obama.date.isoformat()
    assert obama.chat_title == "127.0.0.1" and obama.chat_type == "website"
    with store.session() as s:
        hit_items = set(s.scalars(select(Hit.item_id).where(Hit.case_id == case_id)))
    assert obama.id in hit_items
    with store.session() as s:  # the review queue, the API and `review --json` show where it was found
        (row,) = [r for r in list_hits(s, case_id) if r.item_id == obama.id]
    assert row.url == f"{web.url}/img/obama.jpg" and row.to_json()["url"] == row.url
    table = subprocess.run(
        [*CLI, "--data-dir", str(store.settings.data_dir), "hits", str(case_id), "--wide"],
        env=cli_env(COLUMNS="240"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{web.url}/img/obama.jpg" in table.stdout  # in the "chat or URL" column
    with store.session() as s:
        create_user(s, "worker", PASSWORD, "case_worker", language="en")
        assign(s, "worker", case_id)
    with live_server(store) as url:
        client, _ = _login(url, "worker")
        page = client.get(f"/cases/{case_id}/review")
        assert page.status_code == 200 and f'title="{web.url}/img/obama.jpg"' in page.text
    # the redirect chain is provenance too; the page showed /r1, the image came from /img/astronaut.jpg
    astronaut = items[f"{web.url}/img/astronaut.jpg"]
    assert astronaut.extra["redirected_from"] == [f"{web.url}/r2", f"{web.url}/r1"]
    assert astronaut.extra["linked_from"] == f"{web.url}/"
    assert items[f"{web.url}/img/elephants.jpg"].extra["linked_from"] == f"{web.url}/page2.html"
    huge = items[f"{web.url}/huge.jpg"]  # cut at the cap: kept as an item, not decoded as a whole file
    assert huge.media_id is None and "WARC-Truncated" in str(huge.skip_reason)
    assert f"{web.url}/" not in items  # pages are not items; their images are

    # the same WARC again, and a new crawl of the unchanged site: nothing new (URL + content hash)
    assert scan_path(store, Path(summary.warc), case_id=case_id).results[0].items_new == 0
    again = run_crawl(store, [f"{web.url}/"], case_id=case_id, limits=FAST)
    rescan = scan_path(store, Path(again.warc), case_id=case_id).results[0]
    assert rescan.items_new == 0 and rescan.items_seen == result.items_seen and not rescan.new_hits
    with store.session() as s:
        assert len(s.scalars(select(Source).where(Source.kind == "warc")).all()) == 1  # one web source


def test_only_a_web_address_is_shown_as_a_hits_url() -> None:
    from ncii_shield.read.hits import _url

    assert _url({"url": "https://host.test/a.jpg"}) == "https://host.test/a.jpg"
    for extra in ({"url": "javascript:alert(1)"}, {"url": 5}, {}, None, {"size": 3}):
        assert _url(extra) is None


# --------------------------------------------------------------------- a WARC written by hand, as others do


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _record(
    kind: str, uri: str, block: bytes, payload: bytes | None = None, **headers: str
) -> tuple[str, bytes]:
    """One record in the header order Heritrix writes; returns (its id, its bytes)."""
    record_id = f"<urn:uuid:{uuid.uuid4()}>"
    lines = [
        "WARC/1.0",
        f"WARC-Type: {kind}",
        f"WARC-Target-URI: {uri}",
        "WARC-Date: 2024-03-01T10:20:30Z",
    ]
    if payload is not None:
        lines.append(f"WARC-Payload-Digest: {_sha1(payload)}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    lines += [
        f"WARC-Record-ID: {record_id}",
        f"WARC-Block-Digest: {_sha1(block)}",
        f"Content-Length: {len(block)}",
    ]
    return record_id, ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def _http(status: str, kind: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def _heritrix_style(path: Path, *, image: bytes = OBAMA) -> Path:
    """warcinfo, dns:, a page, an image whose request names the page (Referer), a revisit, and a PNG served
    as application/octet-stream (found by its first bytes)."""
    page = b'<html><body><img src="/photos/a.jpg"></body></html>'
    buffer = BytesIO()
    Image.open(BytesIO(OBAMA)).convert("RGB").resize((200, 200)).save(buffer, "PNG")
    png = buffer.getvalue()
    parts = []
    info = b"software: Heritrix/3.4.0 http://crawler.archive.org\r\nformat: WARC File Format 1.0\r\n"
    parts.append(_record("warcinfo", "", info, Content_Type="application/warc-fields")[1])
    parts.append(
        _record(
            "response",
            "dns:example.org",
            b"20240301102030\nexample.org. 300 IN A 93.184.216.34\n",
            Content_Type="text/dns",
        )[1]
    )
    page_response = _http("200 OK", "text/html", page)
    response_id, data = _record(
        "response",
        "http://example.org/",
        page_response,
        page,
        Content_Type="application/http; msgtype=response",
    )
    parts.append(data)
    request = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"
    parts.append(
        _record(
            "request",
            "http://example.org/",
            request,
            WARC_Concurrent_To=response_id,
            Content_Type="application/http; msgtype=request",
        )[1]
    )
    image_response = _http("200 OK", "image/jpeg", image)
    image_id, data = _record(
        "response",
        "http://example.org/photos/a.jpg",
        image_response,
        image,
        WARC_IP_Address="93.184.216.34",
        Content_Type="application/http; msgtype=response",
    )
    parts.append(data)
    request = b"GET /photos/a.jpg HTTP/1.1\r\nHost: example.org\r\nReferer: http://example.org/\r\n\r\n"
    parts.append(
        _record(
            "request",
            "http://example.org/photos/a.jpg",
            request,
            WARC_Concurrent_To=image_id,
            Content_Type="application/http; msgtype=request",
        )[1]
    )
    revisit = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n"
    parts.append(
        _record(
            "revisit",
            "http://mirror.example.net/a.jpg",
            revisit,
            WARC_Profile="http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
            Content_Type="application/http; msgtype=response",
        )[1]
    )
    octet = _http("200 OK", "application/octet-stream", png)
    parts.append(
        _record(
            "response",
            "http://cdn.example.net/blob?id=7",
            octet,
            png,
            Content_Type="application/http; msgtype=response",
        )[1]
    )
    gone = _http("404 Not Found", "image/jpeg", b"")
    parts.append(
        _record(
            "response",
            "http://example.org/photos/gone.jpg",
            gone,
            b"",
            Content_Type="application/http; msgtype=response",
        )[1]
    )
    path.write_bytes(b"".join(parts))
    return path


def test_a_warc_written_elsewhere_scans(tmp_path: Path) -> None:
    path = _heritrix_style(tmp_path / "crawl-20240301.warc")
    source = open_source(path)
    assert isinstance(source, WarcSource)
    items = {str(i.extra["url"]): i for i in source.iter_items()}
    assert set(items) == {"http://example.org/photos/a.jpg", "http://cdn.example.net/blob?id=7"}
    photo = items["http://example.org/photos/a.jpg"]
    assert photo.extra["linked_from"] == "http://example.org/" and photo.extra["http_status"] == 200
    assert photo.extra["warc_digest"] == "ok" and photo.date is not None and photo.date.year == 2024
    assert photo.external_id == f"http://example.org/photos/a.jpg sha256:{hashlib.sha256(OBAMA).hexdigest()}"
    assert source.tree.read_bytes(str(photo.media_path)) == OBAMA
    blob = items["http://cdn.example.net/blob?id=7"]
    assert (
        blob.media_path is not None
        and blob.extra["linked_from"] is None
        and blob.chat_title == "cdn.example.net"
    )
    # gzipped record by record, as the standard asks: the same items
    zipped = tmp_path / "crawl-20240301.warc.gz"
    with zipped.open("wb") as out:
        for record in _split(path.read_bytes()):
            out.write(gzip.compress(record))
    again = {str(i.extra["url"]): i.external_id for i in open_source(zipped).iter_items()}
    assert again == {url: item.external_id for url, item in items.items()}


def _split(data: bytes) -> list[bytes]:
    return [b"WARC/1.0" + part for part in data.split(b"WARC/1.0")[1:]]


def test_a_tampered_payload_is_kept_but_not_trusted(tmp_path: Path) -> None:
    path = _heritrix_style(tmp_path / "t.warc")
    data = path.read_bytes()
    at = data.index(OBAMA) + 5000
    path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    photo = next(i for i in open_source(path).iter_items() if str(i.extra["url"]).endswith("a.jpg"))
    assert photo.extra["warc_digest"] == "failed" and photo.media_path is None
    assert "does not match the digest" in str(photo.media_note)


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_a_truncated_warc_keeps_what_was_read(tmp_path: Path, cut: float) -> None:
    whole = _heritrix_style(tmp_path / "w.warc")
    zipped = tmp_path / "cut.warc.gz"
    zipped.write_bytes(b"".join(gzip.compress(r) for r in _split(whole.read_bytes())))
    data = zipped.read_bytes()
    zipped.write_bytes(data[: int(len(data) * cut)])
    source = open_source(zipped)
    read = []
    with pytest.raises(Exception, match=r"cut\.warc\.gz: .*byte \d+") as error:
        for item in source.iter_items():
            read.append(item)
    assert "\n" not in str(error.value)
    if cut > 0.9:
        assert any(str(i.extra["url"]).endswith("a.jpg") for i in read)  # read before the damage: kept


def test_damage_in_the_middle_and_a_whole_file_gzip(tmp_path: Path, enrolled: tuple[Store, int]) -> None:
    store, case_id = enrolled
    whole = _heritrix_style(tmp_path / "m.warc").read_bytes()
    at = whole.index(b"WARC/1.0", whole.index(OBAMA))  # the record after the photo
    broken = tmp_path / "broken.warc"
    broken.write_bytes(whole[:at] + b"WARC/1.0\r\nContent-Length: banana\r\n\r\n" + whole[at:])
    result = scan_path(store, broken, case_id=case_id).results[0]
    junk = len(b"WARC/1.0\r\nContent-Length: banana\r\n\r\n")
    found = re.search(
        r"^broken\.warc: damaged at byte (\d+): [^\n]+; what came before was read$", str(result.error)
    )
    assert (
        result.status == "partial" and found and at <= int(found.group(1)) <= at + junk + len(b"WARC/1.0\r\n")
    )
    assert result.items_seen >= 1  # the photo before the damage
    single = tmp_path / "single.warc.gz"
    single.write_bytes(gzip.compress(whole))  # one gzip member for the whole file: cannot seek
    result = scan_path(store, single, case_id=case_id).results[0]
    assert result.status == "partial" and "single.warc.gz" in str(result.error)


def test_detection(tmp_path: Path) -> None:
    path = _heritrix_style(tmp_path / "noname")
    assert is_warc(path) and isinstance(open_source(path), WarcSource)
    folder = tmp_path / "crawls"
    folder.mkdir()
    _heritrix_style(folder / "a.warc")
    _heritrix_style(folder / "b.warc")
    opened, _ = open_all(folder)
    assert [type(s).__name__ for s in opened.sources] == ["WarcSource", "WarcSource"]
    assert not is_warc(ASSETS / "obama.jpg")


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget is not installed")
def test_a_wget_warc_scans(tmp_path: Path, web: Running, enrolled: tuple[Store, int]) -> None:
    store, case_id = enrolled
    run = subprocess.run(
        [
            "wget",
            "--warc-file=wget-site",
            "-p",
            "-r",
            "-l",
            "1",
            "--no-verbose",
            "--tries=1",
            "--timeout=5",
            "-e",
            "robots=on",
            "-P",
            str(tmp_path / "files"),
            f"{web.url}/",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    path = tmp_path / "wget-site.warc.gz"
    assert path.is_file(), run.stderr
    items = {str(i.extra["url"]): i for i in open_source(path).iter_items()}
    obama = items[f"{web.url}/img/obama.jpg"]
    assert obama.extra["linked_from"] == f"{web.url}/"  # from the Referer wget sent
    assert obama.extra["http_status"] == 200 and obama.extra["warc_digest"] == "ok"
    assert items[f"{web.url}/img/astronaut.jpg"].extra["redirected_from"] == [
        f"{web.url}/r2",
        f"{web.url}/r1",
    ]
    result = scan_path(store, path, case_id=case_id).results[0]
    assert result.status == "done"  # the image bytes are ones our crawl stored: same URL and content


def test_garbage_and_empty_files_named_warc(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.warc"
    garbage.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(Exception, match=r"^garbage\.warc: damaged at byte 0: .*what came before was read$"):
        list(open_source(garbage).iter_items())
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert list(WarcSource(empty).iter_items()) == []


def test_a_hash_only_case_keeps_no_warc(tmp_path: Path, web: Running) -> None:
    from ncii_shield.cases.service import open_case
    from ncii_shield.errors import NciiError
    from ncii_shield.store.models import AuditEvent

    store = new_store(tmp_path / "data")
    store.settings = dataclasses.replace(store.settings, crawl_allow=(ipaddress.ip_network("127.0.0.1/32"),))
    with store.session() as s:
        case_id = open_case(s, "minor", consent_by="guardian", consent_method="form", minor=True).id
    with pytest.raises(NciiError, match="keeps hashes only"):
        run_crawl(store, [f"{web.url}/page2.html"], case_id=case_id, limits=FAST)
    summary = run_crawl(store, [f"{web.url}/page2.html"], case_id=case_id, limits=FAST, scan=True)
    assert summary.warc_deleted and not Path(summary.warc).exists()
    assert summary.scans[0]["status"] == "done" and summary.scans[0]["items_new"] == 2  # page2's, page3's
    with store.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id))]
    assert "crawl.warc_deleted" in actions
