"""Uploading an export from the browser (web/uploads.py, web/pages_upload.py), over real HTTP, as an attacker
would try it: crafted zips, offsets that skip or overlap, chunks past the declared size or the cap, names with
../ or NUL, two chunks at once, another case's upload, a full disk. Each is refused with one line, and nothing
already stored is lost."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import os
import re
import stat
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Scan, Source
from ncii_shield.web import uploads
from ncii_shield.web.auth import assign, create_user
from tests.conftest import ASSETS, new_store
from tests.exports import message, write_export
from tests.test_scan import _case
from tests.web_server import live_server

PASSWORD = "a long enough passphrase"
JSON = {"Accept": "application/json"}


@dataclass
class Site:
    url: str
    store: Store
    a: int  # case of worker_a (and of the reviewer)
    b: int  # case of worker_b
    tmp: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("upload")
    store = new_store(tmp / "data")
    photo = ASSETS / "obama.jpg"
    a, b = _case(store, [photo]), _case(store, [photo])
    with store.session() as s:
        for name, role, case in (("worker_a", "case_worker", a), ("worker_b", "case_worker", b)):
            create_user(s, name, PASSWORD, role, language="en")
            assign(s, name, case)
        create_user(s, "reviewer", PASSWORD, "reviewer", language="en")
        assign(s, "reviewer", a)
    with live_server(store) as url:
        yield Site(url, store, a, b, tmp)
    store.close()


def login(site: Site, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=site.url, follow_redirects=False, timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 303
    page = client.get("/cases")
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def export_zip(tmp: Path, name: str = "ChatExport_2024-08-24", photo: str = "obama2.jpg") -> bytes:
    """A small benign Telegram Desktop JSON export, zipped with its folder (as people send them)."""
    root = tmp / name
    write_export(
        root,
        [message(1, photo="photos/a.jpg", text="look"), message(2, text="plain words")],
        chat_id=1801230001,
        files={"photos/a.jpg": (ASSETS / photo).read_bytes()},
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            archive.write(path, f"{name}/{path.relative_to(root)}")
    return buffer.getvalue()


def start(client: httpx.Client, csrf: str, case: int, name: str, size: int, key: str = "") -> httpx.Response:
    form = {"csrf_token": csrf, "name": name, "size": str(size), "key": key or f"{name}|{size}|{time.time()}"}
    return client.post(f"/cases/{case}/uploads", data=form, headers=JSON)


def chunk(
    client: httpx.Client, csrf: str, case: int, upload: str, offset: int, data: bytes
) -> httpx.Response:
    return client.post(
        f"/cases/{case}/uploads/{upload}/chunk",
        params={"offset": offset},
        content=data,
        headers={**JSON, "X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
    )


def finish(client: httpx.Client, csrf: str, case: int, upload: str, data: bytes) -> httpx.Response:
    form = {"csrf_token": csrf, "sha256": hashlib.sha256(data).hexdigest()}
    return client.post(f"/cases/{case}/uploads/{upload}/finish", data=form, headers=JSON)


def send_all(
    client: httpx.Client, csrf: str, case: int, name: str, data: bytes
) -> tuple[str, httpx.Response]:
    upload = start(client, csrf, case, name, len(data)).json()["id"]
    assert chunk(client, csrf, case, upload, 0, data).json() == {"offset": len(data)}
    return upload, finish(client, csrf, case, upload, data)


def counts(store: Store) -> tuple[int, int]:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(Source)), s.scalar(
            select(func.count()).select_from(Scan)
        )  # type: ignore[return-value]


def spool(site: Site, case: int, upload: str = "") -> Path:
    return site.store.settings.data_dir / "uploads" / str(case) / upload


def wait_for(client: httpx.Client, case: int, job: str) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while True:
        state = client.get(f"/cases/{case}/scans/{job}/progress").json()
        if state["finished"] or time.monotonic() > deadline:
            return state  # type: ignore[no-any-return]
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------ the good path


def test_an_upload_resumes_after_a_drop_is_scanned_and_its_spool_deleted(site: Site) -> None:
    client, csrf = login(site, "worker_a")
    data = export_zip(site.tmp / "good")
    key = f"ChatExport_2024-08-24.zip|{len(data)}|1"
    first = start(client, csrf, site.a, "ChatExport_2024-08-24.zip", len(data), key).json()
    upload = first["id"]
    assert first["offset"] == 0 and first["size"] == len(data)
    folder = spool(site, site.a, upload)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    third = len(data) // 3
    assert chunk(client, csrf, site.a, upload, 0, data[:third]).json() == {"offset": third}
    # The connection drops mid-chunk: what arrived of that chunk is cut back, the offset stays.
    with pytest.raises(Exception, match=r"dropped|closed|reset|disconnect"):
        client.post(
            f"/cases/{site.a}/uploads/{upload}/chunk",
            params={"offset": third},
            content=_broken(data[third : 2 * third]),
            headers={"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"},
        )
    _until(lambda: client.get(f"/cases/{site.a}/uploads/{upload}", headers=JSON).json()["offset"] == third)
    # After a reload the page asks again for the same file: the same upload, with what the server holds.
    again = start(client, csrf, site.a, "ChatExport_2024-08-24.zip", len(data), key).json()
    assert again["id"] == upload and again["offset"] == third
    assert client.get(f"/cases/{site.a}/uploads/{upload}", headers=JSON).json()["offset"] == third
    # Offsets that skip ahead or overlap are refused, and change nothing.
    for wrong in (third + 1, third - 1, 0):
        refused = chunk(client, csrf, site.a, upload, wrong, data[wrong : wrong + 10])
        assert refused.status_code == 409 and f"resume from byte {third}" in refused.json()["hint"]
    assert chunk(client, csrf, site.a, upload, third, data[third:]).json() == {"offset": len(data)}
    assert (folder / ".part").read_bytes() == data
    before = counts(site.store)
    done = finish(client, csrf, site.a, upload, data)
    assert done.status_code == 200, done.text
    state = wait_for(client, site.a, done.json()["job"])
    assert state["finished"] and state["error"] is None, state
    assert state["items"] == 2 and state["summary"]["new_hits"].get("face"), state  # type: ignore[union-attr]
    assert state["spool_deleted"] and not folder.exists()  # the scan ingested it; nothing of it stays
    assert counts(site.store) == (before[0] + 1, before[1] + 1)
    page = client.get(f"/cases/{site.a}/scans").text
    new_hits = sum(state["summary"]["new_hits"].values())  # type: ignore[union-attr]
    assert f"New hits: {new_hits}" in page and "deleted from the server after the scan" in page
    assert 'id="open-uploads"' not in page
    with site.store.session() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.case_id == site.a)))
    assert {"upload.started", "scan.requested"} <= actions


def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _broken(data: bytes) -> Iterator[bytes]:
    yield data[: len(data) // 2]
    raise ConnectionResetError("the connection dropped")


# ------------------------------------------------------------------------------------------ who may


def test_only_those_who_may_scan_the_case_may_upload_to_it_or_resume_its_uploads(site: Site) -> None:
    a, csrf_a = login(site, "worker_a")
    b, csrf_b = login(site, "worker_b")
    reviewer, csrf_r = login(site, "reviewer")
    upload = start(a, csrf_a, site.a, "x.zip", 100).json()["id"]
    assert start(reviewer, csrf_r, site.a, "x.zip", 100).status_code == 403  # assigned, but may not scan
    assert start(b, csrf_b, site.a, "x.zip", 100).status_code == 403  # not assigned to case A
    for response in (
        b.get(f"/cases/{site.a}/uploads/{upload}", headers=JSON),
        chunk(b, csrf_b, site.a, upload, 0, b"PK"),
        finish(b, csrf_b, site.a, upload, b""),
    ):
        assert response.status_code == 403, response.text
    # Case A's upload id under worker B's own case: not found there, and nothing written.
    for response in (
        b.get(f"/cases/{site.b}/uploads/{upload}", headers=JSON),
        chunk(b, csrf_b, site.b, upload, 0, b"PK"),
        finish(b, csrf_b, site.b, upload, b""),
    ):
        assert response.status_code == 404, response.text
    assert (spool(site, site.a, upload) / ".part").stat().st_size == 0
    # Ids that are paths are never looked up.
    assert b.get(f"/cases/{site.b}/uploads/..%2F..%2Fetc", headers=JSON).status_code == 404
    # No CSRF token, no chunk and no start.
    no_token = a.post(f"/cases/{site.a}/uploads/{upload}/chunk?offset=0", content=b"PK", headers=JSON)
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    assert start(a, "forged", site.a, "y.zip", 10).status_code == 403
    anonymous = httpx.Client(base_url=site.url, follow_redirects=False)
    assert (
        anonymous.post(f"/cases/{site.a}/uploads/{upload}/chunk?offset=0", content=b"PK").status_code == 303
    )


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "name",
    ["../x.zip", "..", "a\x00b.zip", ".hidden.zip", "a/b.zip", "C:\\x.zip", "x\n.zip", "notes.exe", ""],
)
def test_names_that_are_paths_or_not_exports_are_refused(site: Site, name: str) -> None:
    client, csrf = login(site, "worker_a")
    before = sorted(spool(site, site.a).glob("*")) if spool(site, site.a).is_dir() else []
    refused = start(client, csrf, site.a, name, 10)
    assert refused.status_code == 400 and refused.json()["detail"], refused.text
    assert "\n" not in refused.json()["detail"]
    after = sorted(spool(site, site.a).glob("*")) if spool(site, site.a).is_dir() else []
    assert after == before


def test_sizes_past_the_declared_size_or_the_caps_are_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, csrf = login(site, "worker_b")
    cap = site.store.settings.upload_max_mb * uploads.MIB
    over = start(client, csrf, site.b, "big.zip", cap + 1)
    assert over.status_code == 400 and "over the upload limit" in over.json()["detail"]
    assert "NCII_UPLOAD_MAX_MB" in over.json()["hint"]
    upload = start(client, csrf, site.b, "small.zip", 100).json()["id"]
    assert chunk(client, csrf, site.b, upload, 0, b"P" * 60).json() == {"offset": 60}
    past = chunk(client, csrf, site.b, upload, 60, b"K" * 41)  # one byte past the declared size
    assert past.status_code == 400 and "past the size declared" in past.json()["detail"]
    assert client.get(f"/cases/{site.b}/uploads/{upload}", headers=JSON).json()["offset"] == 60
    monkeypatch.setattr(uploads, "MAX_CHUNK", 16)
    big = chunk(client, csrf, site.b, upload, 60, b"K" * 17)
    assert big.status_code == 400 and "at most" in big.json()["detail"]
    assert (spool(site, site.b, upload) / ".part").read_bytes() == b"P" * 60
    early = finish(client, csrf, site.b, upload, b"P" * 60)
    assert early.status_code == 409 and "only 60 of 100 bytes" in early.json()["detail"]


def _zip(members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


_RESULT = b'{"name": "r", "type": "private_group", "id": 5, "messages": []}'
CRAFTED = {
    "zip-slip": (
        [("ChatExport/result.json", _RESULT), ("../../evil.sh", b"#!/bin/sh")],
        "leaves the archive",
    ),
    "absolute": ([("ChatExport/result.json", _RESULT), ("/etc/cron.d/evil", b"x")], "leaves the archive"),
    "symlink": (
        [("ChatExport/result.json", _RESULT), _link("ChatExport/photos/a.jpg", "/etc/passwd")],
        "link",
    ),
    "ratio-bomb": (
        [("ChatExport/result.json", _RESULT), ("ChatExport/photos/a.jpg", bytes(8 << 20))],
        "zip bomb",
    ),
    "total-size": (
        [("ChatExport/result.json", _RESULT)]
        + [(f"ChatExport/f{i}.jpg", os.urandom(3000)) for i in range(4)],
        "unpacks to more than",
    ),
    "not-an-export": ([("notes.txt", b"hello")], "holds no Telegram export"),
}


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_zips_are_refused_whole_and_nothing_stored_is_lost(
    site: Site, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intake layer's own checks (sources/tree.py), run when the upload finishes: before any scan row."""
    members, says = CRAFTED[kind]
    if kind == "total-size":
        monkeypatch.setattr(
            site.store, "settings", dataclasses.replace(site.store.settings, zip_max_bytes=5000)
        )
    data = _zip(members)
    client, csrf = login(site, "worker_b")
    before = counts(site.store)
    upload, refused = send_all(client, csrf, site.b, f"{kind}.zip", data)
    assert refused.status_code == 400 and says in refused.json()["detail"], refused.text
    assert "\n" not in refused.json()["detail"]
    assert counts(site.store) == before
    assert not spool(site, site.b, upload).exists()  # a refused file is not kept either
    assert not (site.tmp.parent / "evil.sh").exists() and not Path("/etc/cron.d/evil").exists()


def test_a_damaged_upload_is_refused_by_its_checksum(site: Site) -> None:
    client, csrf = login(site, "worker_b")
    data = export_zip(site.tmp / "damaged")
    upload = start(client, csrf, site.b, "e.zip", len(data)).json()["id"]
    chunk(client, csrf, site.b, upload, 0, data)
    refused = finish(client, csrf, site.b, upload, data + b"x")  # the browser hashed other bytes
    assert refused.status_code == 400 and "SHA-256" in refused.json()["detail"]
    assert not spool(site, site.b, upload).exists()


# ------------------------------------------------------------------------------------------ races, failures


def test_two_chunks_of_one_upload_at_once_one_is_refused(site: Site) -> None:
    client, csrf = login(site, "worker_b")
    other, other_csrf = login(site, "worker_b")
    upload = start(client, csrf, site.b, "race.zip", 2000).json()["id"]
    release = threading.Event()

    def slow() -> Iterator[bytes]:
        yield b"a" * 500
        release.wait(10)
        yield b"a" * 500

    result: dict[str, httpx.Response] = {}
    thread = threading.Thread(
        target=lambda: result.update(first=chunk(client, csrf, site.b, upload, 0, slow()))
    )  # type: ignore[arg-type]
    thread.start()
    time.sleep(0.5)
    second = other.post(
        f"/cases/{site.b}/uploads/{upload}/chunk",
        params={"offset": 0},
        content=b"b" * 1000,
        headers={**JSON, "X-CSRF-Token": other_csrf},
    )
    release.set()
    thread.join(20)
    assert second.status_code == 409 and "being received" in second.json()["detail"]
    assert result["first"].json() == {"offset": 1000}
    assert (spool(site, site.b, upload) / ".part").read_bytes() == b"a" * 1000


def test_a_full_disk_cuts_the_chunk_back_and_the_upload_resumes(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, csrf = login(site, "worker_b")
    data = b"PK" + os.urandom(998)
    upload = start(client, csrf, site.b, "full.zip", len(data)).json()["id"]
    assert chunk(client, csrf, site.b, upload, 0, data[:400]).json() == {"offset": 400}
    real = uploads.ChunkSink.write

    def disk_full(self: uploads.ChunkSink, piece: bytes) -> None:
        real(self, piece[:100])  # part of it reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(uploads.ChunkSink, "write", disk_full)
    full = chunk(client, csrf, site.b, upload, 400, data[400:])
    assert full.status_code == 503 and full.json()["detail"] == "the server's disk is full"
    monkeypatch.undo()
    assert client.get(f"/cases/{site.b}/uploads/{upload}", headers=JSON).json()["offset"] == 400
    assert chunk(client, csrf, site.b, upload, 400, data[400:]).json() == {"offset": len(data)}
    assert (spool(site, site.b, upload) / ".part").read_bytes() == data


def test_a_failure_while_finishing_registers_nothing_and_finishing_again_works(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, csrf = login(site, "worker_b")
    data = export_zip(site.tmp / "finish", name="ChatExport_2024-09-01", photo="obama.jpg")
    upload = start(client, csrf, site.b, "ChatExport_2024-09-01.zip", len(data)).json()["id"]
    chunk(client, csrf, site.b, upload, 0, data)
    before = counts(site.store)

    def no_disk(path: Path, settings: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(uploads, "_check_content", no_disk)
    failed = finish(client, csrf, site.b, upload, data)
    assert failed.status_code == 503 and "could not be checked" in failed.json()["detail"]
    assert counts(site.store) == before
    assert client.get(f"/cases/{site.b}/uploads/{upload}", headers=JSON).json()["offset"] == len(data)
    monkeypatch.undo()
    done = finish(client, csrf, site.b, upload, data)
    assert done.status_code == 200, done.text
    state = wait_for(client, site.b, done.json()["job"])
    assert state["finished"] and state["error"] is None and state["spool_deleted"], state
    assert counts(site.store)[1] == before[1] + 1


def test_unfinished_uploads_older_than_a_day_are_deleted_when_the_next_starts(site: Site) -> None:
    client, csrf = login(site, "worker_a")
    old = start(client, csrf, site.a, "old.zip", 50).json()["id"]
    fresh = start(client, csrf, site.a, "fresh.zip", 50).json()["id"]
    chunk(client, csrf, site.a, old, 0, b"PK" * 5)
    two_days = time.time() - 2 * 24 * 3600
    for path in [spool(site, site.a, old), *spool(site, site.a, old).iterdir()]:
        os.utime(path, (two_days, two_days))
    page = client.get(f"/cases/{site.a}/scans").text
    assert "old.zip: 20 %" in page  # offered for resuming until it is cleaned up
    start(client, csrf, site.a, "new.zip", 50)
    assert not spool(site, site.a, old).exists() and spool(site, site.a, fresh).exists()


def test_finishing_while_the_case_is_being_scanned_keeps_the_upload_for_later(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ncii_shield.web import scans

    monkeypatch.setattr(uploads, "OPEN_PER_CASE", 100)
    client, csrf = login(site, "worker_a")
    first = export_zip(site.tmp / "busy1", name="ChatExport_2024-10-01")
    second = export_zip(site.tmp / "busy2", name="ChatExport_2024-10-02", photo="obama.jpg")
    release = threading.Event()
    real_scan = scans.scan_path

    def held(*args: object, **kwargs: object) -> object:
        release.wait(30)
        return real_scan(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scans, "scan_path", held)
    _, running = send_all(client, csrf, site.a, "ChatExport_2024-10-01.zip", first)
    assert running.status_code == 200, running.text
    upload = start(client, csrf, site.a, "ChatExport_2024-10-02.zip", len(second)).json()["id"]
    chunk(client, csrf, site.a, upload, 0, second)
    busy = finish(client, csrf, site.a, upload, second)
    assert busy.status_code == 409 and "already running" in busy.json()["detail"]
    assert client.get(f"/cases/{site.a}/uploads/{upload}", headers=JSON).json()["offset"] == len(second)
    release.set()
    assert wait_for(client, site.a, running.json()["job"])["error"] is None
    later = finish(client, csrf, site.a, upload, second)
    assert later.status_code == 200, later.text
    state = wait_for(client, site.a, later.json()["job"])
    assert state["error"] is None and state["spool_deleted"] and not spool(site, site.a, upload).exists()
    # A case's unfinished uploads are bounded: each may be as large as the cap.
    monkeypatch.setattr(uploads, "OPEN_PER_CASE", len(list(spool(site, site.a).iterdir())))
    refused = start(client, csrf, site.a, "one-more.zip", 10)
    assert refused.status_code == 409 and "unfinished uploads" in refused.json()["detail"]


def test_a_zipped_html_export_is_scanned_like_a_json_one(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram Desktop's default format: the same intake reads it from the upload."""
    from ncii_shield.demo.html_export import write_html_export, zip_export

    monkeypatch.setattr(uploads, "OPEN_PER_CASE", 100)
    json_dir = site.tmp / "html-src"
    write_export(
        json_dir,
        [message(1, photo="photos/a.jpg", text="look"), message(2, text="plain words")],
        chat_id=1801230077,
        files={"photos/a.jpg": (ASSETS / "obama.jpg").read_bytes()},
    )
    html = write_html_export(json_dir, site.tmp / "html", thumbs=False)
    data = zip_export(html, site.tmp / "html.zip", top="ChatExport_2024-11-05").read_bytes()
    client, csrf = login(site, "worker_b")
    upload, done = send_all(client, csrf, site.b, "ChatExport_2024-11-05.zip", data)
    assert done.status_code == 200, done.text
    state = wait_for(client, site.b, done.json()["job"])
    assert state["error"] is None and state["items"] == 2 and state["spool_deleted"], state
    assert not spool(site, site.b, upload).exists()
    assert "ChatExport_2024-11-05" in client.get(f"/cases/{site.b}/scans").text


def test_purging_a_case_deletes_its_unfinished_uploads(tmp_path: Path) -> None:
    """Purge shreds a case's keys; an upload waiting in clear for that case must not outlive it."""
    from ncii_shield.cases.retention import purge_case

    store = new_store(tmp_path / "data")
    keep, doomed = _case(store), _case(store)
    spool = uploads.Spool(store.settings)
    waiting = {c: spool.start(c, "ChatExport.zip", 10, "k", "worker", keep=set()) for c in (keep, doomed)}
    with store.session() as s:
        purge_case(store, s, doomed)
    assert not (store.settings.upload_dir / str(doomed)).exists()
    assert spool.get(keep, waiting[keep].id).size == 10
    store.close()


def test_a_case_worker_deletes_an_unfinished_upload_and_no_one_else_can(site: Site) -> None:
    a, csrf_a = login(site, "worker_a")
    b, csrf_b = login(site, "worker_b")
    upload = start(a, csrf_a, site.a, "to-delete.zip", 50).json()["id"]
    chunk(a, csrf_a, site.a, upload, 0, b"PK" * 10)
    page = a.get(f"/cases/{site.a}/scans").text
    assert f'action="/cases/{site.a}/uploads/{upload}/delete"' in page and 'form="delete-' in page
    assert b.post(f"/cases/{site.a}/uploads/{upload}/delete", data={"csrf_token": csrf_b}).status_code == 403
    assert b.post(f"/cases/{site.b}/uploads/{upload}/delete", data={"csrf_token": csrf_b}).status_code == 404
    assert (
        a.post(f"/cases/{site.a}/uploads/{upload}/delete", data={"csrf_token": "forged"}).status_code == 403
    )
    assert spool(site, site.a, upload).exists()
    done = a.post(f"/cases/{site.a}/uploads/{upload}/delete", data={"csrf_token": csrf_a})
    assert done.status_code == 303 and done.headers["location"] == f"/cases/{site.a}/scans"
    assert not spool(site, site.a, upload).exists()
    assert f"uploads/{upload}/delete" not in a.get(f"/cases/{site.a}/scans").text
    with site.store.session() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "upload.deleted")) == 1
