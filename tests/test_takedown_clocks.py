"""Deadlines per law and platform (the registry's clocks), and a confirmed case driven by the worker from
draft to removed through a re-send and an escalation, with the board showing each notice's clock."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ncii_shield.errors import NciiError
from ncii_shield.review.decisions import decide
from ncii_shield.store.chain import verify_store
from ncii_shield.store.db import Store
from ncii_shield.store.models import Notice
from ncii_shield.takedown.clocks import notice_clocks, span
from ncii_shield.takedown.registry import DEFAULT_DEADLINE_HOURS, _parse, load_registry
from ncii_shield.takedown.service import draft, queue
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.web.auth import assign, create_user
from tests.conftest import ASSETS
from tests.test_scan import _case
from tests.test_takedown_flow import _crawl, _jpeg, _scan
from tests.test_takedown_worker import PAGES, Desk, _events, _worker, desk, web  # noqa: F401
from tests.web_server import live_server

REGISTRY = load_registry()
PASSWORD = "a long enough passphrase"


def test_each_platform_runs_on_its_clock() -> None:
    clock = {p.id: REGISTRY.clock(p) for p in REGISTRY.platforms}
    # TAKE IT DOWN Act: 48 h from the request, for every platform a US notice goes to.
    for pid in ("telegram", "x", "meta", "hosting"):
        assert (clock[pid].hours, clock[pid].basis) == (48, "law")
        assert "TAKE IT DOWN" in clock[pid].label_en and "제3조" in clock[pid].label_ko
    # KCSC: Korean law says "without delay"; the registry's follow-up time is the commission's own.
    assert (clock["kcsc"].hours, clock["kcsc"].basis) == (36, "platform")
    assert clock["kcsc"].label_ko.startswith("방송미디어통신심의위원회")
    # Google Search cites neither the Act nor the DSA: the default.
    assert (clock["google_search"].hours, clock["google_search"].basis) == (DEFAULT_DEADLINE_HOURS, "default")
    assert REGISTRY.law("EU").deadline_hours is None, "DSA Art. 16 asks for 'timely', sets no hours"
    telegram = REGISTRY.platform("telegram")
    assert telegram.channel == "email" and telegram.email == "abuse@telegram.org"
    assert telegram.resend_hours == 24 and telegram.escalate_to == "kcsc"
    assert REGISTRY.platform("kcsc").escalate_to is None


def _registry_text(**changes: str) -> bytes:
    text = (Path(__file__).parents[1] / "src/ncii_shield/takedown/platforms.toml").read_text(encoding="utf-8")
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text.encode()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('escalate_to = "kcsc"\n', 'escalate_to = "meta"\n', "'meta', which is not a regulator"),
        ("deadline_hours = 36\n", "deadline_hours = 0\n", "more than 0"),
        ("deadline_hours = 36\n", 'deadline_hours = "36"\n', "number of hours"),
        ("deadline_hours = 48\n", "deadline_hours = 48\nresend_hours = 24\n", "unknown field 'resend_hours'"),
        ('clock_en = "TAKE IT DOWN Act, s. 3"\n', "", "needs 'clock_en'"),
    ],
)
def test_clock_fields_are_checked(old: str, new: str, message: str) -> None:
    with pytest.raises(NciiError, match=re.escape(message)):
        _parse(_registry_text(**{old: new}), "test.toml")


def test_resend_and_recheck_hours_are_per_platform() -> None:
    changed = _parse(
        _registry_text(
            **{'escalate_to = "kcsc"\n': 'escalate_to = "kcsc"\nresend_hours = 12\nrecheck_hours = 2\n'}
        ),
        "t",
    )
    telegram = changed.platform("telegram")
    assert (telegram.resend_hours, telegram.recheck_hours) == (12, 2)
    assert changed.platform("x").resend_hours == 24


def test_spans_read_as_the_board_says_them() -> None:
    assert [span(s) for s in (20, 3000, 5 * 3600, 47.6 * 3600, 2 * 86400, 9 * 86400)] == [
        "1 min",
        "50 min",
        "5 h",
        "48 h",
        "2 d",
        "9 d",
    ]


def _hours_pass(store: Store, notice_id: int, hours: float) -> None:
    """Time passes for one notice: every clock it has moves back (plus a second, to be past the mark)."""
    with store.session() as s:
        notice = s.get(Notice, notice_id)
        assert notice is not None
        for column in ("sent_at", "due_at", "resend_at", "check_at", "escalate_at", "escalated_at"):
            if getattr(notice, column) is not None:
                setattr(notice, column, getattr(notice, column) - timedelta(hours=hours, seconds=1))


def _board(base: str, case_id: int, user: str) -> str:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert (
        client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token}).status_code
        == 303
    )
    board = client.get(f"/cases/{case_id}/takedown")
    assert board.status_code == 200
    return board.text


def test_a_case_from_draft_to_removed_through_a_resend_and_an_escalation(
    store: Store,
    tmp_path: Path,
    web: str,  # noqa: F811
    desk: tuple[SmtpSettings, Desk],  # noqa: F811 (fixtures imported above)
) -> None:
    smtp, inbox = desk
    photo = ASSETS / "obama.jpg"
    case_id = _case(store, [photo])
    PAGES.update({"/post/a.jpg": 200, "/post/b.jpg": 200})
    _scan(
        store,
        _crawl(tmp_path / "crawl", web, {"a.jpg": _jpeg(photo, 900), "b.jpg": _jpeg(photo, 700)}),
        case_id,
    )
    with store.session() as s:
        decide(s, case_id, "confirmed", "her photo", undecided_only=True)
        (notice,) = draft(
            s,
            case_id,
            reporter_organisation="Desk",
            reporter_email="desk@support.test",
            hosting_contact="abuse@host.test",
        )
        hosting = notice.id
        queue(s, hosting)
        create_user(s, "en-worker", PASSWORD, "case_worker", language="en")
        create_user(s, "ko-worker", PASSWORD, "case_worker", language="ko")
        assign(s, "en-worker", case_id)
        assign(s, "ko-worker", case_id)
    worker = _worker(store, smtp, NCII_REPORTER_ORG="Desk", NCII_REPORTER_EMAIL="desk@support.test")

    assert worker.run_once().sent == [hosting]  # the first send starts the 48 h clock
    _hours_pass(store, hosting, 24)
    report = worker.run_once()  # a day on, both still up: a reminder
    assert report.checked == [hosting] and report.resent == [hosting]
    PAGES["/post/a.jpg"] = 404
    _hours_pass(store, hosting, 24)
    report = worker.run_once()  # past the deadline: a removed, b still up; the regulator is told about b
    assert report.escalated == [hosting] and report.resent == [hosting]
    assert [m["To"] for m in inbox.received] == ["abuse@host.test"] * 3
    with store.session() as s:
        regulator = s.scalars(select(Notice).where(Notice.platform_id == "kcsc")).one()
        assert (
            regulator.status == "drafted" and regulator.channel == "web_form"
        )  # a form: a person submits it
        assert [i.url.rsplit("/", 1)[1] for i in regulator.items] == ["b.jpg"]  # type: ignore[union-attr]
        clocks = {c.notice_id: c for c in notice_clocks(s, case_id)}
    assert (
        clocks[hosting].overdue and clocks[hosting].escalated_at is not None and clocks[hosting].resends == 2
    )
    assert clocks[hosting].seconds_left is not None and -3600 < clocks[hosting].seconds_left < 0
    assert clocks[regulator.id].due_at is None and not clocks[regulator.id].overdue

    with live_server(store) as base:
        english = _board(base, case_id, "en-worker")
        korean = _board(base, case_id, "ko-worker")
    card = re.search(rf'data-notice="{hosting}".*?</div>', english, re.S).group(0)  # type: ignore[union-attr]
    assert re.search(r'class="clock overdue"[^>]*>overdue by (\d+ min|[12] h)<', card), card
    assert "escalated to the regulator" in card and "re-sent 2×" in card and "TAKE IT DOWN Act, s. 3" in card
    assert (
        re.search(r">기한 (\d+분|[12]시간) 초과<", korean)
        and "심의기관에 신고함" in korean
        and "재요청 2회" in korean
    )
    assert "Queue for sending" not in english, "the regulator's notice goes through a web form"

    PAGES["/post/b.jpg"] = 410
    _hours_pass(store, hosting, 6)
    report = worker.run_once()
    assert report.removed == [hosting] and report.resent == []
    with store.session() as s:
        (done,) = [c for c in notice_clocks(s, case_id) if c.notice_id == hosting]
        assert done.done and not done.overdue and done.next_resend_at is None
        assert verify_store(store, s).ok
    assert _events(store, hosting)[:4] == ["drafted", "queued", "sending", "sent"]
    assert _events(store, hosting).count("resent") == 2 and "escalated" in _events(store, hosting)
    assert len(inbox.received) == 3


def test_the_board_queues_a_drafted_email_notice_for_the_worker(store: Store) -> None:
    from ncii_shield.store.models import AuditEvent
    from tests.test_takedown_worker import _seed

    email, form = _seed(store, [["https://host.test/a"], ["https://host.test/b"]], status="drafted")
    with store.session() as s:
        s.get(Notice, form).channel = "web_form"  # type: ignore[union-attr]
        case_id = s.get(Notice, email).case_id  # type: ignore[union-attr]
        create_user(s, "queuer", PASSWORD, "case_worker", language="en")
        assign(s, "queuer", case_id)
    with live_server(store) as base:
        client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "queuer", "password": PASSWORD, "csrf_token": token})
        board = client.get(f"/cases/{case_id}/takedown").text
        assert board.count('name="status" value="queued"') == 1, "only the e-mail notice can be queued"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', board).group(1)  # type: ignore[union-attr]
        done = client.post(f"/notices/{email}/mark", data={"status": "queued", "csrf_token": csrf})
        assert done.status_code == 303
        refused = client.post(f"/notices/{form}/mark", data={"status": "queued", "csrf_token": csrf})
        assert refused.status_code == 409
        board = client.get(f"/cases/{case_id}/takedown").text
    assert "Queued for sending" in board
    with store.session() as s:
        assert s.get(Notice, email).status == "queued"  # type: ignore[union-attr]
        assert s.get(Notice, form).status == "drafted"  # type: ignore[union-attr]
        actor = s.scalar(select(AuditEvent.actor).where(AuditEvent.action == "takedown.queued"))
    assert actor == "web:queuer"
