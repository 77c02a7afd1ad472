"""Drafting takedown notices from a case's confirmed hits: per platform, and a regulator's on escalation.

Each confirmed hit goes to the platform its URL (or its Telegram chat) belongs to, rendered from the registry
(takedown/notices.py); an item already in a notice to that platform is never drafted again. A hit with
nothing a platform could find (a file from a folder with no URL) is left out.

A platform gets up to two notices, never one that mixes them: one about the intimate images and videos, one
about the messages exposing the person's personal details (found by their text alone). Two notices, not one
with two sections, because that is how a trust & safety desk works: NCII and private-information reports go
to different queues and forms (X's TAKE IT DOWN form takes only the first), are judged under different rules
(the platform's NCII policy and the TAKE IT DOWN Act's 48-hour duty for one; its privacy policy, the Korean
personal-information provisions and the GDPR for the other), and are closed separately. A reviewer who
removes the images should not have to wait on, or re-read, a privacy decision, and each notice's clock
(takedown/clocks.py) is its own law's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.errors import Conflict, NciiError
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.store import audit
from ncii_shield.store.files import atomic_write
from ncii_shield.store.models import Case, Hit, Item, Media, Notice, NoticeItem, Reference, Scan, Source
from ncii_shield.takedown.events import record_event
from ncii_shield.takedown.inbox import with_reference
from ncii_shield.takedown.notices import Content, NoticeRequest, render_notice
from ncii_shield.takedown.notices import NoticeItem as NoticeLine
from ncii_shield.takedown.registry import Matter, Registry, load_registry, platform_for_url

# Telegram chats whose messages have a t.me/c/<id>/<msg> link (members can open it).
_LINKABLE_CHATS = {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}


def case_reference(case_id: int, created: datetime) -> str:
    """The pseudonymous reference notices carry instead of anything about the person."""
    return f"NCII-{created.year}-{case_id:04d}"


def item_url(item: Item, source_kind: str) -> str | None:
    """Where a platform can find the content: a URL from a crawl, or the message link of a Telegram chat."""
    url = (item.extra or {}).get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return url
    if (
        source_kind.startswith("telegram")
        and item.chat_id
        and item.message_id
        and item.chat_type in _LINKABLE_CHATS
    ):
        return f"https://t.me/c/{item.chat_id.removeprefix('-100')}/{item.message_id}"
    return None


def _content(kinds: Sequence[str], media_format: str | None) -> Content:
    """What an item is: found by its text alone, a message exposing personal details; else its media."""
    if set(kinds) <= {"text"} or media_format is None:
        return "personal_details"
    if media_format.startswith("video/") or media_format in ("image/gif", "image/apng"):
        return "video"
    return "image"


def _formats_and_collected(
    session: Session, item_ids: set[int]
) -> tuple[dict[int, str | None], dict[int, datetime | date]]:
    """Per item: its media format, and when it was collected (the chat export's date if the export's
    folder name gave one, else when the scan read it)."""
    formats: dict[int, str | None] = {}
    collected: dict[int, datetime | date] = {}
    rows = session.execute(
        select(Item.id, func.coalesce(Scan.started_at, Source.created_at), Source.exported_on, Media.format)
        .join(Source, Source.id == Item.source_id)
        .outerjoin(Scan, Scan.id == Item.scan_id)
        .outerjoin(Media, Media.id == Item.media_id)
        .where(Item.id.in_(item_ids))
    )
    for item_id, read_at, exported_on, media_format in rows:
        formats[item_id] = media_format
        try:
            collected[item_id] = date.fromisoformat(exported_on) if exported_on else read_at
        except ValueError:
            collected[item_id] = read_at
    return formats, collected


def _families(session: Session, case_id: int) -> dict[int, str]:
    """Image family per item: the enrolled photo its hits derive from (or the copy's own SHA-256)."""
    out: dict[int, str] = {}
    rows = session.execute(
        select(Hit.item_id, Hit.kind, Reference.photo_sha256)
        .outerjoin(Reference, Hit.reference_id == Reference.id)
        .where(Hit.case_id == case_id)
    ).all()
    for item_id, kind, photo in rows:
        if kind != "text" and photo:
            out.setdefault(item_id, photo)
    return out


def draft(
    session: Session,
    case_id: int,
    *,
    reporter_organisation: str,
    reporter_email: str,
    language: str | None = None,
    regulator: bool = False,
    hosting_contact: str | None = None,
    out_dir: Path | None = None,
    registry: Registry | None = None,
    trusted_flagger: str | None = None,
) -> list[Notice]:
    """Per platform, a notice for the confirmed images and one for the messages exposing personal details
    not yet in a notice (plus the regulator, if asked). `trusted_flagger`: NCII_TRUSTED_FLAGGER, printed in
    notices to EU platforms."""
    registry = registry or load_registry()
    case = get_case(session, case_id)
    if case.status != "open":
        raise Conflict(f"case {case_id} is {case.status}", hint="notices are drafted for open cases")
    confirmed = [r for r in list_hits(session, case_id) if r.decision == "confirmed"]
    if not confirmed:
        raise Conflict(
            f"case {case_id} has no confirmed hits",
            hint=f"review them first: ncii-shield review confirm {case_id} ITEM… --reason …",
        )
    reported = set(
        session.scalars(
            select(NoticeItem.item_id)
            .join(Notice)
            .where(Notice.case_id == case_id, Notice.platform_id != "kcsc")
        )
    )
    items = {i.id: (i, kind) for i, kind in session.execute(select(Item, Source.kind).join(Source)).all()
             if i.id in {r.item_id for r in confirmed}}  # fmt: skip
    groups: dict[str, list[tuple[HitRow, str | None]]] = defaultdict(list)
    for row in confirmed:
        if row.item_id in reported:
            continue
        item, source_kind = items[row.item_id]
        url = item_url(item, source_kind)
        if source_kind.startswith("telegram"):
            platform = registry.platform("telegram")
        elif url is not None:
            platform = platform_for_url(registry, url)
        else:
            continue  # a file from a folder with no URL: nothing a platform could find
        groups[platform.id].append((row, url))
    if regulator:
        rows = [(r, item_url(*items[r.item_id])) for r in confirmed]
        if rows := _not_yet_with(session, case_id, "kcsc", rows):
            groups["kcsc"] = rows
    created = _create(
        session,
        case,
        groups,
        registry,
        reporter_organisation=reporter_organisation,
        reporter_email=reporter_email,
        language=language,
        hosting_contact=hosting_contact,
        out_dir=out_dir,
        trusted_flagger=trusted_flagger,
    )
    return created


def _not_yet_with(
    session: Session, case_id: int, platform_id: str, rows: list[tuple[HitRow, str | None]]
) -> list[tuple[HitRow, str | None]]:
    """The rows no notice of the case to this platform (a regulator) covers yet."""
    done = set(
        session.scalars(
            select(NoticeItem.item_id)
            .join(Notice)
            .where(Notice.case_id == case_id, Notice.platform_id == platform_id)
        )
    )
    return [(r, url) for r, url in rows if r.item_id not in done]


def draft_escalation(
    session: Session,
    notice: Notice,
    regulator_id: str,
    *,
    reporter_organisation: str,
    reporter_email: str,
    registry: Registry | None = None,
) -> list[Notice]:
    """A notice to the regulator for the items of `notice` still up after its deadline (none if the
    regulator already has them all)."""
    registry = registry or load_registry()
    case = get_case(session, notice.case_id)
    up = {i.item_id: i.url for i in notice.items if i.status not in ("removed", "reappeared")}
    by_item = {r.item_id: r for r in list_hits(session, notice.case_id) if r.item_id in up}
    rows = _not_yet_with(session, notice.case_id, regulator_id, [(r, up[i]) for i, r in by_item.items()])
    if not rows:
        return []
    return _create(
        session,
        case,
        {regulator_id: rows},
        registry,
        reporter_organisation=reporter_organisation,
        reporter_email=reporter_email,
    )


def _create(
    session: Session,
    case: Case,
    groups: dict[str, list[tuple[HitRow, str | None]]],
    registry: Registry,
    *,
    reporter_organisation: str,
    reporter_email: str,
    language: str | None = None,
    hosting_contact: str | None = None,
    out_dir: Path | None = None,
    trusted_flagger: str | None = None,
) -> list[Notice]:
    """Per platform of `groups`, a drafted notice for each matter its rows hold, rendered, stored, recorded."""
    case_id = case.id
    formats, collected = _formats_and_collected(
        session, {r.item_id for rows in groups.values() for r, _ in rows}
    )
    families = _families(session, case_id)
    created: list[Notice] = []
    skipped: list[str] = []
    sequence = session.scalar(select(func.count()).select_from(Notice).where(Notice.case_id == case_id)) or 0
    now = datetime.now(UTC)
    for platform_id, matter, rows in _by_matter(groups, formats):
        platform = registry.platform(platform_id)
        if platform.contact_per_notice and not hosting_contact:
            skipped.append(platform_id)
            continue  # e.g. a hosting provider: its abuse contact (from RDAP/WHOIS) must be given
        lang = language or (
            "ko" if "KR" in platform.jurisdictions and len(platform.jurisdictions) == 1 else "en"
        )
        lines = tuple(
            NoticeLine(
                url=url,
                chat_title=None if url else (row.chat or row.chat_id or "?"),
                message_id=None if url else row.message_id,
                posted_at=row.date,
                media_sha256=row.media_sha256,
                match_kinds=row.kinds,
                content=_content(row.kinds, formats.get(row.item_id)),
                # the review page's masked view of the message (read/hits.py), never its clear text
                excerpt=row.excerpt if matter == "personal_information" else None,
                collected_at=collected[row.item_id],
            )
            for row, url in rows
        )
        rendered = render_notice(
            registry,
            NoticeRequest(
                platform_id=platform_id,
                language=lang,  # type: ignore[arg-type]
                # One reference per notice, so a platform's reply can be matched to it.
                case_reference=f"{case_reference(case_id, case.created_at)}-{sequence + len(created) + 1}",
                reporter_organisation=reporter_organisation,
                reporter_email=reporter_email,
                items=lines,
                created_at=now,
                abuse_contact=hosting_contact if platform.contact_per_notice else None,
                trusted_flagger=trusted_flagger,
            ),
        )
        notice = Notice(
            case_id=case_id,
            platform_id=platform_id,
            matter=rendered.matter,
            language=lang,
            channel=rendered.channel,
            to=rendered.to,
            subject=rendered.subject,
            body=rendered.body,
            status="drafted",
        )
        session.add(notice)
        session.flush()
        notice.subject = with_reference(notice.subject, notice.id)  # what replies are matched by (inbox.py)
        for row, url in rows:
            session.add(
                NoticeItem(
                    notice_id=notice.id, item_id=row.item_id, url=url, family=families.get(row.item_id)
                )
            )
        session.flush()
        record_event(session, notice, "drafted", items=len(rows))
        audit.record(
            session,
            "takedown.drafted",
            case_id=case_id,
            notice=notice.id,
            platform=platform_id,
            matter=matter,
            items=len(rows),
        )
        if out_dir is not None:
            atomic_write(out_dir / f"notice-{notice.id}-{platform_id}-{lang}{_SUFFIX[matter]}.txt",
                         f"To: {notice.to}\nSubject: {notice.subject}\n\n{notice.body}".encode())  # fmt: skip
        created.append(notice)
    if skipped and not created:
        raise NciiError(
            f"the confirmed hits are on {', '.join(skipped)}, whose abuse contact differs per site",
            hint="give it with --hosting-contact abuse@… (from the site's RDAP/WHOIS record)",
        )
    return created


_SUFFIX: dict[Matter, str] = {"intimate_image": "", "personal_information": "-personal"}


def _by_matter(
    groups: dict[str, list[tuple[HitRow, str | None]]], formats: dict[int, str | None]
) -> list[tuple[str, Matter, list[tuple[HitRow, str | None]]]]:
    """Each platform's rows split into the intimate images and the messages exposing personal details, in
    the order platform, then images before messages (see the module's docstring for why never mixed)."""
    out: list[tuple[str, Matter, list[tuple[HitRow, str | None]]]] = []
    for platform_id, rows in sorted(groups.items()):
        is_personal = [_content(r.kinds, formats.get(r.item_id)) == "personal_details" for r, _ in rows]
        personal = [row for row, p in zip(rows, is_personal, strict=True) if p]
        images = [row for row, p in zip(rows, is_personal, strict=True) if not p]
        out += [(platform_id, "intimate_image", images)] if images else []
        out += [(platform_id, "personal_information", personal)] if personal else []
    return out
