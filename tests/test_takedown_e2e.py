"""Issue 16's "done when": a confirmed case from draft to removed through a re-send and an escalation, with
the clocks right at each step, then a re-upload re-noticed, against a simulated platform on loopback (its
pages over HTTP, its abuse desk over SMTP) and the real worker.

Two days pass in a second: the store's takedown clock is moved (clocks.set_clock_offset, a test-only
handle, never a setting). The story is played three days back and comes back to the real time for the
re-upload, whose scan stamps its hits with the real time."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.evidence.bundle import TIMELINE, export_bundle
from ncii_shield.evidence.bundle_check import verify_bundle
from ncii_shield.read.reuploads import reupload_alerts
from ncii_shield.review.decisions import decide
from ncii_shield.scan.service import scan_path
from ncii_shield.store.db import Store
from ncii_shield.store.models import Notice, NoticeItem, TakedownEvent
from ncii_shield.takedown import clocks
from ncii_shield.takedown.registry import load_registry
from ncii_shield.takedown.reupload import approve
from ncii_shield.takedown.service import draft, queue
from ncii_shield.takedown.smtp import SmtpSettings
from ncii_shield.takedown.worker import Worker
from tests import test_takedown_flow as flow
from tests.conftest import ASSETS, new_store
from tests.test_scan import _case
from tests.test_takedown_flow import PAGES, _crawl, _Inbox, _jpeg
from tests.test_takedown_worker import FAST, _settings

web, smtp = flow.web, flow.smtp  # the loopback platform and its SMTP abuse desk (fixtures)
PHOTO = ASSETS / "obama.jpg"
ORG, EMAIL = "Support Desk", "desk@support.test"
BACK = timedelta(hours=72)  # the story starts three days ago


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("NCII_REPORTER_ORG", ORG)
    monkeypatch.setenv("NCII_REPORTER_EMAIL", EMAIL)
    s = new_store(tmp_path / "data")
    yield s
    clocks.set_clock_offset(s, timedelta(0))
    s.close()


def _at(store: Store, hours: float) -> datetime:
    """Move the takedown clock to `hours` after the story's start; the database's time then."""
    clocks.set_clock_offset(store, timedelta(hours=hours) - BACK)
    with store.session() as s:
        return clocks.db_now(s)


def _notice(store: Store, notice_id: int) -> Notice:
    with store.session() as s:
        notice = s.get(Notice, notice_id)
        assert notice is not None
        notice.items  # noqa: B018 - loaded before the session ends
        return notice


def _clock(store: Store, case_id: int, notice_id: int) -> clocks.NoticeClock:
    with store.session() as s:
        return next(c for c in clocks.notice_clocks(s, case_id) if c.notice_id == notice_id)


def test_a_confirmed_case_from_draft_to_removed_then_its_re_upload_re_noticed(
    store: Store, tmp_path: Path, web: str, smtp: tuple[SmtpSettings, _Inbox]
) -> None:
    desk, inbox = smtp
    worker = Worker(
        store, _settings(store, NCII_REPORTER_ORG=ORG, NCII_REPORTER_EMAIL=EMAIL), smtp=desk, options=FAST
    )
    hosting = load_registry().platform("hosting")
    h = timedelta(hours=1)

    # Found, confirmed, drafted, approved for the worker.
    case_id = _case(store, [PHOTO])
    crawl = _crawl(tmp_path / "crawl", web, {"a.jpg": _jpeg(PHOTO, 900)})
    PAGES["/post/a.jpg"] = 200
    scan_path(store, crawl, case_id=case_id, workers=1)
    with store.session() as s:
        decide(s, case_id, "confirmed", "her photo", undecided_only=True)
        (notice,) = draft(
            s, case_id, reporter_organisation=ORG, reporter_email=EMAIL, hosting_contact="abuse@host.test"
        )
        queue(s, notice.id, "approved")
        notice_id = notice.id

    # Hour 0: sent; the deadline is the TAKE IT DOWN Act's 48 h from the send.
    t0 = _at(store, 0)
    assert worker.run_once().sent == [notice_id]
    sent = _notice(store, notice_id)
    assert sent.sent_at is not None and abs(sent.sent_at - t0) < timedelta(seconds=5)
    assert sent.due_at == sent.sent_at + 48 * h
    assert sent.resend_at == sent.sent_at + hosting.resend_hours * h == sent.sent_at + 24 * h
    assert sent.check_at == sent.sent_at + hosting.recheck_hours * h
    assert sent.escalate_at == sent.due_at and sent.escalated_at is None
    clock = _clock(store, case_id, notice_id)
    assert (
        not clock.overdue and clock.seconds_left is not None and 47.9 * 3600 < clock.seconds_left <= 48 * 3600
    )
    assert clock.next_resend_at == sent.resend_at
    assert len(inbox.messages) == 1

    # Hour 25: still up; re-sent once, the deadline unchanged, the next re-send a day on.
    t25 = _at(store, 25)
    report = worker.run_once()
    assert report.checked == [notice_id] and report.resent == [notice_id] and report.escalated == []
    resent = _notice(store, notice_id)
    assert resent.resends == 1 and resent.due_at == sent.due_at
    assert resent.resend_at is not None and abs(resent.resend_at - (t25 + 24 * h)) < timedelta(seconds=5)
    assert {i.status for i in resent.items} == {"still_up"}
    clock = _clock(store, case_id, notice_id)
    assert (
        not clock.overdue and clock.seconds_left is not None and 22.9 * 3600 < clock.seconds_left <= 23 * 3600
    )
    assert str(inbox.messages[-1][1]["Subject"]).startswith("[Reminder 1]")

    # Hour 50: past the deadline, still up: overdue, escalated to the regulator (and re-sent again).
    t50 = _at(store, 50)
    assert _clock(store, case_id, notice_id).overdue
    report = worker.run_once()
    assert report.escalated == [notice_id] and report.resent == [notice_id]
    late = _notice(store, notice_id)
    assert late.escalated_at is not None and abs(late.escalated_at - t50) < timedelta(seconds=5)
    assert late.escalate_at is None and late.resends == 2
    clock = _clock(store, case_id, notice_id)
    assert clock.overdue and clock.escalated_at == late.escalated_at
    assert clock.seconds_left is not None and -2.1 * 3600 < clock.seconds_left < -1.9 * 3600
    with store.session() as s:
        regulator = s.scalars(select(Notice).where(Notice.platform_id == hosting.escalate_to)).one()
        assert regulator.status in ("drafted", "queued")  # a web form (KCSC): submitted by a person

    # The platform takes it down; the next check (recheck_hours after the last) records it, and nothing is
    # left to chase.
    assert late.check_at is not None and abs(late.check_at - (t50 + hosting.recheck_hours * h)) < timedelta(
        seconds=5
    )
    PAGES["/post/a.jpg"] = 404
    t_gone = _at(store, 50 + hosting.recheck_hours + 1)
    report = worker.run_once()
    assert report.removed == [notice_id]
    done = _notice(store, notice_id)
    (item,) = done.items
    assert item.status == "removed" and item.removed_at is not None
    assert abs(item.removed_at - t_gone) < timedelta(seconds=5)
    assert done.resend_at is None and done.check_at is None and done.escalate_at is None
    clock = _clock(store, case_id, notice_id)
    assert clock.done and not clock.overdue and clock.next_resend_at is None
    sent_messages = len(inbox.messages)
    assert worker.run_once().resent == [] and len(inbox.messages) == sent_messages
    with store.session() as s:
        history = list(
            s.scalars(
                select(TakedownEvent.status)
                .where(TakedownEvent.notice_id == notice_id)
                .order_by(TakedownEvent.id)
            )
        )
    assert history[:3] == ["drafted", "queued", "sending"]
    assert history.count("resent") == 2 and "escalated" in history and history[-1] == "removed"
    assert history.index("escalated") < history.index("removed")

    # Back to the real time: the same photo is uploaded again elsewhere on the site.
    _at(store, 72)
    PAGES["/post/c.jpg"] = 200
    scan_path(
        store, _crawl(tmp_path / "again", web, {"c.jpg": _jpeg(PHOTO, 640)}), case_id=case_id, workers=1
    )
    with store.session() as s:
        (alert,) = reupload_alerts(s, case_id)
        assert alert.status == "drafted" and alert.original_notice_id == notice_id
        assert alert.removed_at == item.removed_at
        renotice = s.get(Notice, alert.notice_id)
        assert renotice is not None and renotice.status == "drafted"
        assert s.get(NoticeItem, item.id).status == "reappeared"  # type: ignore[union-attr]
        approve(s, case_id, alert.id)
    report = worker.run_once()
    assert report.sent == [alert.notice_id]
    rcpt, message = inbox.messages[-1]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert rcpt == ["abuse@host.test"] and str(message["Subject"]).startswith("[Re-upload]")
    assert (
        f"removed on {item.removed_at:%Y-%m-%d %H:%M} UTC after our notice of {sent.sent_at:%Y-%m-%d %H:%M} UTC"
        in body
    )
    assert f"{web}/post/c.jpg" in body
    renoticed = _notice(store, alert.notice_id)  # type: ignore[arg-type]
    assert renoticed.due_at == renoticed.sent_at + 48 * h  # type: ignore[operator]  # its own clock
    # The evidence bundle shows it all, signed: each step with its time, the clock and how it ended.
    bundle = tmp_path / "bundle.zip"
    with store.session() as s:
        exported = export_bundle(store, s, case_id, bundle, media="none")
    assert verify_bundle(bundle, trusted=[exported.fingerprint]).ok
    with zipfile.ZipFile(bundle) as z:
        timeline = json.loads(z.read(TIMELINE))
    notices = {n["notice_id"]: n for n in timeline["notices"]}
    first, again = notices[notice_id], notices[alert.notice_id]  # type: ignore[index]
    steps = [(x["step"], datetime.fromisoformat(x["at"])) for x in first["steps"]]
    wanted = [("sent", t0), ("resent", t25), ("resent", t50), ("escalated", t50), ("removed", t_gone)]
    found = iter(steps)  # in this order, each within seconds of when the worker did it
    assert all(
        any(s == step and abs(at - when) < timedelta(seconds=5) for s, at in found) for step, when in wanted
    ), "\n".join(f"{s} {at:%d %H:%M:%S} (t0 {t0:%d %H:%M:%S})" for s, at in steps)
    assert first["verdict"] == "late" and first["resends"] == 2 and first["escalated_at"] is not None
    assert datetime.fromisoformat(first["due_at"]) == sent.due_at
    assert [i["status"] for i in first["items"]] == ["reappeared"]
    assert {"drafted", "sent"} <= {x["step"] for x in again["steps"]} and again["verdict"] == "running"


def test_the_demo_act_tells_the_three_outcomes(tmp_path: Path) -> None:
    """`make demo`'s last act, on its own: removed within 48 h, overdue and escalated, a re-upload re-noticed."""
    from ncii_shield.demo.takedown_act import takedown_act

    store = new_store(tmp_path / "data")
    try:
        story = takedown_act(store, tmp_path)
        assert story.ok and story.hours_to_removal is not None and story.hours_to_removal < 48
        subjects = [str(m["Subject"]).replace("\r\n", "") for m in story.messages]
        assert len(subjects) == 5 and subjects[-1].startswith("[Re-upload]")
        assert sum(s.startswith("[Reminder") for s in subjects) == 2
        with store.session() as s:
            assert clocks.clock_offset(s) == timedelta(0), "the clock is real again"
            notices = {n.id: n for n in s.scalars(select(Notice))}
            assert {n.platform_id for n in notices.values()} == {"hosting", "kcsc"}, "nothing to Telegram"
            assert notices[story.overdue].escalated_at is not None
            offsets = [
                e.evidence.get("test_clock_offset_hours")
                for e in s.scalars(select(TakedownEvent).where(TakedownEvent.notice_id == story.removed))
            ]
            assert any(o is not None and o < 0 for o in offsets), "events under the moved clock say so"
    finally:
        store.close()
