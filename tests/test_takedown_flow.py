"""From confirmed hits to removal: draft, send by real SMTP, recheck against a real HTTP server, catch a
re-upload, report time to removal."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from PIL import Image
from sqlalchemy import select

from ncii_shield.errors import NciiError
from ncii_shield.review.decisions import decide
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.sources.folder import URL_INDEX
from ncii_shield.store.chain import verify_store
from ncii_shield.store.db import Store
from ncii_shield.store.models import NoticeItem, TakedownEvent
from ncii_shield.takedown.service import detect_reappearance, draft, mark, recheck, send, status
from ncii_shield.takedown.smtp import SmtpSettings
from tests.conftest import ASSETS, cli_env, new_store
from tests.test_scan import _case
from tests.test_takedown_smtp import free_port

PAGES: dict[str, int] = {}


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = PAGES.get(self.path, 404)
        body = f"<html>post {self.path}</html>".encode() if code == 200 else b"gone"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The platform's pages, on loopback: rechecks refuse loopback unless the operator allows it."""
    monkeypatch.setenv("NCII_RECHECK_ALLOW", "127.0.0.0/8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpSettings, _Inbox]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (
            SmtpSettings(
                host="127.0.0.1",
                port=port,
                from_addr="desk@support.test",
            ),
            inbox,
        )
    finally:
        controller.stop()


def _jpeg(path: Path, side: int) -> bytes:
    img = Image.open(path).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _crawl(root: Path, base: str, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    lines = []
    for name, data in files.items():
        (root / name).write_bytes(data)
        lines.append(f"{name}\t{base}/post/{name}")
    (root / URL_INDEX).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _scan(store: Store, path: Path, case_id: int) -> None:
    run_scan(store, open_source(path), location=path, case_id=case_id, workers=1)


def test_takedown_from_draft_to_reappearance(
    store: Store, tmp_path: Path, web: str, smtp: tuple[SmtpSettings, _Inbox]
) -> None:
    settings, inbox = smtp
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    crawl = _crawl(tmp_path / "crawl1", web, {"a.jpg": _jpeg(photo, 900), "b.jpg": _jpeg(photo, 700)})
    PAGES.update({"/post/a.jpg": 200, "/post/b.jpg": 200})
    _scan(store, crawl, case_id)

    with store.session() as s, pytest.raises(NciiError, match="no confirmed hits"):
        draft(s, case_id, reporter_organisation="Support Desk", reporter_email="desk@support.test")
    with store.session() as s:
        assert len(decide(s, case_id, "confirmed", "her photo", undecided_only=True)) == 2
    with store.session() as s, pytest.raises(NciiError, match="--hosting-contact"):
        draft(s, case_id, reporter_organisation="Support Desk", reporter_email="desk@support.test")
    with store.session() as s:
        notices = draft(
            s,
            case_id,
            reporter_organisation="Support Desk",
            reporter_email="desk@support.test",
            hosting_contact="abuse@host.test",
            regulator=True,
            out_dir=tmp_path / "notices",
        )
        ids = {n.platform_id: n.id for n in notices}
        assert set(ids) == {"hosting", "kcsc"}
        assert {n.language for n in notices} == {"en", "ko"}
        assert len(list((tmp_path / "notices").glob("notice-*.txt"))) == 2
        again = draft(
            s,
            case_id,
            reporter_organisation="S",
            reporter_email="desk@support.test",
            hosting_contact="abuse@host.test",
        )
        assert again == [], "hits already in a notice are not drafted twice"

    with store.session() as s:
        message_id = send(s, ids["hosting"], settings)
    assert len(inbox.messages) == 1
    rcpt, msg = inbox.messages[0]
    assert rcpt == ["abuse@host.test"] and msg["Message-ID"] == message_id
    body = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"{web}/post/a.jpg" in body and f"{web}/post/b.jpg" in body
    with store.session() as s, pytest.raises(NciiError, match="already sent"):
        send(s, ids["hosting"], settings)
    with store.session() as s:
        kcsc = s.get(type(notices[0]), ids["kcsc"])
        if kcsc.channel == "web_form":
            with pytest.raises(NciiError, match="web form"):
                send(s, ids["kcsc"], settings)
        mark(s, ids["kcsc"], "sent", "submitted through the KCSC form")

    PAGES["/post/a.jpg"] = 404  # the host took one down
    with store.session() as s:
        rows = recheck(s, case_id, retries=0, timeout=5)
    by_url = {r.url.rsplit("/", 1)[1]: r.status for r in rows}
    assert by_url == {"a.jpg": "removed", "b.jpg": "still_up"}, rows
    with store.session() as s:
        events = s.scalars(select(TakedownEvent).where(TakedownEvent.status == "removed")).all()
        response = events[0].evidence["response"]
        assert response["http_status"] == 404 and response["body_sha256"] and response["checked_at"]

    # The same photo comes back elsewhere: a re-upload of a removed image is raised.
    crawl2 = _crawl(tmp_path / "crawl2", web, {"c.jpg": _jpeg(photo, 640)})
    _scan(store, crawl2, case_id)
    with store.session() as s:
        alerts = detect_reappearance(s, case_id)
        assert len(alerts) == 1
        statuses = {
            (ni.notice_id, ni.url.rsplit("/", 1)[1]): ni.status for ni in s.scalars(select(NoticeItem))
        }
        for notice_id in ids.values():
            assert (
                statuses[(notice_id, "a.jpg")] == "reappeared"
                and statuses[(notice_id, "b.jpg")] == "still_up"
            )
        assert detect_reappearance(s, case_id) == [], "raised once"
        _, stats, all_alerts = status(s, case_id)
        hosting = next(p for p in stats if p.platform_id == "hosting")
        assert hosting.removed == 1 and hosting.median_hours_to_removal is not None
        assert len(all_alerts) == 1
    with store.session() as s:  # after the commit, which signs the head of the log
        assert verify_store(store, s).ok


def test_takedown_cli(tmp_path: Path, web: str, smtp: tuple[SmtpSettings, _Inbox]) -> None:
    settings, inbox = smtp
    data = tmp_path / "d"
    store = new_store(data)
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    PAGES["/post/x.jpg"] = 200
    _scan(store, _crawl(tmp_path / "crawl", web, {"x.jpg": _jpeg(photo, 800)}), case_id)
    store.close()
    env = cli_env(
        NCII_SMTP_HOST=settings.host,
        NCII_SMTP_PORT=str(settings.port),
        NCII_SMTP_FROM=settings.from_addr,
        NCII_REPORTER_ORG="Support Desk",
        NCII_REPORTER_EMAIL="desk@support.test",
        NCII_RECHECK_ALLOW="127.0.0.0/8",
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=env,
        )

    assert cli("review", "confirm", str(case_id), "--all", "--reason", "hers").returncode == 0
    drafted = cli("takedown", "draft", str(case_id), "--hosting-contact", "abuse@host.test", "--json")
    assert drafted.returncode == 0, drafted.stderr
    (notice,) = json.loads(drafted.stdout)
    shown = cli("takedown", "show", str(notice["id"]))
    assert (
        shown.returncode == 0
        and "To: abuse@host.test" in shown.stdout
        and f"{web}/post/x.jpg" in shown.stdout
    )
    assert cli("takedown", "send", str(notice["id"])).returncode == 0 and len(inbox.messages) == 1
    PAGES["/post/x.jpg"] = 410
    checked = cli("takedown", "recheck", str(case_id), "--retries", "0", "--json")
    assert checked.returncode == 0 and json.loads(checked.stdout)[0]["status"] == "removed"
    state = json.loads(cli("takedown", "status", str(case_id), "--json").stdout)
    assert state["notices"][0]["items"] == {"removed": 1}
    assert state["platforms"][0]["removed"] == 1
    for args, part in (
        (("takedown", "mark", str(notice["id"]), "removed"), "unknown status"),
        (("takedown", "send", "999"), "no notice 999"),
        (("takedown", "draft", "999"), "no case"),
    ):
        bad = cli(*args)
        assert bad.returncode == 2 and part in bad.stderr, bad.stderr
    no_smtp = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), "takedown", "send", "1"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert no_smtp.returncode == 2 and "NCII_SMTP_HOST" in no_smtp.stderr


def test_drafting_again_adds_no_duplicates_and_each_notice_has_its_own_reference(
    store: Store, tmp_path: Path
) -> None:
    from tests.exports import message, write_export

    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    export = write_export(
        tmp_path / "e", [message(1, photo="a.jpg")], chat_id=1801234567, files={"a.jpg": photo.read_bytes()}
    )
    _scan(store, export, case_id)
    with store.session() as s:
        decide(s, case_id, "confirmed", "hers", undecided_only=True)
        first = draft(
            s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test", regulator=True
        )
        again = draft(
            s, case_id, reporter_organisation="Desk", reporter_email="desk@support.test", regulator=True
        )
        assert {n.platform_id for n in first} == {"telegram", "kcsc"} and again == []
        references = {n.platform_id: re.search(r"NCII-\d{4}-\d{4}-\d+", n.body).group(0) for n in first}  # type: ignore[union-attr]
        assert len(set(references.values())) == 2
        english = next(n.body for n in first if n.platform_id == "telegram")
        collected = re.search(r"Collected: (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC", english)
        assert collected is not None  # when the scan read it: the export's folder name gave no date
        assert abs(
            datetime.strptime(collected.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC) - datetime.now(UTC)
        ) < timedelta(hours=1)
        assert "What it is: image" in english


def test_what_a_confirmed_hit_is_called_in_a_notice() -> None:
    from ncii_shield.takedown.service import _content

    assert _content(("text",), None) == "personal_details"
    assert _content(("text",), "image/jpeg") == "personal_details"  # found by its words, not its picture
    assert _content(("face", "text"), "image/jpeg") == "image"
    assert _content(("video",), "video/mp4") == "video"
    assert _content(("pdq",), "image/gif") == "video"
    assert _content(("exact",), "image/png") == "image"
