"""Replies to notices read from a Maildir of real RFC 5322 files (tests/data/inbox: a Zendesk-style ticket,
a Google-style no-reply, a Meta-style HTML-only mail, a Postfix bounce with a delivery-status report, a
Korean auto-reply, a refusal, a claim of removal, and forgeries), matched by reference and classified
conservatively: a claim of removal never marks anything removed, the worker's recheck does."""

from __future__ import annotations

import json
import mailbox
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, InboxMessage, Notice
from ncii_shield.takedown.inbox import classify, parse, reference_token, tokens_in
from ncii_shield.takedown.inbox_sources import read_inbox
from ncii_shield.takedown.service import record_sent
from ncii_shield.takedown.smtp import SmtpSettings
from tests.conftest import DATA, cli_env
from tests.test_takedown_worker import (  # noqa: F401 - desk and web are fixtures
    FAST,
    PAGES,
    Desk,
    _earlier,
    _events,
    _notice,
    _seed,
    _settings,
    desk,
    web,
)

FIXTURES = DATA / "inbox"


def fixture(name: str, **values: str) -> bytes:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text.replace("\n", "\r\n").encode()


def _sent(store: Store, urls: list[list[str]]) -> list[tuple[int, str, str, str]]:
    """Notices sent (by hand, with a Message-ID as the worker would): (id, Message-ID, subject, token)."""
    ids = _seed(store, urls, status="drafted")
    out = []
    with store.session() as s:
        for n, notice_id in enumerate(ids):
            notice = s.get(Notice, notice_id)
            assert notice is not None
            token = reference_token(notice_id)
            notice.subject = f"{notice.subject} {token}"
            mid = f"<notice-{n}.{notice_id}@support.test>"
            record_sent(s, notice, channel="smtp", message_id=mid)
            out.append((notice_id, mid, notice.subject, token))
    return out


def _maildir(path: Path, *messages: bytes) -> Path:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    return path


def _rows(store: Store) -> dict[str, InboxMessage]:
    with store.session() as s:
        rows = s.scalars(select(InboxMessage).order_by(InboxMessage.id)).all()
        return {r.message_id or f"#{r.id}": r for r in rows}


def test_the_fixtures_are_classified_conservatively() -> None:
    subject = "Removal request [NCII-1-0123456789]"
    kinds = {
        name: classify(
            parse(fixture(name, SUBJECT=subject, MSGID="<a@b>", TOKEN="", FORGED="", OTHER_TOKEN=""))
        )
        for name in (
            "zendesk_ack.eml",
            "google_noreply.eml",
            "removal_claim.eml",
            "declined.eml",
            "bounce_dsn.eml",
            "korean_ack.eml",
            "newsletter.eml",
        )
    }
    assert kinds == {
        "zendesk_ack.eml": ("acknowledged", "48213"),
        "google_noreply.eml": ("acknowledged", "3-1234000031234"),
        "removal_claim.eml": ("removal_claimed", None),  # "not removed within 48 hours" is quoted: cut off
        "declined.eml": ("declined", None),
        "bounce_dsn.eml": ("bounce", None),
        "korean_ack.eml": ("acknowledged", "KR-2026-1234"),
        "newsletter.eml": ("reply", None),
    }
    bounce = parse(fixture("bounce_dsn.eml", SUBJECT=subject, MSGID="<a@b>"))
    assert bounce.dsn is not None and bounce.dsn.permanent and bounce.dsn.original_ids == ("<a@b>",)
    assert "Recipient address rejected" not in bounce.text or "mail system" in bounce.text
    html = parse(fixture("meta_html_only.eml", MSGID="<a@b>"))
    assert html.html_only and html.text == "" and html.references == ("<a@b>",)
    assert html.preview == "Thanks for your report. We removed the content you reported."  # shown, not read
    assert classify(html) == ("reply", None)
    for junk in (b"", b"\x00\xff\xfe garbage", b"no headers at all\r\n", b"From: \r\n\r\n" * 3):
        assert parse(junk).malformed, junk


def test_a_token_is_bound_to_its_notice_by_the_deployment_key(store: Store) -> None:
    with store.session():
        token = reference_token(7)
        assert token.startswith("[NCII-7-") and tokens_in(f"Re: x {token}") == ({7}, 0)
        forged = token.replace("[NCII-7-", "[NCII-8-")
        assert tokens_in(forged) == (set(), 1)
        assert tokens_in("Re: [NCII-7-0000000000]") == (set(), 1)
        assert tokens_in("Case NCII-2026-0001-3") == (set(), 0)  # the case reference is not a token


def test_replies_in_a_maildir_are_matched_classified_and_read_once(store: Store, tmp_path: Path) -> None:
    (a, a_mid, a_subject, _), (b, b_mid, b_subject, _), (c, _, _, c_token) = _sent(
        store,
        [["https://host.test/a1", "https://host.test/a2"], ["https://host.test/b"], ["https://x.test/c"]],
    )
    big = (
        fixture("newsletter.eml")
        .replace(b"Five stories", b"x" * 3000)
        .replace(b"digest-2026-49", b"digest-big")
    )
    big = big.replace(b"Subject: This week", f"In-Reply-To: {a_mid}\r\nSubject: This week".encode())
    box = _maildir(
        tmp_path / "Maildir",
        fixture("zendesk_ack.eml", SUBJECT=a_subject),
        fixture("removal_claim.eml", SUBJECT=a_subject, MSGID=a_mid),
        fixture("bounce_dsn.eml", SUBJECT=b_subject, MSGID=b_mid),
        fixture("meta_html_only.eml", MSGID=a_mid),
        fixture("korean_ack.eml", TOKEN=c_token),
        fixture("newsletter.eml"),
        fixture("forged_claim.eml", FORGED=f"[NCII-{b}-{'0' * 10}]"),
        fixture("crossed_claim.eml", MSGID=a_mid, OTHER_TOKEN=c_token),
        b"\x00\xffnot an e-mail",
        big,
    )
    settings = _settings(store, NCII_INBOX_MAX_BYTES="2500")
    report = read_inbox(store, settings, maildir=box)
    assert not report.errors and report.skipped == 0
    assert len(report.matched) == 4 and len(report.unmatched) == 6, report
    assert sorted(report.notices) == sorted({a, b, c})
    rows = _rows(store)
    zendesk = rows["<ZD7Q1LXK9_6751c0a8_48213@zendesk.host.test>"]
    assert (zendesk.status, zendesk.kind, zendesk.ticket, zendesk.matched_by) == (
        "matched",
        "acknowledged",
        "48213",
        "token",
    )
    claim = rows["<reply-7781@host.test>"]
    assert (claim.notice_id, claim.kind, claim.matched_by) == (a, "removal_claimed", "message_id")
    assert rows["<kr-ack-5521@host.test>"].ticket == "KR-2026-1234"
    unmatched = {
        r.reason: (r.message_id, r.suggested_notice_id) for r in rows.values() if r.status == "unmatched"
    }
    assert unmatched == {
        "html_only": ("<b0f3a1c2d4e5.1733383205@support.host.test>", a),  # for a human, notice suggested
        "no_reference": ("<digest-2026-49@elsewhere.test>", None),
        "bad_reference": ("<forged-1@attacker.test>", None),
        "conflicting_references": ("<crossed-1@other.test>", None),
        "malformed": (None, None),
        "too_large": ("<digest-big@elsewhere.test>", a),  # read by its headers only
    }
    # A: acknowledged (ticket kept), the claim recorded, nothing removed, the recheck brought forward.
    notice = _notice(store, a)
    assert notice.status == "acknowledged" and {i.status for i in notice.items} == {"acknowledged"}
    assert all(i.removed_at is None for i in notice.items)
    assert notice.check_at is not None and notice.check_at <= notice.sent_at + timedelta(minutes=5)  # type: ignore[operator]
    assert _events(store, a)[-2:] == ["acknowledged", "removal_claimed"]
    # B bounced: sent again soon (the worker's re-send), its deadline and first send untouched; never acked.
    bounced = _notice(store, b)
    assert bounced.status == "sent" and bounced.resend_at is not None and bounced.due_at is not None
    assert bounced.resend_at - bounced.sent_at < timedelta(hours=1)  # type: ignore[operator]
    assert bounced.due_at - bounced.sent_at == timedelta(hours=48)  # type: ignore[operator]
    assert _events(store, b)[-1] == "bounced" and "acknowledged" not in _events(store, b)
    # The forged claim about B changed nothing; the crossed one (A's thread, C's token) neither.
    assert _notice(store, c).status == "acknowledged"  # by the Korean auto-reply, not by the crossed claim
    assert "removal_claimed" not in _events(store, c)
    with store.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("takedown.reply%"))))
    assert actions.count("takedown.reply_unmatched") == 6 and "takedown.reply_bounced" in actions
    # Read once: a second run reads nothing new and records nothing.
    events = len(_events(store, a))
    again = read_inbox(store, settings, maildir=box)
    assert again.skipped == 10 and not again.matched and not again.unmatched
    assert len(_events(store, a)) == events
    # The same reply delivered twice (two files, one Message-ID) is applied once.
    mailbox.Maildir(box).add(fixture("removal_claim.eml", SUBJECT=a_subject, MSGID=a_mid))
    third = read_inbox(store, settings, maildir=box)
    assert len(third.duplicate) == 1 and _events(store, a).count("removal_claimed") == 1


def test_a_claimed_removal_counts_once_the_worker_sees_it_gone(
    store: Store,
    tmp_path: Path,
    web: str,  # noqa: F811
) -> None:
    from ncii_shield.takedown.worker import Worker
    from tests.test_takedown_worker import FAST

    PAGES["/gone-after-claim"] = 404
    PAGES["/still-there"] = 200
    ((a, a_mid, a_subject, _),) = _sent(store, [[f"{web}/gone-after-claim", f"{web}/still-there"]])
    box = _maildir(tmp_path / "Maildir", fixture("removal_claim.eml", SUBJECT=a_subject, MSGID=a_mid))
    worker = Worker(store, _settings(store, NCII_INBOX_MAILDIR=str(box)), options=FAST)
    report = worker.run_once()
    assert report.replies == [a] and report.checked == [a] and not report.errors, report
    statuses = {i.url.rsplit("/", 1)[1]: i.status for i in _notice(store, a).items if i.url}
    assert statuses == {"gone-after-claim": "removed", "still-there": "still_up"}  # the claim was half true
    assert _notice(store, a).status == "sent"


def test_takedown_inbox_on_the_command_line(store: Store, tmp_path: Path) -> None:
    ((a, a_mid, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    box = _maildir(
        tmp_path / "Maildir",
        fixture("google_noreply.eml", SUBJECT=a_subject, MSGID=a_mid),
        fixture("newsletter.eml"),
    )
    data = str(store.settings.data_dir)
    notice = _notice(store, a)
    item_id, sent_at = notice.items[0].id, notice.sent_at
    assert sent_at is not None
    store.close()

    def cli(*args: str, command: str = "inbox") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", data, "takedown", command, *args],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=120,
        )

    first = cli("--maildir", str(box), "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert len(out["read"]["matched"]) == 1 and out["read"]["notices"] == [a]
    (kept,) = out["unmatched"]
    assert kept["reason"] == "no_reference" and kept["subject"] == "This week in trust and safety"
    listed = json.loads(cli("--json").stdout)  # no inbox configured: the unmatched list alone
    assert listed["read"] is None and [m["id"] for m in listed["unmatched"]] == [kept["id"]]
    dismissed = cli("--dismiss", str(kept["id"]))
    assert dismissed.returncode == 0, dismissed.stderr
    assert json.loads(cli("--json").stdout)["unmatched"] == []
    human = cli("--maildir", str(box))
    assert human.returncode == 0 and "nothing new" in human.stdout, human.stdout
    early = cli(str(a), str(item_id), "--at", "2000-01-01T00:00", command="removed")
    assert early.returncode != 0 and "before the notice was sent" in early.stderr + early.stdout
    when = sent_at.strftime("%Y-%m-%dT%H:%M")  # the minute it was sent: not before it
    done = cli(str(a), str(item_id), "--at", when, "--note", "looked: 404", command="removed")
    assert done.returncode == 0, done.stderr
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            data,
            "takedown",
            "status",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert '"removed": 1' in status.stdout, status.stdout


def test_imap_without_encryption_is_refused_off_loopback(store: Store) -> None:
    settings = _settings(
        store,
        NCII_IMAP_HOST="imap.example.org",
        NCII_IMAP_USER="desk",
        NCII_IMAP_PASSWORD="secret",
        NCII_IMAP_TLS="none",
    )
    with pytest.raises(NciiError, match="without encryption"):
        read_inbox(store, settings, imap=True)


def test_a_bounced_notice_is_sent_again_by_the_worker_in_its_thread(
    store: Store,
    tmp_path: Path,
    desk: tuple[SmtpSettings, Desk],  # noqa: F811
) -> None:
    from ncii_shield.takedown.worker import Worker

    smtp, received = desk
    ((b, b_mid, b_subject, _),) = _sent(store, [["https://host.test/b"]])
    before = _notice(store, b)
    box = _maildir(tmp_path / "Maildir", fixture("bounce_dsn.eml", SUBJECT=b_subject, MSGID=b_mid))
    worker = Worker(store, _settings(store, NCII_INBOX_MAILDIR=str(box)), smtp=smtp, options=FAST)
    report = worker.run_once()
    assert report.replies == [b] and not report.resent and not report.errors, report
    _earlier(store, b, timedelta(hours=1), "resend_at")
    again = worker.run_once()
    assert again.resent == [b] and not again.replies, again
    (message,) = received.received
    assert str(message["Subject"]) == f"[Reminder 1] {b_subject}" and message["In-Reply-To"] == b_mid
    after = _notice(store, b)
    assert (after.sent_at, after.due_at, after.message_id) == (before.sent_at, before.due_at, b_mid)
    assert _events(store, b)[-3:] == ["bounced", "sending", "resent"]


def test_a_message_that_breaks_the_reader_is_kept_and_the_run_goes_on(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ncii_shield.takedown.inbox_record as record

    ((a, a_mid, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    real = record.classify

    def classify_or_fail(parsed: object) -> tuple[str, str | None]:
        if "trust and safety" in getattr(parsed, "subject", ""):
            raise ValueError("an unforeseen message")
        return real(parsed)  # type: ignore[arg-type]

    monkeypatch.setattr(record, "classify", classify_or_fail)
    box = _maildir(
        tmp_path / "Maildir",
        fixture("newsletter.eml"),
        fixture("google_noreply.eml", SUBJECT=a_subject, MSGID=a_mid),
    )
    report = read_inbox(store, _settings(store), maildir=box)
    assert len(report.matched) == 1 and len(report.unmatched) == 1 and len(report.errors) == 1
    assert "an unforeseen message" in report.errors[0] and _notice(store, a).status == "acknowledged"
    assert {r.reason for r in _rows(store).values() if r.status == "unmatched"} == {"error"}
    assert read_inbox(store, _settings(store), maildir=box).skipped == 2, "not retried forever"


def test_purging_a_case_blanks_its_replies_and_they_are_not_read_again(store: Store, tmp_path: Path) -> None:
    from ncii_shield.cases.retention import purge_case

    ((a, a_mid, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    box = _maildir(
        tmp_path / "Maildir",
        fixture("removal_claim.eml", SUBJECT=a_subject, MSGID=a_mid),
        fixture("meta_html_only.eml", MSGID=a_mid),  # unmatched, the notice suggested
        fixture("newsletter.eml"),  # about no case: untouched
    )
    settings = _settings(store)
    read_inbox(store, settings, maildir=box)
    with store.session() as s:
        case_id = s.get(Notice, a).case_id  # type: ignore[union-attr]
        purge_case(store, s, case_id)
    rows = sorted(_rows(store).values(), key=lambda r: r.id)
    assert [(r.status, r.from_addr, r.subject, r.snippet) for r in rows[:2]] == [("purged", "", "", "")] * 2
    assert rows[2].status == "unmatched" and rows[2].subject == "This week in trust and safety"
    assert read_inbox(store, settings, maildir=box).skipped == 3


def test_a_bounce_that_returns_the_whole_original_reads_only_its_own_text(
    store: Store, tmp_path: Path
) -> None:
    """A bounce carrying our notice (message/rfc822, no report) is matched by the original's Message-ID,
    and the original's words are not read as the bounce's."""
    from email.message import EmailMessage

    ((a, a_mid, a_subject, _),) = _sent(store, [["https://host.test/a"]])
    original = EmailMessage()
    original["Message-ID"] = a_mid
    original["Subject"] = a_subject
    original.set_content("The content has been removed? No: please remove it. We have removed nothing.")
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.host.test"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = "<b@mx.host.test>"
    bounce.set_content("Your message could not be delivered.")
    bounce.add_attachment(original)  # message/rfc822, as some MTAs return it without a report
    parsed = parse(bytes(bounce))
    assert "removed" not in parsed.text and "could not be delivered" in parsed.text
    assert classify(parsed) == ("bounce", None) and parsed.dsn is None and parsed.returned_ids == (a_mid,)
    report = read_inbox(store, _settings(store), maildir=_maildir(tmp_path / "Maildir", bytes(bounce)))
    assert report.notices == [a] and _events(store, a)[-1] == "bounced"
