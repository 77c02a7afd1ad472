"""The takedown worker: sends queued notices, rechecks, re-sends until removal, escalates after the deadline.

One pass (`Worker.run_once`, `ncii-shield takedown run --once`) looks for notices with work due by the
database's clock (takedown/clocks.py) and, per notice, takes a lease with one ``UPDATE ... WHERE`` the lease
is free or expired, so any number of workers (cron, systemd timers, a loop in a server) can run at once and
each notice is handled by one. Sending is recorded before SMTP is spoken to (``sending_at`` and the
Message-ID the message will carry, committed), and reconciled after; a worker killed between the two
leaves a notice whose lease runs out and whose next worker re-sends it under the same Message-ID, so what
the platform receives is one message, delivered once or (if the kill fell after the server's 250) twice
with the same ID, by which the receiving side can tell it is one message. A send the server refuses or drops stays
due and is retried with back-off (the send itself: takedown/outbox.py). Every step is a takedown event and
an audit-chain entry. When an inbox is configured (NCII_INBOX_MAILDIR or NCII_IMAP_*), each pass first reads
the platforms' new replies (takedown/inbox_sources.py), so a claim of removal is rechecked in
the same pass.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.store.models import Notice
from ncii_shield.takedown.clocks import db_now, hours, is_done, start_clocks, stop_clocks
from ncii_shield.takedown.events import record_event
from ncii_shield.takedown.registry import Registry, load_registry
from ncii_shield.takedown.service import CHECKABLE, draft_escalation, queue, record_check
from ncii_shield.takedown.smtp import SmtpSettings

log = logging.getLogger(__name__)
TRACKED = ("sent", "acknowledged")  # notices whose content the worker follows until it is gone


@dataclass(frozen=True)
class WorkerOptions:
    """How long a lease lasts, how hard a recheck tries, how failed sends back off."""

    lease_seconds: float = 300.0  # longer than one notice's work: an SMTP timeout plus a recheck's retries
    check_timeout: float = 10.0
    check_retries: int = 2
    check_backoff: float = 0.5
    retry_first_seconds: float = 300.0  # a failed send is tried again after 5 min, 10, 20… up to 6 h
    retry_max_seconds: float = 6 * 3600.0
    unsettled_recheck_seconds: float = 3600.0  # a recheck that could not tell (5xx, timeout) is redone sooner


@dataclass
class PassReport:
    """What one pass did, notice ids per outcome (for the CLI's output and the tests)."""

    sent: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)  # leased by another worker
    renoticed: list[int] = field(default_factory=list)  # re-upload notices drafted (takedown/reupload.py)
    replies: list[int] = field(default_factory=list)  # notices a reply was read for (takedown/inbox.py)
    unmatched_replies: list[int] = field(default_factory=list)  # inbound messages kept for a human
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def new_owner() -> str:
    """A lease owner unique to this worker: the host and process for people, a random part for threads."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Drives notices to removal; safe to run as many times, in as many processes, as wanted."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        smtp: SmtpSettings | None = None,
        registry: Registry | None = None,
        options: WorkerOptions | None = None,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.registry = registry or load_registry()
        self.options = options or WorkerOptions()
        self.owner = owner or new_owner()
        self._smtp = smtp

    # ------------------------------------------------------------------------------------ the passes

    def run_forever(
        self,
        every: float,
        *,
        case_id: int | None = None,
        stop: threading.Event | None = None,
        on_pass: Callable[[PassReport], None] | None = None,
    ) -> None:
        """Pass after pass, `every` seconds apart, until `stop` is set (the loop a server can host). A pass
        that fails (the database away a while) is logged and the loop goes on."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                report = self.run_once(case_id)
                if on_pass is not None:
                    on_pass(report)
            except Exception:
                log.exception("takedown worker %s: the pass failed", self.owner)
            stop.wait(every)

    def run_once(self, case_id: int | None = None) -> PassReport:
        """One pass over every notice with work due now (by the database's clock)."""
        report = PassReport()
        self._poll_inbox(report)  # first: a bounce re-queues, a removal claim brings a recheck forward
        self._renotice(case_id, report)
        with self.store.session() as session:
            due = self._due(session, case_id)
        for notice_id in due:
            if not self._claim(notice_id):
                report.busy.append(notice_id)
                continue
            try:
                self._work(notice_id, report)
            except NciiError as exc:
                report.errors.append(f"notice {notice_id}: {exc}")
            finally:
                self._release(notice_id)
        return report

    def _renotice(self, case_id: int | None, report: PassReport) -> None:
        """Re-uploads of removed content: a notice drafted for each new location, for a case worker to
        approve (takedown/reupload.py); it is sent by a later pass once queued."""
        from ncii_shield.takedown.reupload import renotice_cases

        try:
            done = renotice_cases(self.store, self.settings, case_id=case_id, registry=self.registry)
        except NciiError as exc:
            report.errors.append(f"re-uploads: {exc}")
            return
        report.renoticed.extend(done.drafted)
        report.errors.extend(done.problems)

    def _due(self, session: Session, case_id: int | None) -> list[int]:
        now = db_now(session)
        to_send = and_(
            Notice.status == "queued",
            Notice.channel == "email",
            or_(Notice.next_attempt_at.is_(None), Notice.next_attempt_at <= now),
        )
        follow = and_(
            Notice.status.in_(TRACKED),
            or_(
                Notice.due_at.is_(None),  # sent before the worker existed: its clocks are set now
                Notice.check_at <= now,
                Notice.resend_at <= now,
                Notice.escalate_at <= now,
            ),
        )
        query = select(Notice.id).where(
            or_(Notice.lease_owner.is_(None), Notice.lease_until < now),
            or_(to_send, Notice.sending_at.is_not(None), follow),
        )
        if case_id is not None:
            query = query.where(Notice.case_id == case_id)
        return list(session.scalars(query.order_by(Notice.id)))

    def _poll_inbox(self, report: PassReport) -> None:
        """Read new replies (NCII_INBOX_MAILDIR or NCII_IMAP_*) when configured; a failure is reported."""
        from ncii_shield.takedown.inbox_sources import configured, read_inbox

        if not configured(self.settings):
            return
        try:
            read = read_inbox(self.store, self.settings)
        except NciiError as exc:
            report.errors.append(f"inbox: {exc}")
            return
        report.replies += read.notices
        report.unmatched_replies += read.unmatched
        report.errors += [f"inbox: {line}" for line in read.errors]

    # ------------------------------------------------------------------------------------ the lease

    def _claim(self, notice_id: int) -> bool:
        """Take the notice's lease if it is free or expired: one statement, so two workers cannot both."""
        with self.store.session() as session:
            now = db_now(session)
            taken = session.execute(
                update(Notice)
                .where(
                    Notice.id == notice_id,
                    or_(Notice.lease_owner.is_(None), Notice.lease_until < now),
                )
                .values(lease_owner=self.owner, lease_until=now + self._lease())
                .execution_options(synchronize_session=False)
            )
            return taken.rowcount == 1  # type: ignore[attr-defined]

    def _renew(self, session: Session, notice_id: int, now: datetime, **values: object) -> bool:
        """Extend our lease (and set `values`) only if it is still ours."""
        return (
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.lease_owner == self.owner)
                .values(lease_until=now + self._lease(), **values)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            == 1
        )

    def _release(self, notice_id: int) -> None:
        with self.store.session() as session:
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.options.lease_seconds)

    # ------------------------------------------------------------------------------------ one notice

    def _work(self, notice_id: int, report: PassReport) -> None:
        with self.store.session() as session:
            notice = session.get(Notice, notice_id)
            if notice is None or notice.lease_owner != self.owner:
                return
            now = db_now(session)
            interrupted = notice.sending_at is not None
            if interrupted:  # a worker died between "sending" and its outcome: the same message goes again
                record_event(session, notice, "interrupted", message_id=notice.outbox_id)
                audit.record(
                    session,
                    "takedown.send_interrupted",
                    case_id=notice.case_id,
                    notice=notice.id,
                    message_id=notice.outbox_id,
                    since=notice.sending_at.isoformat() if notice.sending_at else None,
                )
                notice.sending_at = None
                report.interrupted.append(notice_id)
            if notice.status in TRACKED and notice.due_at is None and notice.sent_at is not None:
                start_clocks(notice, notice.sent_at, self.registry)
            if notice.status in TRACKED and not interrupted and is_done(notice):
                # Removed meanwhile (a recheck by hand, `takedown mark`): nothing left to chase.
                stop_clocks(notice)
                return
            status, channel = notice.status, notice.channel
            first_send = status == "queued" and (
                interrupted or notice.next_attempt_at is None or notice.next_attempt_at <= now
            )
            check_due = status in TRACKED and notice.check_at is not None and notice.check_at <= now
        if first_send:
            self._send(notice_id, report, resend=False)
            return
        if status not in TRACKED:
            return
        if check_due:
            self._recheck(notice_id, report)
        with self.store.session() as session:
            notice = session.get(Notice, notice_id)
            now = db_now(session)
            assert notice is not None
            resend_due = not is_done(notice) and (
                interrupted or (notice.resend_at is not None and notice.resend_at <= now)
            )
            if resend_due and channel != "email":  # a web form: the case worker re-submits it
                record_event(session, notice, "resend_due", channel=channel)
                audit.record(session, "takedown.resend_due", case_id=notice.case_id, notice=notice_id)
                notice.resend_at = now + hours(self.registry.platform(notice.platform_id).resend_hours)
                resend_due = False
            escalate_due = (
                not is_done(notice) and notice.escalate_at is not None and notice.escalate_at <= now
            )
        if resend_due:
            self._send(notice_id, report, resend=True)
        if escalate_due:
            self._escalate(notice_id, report)

    # ------------------------------------------------------------------------------------ sending

    def _smtp_settings(self) -> SmtpSettings:
        if self._smtp is None:
            from ncii_shield.takedown.smtp import smtp_settings

            self._smtp = smtp_settings(self.settings)  # NciiError naming what to set, if not configured
        return self._smtp

    def _send(self, notice_id: int, report: PassReport, *, resend: bool) -> None:
        """Record "sending", talk SMTP, record what happened (takedown/outbox.py)."""
        from ncii_shield.takedown.outbox import send_step

        outcome = send_step(self, notice_id, self._smtp_settings(), resend=resend)
        if outcome is not None:
            getattr(report, outcome).append(notice_id)

    # ------------------------------------------------------------------------------------ rechecking

    def _recheck(self, notice_id: int, report: PassReport) -> None:
        """Fetch the notice's reported URLs (outside any transaction), then record each answer."""
        from ncii_shield.takedown.recheck import check_urls

        with self.store.session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            targets = [(i.id, i.url) for i in notice.items if i.url and i.status in CHECKABLE]
        results = check_urls(
            [url for _, url in targets],
            retries=self.options.check_retries,
            backoff=self.options.check_backoff,
            timeout=self.options.check_timeout,
            allowed=self.settings.recheck_allow,
        )
        with self.store.session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            now = db_now(session)
            items = {i.id: i for i in notice.items}
            rows = [
                record_check(session, notice, items[i], r) for (i, _), r in zip(targets, results, strict=True)
            ]
            platform = self.registry.platform(notice.platform_id)
            wait = hours(platform.recheck_hours)
            if any(r.status == "unknown" for r in rows):
                wait = min(wait, timedelta(seconds=self.options.unsettled_recheck_seconds))
            notice.check_at = now + wait
            if rows:
                audit.record(
                    session,
                    "takedown.rechecked",
                    case_id=notice.case_id,
                    notice=notice_id,
                    removed=sum(r.status == "removed" for r in rows),
                    still_up=sum(r.status == "still_up" for r in rows),
                    unknown=sum(r.status == "unknown" for r in rows),
                )
            session.flush()
            if is_done(notice):
                stop_clocks(notice)
                report.removed.append(notice_id)
            report.checked.append(notice_id)

    # ------------------------------------------------------------------------------------ escalating

    def _escalate(self, notice_id: int, report: PassReport) -> None:
        """Past the deadline with content still up: a notice to the regulator the registry names."""
        org, email = self.settings.reporter_org, self.settings.reporter_email
        with self.store.session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            now = db_now(session)
            target = self.registry.platform(notice.platform_id).escalate_to
            if target is None:
                notice.escalate_at = None
                return
            if not org or not email:
                notice.escalate_at = now + timedelta(hours=1)  # asked again in an hour, not every pass
                report.errors.append(
                    f"notice {notice_id} is overdue but cannot be escalated: "
                    "set NCII_REPORTER_ORG and NCII_REPORTER_EMAIL (who reports, in the regulator's notice)"
                )
                return
            created = draft_escalation(
                session,
                notice,
                target,
                reporter_organisation=org,
                reporter_email=email,
                registry=self.registry,
            )
            for new in created:
                if new.channel == "email":
                    queue(session, new.id, note=f"escalation of notice {notice_id}")
            notice.escalated_at, notice.escalate_at = now, None
            due = notice.due_at.isoformat() if notice.due_at else None
            ids = [n.id for n in created]
            record_event(session, notice, "escalated", to=target, notices=ids, due_at=due)
            audit.record(
                session,
                "takedown.escalated",
                case_id=notice.case_id,
                notice=notice_id,
                to=target,
                notices=ids,
            )
            report.escalated.append(notice_id)


def worker_loop(store: Store, settings: Settings, every: float = 300.0) -> Callable[[threading.Event], None]:
    """A function a server can run in a thread: passes every `every` seconds until its event is set."""
    worker = Worker(store, settings)
    return lambda stop: worker.run_forever(every, stop=stop)
