"""The takedown worker against real local servers: aiosmtpd on loopback for the platform's abuse desk, a
loopback HTTP server for its pages. Each fault of issue 16: SMTP that refuses or drops the connection
mid-message, two workers at once, a worker killed mid-send, a clock a day off, pages that hang, fail or
send a visitor to a sign-in page, addresses that must stay refused."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from ncii_shield.cases.service import open_case
from ncii_shield.config import Settings, load_settings
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Item, Notice, NoticeItem, Source, TakedownEvent
from ncii_shield.takedown import clocks
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.takedown.worker import Worker, WorkerOptions
from tests.conftest import cli_env
from tests.test_takedown_smtp import free_port

FAST = WorkerOptions(
    lease_seconds=60,
    check_timeout=0.5,
    check_retries=1,
    check_backoff=0.01,
    retry_first_seconds=60,
    unsettled_recheck_seconds=600,
)


# ------------------------------------------------------------------------------------------ the servers


@dataclass
class Desk:
    """The platform's abuse desk (an aiosmtpd handler): accepts, refuses, or stalls in DATA on request."""

    mode: str = "accept"  # accept | refuse | stall | stall_after_accept
    delay: float = 0.0
    received: list[Message] = field(default_factory=list)
    in_data: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "refuse":
            return "554 5.7.1 message refused by policy"
        message = message_from_bytes(envelope.original_content)
        if self.mode.startswith("stall"):
            if self.mode == "stall_after_accept":
                self.received.append(message)  # stored, but the client dies before it hears 250
            self.in_data.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 gave up"
        self.received.append(message)
        return "250 OK"

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.received]


@pytest.fixture
def desk() -> Iterator[tuple[SmtpSettings, Desk]]:
    handler = Desk()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpSettings(host="127.0.0.1", port=port, from_addr="desk@support.test", timeout=5), handler
    finally:
        handler.release.set()
        controller.stop()


def _dropping_server() -> tuple[int, threading.Event]:
    """An SMTP server that takes the envelope, reads part of the message and hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                reader = conn.makefile("rb")
                conn.sendall(b"220 drop.test ESMTP\r\n")
                while line := reader.readline():
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 drop.test\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        reader.readline()  # one line of the message, then the line goes dead
                        break
                    else:
                        conn.sendall(b"250 OK\r\n")
                reader.close()
                conn.shutdown(socket.SHUT_RDWR)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], stop


PAGES: dict[str, int] = {}


class _Pages(BaseHTTPRequestHandler):
    """The platform's pages: a status per path; /hang never answers in time; /wall sends to a sign-in."""

    def do_GET(self) -> None:
        if self.path.startswith("/hang"):
            time.sleep(2)
        if self.path.startswith("/wall"):
            self.send_response(302)
            self.send_header("Location", "/accounts/login?next=/post")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        code = 200 if self.path.startswith("/accounts/login") else PAGES.get(self.path.split("?")[0], 404)
        body = (
            b"<html>please sign in</html>" if "login" in self.path else f"<html>{self.path}</html>".encode()
        )
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# ------------------------------------------------------------------------------------------ the notices


def _settings(store: Store, **extra: str) -> Settings:
    env = {"NCII_RECHECK_ALLOW": "127.0.0.0/8", **extra}
    return load_settings(store.settings.data_dir, environ=env)


def _seed(
    store: Store, urls: list[list[str]], *, status: str = "queued", platform: str = "hosting"
) -> list[int]:
    """A case with one e-mail notice per entry of `urls`, each reporting those URLs."""
    with store.session() as s:
        case = open_case(s, "Case W", consent_by="the person", consent_method="signed form")
        source = Source(kind="folder", location="/crawl", name="crawl", fingerprint="0" * 64)
        s.add(source)
        s.flush()
        ids = []
        for n, notice_urls in enumerate(urls):
            notice = Notice(
                case_id=case.id,
                platform_id=platform,
                language="en",
                channel="email",
                to="abuse@host.test",
                subject=f"Removal request {n}",
                body=f"Please remove: {' '.join(notice_urls)}",
                status=status,
            )
            s.add(notice)
            s.flush()
            for m, url in enumerate(notice_urls):
                item = Item(source_id=source.id, external_id=f"{n}-{m}", kind="media", extra={"url": url})
                s.add(item)
                s.flush()
                s.add(NoticeItem(notice_id=notice.id, item_id=item.id, url=url, status="drafted"))
            ids.append(notice.id)
        return ids


def _notice(store: Store, notice_id: int) -> Notice:
    with store.session() as s:
        notice = s.get(Notice, notice_id)
        assert notice is not None
        notice.items  # noqa: B018 - loaded before the session ends
        return notice


def _events(store: Store, notice_id: int) -> list[str]:
    with store.session() as s:
        return list(
            s.scalars(
                select(TakedownEvent.status)
                .where(TakedownEvent.notice_id == notice_id)
                .order_by(TakedownEvent.id)
            )
        )


def _earlier(store: Store, notice_id: int, by: timedelta, *columns: str) -> None:
    """Time passes for one notice: its clocks are moved back (the database's clock keeps running)."""
    with store.session() as s:
        notice = s.get(Notice, notice_id)
        assert notice is not None
        for column in columns:
            value = getattr(notice, column)
            assert value is not None, column
            setattr(notice, column, value - by)


def _worker(store: Store, smtp: SmtpSettings, **extra: str) -> Worker:
    return Worker(store, _settings(store, **extra), smtp=smtp, options=FAST)


# ------------------------------------------------------------------------------------------ sending


def test_a_queued_notice_is_sent_once_and_its_clocks_start(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    smtp, inbox = desk
    queued, drafted = _seed(store, [["https://host.test/a"], ["https://host.test/b"]])
    with store.session() as s:
        s.get(Notice, drafted).status = "drafted"  # type: ignore[union-attr]  # not approved: left alone
    worker = _worker(store, smtp)
    report = worker.run_once()
    assert report.sent == [queued] and not report.failed
    assert len(inbox.received) == 1 and inbox.received[0]["Subject"] == "Removal request 0"
    notice = _notice(store, queued)
    assert notice.status == "sent" and notice.message_id == inbox.ids()[0]
    assert notice.sending_at is None and notice.outbox_id is None and notice.lease_owner is None
    assert notice.sent_at is not None and notice.due_at is not None and notice.resend_at is not None
    assert notice.due_at - notice.sent_at == timedelta(hours=48)  # TAKE IT DOWN Act, for a hosting provider
    assert notice.resend_at - notice.sent_at == timedelta(hours=24)
    assert notice.escalate_at == notice.due_at  # the registry names the regulator for hosting providers
    assert {i.status for i in notice.items} == {"sent"}
    assert _events(store, queued) == ["sending", "sent"]
    assert worker.run_once().sent == [] and len(inbox.received) == 1, "nothing is due again yet"
    assert _notice(store, drafted).status == "drafted"
    with store.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("takedown.%"))))
    assert actions == ["takedown.sending", "takedown.sent"]


def test_refused_mail_stays_due_and_is_retried_with_backoff_under_one_message_id(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    worker = _worker(store, smtp)
    inbox.mode = "refuse"
    assert worker.run_once().failed == [notice_id]
    first = _notice(store, notice_id)
    assert first.status == "queued" and first.send_attempts == 1 and first.sending_at is None
    assert first.next_attempt_at is not None and first.outbox_id is not None
    with store.session() as s:
        now = clocks.db_now(s)
    assert timedelta(seconds=30) < first.next_attempt_at - now <= timedelta(seconds=60)
    assert worker.run_once().failed == [], "not before the back-off"
    _earlier(store, notice_id, timedelta(seconds=61), "next_attempt_at")
    assert worker.run_once().failed == [notice_id]
    second = _notice(store, notice_id)
    assert second.send_attempts == 2 and second.next_attempt_at is not None
    assert second.next_attempt_at - now > timedelta(seconds=100), "the wait doubles"
    inbox.mode = "accept"
    _earlier(store, notice_id, timedelta(seconds=200), "next_attempt_at")
    assert worker.run_once().sent == [notice_id]
    assert inbox.ids() == [first.outbox_id], "one message, under the Message-ID chosen before the first try"
    done = _notice(store, notice_id)
    assert done.status == "sent" and done.send_attempts == 0 and done.message_id == first.outbox_id
    assert _events(store, notice_id) == [
        "sending",
        "send_failed",
        "sending",
        "send_failed",
        "sending",
        "sent",
    ]


def test_a_connection_dropped_mid_message_is_retried_never_duplicated(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    port, stop = _dropping_server()
    try:
        dropping = SmtpSettings(host="127.0.0.1", port=port, from_addr="desk@support.test", timeout=5)
        report = _worker(store, dropping).run_once()
    finally:
        stop.set()
    assert report.failed == [notice_id]
    with store.session() as s:
        failed = s.scalars(
            select(TakedownEvent).where(
                TakedownEvent.notice_id == notice_id, TakedownEvent.status == "send_failed"
            )
        ).one()
        assert "closed the connection" in str(failed.evidence["error"]) or "lost" in str(
            failed.evidence["error"]
        )
    assert _notice(store, notice_id).status == "queued"
    _earlier(store, notice_id, timedelta(seconds=61), "next_attempt_at")
    assert _worker(store, smtp).run_once().sent == [notice_id]
    assert len(inbox.received) == 1


# ------------------------------------------------------------------------------------------ two workers


def _cli_env(store: Store, smtp: SmtpSettings) -> dict[str, str]:
    return cli_env(
        NCII_SMTP_HOST=smtp.host,
        NCII_SMTP_PORT=str(smtp.port),
        NCII_SMTP_FROM=smtp.from_addr,
        NCII_RECHECK_ALLOW="127.0.0.0/8",
    )


def _run_cli(store: Store, smtp: SmtpSettings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "takedown",
            "run",
            "--once",
            "--json",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(store, smtp),
    )


def test_two_worker_processes_never_send_a_notice_twice(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    smtp, inbox = desk
    inbox.delay = 0.15  # each send takes a while, so the two workers overlap
    ids = _seed(store, [[f"https://host.test/{n}"] for n in range(8)])
    workers = [_run_cli(store, smtp), _run_cli(store, smtp)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    first, second = (set(json.loads(out)["sent"]) for out, _ in outputs)
    assert first | second == set(ids) and not first & second, (first, second)
    subjects = sorted(str(m["Subject"]) for m in inbox.received)
    assert subjects == sorted(f"Removal request {n}" for n in range(8)), "each notice exactly once"
    assert len(set(inbox.ids())) == 8
    with store.session() as s:
        sent = s.scalars(select(Notice).where(Notice.id.in_(ids))).all()
        assert {n.status for n in sent} == {"sent"} and {n.lease_owner for n in sent} == {None}
        owners = {
            str(e.evidence["worker"])
            for e in s.scalars(select(TakedownEvent).where(TakedownEvent.status == "sent"))
        }
    assert len(owners) in (1, 2)


def test_two_worker_threads_share_the_notices(store: Store, desk: tuple[SmtpSettings, Desk]) -> None:
    smtp, inbox = desk
    inbox.delay = 0.05
    _seed(store, [[f"https://host.test/{n}"] for n in range(10)])
    reports = []

    def run() -> None:
        reports.append(_worker(store, smtp).run_once())

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    sent = [n for r in reports for n in r.sent]
    assert sorted(sent) == sorted(set(sent)) and len(sent) == 10
    assert len(inbox.received) == 10 and len(set(inbox.ids())) == 10


# ------------------------------------------------------------------------------------------ killed mid-send


def _kill_mid_send(store: Store, smtp: SmtpSettings, inbox: Desk) -> int:
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    worker = _run_cli(store, smtp, "--lease", "120")
    assert inbox.in_data.wait(60), "the worker reached DATA"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    inbox.release.set()
    return notice_id


def test_a_worker_killed_mid_send_is_followed_by_exactly_one_send(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    smtp, inbox = desk
    inbox.mode = "stall"
    notice_id = _kill_mid_send(store, smtp, inbox)
    left = _notice(store, notice_id)
    assert left.status == "queued" and left.sending_at is not None and left.outbox_id is not None
    assert left.lease_owner is not None and inbox.received == []
    inbox.mode = "accept"
    other = _worker(store, smtp)
    held = other.run_once()
    assert held.sent == held.interrupted == [] and inbox.received == [], "the dead worker's lease still holds"
    assert not other._claim(notice_id)
    _earlier(store, notice_id, timedelta(seconds=121), "lease_until")
    report = other.run_once()
    assert report.interrupted == [notice_id] and report.sent == [notice_id]
    assert inbox.ids() == [left.outbox_id], "sent once, under the Message-ID recorded before the kill"
    assert other.run_once().sent == [] and len(inbox.received) == 1
    assert _events(store, notice_id) == ["sending", "interrupted", "sending", "sent"]
    with store.session() as s:
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "takedown.send_interrupted"))


def test_a_kill_after_the_server_stored_the_message_resends_the_same_message_id(
    store: Store, desk: tuple[SmtpSettings, Desk]
) -> None:
    """SMTP cannot tell a client that died before hearing 250 whether the message was taken: the re-send
    carries the same Message-ID, which the receiving side recognises as the same message."""
    smtp, inbox = desk
    inbox.mode = "stall_after_accept"
    notice_id = _kill_mid_send(store, smtp, inbox)
    inbox.mode = "accept"
    _earlier(store, notice_id, timedelta(seconds=121), "lease_until")
    assert _worker(store, smtp).run_once().sent == [notice_id]
    assert len(inbox.received) == 2 and len(set(inbox.ids())) == 1


# ------------------------------------------------------------------------------------------ clock skew


class _Shifted(datetime):
    shift = timedelta(0)

    @classmethod
    def now(cls, tz: Any = None) -> _Shifted:  # type: ignore[override]
        return super().now(tz) + cls.shift  # type: ignore[return-value]


@pytest.mark.parametrize("days", [1, -1])
def test_a_clock_a_day_off_neither_sends_early_nor_twice(
    store: Store, desk: tuple[SmtpSettings, Desk], monkeypatch: pytest.MonkeyPatch, days: int
) -> None:
    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    worker = _worker(store, smtp)
    assert worker.run_once().sent == [notice_id]
    sent = _notice(store, notice_id)
    import ncii_shield.takedown.clocks as clocks_module
    import ncii_shield.takedown.service as service_module
    import ncii_shield.takedown.smtp as smtp_module
    import ncii_shield.takedown.worker as worker_module

    _Shifted.shift = timedelta(days=days)
    for module in (clocks_module, service_module, smtp_module, worker_module):
        if hasattr(module, "datetime"):
            monkeypatch.setattr(module, "datetime", _Shifted)
    skewed = _worker(store, smtp)
    assert skewed.run_once().resent == [], "the re-send is due 24 h after the send, by the database's clock"
    assert len(inbox.received) == 1
    # Another worker holds the notice: a clock a day ahead does not see its lease as expired.
    assert worker._claim(notice_id)
    assert not skewed._claim(notice_id)
    worker._release(notice_id)
    # A day passes (by the database): exactly one re-send, from whichever worker comes first.
    _earlier(store, notice_id, timedelta(hours=24, seconds=1), "resend_at")
    assert skewed.run_once().resent == [notice_id]
    assert worker.run_once().resent == [] and len(inbox.received) == 2
    again = _notice(store, notice_id)
    assert again.resends == 1 and again.due_at == sent.due_at, "a re-send does not restart the deadline"
    with store.session() as s:
        now = clocks.db_now(s)
    assert abs(again.resend_at - (now + timedelta(hours=24))) < timedelta(minutes=1)  # type: ignore[operator]


# ------------------------------------------------------------------------------------------ rechecks


def test_rechecks_record_faults_and_never_call_them_removed(
    store: Store, desk: tuple[SmtpSettings, Desk], web: str
) -> None:
    smtp, _inbox = desk
    PAGES.update({"/up": 200, "/error": 503, "/gone": 404})
    urls = [
        f"{web}/up",
        f"{web}/error",
        f"{web}/hang",
        f"{web}/wall",
        "http://169.254.169.254/latest/meta-data",
    ]
    (notice_id,) = _seed(store, [urls])
    worker = _worker(store, smtp)
    assert worker.run_once().sent == [notice_id]
    _earlier(store, notice_id, timedelta(hours=6, seconds=1), "check_at")
    report = worker.run_once()
    assert report.checked == [notice_id] and report.removed == []
    with store.session() as s:
        items = {i.url.rsplit("/", 1)[-1]: i.status for i in s.scalars(select(NoticeItem))}  # type: ignore[union-attr]
        unknown = {
            str(e.evidence["response"]["url"]).rsplit("/", 1)[-1]: str(e.evidence["response"]["error"])  # type: ignore[index]
            for e in s.scalars(select(TakedownEvent).where(TakedownEvent.status == "unknown"))
        }
    assert items == {"up": "still_up", "error": "sent", "hang": "sent", "wall": "sent", "meta-data": "sent"}
    assert "503" in unknown["error"] and "timed out" in unknown["hang"]
    assert "sign-in" in unknown["wall"] and "169.254.169.254" in unknown["meta-data"]
    checked = _notice(store, notice_id)
    with store.session() as s:
        now = clocks.db_now(s)
    assert checked.check_at is not None and checked.check_at - now <= timedelta(seconds=600), (
        "unsettled: sooner"
    )
    assert checked.resend_at is not None, "still up: the re-sends go on"

    PAGES.update({"/up": 410, "/error": 404})
    _earlier(store, notice_id, timedelta(hours=1), "check_at")
    worker.run_once()
    with store.session() as s:
        statuses = {i.url.rsplit("/", 1)[-1]: i.status for i in s.scalars(select(NoticeItem))}  # type: ignore[union-attr]
    assert statuses["up"] == "removed" and statuses["error"] == "removed" and statuses["hang"] == "sent"


def test_resend_every_n_hours_until_removed_and_no_escalation_after(
    store: Store, desk: tuple[SmtpSettings, Desk], web: str
) -> None:
    smtp, inbox = desk
    PAGES["/still"] = 200
    (notice_id,) = _seed(store, [[f"{web}/still"]])
    worker = _worker(store, smtp)
    worker.run_once()
    first_id = inbox.ids()[0]
    _earlier(store, notice_id, timedelta(hours=24, seconds=1), "resend_at", "check_at")
    report = worker.run_once()
    assert report.checked == [notice_id] and report.resent == [notice_id]
    reminder = inbox.received[1]
    assert str(reminder["Subject"]).startswith("[Reminder 1] ") and reminder["In-Reply-To"] == first_id
    assert reminder["Message-ID"] != first_id
    PAGES["/still"] = 404
    _earlier(store, notice_id, timedelta(hours=49), "resend_at", "check_at", "escalate_at")
    report = worker.run_once()
    assert report.removed == [notice_id] and report.resent == [] and report.escalated == []
    done = _notice(store, notice_id)
    assert done.resend_at is None and done.check_at is None and done.escalate_at is None
    assert len(inbox.received) == 2
    assert worker.run_once().checked == []


def test_escalation_waits_for_who_reports(store: Store, desk: tuple[SmtpSettings, Desk], web: str) -> None:
    smtp, _ = desk
    PAGES["/kept"] = 200
    (notice_id,) = _seed(store, [[f"{web}/kept"]])
    worker = _worker(store, smtp)
    worker.run_once()
    _earlier(store, notice_id, timedelta(hours=48, seconds=1), "escalate_at")
    report = worker.run_once()
    assert report.escalated == [] and "NCII_REPORTER_ORG" in report.errors[0]
    assert _notice(store, notice_id).escalated_at is None
    reporting = _worker(store, smtp, NCII_REPORTER_ORG="Desk", NCII_REPORTER_EMAIL="desk@support.test")
    _earlier(store, notice_id, timedelta(hours=2), "escalate_at")
    assert reporting.run_once().escalated == [notice_id]
    assert _notice(store, notice_id).escalated_at is not None
    assert "escalated" in _events(store, notice_id)


def test_the_cli_runs_one_pass_and_status_shows_the_clocks(
    store: Store, desk: tuple[SmtpSettings, Desk], tmp_path: Path
) -> None:

    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    run = _run_cli(store, smtp)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert json.loads(out)["sent"] == [notice_id] and len(inbox.received) == 1
    with store.session() as s:
        case_id = s.get(Notice, notice_id).case_id  # type: ignore[union-attr]
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "takedown",
            "status",
            str(case_id),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_cli_env(store, smtp),
    )
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)["notices"]
    assert row["overdue"] is False and row["escalated_at"] is None and row["clock_hours"] == 48
    due = datetime.fromisoformat(row["due_at"])
    assert datetime.fromisoformat(row["next_resend_at"]) < due
    assert 47 * 3600 < row["seconds_left"] <= 48 * 3600
    table = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(store.settings.data_dir),
            "takedown",
            "status",
            str(case_id),
        ],
        capture_output=True,
        text=True,
        env=_cli_env(store, smtp),
    )
    assert "due in 48 h" in table.stdout or "due in 47 h" in table.stdout, table.stdout


def test_notices_settled_by_hand_are_left_alone(store: Store, desk: tuple[SmtpSettings, Desk]) -> None:
    from ncii_shield.errors import Conflict
    from ncii_shield.takedown.service import mark, queue, send

    smtp, inbox = desk
    removed, closed, web_form = _seed(
        store, [["https://host.test/a"], ["https://host.test/b"], ["https://host.test/c"]]
    )
    with store.session() as s:
        form = s.get(Notice, web_form)
        assert form is not None
        form.status, form.channel = "drafted", "web_form"
        with pytest.raises(Conflict, match="web form"):
            queue(s, web_form)
        with pytest.raises(Conflict, match="queued for the worker"):
            send(s, removed, smtp)
    worker = _worker(store, smtp)
    assert sorted(worker.run_once().sent) == [removed, closed]
    with store.session() as s:
        for item in s.get(Notice, removed).items:  # type: ignore[union-attr]
            item.status = "removed"  # e.g. `takedown recheck` by hand found it gone
        mark(s, closed, "closed", "the platform answered by phone")
    assert _notice(store, closed).resend_at is None
    _earlier(store, removed, timedelta(hours=25), "resend_at", "check_at")
    report = worker.run_once()
    assert report.resent == report.checked == [] and len(inbox.received) == 2
    assert _notice(store, removed).resend_at is None
    with store.session() as s:
        assert worker._due(s, None) == [], "nothing left for any pass"


def test_the_loop_a_server_can_host_runs_until_stopped(store: Store, desk: tuple[SmtpSettings, Desk]) -> None:
    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    stop, passes = threading.Event(), []
    loop = threading.Thread(
        target=_worker(store, smtp).run_forever, args=(0.2,), kwargs={"stop": stop, "on_pass": passes.append}
    )
    loop.start()
    deadline = time.monotonic() + 30
    while len(passes) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loop.join(10)
    assert not loop.is_alive() and len(passes) >= 3
    assert [r.sent for r in passes][:2] == [[notice_id], []] and len(inbox.received) == 1


def _serve(store: Store, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ncii_shield.cli.main",
        "--data-dir",
        str(store.settings.data_dir),
        "serve",
        *options,
    ]


def test_the_web_server_hosts_the_worker_when_asked(store: Store, desk: tuple[SmtpSettings, Desk]) -> None:
    """`serve --takedown-worker S`: a real server sends a queued notice by itself, once, and stops cleanly."""
    smtp, inbox = desk
    (notice_id,) = _seed(store, [["https://host.test/a"]])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        _serve(store, "--port", str(port), "--takedown-worker", "0.3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_cli_env(store, smtp),
    )
    try:
        deadline = time.monotonic() + 60
        while not inbox.received and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # a few more passes: nothing is due again
        assert len(inbox.received) == 1 and inbox.received[0]["Subject"] == "Removal request 0"
        assert _notice(store, notice_id).status == "sent"
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "the takedown worker runs in it: a pass every 0.3 s" in err
    assert "Traceback" not in err


def test_serve_refuses_a_negative_worker_interval(store: Store) -> None:
    done = subprocess.run(
        _serve(store, "--takedown-worker", "-1"),
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert done.returncode != 0 and "--takedown-worker takes seconds between passes" in done.stderr
    assert "Traceback" not in done.stderr
