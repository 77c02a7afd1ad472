"""Sending one notice as the worker does: recorded before SMTP is spoken to, reconciled after.

Three steps, each committed on its own: "sending" (with the Message-ID the message will carry, under the
worker's lease, renewed), the SMTP conversation (outside any transaction), then what happened: sent (its
clocks start) or re-sent, or failed (the notice stays due, retried after a back-off that doubles). A worker
killed between the first and the last leaves ``sending_at`` set; the next worker to take the notice sends
the same message again, under the same Message-ID (takedown/worker.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.models import Notice
from ncii_shield.takedown.clocks import db_now, hours
from ncii_shield.takedown.events import record_event
from ncii_shield.takedown.service import record_sent

if TYPE_CHECKING:
    from ncii_shield.takedown.smtp import SmtpSettings
    from ncii_shield.takedown.worker import Worker

Outcome = Literal["sent", "resent", "failed"]


def send_step(worker: Worker, notice_id: int, smtp: SmtpSettings, *, resend: bool) -> Outcome | None:
    """Send (or re-send) one notice the worker holds; None if its lease was lost before anything was sent."""
    from ncii_shield.takedown.smtp import new_message_id, send_notice

    with worker.store.session() as session:
        now = db_now(session)
        if not worker._renew(session, notice_id, now, sending_at=now):
            return None  # our lease ran out and another worker has the notice now
        notice = session.get(Notice, notice_id)
        assert notice is not None
        message_id = notice.outbox_id or new_message_id(smtp)
        notice.outbox_id = message_id
        to, subject, body = notice.to, notice.subject, notice.body
        if resend:
            subject, body = reminder(notice, notice.resends + 1)
        references = notice.message_id if resend else None
        record_event(session, notice, "sending", message_id=message_id, resend=resend)
        audit.record(
            session,
            "takedown.sending",
            case_id=notice.case_id,
            notice=notice_id,
            message_id=message_id,
            resend=resend,
            attempt=notice.send_attempts + 1,
        )
    error: NciiError | None = None
    try:
        send_notice(smtp, to, subject, body, message_id=message_id, references=references)
    except NciiError as exc:
        error = exc
    with worker.store.session() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        now = db_now(session)
        notice.sending_at = None
        outcome: Outcome
        if error is None:
            notice.outbox_id, notice.send_attempts, notice.next_attempt_at = None, 0, None
            if resend:
                notice.resends += 1
                platform = worker.registry.platform(notice.platform_id)
                notice.resend_at = now + hours(platform.resend_hours)
                record_event(session, notice, "resent", message_id=message_id, reminder=notice.resends)
                audit.record(
                    session,
                    "takedown.resent",
                    case_id=notice.case_id,
                    notice=notice_id,
                    message_id=message_id,
                    reminder=notice.resends,
                )
                outcome = "resent"
            else:
                record_sent(
                    session,
                    notice,
                    worker.registry,
                    channel="smtp",
                    message_id=message_id,
                    worker=worker.owner,
                )
                outcome = "sent"
            return outcome
        notice.send_attempts += 1
        wait = min(
            worker.options.retry_first_seconds * 2 ** (notice.send_attempts - 1),
            worker.options.retry_max_seconds,
        )
        retry_at = now + timedelta(seconds=wait)
        if resend:
            notice.resend_at = retry_at
        else:
            notice.next_attempt_at = retry_at
        evidence = dict(error=str(error), hint=error.hint, attempt=notice.send_attempts, resend=resend)
        record_event(session, notice, "send_failed", retry_at=retry_at.isoformat(), **evidence)
        audit.record(session, "takedown.send_failed", case_id=notice.case_id, notice=notice_id, **evidence)
        return "failed"


def reminder(notice: Notice, n: int) -> tuple[str, str]:
    """The subject and body of the n-th re-send: the original notice, headed by when it was first sent."""
    sent = f"{notice.sent_at:%Y-%m-%d %H:%M} UTC" if notice.sent_at else "-"
    if notice.language == "ko":
        head = (
            f"[재요청 {n}] 이 요청은 {sent}에 처음 보낸 삭제 요청(Message-ID {notice.message_id})의 "
            "재요청입니다. 마지막 확인 때 아래 게시물이 아직 삭제되지 않았습니다. 삭제해 주십시오."
        )
        return f"[재요청 {n}] {notice.subject}", f"{head}\n\n{notice.body}"
    head = (
        f"Reminder {n}: we first sent this removal request on {sent} (Message-ID {notice.message_id}). "
        "The content listed below was still available when we last checked. Please remove it."
    )
    return f"[Reminder {n}] {notice.subject}", f"{head}\n\n{notice.body}"
