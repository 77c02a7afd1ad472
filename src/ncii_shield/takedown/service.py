"""Takedown in the store: draft notices from confirmed hits, send them, recheck, and catch re-uploads.

Drafting lives in takedown/drafting.py (re-exported here); the worker that sends, re-sends, rechecks and
escalates on the notices' clocks in takedown/worker.py. Everything here is a status with its history: each notice and each reported item moves through
drafted → sent → (acknowledged) → removed, and every change is a :class:`TakedownEvent` carrying its
evidence (the SMTP Message-ID, the HTTP response's status and body hash), plus an audit-chain entry.
A removed item whose image family (the enrolled photo it was derived from) shows up again in a new hit
is marked ``reappeared`` and raises an :class:`Alert` (takedown/events.py). What the status of a case is
now is a read (read/takedown.py); ``status`` here keeps its old tuple form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.read.takedown import AlertRow as AlertRow  # re-exported: the status rows live there
from ncii_shield.read.takedown import NoticeStatus as NoticeStatus
from ncii_shield.read.takedown import PlatformStats as PlatformStats
from ncii_shield.read.takedown import takedown_status
from ncii_shield.store import audit
from ncii_shield.store.models import Notice, NoticeItem
from ncii_shield.takedown.clocks import db_now, start_clocks, stop_clocks
from ncii_shield.takedown.drafting import _content as _content  # re-exported, as before the split
from ncii_shield.takedown.drafting import case_reference as case_reference
from ncii_shield.takedown.drafting import draft as draft
from ncii_shield.takedown.drafting import draft_escalation as draft_escalation
from ncii_shield.takedown.drafting import item_url as item_url
from ncii_shield.takedown.events import detect_reappearance as detect_reappearance
from ncii_shield.takedown.events import record_event
from ncii_shield.takedown.registry import Registry, load_registry

if TYPE_CHECKING:
    from ncii_shield.takedown.recheck import CheckResult

CHECKABLE = ("sent", "acknowledged", "still_up")  # item statuses a recheck looks at
MANUAL_STATUSES = ("queued", "sent", "acknowledged", "closed")


def _notice(session: Session, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(
            f"no notice {notice_id}", hint="see the notices with: ncii-shield takedown status CASE"
        )
    return notice


def send(session: Session, notice_id: int, settings: object) -> str:
    """Deliver a drafted notice by SMTP; returns the Message-ID. Web-form notices are marked sent by hand."""
    from ncii_shield.takedown.smtp import send_notice

    notice = _notice(session, notice_id)
    if notice.channel != "email":
        raise Conflict(
            f"notice {notice_id} goes through a web form ({notice.to})",
            hint=f"submit it there, then: ncii-shield takedown mark {notice_id} sent",
        )
    if notice.status == "queued":
        raise Conflict(
            f"notice {notice_id} is queued for the worker", hint="`ncii-shield takedown run` sends it"
        )
    if notice.status != "drafted":
        raise Conflict(f"notice {notice_id} was already {notice.status}", hint="a notice is sent once")
    receipt = send_notice(settings, notice.to, notice.subject, notice.body)  # type: ignore[arg-type]
    record_sent(session, notice, channel="smtp", message_id=receipt.message_id)
    return receipt.message_id


def record_sent(
    session: Session, notice: Notice, registry: Registry | None = None, **evidence: object
) -> None:
    """Sent: stamped with the database's clock, from which the notice's deadline runs (takedown/clocks.py)."""
    at = db_now(session)
    notice.status, notice.sent_at = "sent", at
    start_clocks(notice, at, registry or load_registry())
    notice.next_attempt_at, notice.send_attempts = None, 0
    notice.message_id = str(evidence.get("message_id") or "") or None
    for item in notice.items:
        if item.status == "drafted":
            item.status = "sent"
    record_event(session, notice, "sent", **evidence)
    audit.record(session, "takedown.sent", case_id=notice.case_id, notice=notice.id, **evidence)


def mark(session: Session, notice_id: int, status: str, note: str = "") -> Notice:
    """Record by hand what happened outside (sent through a form, acknowledged, closed), or queue an e-mail
    notice for the worker to send."""
    if status not in MANUAL_STATUSES:
        raise NciiError(f"unknown status {status!r}", hint=f"use one of {', '.join(MANUAL_STATUSES)}")
    notice = _notice(session, notice_id)
    if status == "queued":
        return queue(session, notice_id, note)
    if status == "sent":
        if notice.status != "drafted":
            raise Conflict(f"notice {notice_id} was already {notice.status}")
        record_sent(session, notice, channel="by hand", note=note)
        return notice
    notice.status = status
    if status == "closed":
        stop_clocks(notice)
    if status == "acknowledged":
        for item in notice.items:
            if item.status == "sent":
                item.status = "acknowledged"
    record_event(session, notice, status, note=note)
    audit.record(session, f"takedown.{status}", case_id=notice.case_id, notice=notice.id, note=note)
    return notice


def queue(session: Session, notice_id: int, note: str = "") -> Notice:
    """Approve a drafted e-mail notice for the worker (`takedown run`), which sends it on its next pass."""
    notice = _notice(session, notice_id)
    if notice.channel != "email":
        raise Conflict(
            f"notice {notice_id} goes through a web form ({notice.to})",
            hint=f"submit it there, then: ncii-shield takedown mark {notice_id} sent",
        )
    if notice.status != "drafted":
        raise Conflict(f"notice {notice_id} was already {notice.status}", hint="a drafted notice is queued")
    notice.status = "queued"
    record_event(session, notice, "queued", note=note)
    audit.record(session, "takedown.queued", case_id=notice.case_id, notice=notice.id, note=note)
    return notice


@dataclass(frozen=True)
class RecheckRow:
    notice_id: int
    item_id: int
    url: str
    status: str  # removed | still_up | unknown
    http_status: int | None
    error: str | None


def recheck(session: Session, case_id: int, **check_options: object) -> list[RecheckRow]:
    """Fetch every sent item with a URL; record removed / still up with the response as evidence."""
    from ncii_shield.takedown.recheck import check_url

    get_case(session, case_id)
    out: list[RecheckRow] = []
    rows = session.execute(
        select(NoticeItem, Notice)
        .join(Notice)
        .where(Notice.case_id == case_id, NoticeItem.status.in_(CHECKABLE))
        .order_by(NoticeItem.id)
    ).all()
    for item, notice in rows:
        if not item.url:
            continue
        result = check_url(item.url, **check_options)  # type: ignore[arg-type]
        out.append(record_check(session, notice, item, result))
    if out:
        audit.record(
            session,
            "takedown.rechecked",
            case_id=case_id,
            removed=sum(r.status == "removed" for r in out),
            still_up=sum(r.status == "still_up" for r in out),
            unknown=sum(r.status == "unknown" for r in out),
        )
    session.flush()
    return out


def record_check(session: Session, notice: Notice, item: NoticeItem, result: CheckResult) -> RecheckRow:
    """One recheck's answer on the item, with the response as evidence; "unknown" changes no status."""
    evidence = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(result).items()}
    # The database's clock, as for sent_at: time to removal is one clock's difference (the fetcher's own
    # time stays in the evidence).
    item.checked_at = db_now(session)
    status = {"removed": "removed", "up": "still_up"}.get(result.status, "unknown")
    if status == "removed":
        item.status, item.removed_at = "removed", item.checked_at
    elif status == "still_up":
        item.status = "still_up"
    record_event(session, notice, status, item, response=evidence)
    return RecheckRow(notice.id, item.item_id, item.url or "", status, result.http_status, result.error)


def status(session: Session, case_id: int) -> tuple[list[NoticeStatus], list[PlatformStats], list[AlertRow]]:
    """Notices, time to removal per platform and re-upload alerts (read/takedown.py), as a tuple."""
    found = takedown_status(session, case_id)
    return found.notices, found.platforms, found.alerts


def notices_of(session: Session, notice_ids: Sequence[int]) -> list[Notice]:
    return [_notice(session, i) for i in notice_ids]
