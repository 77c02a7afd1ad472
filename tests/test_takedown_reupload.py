"""Re-uploads re-noticed (issue 16, item 5): a removed image found again gets a notice drafted for its new
location, once, where detection runs (after a scan, on a worker pass), and the case worker approves or
dismisses it from the board. Real scans of crawled folders, a real loopback HTTP platform and SMTP sink."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.review.decisions import decide
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store
from ncii_shield.store.models import Alert, AuditEvent, Notice, NoticeItem, TakedownEvent
from ncii_shield.takedown.reupload import approve, dismiss, renotice, renotice_cases
from ncii_shield.takedown.service import draft, mark, recheck
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.takedown.worker import Worker
from ncii_shield.web.auth import assign, create_user
from tests import test_takedown_flow as flow
from tests.conftest import ASSETS, cli_env, new_store
from tests.test_scan import _case
from tests.test_takedown_flow import PAGES, _crawl, _Inbox, _jpeg
from tests.test_takedown_worker import FAST, _settings
from tests.web_server import live_server

web, smtp = flow.web, flow.smtp  # the loopback platform and its SMTP abuse desk (fixtures)
PHOTO = ASSETS / "obama.jpg"
ORG, EMAIL = "Support Desk", "desk@support.test"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store whose settings name the sender, as a deployment that drafts notices does."""
    monkeypatch.setenv("NCII_REPORTER_ORG", ORG)
    monkeypatch.setenv("NCII_REPORTER_EMAIL", EMAIL)
    s = new_store(tmp_path / "data")
    yield s
    s.close()


def _removed(store: Store, tmp_path: Path, web: str) -> tuple[int, int]:
    """A case whose notice to the host had a.jpg removed (b.jpg still up): (case id, notice id)."""
    case_id = _case(store, [PHOTO])
    crawl = _crawl(tmp_path / "crawl1", web, {"a.jpg": _jpeg(PHOTO, 900), "b.jpg": _jpeg(PHOTO, 700)})
    PAGES.update({"/post/a.jpg": 200, "/post/b.jpg": 200})
    scan_path(store, crawl, case_id=case_id, workers=1)
    with store.session() as s:
        decide(s, case_id, "confirmed", "her photo", undecided_only=True)
        (notice,) = draft(
            s, case_id, reporter_organisation=ORG, reporter_email=EMAIL, hosting_contact="abuse@host.test"
        )
        mark(s, notice.id, "sent", "sent by hand")
        notice_id = notice.id
    PAGES["/post/a.jpg"] = 404
    with store.session() as s:
        assert {r.status for r in recheck(s, case_id, retries=0, timeout=5)} == {"removed", "still_up"}
    return case_id, notice_id


def _reupload(store: Store, tmp_path: Path, web: str, case_id: int, name: str = "c.jpg") -> Path:
    crawl = _crawl(tmp_path / f"crawl-{name}", web, {name: _jpeg(PHOTO, 640)})
    PAGES[f"/post/{name}"] = 200
    scan_path(store, crawl, case_id=case_id, workers=1)
    return crawl


def _count(store: Store, model: type, *where: object) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_scan_that_finds_a_removed_image_again_drafts_one_notice_for_review(
    store: Store, tmp_path: Path, web: str, smtp: tuple[SmtpSettings, _Inbox]
) -> None:
    case_id, original_id = _removed(store, tmp_path, web)
    crawl = _reupload(store, tmp_path, web, case_id)
    with store.session() as s:
        (alert,) = reupload_alerts(s, case_id)
        assert alert.status == "drafted" and alert.notice_id is not None
        assert alert.original_notice_id == original_id and alert.removed_at is not None
        notice = s.get(Notice, alert.notice_id)
        original = s.get(Notice, original_id)
        assert notice is not None and original is not None and original.sent_at is not None
        # A draft waits for a person: never queued by itself.
        assert notice.status == "drafted" and notice.platform_id == "hosting"
        assert notice.to == "abuse@host.test", "the same site: the same abuse desk as the first notice"
        assert notice.language == original.language == "en"
        assert [i.url for i in notice.items] == [f"{web}/post/c.jpg"]
        assert notice.subject.startswith("[Re-upload] ")
        row = s.get(Alert, alert.id)
        removed = s.get(NoticeItem, row.notice_item_id) if row is not None else None
        assert removed is not None and removed.url == f"{web}/post/a.jpg" and removed.status == "reappeared"
        assert removed.removed_at == alert.removed_at
        assert (
            f"this content was removed on {alert.removed_at:%Y-%m-%d %H:%M} UTC after our notice of "
            f"{original.sent_at:%Y-%m-%d %H:%M} UTC" in notice.body
        )
        assert "it has been re-uploaded" in notice.body and "TAKE IT DOWN" in notice.body
        assert ORG in notice.body and EMAIL in notice.body
        events = s.scalars(select(TakedownEvent).where(TakedownEvent.notice_id == notice.id)).all()
        linked = next(e for e in events if e.status == "reupload_of")
        assert linked.evidence["original_notice"] == original_id and linked.evidence["alert"] == alert.id
        actions = set(s.scalars(select(AuditEvent.action)))
        assert {"takedown.reappeared", "takedown.reupload_drafted"} <= actions
    # The same export scanned again, and the worker's pass: nothing more.
    scan_path(store, crawl, case_id=case_id, workers=1)
    settings, inbox = smtp
    worker = Worker(store, _settings(store, NCII_REPORTER_ORG=ORG, NCII_REPORTER_EMAIL=EMAIL), smtp=settings)
    assert worker.run_once().renoticed == []
    assert _count(store, Alert) == 1 and _count(store, Notice) == 2
    assert inbox.messages == [], "not sent before a person approved it"

    # Approved on the board: queued, and the next pass sends it.
    with store.session() as s:
        approve(s, case_id, alert.id)
    with store.session() as s:
        (done,) = reupload_alerts(s, case_id)
        assert done.status == "queued" and done.notice_status == "queued" and done.resolved_by
    report = Worker(
        store, _settings(store, NCII_REPORTER_ORG=ORG, NCII_REPORTER_EMAIL=EMAIL), smtp=settings, options=FAST
    ).run_once()
    assert report.sent == [alert.notice_id]
    ((rcpt, message),) = inbox.messages
    assert rcpt == ["abuse@host.test"] and str(message["Subject"]).startswith("[Re-upload]")
    with store.session() as s, pytest.raises(Conflict):
        approve(s, case_id, alert.id)


def test_two_workers_at_once_draft_one_notice(store: Store, tmp_path: Path, web: str) -> None:
    case_id, _ = _removed(store, tmp_path, web)
    crawl = _crawl(tmp_path / "crawl2", web, {"c.jpg": _jpeg(PHOTO, 640)})
    from ncii_shield.scan.pipeline import run_scan
    from ncii_shield.sources import open_source

    run_scan(
        store, open_source(crawl), location=crawl, case_id=case_id, workers=1
    )  # no hook: detection races
    settings = _settings(store, NCII_REPORTER_ORG=ORG, NCII_REPORTER_EMAIL=EMAIL)
    start = threading.Barrier(4)
    drafted: list[int] = []
    errors: list[BaseException] = []

    def look() -> None:
        try:
            start.wait()
            drafted.extend(renotice_cases(store, settings).drafted)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=look) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(drafted) == 1
    assert _count(store, Alert) == 1
    assert _count(store, Notice, Notice.subject.is_not(None)) == 2
    with store.session() as s:
        assert len([n for n in s.scalars(select(Notice)) if n.subject.startswith("[Re-upload]")]) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "takedown.reupload_drafted")) == 1  # fmt: skip
    # A new copy, scanned twice: one more notice, and only one.
    again = _reupload(store, tmp_path, web, case_id, "d.jpg")
    scan_path(store, again, case_id=case_id, workers=1)
    assert _count(store, Alert) == 2 and _count(store, Notice) == 3


def test_without_a_sender_the_alert_waits_and_says_what_to_set(tmp_path: Path, web: str) -> None:
    store = new_store(tmp_path / "bare")
    try:
        case_id, _ = _removed(store, tmp_path, web)
        _reupload(store, tmp_path, web, case_id)
        with store.session() as s:
            (alert,) = reupload_alerts(s, case_id)
            assert alert.status == "new" and alert.notice_id is None
        report = Worker(store, _settings(store)).run_once()
        assert report.renoticed == [] and any("NCII_REPORTER_ORG" in e for e in report.errors)
        report = Worker(store, _settings(store, NCII_REPORTER_ORG=ORG, NCII_REPORTER_EMAIL=EMAIL)).run_once()
        assert len(report.renoticed) == 1
    finally:
        store.close()


def test_another_host_needs_its_abuse_contact_and_a_dismissal_needs_a_reason(
    store: Store, tmp_path: Path, web: str
) -> None:
    case_id, _ = _removed(store, tmp_path, web)
    other = web.replace("127.0.0.1", "localhost")  # another host name for the same loopback server
    crawl = _crawl(tmp_path / "elsewhere", other, {"c.jpg": _jpeg(PHOTO, 640)})
    scan_path(store, crawl, case_id=case_id, workers=1)
    with store.session() as s:
        (alert,) = reupload_alerts(s, case_id)
        assert alert.status == "manual" and "abuse contact of localhost" in (alert.reason or "")
        with pytest.raises(Conflict):
            approve(s, case_id, alert.id)
        with pytest.raises(NciiError, match="why"):
            dismiss(s, case_id, alert.id, "   ")
        with pytest.raises(NotFound):
            dismiss(s, case_id + 1, alert.id, "not this case's")
        dismiss(s, case_id, alert.id, "reported to that host by phone")
    with store.session() as s:
        (gone,) = reupload_alerts(s, case_id)
        assert gone.status == "dismissed" and gone.reason == "reported to that host by phone"
        assert not gone.actionable
        assert "takedown.reupload_dismissed" in set(s.scalars(select(AuditEvent.action)))


def test_a_rejected_hit_is_not_drafted_and_a_dismissed_draft_is_closed(
    store: Store, tmp_path: Path, web: str
) -> None:
    case_id, _ = _removed(store, tmp_path, web)
    _reupload(store, tmp_path, web, case_id)
    with store.session() as s:
        (alert,) = reupload_alerts(s, case_id)
        dismiss(s, case_id, alert.id, "her own photo, not a deepfake")
    with store.session() as s:
        assert s.get(Notice, alert.notice_id).status == "closed"  # type: ignore[union-attr]
    crawl = _crawl(tmp_path / "crawl-e", web, {"e.jpg": _jpeg(PHOTO, 600)})
    from ncii_shield.scan.pipeline import run_scan
    from ncii_shield.sources import open_source

    run_scan(store, open_source(crawl), location=crawl, case_id=case_id, workers=1)
    with store.session() as s:
        decide(s, case_id, "rejected", "not her", undecided_only=True)
        done = renotice(s, case_id, reporter_organisation=ORG, reporter_email=EMAIL)
        assert done.drafted == [] and len(done.manual) == 1
        assert reupload_alerts(s, case_id)[-1].reason == "the new hit was rejected in review"


def test_the_board_shows_the_alert_and_acts_on_it(store: Store, tmp_path: Path, web: str) -> None:
    case_id, _ = _removed(store, tmp_path, web)
    _reupload(store, tmp_path, web, case_id)
    with store.session() as s:
        create_user(s, "worker", "a long enough passphrase", "case_worker", language="en")
        assign(s, "worker", case_id)
        (alert,) = reupload_alerts(s, case_id)
    with live_server(store) as url:
        client = httpx.Client(base_url=url, timeout=30)
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        client.post(
            "/login", data={"username": "worker", "password": "a long enough passphrase", "csrf_token": token}
        )
        board = client.get(f"/cases/{case_id}/takedown")
        assert board.status_code == 200
        assert f'data-alert="{alert.id}" data-status="drafted"' in board.text
        assert f'href="/notices/{alert.notice_id}"' in board.text and "Approve and queue" in board.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', board.text).group(1)  # type: ignore[union-attr]
        base = f"/cases/{case_id}/takedown/alerts/{alert.id}"
        assert client.post(f"{base}/dismiss", data={"csrf_token": csrf, "reason": ""}).status_code == 400
        done = client.post(f"{base}/approve", data={"csrf_token": csrf}, follow_redirects=False)
        assert done.status_code == 303
        board = client.get(f"/cases/{case_id}/takedown")
        assert f'data-alert="{alert.id}" data-status="queued"' in board.text
        assert "is queued for sending" in board.text
        assert client.post(f"{base}/approve", data={"csrf_token": csrf}).status_code == 409


def test_the_api_lists_approves_and_dismisses_as_the_board_does(
    store: Store, tmp_path: Path, web: str
) -> None:
    """/api/v1/cases/N/takedown/alerts…: the same states, errors and audit as the board's buttons."""
    from ncii_shield.web.auth import create_token

    case_id, _ = _removed(store, tmp_path, web)
    _reupload(store, tmp_path, web, case_id)
    _reupload(store, tmp_path, web, case_id, name="d.jpg")
    with store.session() as s:
        create_user(s, "worker", "a long enough passphrase", "case_worker", language="en")
        assign(s, "worker", case_id)
        write = create_token(s, "worker", "tool", ["cases:read", "cases:write"])
        read = create_token(s, "worker", "viewer", ["cases:read"])
    with live_server(store) as url:
        api = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {write}"}, timeout=30)
        listed = api.get(f"/cases/{case_id}/takedown/alerts").json()
        assert [a["status"] for a in listed] == ["drafted", "drafted"]
        first, second = (a["id"] for a in listed)
        base = f"/cases/{case_id}/takedown/alerts"
        refused = httpx.post(
            f"{url}/api/v1{base}/{first}/approve", json={}, headers={"Authorization": f"Bearer {read}"}
        )
        assert refused.status_code == 403  # a read-only token
        assert api.post(f"{base}/{second}/dismiss", json={"reason": ""}).status_code == 422  # as the API's others
        blank = api.post(f"{base}/{second}/dismiss", json={"reason": "   "})
        assert blank.status_code == 400 and "say why" in blank.json()["detail"]
        approved = api.post(f"{base}/{first}/approve", json={})
        assert approved.status_code == 200 and approved.json()["status"] == "queued"
        assert api.post(f"{base}/{first}/approve", json={}).status_code == 409
        again = api.post(f"{base}/{first}/approve", json={})
        assert "only a drafted re-notice is approved" in again.json()["hint"]
        dismissed = api.post(f"{base}/{second}/dismiss", json={"reason": "her own repost"})
        assert dismissed.status_code == 200 and dismissed.json()["reason"] == "her own repost"
        assert api.post(f"{base}/999/approve", json={}).status_code == 404
    with store.session() as s:
        assert [(a.id, a.status) for a in reupload_alerts(s, case_id)] == [
            (first, "queued"),
            (second, "dismissed"),
        ]
        assert s.get(Notice, dismissed.json()["notice_id"]).status == "closed"
        requests = [
            e.details.get("request") for e in s.scalars(select(AuditEvent)) if e.action == "web.request"
        ]
    assert {"takedown.reupload_approve", "takedown.reupload_dismiss"} <= set(requests)


def _cli(store: Store, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "takedown",
            *args,
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )


def test_the_cli_lists_approves_and_dismisses_as_the_board_does(
    store: Store, tmp_path: Path, web: str
) -> None:
    case_id, original_id = _removed(store, tmp_path, web)
    _reupload(store, tmp_path, web, case_id)
    _reupload(store, tmp_path, web, case_id, name="d.jpg")
    listed = json.loads(_cli(store, "reuploads", str(case_id), "--json").stdout)["alerts"]
    assert [a["status"] for a in listed] == ["drafted", "drafted"]
    assert {a["original_notice_id"] for a in listed} == {original_id}
    first, second = (a["id"] for a in listed)
    done = _cli(store, "reuploads", str(case_id), "--approve", str(first))
    assert done.returncode == 0 and f"alert {first}: approved" in done.stdout
    refused = _cli(store, "reuploads", str(case_id), "--dismiss", str(second))  # no reason
    assert refused.returncode != 0 and "say why the alert is dismissed" in refused.stderr
    assert "Traceback" not in refused.stderr
    _cli(store, "reuploads", str(case_id), "--dismiss", str(second), "--reason", "her own repost, by her")
    again = _cli(store, "reuploads", str(case_id), "--approve", str(first))
    assert (
        again.returncode != 0
        and f"alert {first} is queued" in again.stderr
        and "Traceback" not in again.stderr
    )
    with store.session() as s:
        alerts = {a.id: a for a in reupload_alerts(s, case_id)}
        assert alerts[first].status == "queued" and alerts[first].notice_status == "queued"
        assert alerts[second].status == "dismissed" and alerts[second].reason == "her own repost, by her"
        assert s.get(Notice, alerts[second].notice_id).status == "closed"  # type: ignore[union-attr]
