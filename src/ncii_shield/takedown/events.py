"""Takedown events: each status change with its evidence, and the change nobody makes by hand, a re-upload.

A removed item whose image family (the enrolled photo it was derived from) shows up again in a new hit
is marked ``reappeared`` and raises an :class:`Alert`. Reading a case's takedown status looks for these
first (read/takedown.py), so what is shown is current.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.store import audit
from ncii_shield.store.models import Alert, Hit, Notice, NoticeItem, Reference, TakedownEvent
from ncii_shield.takedown.clocks import clock_offset, db_now


def record_event(
    session: Session, notice: Notice, status: str, item: NoticeItem | None = None, **evidence: object
) -> None:
    """Append one step of a notice's (or one of its items') history, with who did it (and, if the demo or a
    test moved the takedown clock, by how much: such a record says so)."""
    offset = clock_offset(session)
    if offset:
        evidence = {**evidence, "test_clock_offset_hours": offset.total_seconds() / 3600}
    session.add(
        TakedownEvent(
            notice_id=notice.id,
            notice_item_id=item.id if item is not None else None,
            status=status,
            actor=audit.current_actor(session),
            evidence=evidence,
            at=db_now(session),  # the clock the notices' deadlines run on (takedown/clocks.py)
        )
    )


def detect_reappearance(session: Session, case_id: int) -> list[Alert]:
    """New hits, after a removal, in the family of a removed item: each is marked and raised once, also
    when two workers or scans look at the same moment (the alert's unique key decides which one does)."""
    removed = session.scalars(
        select(NoticeItem)
        .join(Notice)
        .where(
            Notice.case_id == case_id,
            NoticeItem.status.in_(("removed", "reappeared")),
            NoticeItem.family.is_not(None),
        )
    ).all()
    if not removed:
        return []
    by_family: dict[str, list[NoticeItem]] = defaultdict(list)
    for ni in removed:
        by_family[ni.family].append(ni)  # type: ignore[index]
    reported = set(session.scalars(select(NoticeItem.item_id).join(Notice).where(Notice.case_id == case_id)))
    alerted = set(session.scalars(select(Alert.item_id).where(Alert.case_id == case_id)))
    alerts = []
    for item_id, photo, created in session.execute(
        select(Hit.item_id, Reference.photo_sha256, Hit.created_at)
        .join(Reference, Hit.reference_id == Reference.id)
        .where(Hit.case_id == case_id, Hit.kind != "text")
    ).all():
        if item_id in reported or item_id in alerted or photo not in by_family:
            continue
        earlier = [ni for ni in by_family[photo] if ni.removed_at is not None and ni.removed_at <= created]
        if not earlier:
            continue
        alert = _raise_once(session, case_id, item_id, earlier[0].id)
        alerted.add(item_id)
        if alert is None:
            continue  # another worker or scan raised it a moment ago: it marked the sources too
        for source in earlier:  # every notice that reported a removed copy of this image
            source.status = "reappeared"
            record_event(session, source.notice, "reappeared", source, new_item=item_id)
        audit.record(
            session,
            "takedown.reappeared",
            case_id=case_id,
            item=item_id,
            notice_items=[n.id for n in earlier],
        )
        alerts.append(alert)
    session.flush()
    return alerts


def _raise_once(session: Session, case_id: int, item_id: int, notice_item_id: int) -> Alert | None:
    """Insert the alert unless one exists (``ON CONFLICT DO NOTHING`` on its unique key: a concurrent
    insert does not fail this transaction); the new alert, or None if it was there already."""
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    values = dict(case_id=case_id, item_id=item_id, kind="reappeared", notice_item_id=notice_item_id)
    # RETURNING says whether this insert made the row: an ORM-enabled INSERT's rowcount is -1 on
    # PostgreSQL (psycopg), which read as "another worker raised it" and no alert was ever raised there.
    inserted = session.execute(
        insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["case_id", "item_id", "kind"])
        .returning(Alert.id)
    ).first()
    if inserted is None:
        return None
    return session.scalars(
        select(Alert).where(Alert.case_id == case_id, Alert.item_id == item_id, Alert.kind == "reappeared")
    ).one()
