"""Re-uploads re-noticed: a removed image seen again gets a notice drafted for its new location.

Where a re-upload is detected (takedown/events.py, after a scan adds hits and on every worker pass), a
notice is drafted for the new item's platform, in the original notice's language, from the configured
sender (NCII_REPORTER_ORG / NCII_REPORTER_EMAIL, as the worker's escalations), headed by what happened:
the content was removed on <date> after our notice of <date> and has been uploaded again (the TAKE IT
DOWN Act asks platforms for reasonable efforts against identical copies). The alert links the two.

The draft waits for a case worker; it is never queued by itself, whatever the new hit's review decision.
Being in the family of a removed item means the new hit derives from the same enrolled photo, not that it
is the same image: the person's own photo reposted, or a different picture made from it, match too, and
a notice asserts in good faith that the content is non-consensual intimate imagery, which only a person
can. Approving the draft from the board (``approve``) is that review; ``dismiss`` records why not. A hit a
reviewer rejected is not drafted; one with nowhere a platform could find, or on a host whose abuse contact
we do not know yet, is left to the case worker (status ``manual``, with the reason).

Exactly once per new item: the alert is inserted once (its unique key), and the draft is made by the
transaction whose ``UPDATE ... WHERE status = 'new'`` claims it, so two workers or two scans at the same
moment draft one notice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.config import Settings
from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.read.hits import list_hits
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.store.models import Alert, Case, Item, Notice, NoticeItem, Source
from ncii_shield.takedown.clocks import db_now
from ncii_shield.takedown.drafting import _create, item_url
from ncii_shield.takedown.events import detect_reappearance, record_event
from ncii_shield.takedown.registry import Platform, Registry, load_registry, platform_for_url
from ncii_shield.takedown.service import mark, queue

SETTLED = ("queued", "dismissed")  # an alert nobody needs to act on any more
_MAX_REASON = 500


@dataclass
class Renoticed:
    """What one look for re-uploads did: new alerts, the notices drafted, what could not be drafted."""

    alerts: list[int] = field(default_factory=list)
    drafted: list[int] = field(default_factory=list)  # notice ids
    manual: list[int] = field(default_factory=list)  # alert ids left to the case worker
    problems: list[str] = field(default_factory=list)


def renotice(
    session: Session,
    case_id: int,
    *,
    reporter_organisation: str | None,
    reporter_email: str | None,
    registry: Registry | None = None,
) -> Renoticed:
    """Detect re-uploads in a case and draft a notice for each new alert (see the module's docstring)."""
    done = Renoticed(alerts=[a.id for a in detect_reappearance(session, case_id)])
    pending = list(
        session.scalars(
            select(Alert.id).where(
                Alert.case_id == case_id, Alert.kind == "reappeared", Alert.status == "new"
            )
        )
    )
    if not pending:
        return done
    if not reporter_organisation or not reporter_email:
        done.problems.append(
            f"case {case_id}: {len(pending)} re-upload(s) not re-noticed: set NCII_REPORTER_ORG and "
            "NCII_REPORTER_EMAIL (who reports, in the notices)"
        )
        return done
    registry = registry or load_registry()
    case = get_case(session, case_id)
    for alert_id in pending:
        claimed = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == "new")
            .values(status="drafting")
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker or scan has it
        alert = session.get(Alert, alert_id)
        assert alert is not None
        session.refresh(alert)
        notice = _draft(session, case, alert, reporter_organisation, reporter_email, registry)
        if notice is None:
            done.manual.append(alert_id)
        else:
            done.drafted.append(notice.id)
    session.flush()
    return done


def _draft(
    session: Session, case: Case, alert: Alert, org: str, email: str, registry: Registry
) -> Notice | None:
    """The notice for one alert's new item, or None with the alert left ``manual`` and the reason why."""
    source_item = session.get(NoticeItem, alert.notice_item_id) if alert.notice_item_id else None
    row = next(iter(list_hits(session, case.id, items=[alert.item_id])), None)
    found = session.execute(select(Item, Source.kind).join(Source).where(Item.id == alert.item_id)).first()
    if source_item is None or row is None or found is None:
        return _manual(session, alert, "the removed notice item or the new hit is gone")
    if row.decision == "rejected":
        return _manual(session, alert, "the new hit was rejected in review")
    url = item_url(*found)
    platform: Platform
    if found[1].startswith("telegram"):
        platform = registry.platform("telegram")
    elif url is not None:
        platform = platform_for_url(registry, url)
    else:
        return _manual(session, alert, "the new item has no URL or chat link a platform could find")
    source_item = _original(session, case.id, source_item, platform, registry)
    original = source_item.notice
    contact = None
    if platform.contact_per_notice:
        if original.platform_id == platform.id and _host(url) == _host(source_item.url):
            contact = original.to  # the same site, so the same abuse desk as the first time
        else:
            return _manual(session, alert, f"the abuse contact of {_host(url) or 'the new host'} is needed")
    try:
        (notice,) = _create(
            session,
            case,
            {platform.id: [(row, url)]},
            registry,
            reporter_organisation=org,
            reporter_email=email,
            language=original.language,
            hosting_contact=contact,
        )
    except (NciiError, ValueError) as exc:
        return _manual(session, alert, f"could not be drafted: {exc}")
    notice.subject, notice.body = _headed(notice, original, source_item, platform)
    alert.status, alert.notice_id = "drafted", notice.id
    record_event(
        session,
        notice,
        "reupload_of",
        original_notice=original.id,
        original_item=source_item.id,
        alert=alert.id,
    )
    audit.record(
        session,
        "takedown.reupload_drafted",
        case_id=case.id,
        alert=alert.id,
        item=alert.item_id,
        notice=notice.id,
        original_notice=original.id,
    )
    return notice


def _original(
    session: Session, case_id: int, first: NoticeItem, platform: Platform, registry: Registry
) -> NoticeItem:
    """Which removal the re-notice tells of: a copy removed by this platform if there was one, else one
    removed by a platform (not a regulator's), earliest first."""
    removed = session.scalars(
        select(NoticeItem)
        .join(Notice)
        .where(
            Notice.case_id == case_id,
            NoticeItem.family == first.family,
            NoticeItem.removed_at.is_not(None),
        )
        .order_by(NoticeItem.removed_at, NoticeItem.id)
    ).all()

    def rank(ni: NoticeItem) -> int:
        if ni.notice.platform_id == platform.id:
            return 0
        return 2 if registry.platform(ni.notice.platform_id).kind == "regulator" else 1

    return min(removed, key=rank) if removed else first


def _manual(session: Session, alert: Alert, reason: str) -> None:
    alert.status, alert.reason = "manual", reason
    audit.record(session, "takedown.reupload_manual", case_id=alert.case_id, alert=alert.id, reason=reason)
    return None


def _host(url: str | None) -> str | None:
    try:
        return (urlsplit(url).hostname or None) if url else None
    except ValueError:
        return None


def _headed(notice: Notice, original: Notice, removed: NoticeItem, platform: Platform) -> tuple[str, str]:
    """The re-notice's subject and body: the rendered notice, headed by the story of the first one."""
    sent = f"{original.sent_at:%Y-%m-%d %H:%M} UTC" if original.sent_at else "-"
    gone = f"{removed.removed_at:%Y-%m-%d %H:%M} UTC" if removed.removed_at else "-"
    ref = f" (Message-ID {original.message_id})" if original.message_id else ""
    if notice.language == "ko":
        head = (
            f"[재유포] 아래 콘텐츠는 {sent}에 보낸 삭제 요청{ref}에 따라 {gone}에 삭제되었으나, "
            "아래 위치에 다시 게시되었습니다. 이 게시물과 동일한 사본을 모두 삭제해 주십시오."
        )
        return f"[재유포] {notice.subject}", f"{head}\n\n{notice.body}"
    head = (
        f"Re-upload: this content was removed on {gone} after our notice of {sent}{ref}; it has been "
        "re-uploaded at the location below. Please remove it and any identical copy."
    )
    if "US" in platform.jurisdictions:
        head += (
            " The US TAKE IT DOWN Act asks platforms to make reasonable efforts to remove identical copies."
        )
    return f"[Re-upload] {notice.subject}", f"{head}\n\n{notice.body}"


# ------------------------------------------------------------------------------------ the case worker


def _alert(session: Session, case_id: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.case_id != case_id:
        raise NotFound(f"no alert {alert_id} in case {case_id}", hint="see the board's re-upload alerts")
    return alert


def approve(session: Session, case_id: int, alert_id: int, note: str = "") -> Alert:
    """A case worker read the re-notice and approves it: an e-mail notice is queued for the worker (one
    already queued or sent from its board card is left as it is)."""
    alert = _alert(session, case_id, alert_id)
    if alert.status != "drafted" or alert.notice_id is None:
        raise Conflict(f"alert {alert_id} is {alert.status}", hint="only a drafted re-notice is approved")
    notice = session.get(Notice, alert.notice_id)
    assert notice is not None
    if notice.status == "drafted" and notice.channel == "email":
        queue(session, notice.id, note=note or f"re-upload alert {alert_id} approved")
    elif notice.status == "drafted":
        raise Conflict(
            f"notice {notice.id} goes through a web form ({notice.to})",
            hint=f"submit it there, then mark notice {notice.id} sent",
        )
    _settle(session, alert, "queued", note)
    return alert


def dismiss(session: Session, case_id: int, alert_id: int, reason: str) -> Alert:
    """Not a re-upload to act on (the person's own photo, already handled elsewhere): said why, and its
    draft, if any, closed."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > _MAX_REASON:
        raise NciiError("say why the alert is dismissed", hint=f"a reason of 1 to {_MAX_REASON} characters")
    alert = _alert(session, case_id, alert_id)
    if alert.status in SETTLED:
        raise Conflict(f"alert {alert_id} was already {alert.status}")
    if alert.notice_id is not None:
        notice = session.get(Notice, alert.notice_id)
        if notice is not None and notice.status == "drafted":
            mark(session, notice.id, "closed", note=f"re-upload alert {alert_id} dismissed: {reason}")
    _settle(session, alert, "dismissed", reason)
    return alert


def _settle(session: Session, alert: Alert, status: str, reason: str) -> None:
    alert.status, alert.seen = status, True
    alert.reason = reason or alert.reason
    alert.resolved_by, alert.resolved_at = audit.current_actor(session), db_now(session)
    audit.record(
        session,
        f"takedown.reupload_{'approved' if status == 'queued' else status}",
        case_id=alert.case_id,
        alert=alert.id,
        notice=alert.notice_id,
        reason=reason,
    )


# ------------------------------------------------------------------------------------ where detection runs


def cases_with_removals(session: Session) -> list[int]:
    """Open cases with a removed item: the only ones a re-upload can be detected in."""
    return list(
        session.scalars(
            select(Notice.case_id)
            .join(NoticeItem)
            .join(Case, Case.id == Notice.case_id)
            .where(NoticeItem.status.in_(("removed", "reappeared")), Case.status == "open")
            .distinct()
            .order_by(Notice.case_id)
        )
    )


def renotice_cases(
    store: Store, settings: Settings, *, case_id: int | None = None, registry: Registry | None = None
) -> Renoticed:
    """After a scan, on each worker pass: every case (or one) looked at in its own transaction."""
    total = Renoticed()
    with store.session() as session:
        cases = cases_with_removals(session)
    for one in cases if case_id is None else [c for c in cases if c == case_id]:
        with store.session() as session:
            done = renotice(
                session,
                one,
                reporter_organisation=settings.reporter_org,
                reporter_email=settings.reporter_email,
                registry=registry,
            )
        for name in ("alerts", "drafted", "manual", "problems"):
            getattr(total, name).extend(getattr(done, name))
    return total
