"""What an inbound reply does to its notice, and what a case worker records by hand from the web.

Each message is stored once (``inbox_messages``, unique by its source key) in the same transaction as its
effect, so a run killed midway, or two runs at once, never apply a reply twice. Effects are conservative
(takedown/inbox.py says why): an acknowledgement moves a sent notice to ``acknowledged`` and keeps the ticket
number; a removal claim is recorded and brings the worker's recheck forward, but no item is marked removed
until the recheck sees it gone or a case worker marks it; a bounce has the worker send the notice again
soon (a reminder in the same thread; its deadline and escalation stand). Everything is a takedown event and an audit-chain entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.store import audit
from ncii_shield.store.models import InboxMessage, Notice, NoticeItem, TakedownEvent
from ncii_shield.takedown.clocks import db_now, is_done, stop_clocks
from ncii_shield.takedown.events import record_event
from ncii_shield.takedown.inbox import Parsed, classify, is_bounce, same_domain, sha256, snippet, tokens_in

TRACKED = ("sent", "acknowledged")
_MSGID_IN_TEXT = re.compile(r"Message-ID:\s*(<[^<>\s]{1,250}>)", re.IGNORECASE)
BOUNCE_RETRY = timedelta(minutes=30)  # a bounced notice is sent again this soon


@dataclass(frozen=True)
class Match:
    notice_id: int | None
    by: str | None  # message_id | token | dsn
    reason: (
        str | None
    )  # why no notice: no_reference | bad_reference | conflicting_references | unknown_notice


def sent_ids(session: Session) -> dict[str, int]:
    """Every Message-ID we sent (first sends, reminders, retries) -> its notice."""
    found: dict[str, int] = {}
    for notice_id, message_id, outbox_id in session.execute(
        select(Notice.id, Notice.message_id, Notice.outbox_id).where(
            or_(Notice.message_id.is_not(None), Notice.outbox_id.is_not(None))
        )
    ):
        for mid in (message_id, outbox_id):
            if mid:
                found[mid] = notice_id
    for event in session.scalars(
        select(TakedownEvent).where(TakedownEvent.status.in_(("sending", "sent", "resent")))
    ):
        mid = (event.evidence or {}).get("message_id")
        if isinstance(mid, str) and mid:
            found[mid] = event.notice_id
    return found


def match(session: Session, parsed: Parsed, ids: dict[str, int]) -> Match:
    """The one notice the message refers to, by our Message-IDs first, then the subject's token."""
    refs = list(parsed.references)
    subjects = parsed.subject
    by_dsn = False
    if is_bounce(parsed):  # the original it returns says which message did not arrive
        refs += list(parsed.returned_ids)
        subjects += " " + parsed.returned_subject
        by_dsn = bool(parsed.returned_ids or parsed.returned_subject)
        if parsed.dsn is None and not by_dsn:  # a bounce without a report quotes the original in its text
            refs += _MSGID_IN_TEXT.findall(parsed.text[:20000])
            subjects += " " + parsed.text[:20000]
            by_dsn = True
    by_id = {ids[r] for r in refs if r in ids}
    by_token, forged = tokens_in(subjects)
    found = by_id | by_token
    if len(found) > 1:
        return Match(None, None, "conflicting_references")
    if not found:
        return Match(None, None, "bad_reference" if forged else "no_reference")
    (notice_id,) = found
    if forged:  # a valid reference beside a forged one: someone is trying something
        return Match(None, None, "bad_reference")
    if session.get(Notice, notice_id) is None:
        return Match(None, None, "unknown_notice")
    return Match(notice_id, "dsn" if by_dsn else ("message_id" if by_id else "token"), None)


def known(session: Session, keys: list[str]) -> set[str]:
    """The source keys among `keys` already processed."""
    out: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        out.update(session.scalars(select(InboxMessage.source_key).where(InboxMessage.source_key.in_(chunk))))
    return out


def record_message(
    session: Session,
    key: str,
    raw: bytes,
    size: int,
    parsed: Parsed,
    ids: dict[str, int],
    *,
    reason: str | None = None,
) -> InboxMessage:
    """Store one message and apply what it says (see the module's docstring); `reason` forces unmatched."""
    duplicate = parsed.message_id is not None and (
        session.scalar(select(InboxMessage.id).where(InboxMessage.message_id == parsed.message_id))
        is not None
    )
    found = match(session, parsed, ids) if not parsed.malformed else Match(None, None, "malformed")
    kind, ticket = classify(parsed) if not (parsed.malformed or parsed.headers_only) else ("reply", None)
    if parsed.html_only and kind in ("reply", "acknowledged"):
        reason = reason or "html_only"  # no HTML is read here: a human reads it, the notice suggested
    if parsed.malformed:
        reason = "malformed"
    row = InboxMessage(
        source_key=key[:400],
        message_id=parsed.message_id,
        sha256=sha256(raw),
        size=size,
        received_at=db_now(session),
        sent_date=parsed.date,
        from_addr=parsed.from_addr,
        subject=parsed.subject,
        snippet=snippet(parsed),
        kind=kind,
        ticket=ticket,
        status="matched",
        matched_by=found.by,
    )
    if duplicate:
        row.status, row.reason = "duplicate", "seen_message_id"
    elif reason is not None or found.notice_id is None:
        row.status, row.reason = "unmatched", reason or found.reason
        row.suggested_notice_id = found.notice_id
    else:
        row.notice_id = found.notice_id
    session.add(row)
    session.flush()  # the unique source key: a second run reading the same message stops here
    if row.status == "matched":
        notice = session.get(Notice, found.notice_id)
        assert notice is not None
        apply_reply(session, notice, row)
    elif row.status == "unmatched":
        audit.record(session, "takedown.reply_unmatched", inbox=row.id, reason=row.reason)
    return row


def record_failure(session: Session, key: str, raw: bytes, size: int, error: str) -> InboxMessage:
    """A message whose processing failed: kept, unmatched, for a human, so the run goes on and it is not
    retried forever."""
    row = InboxMessage(
        source_key=key[:400],
        message_id=None,
        sha256=sha256(raw),
        size=size,
        received_at=db_now(session),
        from_addr="",
        subject="",
        snippet=error[:500],
        kind="reply",
        status="unmatched",
        reason="error",
    )
    session.add(row)
    session.flush()
    audit.record(session, "takedown.reply_unmatched", inbox=row.id, reason="error")
    return row


def _evidence(row: InboxMessage, notice: Notice) -> dict[str, object]:
    return dict(
        inbox=row.id,
        message_id=row.message_id,
        date=row.sent_date.isoformat() if row.sent_date else None,
        sender=row.from_addr,
        ticket=row.ticket,
        matched_by=row.matched_by,
        sender_matches=same_domain(row.from_addr, notice.to),
    )


def apply_reply(session: Session, notice: Notice, row: InboxMessage) -> None:
    """What the reply's kind does to its notice (the kinds: takedown/inbox.py `classify`)."""
    evidence = _evidence(row, notice)
    now = db_now(session)
    kind = row.kind
    if kind == "acknowledged" and notice.status in TRACKED:
        evidence.pop("ticket")
        acknowledge(session, notice, row.ticket, via="email", **evidence)
        return
    # Anything else, or an acknowledgement of a notice not (or no longer) out: recorded, status unchanged.
    if kind == "removal_claimed" and notice.status in TRACKED and not is_done(notice):
        notice.check_at = now  # the worker's next pass looks: a removal counts once it is seen
    if kind == "bounce" and notice.channel == "email" and notice.status in TRACKED and not is_done(notice):
        # Not delivered: sent again soon, as a reminder in the same thread. The deadline, the first send's
        # time and the escalation stand: a forged bounce must not restart a platform's clock.
        retry = now + BOUNCE_RETRY
        notice.resend_at = min(notice.resend_at, retry) if notice.resend_at else retry
        evidence["resend_at"] = notice.resend_at.isoformat()
    status = {"bounce": "bounced", "delay": "delayed"}.get(kind, kind)
    record_event(session, notice, status, **evidence)
    audit.record(session, f"takedown.reply_{status}", case_id=notice.case_id, notice=notice.id, inbox=row.id)


def acknowledge(session: Session, notice: Notice, ticket: str | None, **evidence: object) -> None:
    """The platform has the notice (an auto-reply, a ticket number): sent -> acknowledged, items too."""
    if notice.status in ("drafted", "queued"):
        raise Conflict(f"notice {notice.id} has not been sent yet", hint="mark it sent first")
    if notice.status == "sent":
        notice.status = "acknowledged"
        for item in notice.items:
            if item.status == "sent":
                item.status = "acknowledged"
    ticket = (ticket or "").strip()[:100] or None
    record_event(session, notice, "acknowledged", ticket=ticket, **evidence)
    audit.record(
        session, "takedown.acknowledged", case_id=notice.case_id, notice=notice.id, ticket=ticket, **evidence
    )


def mark_removed(
    session: Session, notice_id: int, notice_item_id: int, at: datetime | None = None, note: str = ""
) -> NoticeItem:
    """A case worker saw an item gone (or the platform's word is enough for them): removed, with when."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    item = session.get(NoticeItem, notice_item_id)
    if item is None or item.notice_id != notice_id:
        raise NotFound(f"notice {notice_id} has no item {notice_item_id}")
    if notice.status in ("drafted", "queued") or notice.sent_at is None:
        raise Conflict(f"notice {notice_id} has not been sent yet", hint="mark it sent first")
    now = db_now(session)
    when = at or now
    if when > now + timedelta(minutes=5):
        raise NciiError("the removal time is in the future", hint="give when you saw it gone")
    if when < notice.sent_at.replace(second=0, microsecond=0):
        raise NciiError(
            "the removal time is before the notice was sent",
            hint=f"it was sent {notice.sent_at:%Y-%m-%d %H:%M} UTC",
        )
    when = max(when, notice.sent_at)  # a form gives minutes: the minute it was sent is not before it
    if item.status in ("removed", "reappeared"):
        raise Conflict(f"item {notice_item_id} of notice {notice_id} is already {item.status}")
    item.status, item.removed_at, item.checked_at = "removed", when, now
    record_event(session, notice, "removed", item, by="hand", removed_at=when.isoformat(), note=note)
    audit.record(
        session,
        "takedown.removed_by_hand",
        case_id=notice.case_id,
        notice=notice_id,
        notice_item=notice_item_id,
        removed_at=when.isoformat(),
        note=note,
    )
    if is_done(notice):
        stop_clocks(notice)
    return item


def forget_replies(session: Session, notice_ids: Select[tuple[int]]) -> int:
    """A case is purged: its notices' replies lose their sender, subject, text and ticket. The row stays,
    blank, so the reader still knows the message was read and does not store it again from the mailbox."""
    about = or_(InboxMessage.notice_id.in_(notice_ids), InboxMessage.suggested_notice_id.in_(notice_ids))
    return session.execute(
        update(InboxMessage)
        .where(about)
        .values(
            from_addr="",
            subject="",
            snippet="",
            ticket=None,
            message_id=None,
            status="purged",
            notice_id=None,
            suggested_notice_id=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]


def _inbox_row(session: Session, inbox_id: int) -> InboxMessage:
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        raise NotFound(
            f"no inbound message {inbox_id}", hint="see them with: ncii-shield takedown inbox --json"
        )
    if row.status != "unmatched":
        raise Conflict(f"inbound message {inbox_id} is {row.status}, not unmatched")
    return row


def attach(session: Session, inbox_id: int, notice_id: int, note: str = "") -> InboxMessage:
    """A human says which notice an unmatched reply is about: recorded on it as a reply (nothing is
    inferred from its text: the case worker marks what it says, acknowledged or removed, themselves)."""
    row = _inbox_row(session, inbox_id)
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id}")
    row.status, row.notice_id, row.matched_by = "attached", notice_id, "hand"
    evidence = _evidence(row, notice)
    record_event(session, notice, "reply", note=note, kind=row.kind, **evidence)
    audit.record(session, "takedown.reply_attached", case_id=notice.case_id, notice=notice_id, inbox=inbox_id)
    return row


def dismiss(session: Session, inbox_id: int, note: str = "") -> InboxMessage:
    """Not about any notice (spam, a newsletter): kept, out of the list."""
    row = _inbox_row(session, inbox_id)
    row.status = "dismissed"
    audit.record(session, "takedown.reply_dismissed", inbox=inbox_id, note=note)
    return row
