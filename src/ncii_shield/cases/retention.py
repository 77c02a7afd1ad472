"""Closing and purging cases: a closed case stops matching; a purged case leaves nothing behind.

Purging crypto-shreds: the case's data key is destroyed, so its sealed face embeddings, kept photos and
evidence copies are unrecoverable even where a copy of the ciphertext survives. Then its rows go, and
so does everything collected only for it. Items that other cases also hit stay, for those cases only.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.errors import NciiError
from ncii_shield.read.memo import forget
from ncii_shield.store import audit
from ncii_shield.store.blobs import delete_after_commit
from ncii_shield.store.crypto import case_scope, source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import (
    Alert,
    AuditEvent,
    Case,
    Decision,
    Hit,
    Item,
    Media,
    Notice,
    NoticeItem,
    Progress,
    Reference,
    RoomAlias,
    RoomLink,
    Scan,
    Source,
    SourceChat,
    TakedownEvent,
)
from ncii_shield.takedown.inbox_record import forget_replies


def close_case(session: Session, case_id: int) -> None:
    case = get_case(session, case_id)
    if case.status != "open":
        raise NciiError(f"case {case_id} is already {case.status}")
    case.status, case.closed_at = "closed", datetime.now(UTC)
    audit.record(session, "case.closed", case_id=case_id)


@dataclass
class PurgeResult:
    references: int = 0
    hits: int = 0
    items: int = 0
    media: int = 0
    blobs: int = 0
    sources: int = 0
    kept_items: int = 0  # items other cases also hit


def purge_case(store: Store, session: Session, case_id: int) -> PurgeResult:
    """Destroy the case's key and data, and what was collected only for it."""
    case = get_case(session, case_id)
    if case.status == "purged":
        raise NciiError(f"case {case_id} is already purged")
    result = PurgeResult()

    originals = [
        k for k in session.scalars(select(Reference.blob_key).where(Reference.case_id == case_id)) if k
    ]
    result.references = session.execute(delete(Reference).where(Reference.case_id == case_id)).rowcount
    result.hits = session.execute(delete(Hit).where(Hit.case_id == case_id)).rowcount
    forget(session, case_id)  # opened rows remembered for its pages (read/memo.py) go too
    # Review decisions and takedown records name the case's items: they go with the case.
    notices = select(Notice.id).where(Notice.case_id == case_id)
    session.execute(delete(TakedownEvent).where(TakedownEvent.notice_id.in_(notices)))
    forget_replies(session, notices)  # replies read for its notices (takedown/inbox_record.py)
    session.execute(delete(Alert).where(Alert.case_id == case_id))
    session.execute(delete(NoticeItem).where(NoticeItem.notice_id.in_(notices)))
    session.execute(delete(Notice).where(Notice.case_id == case_id))
    session.execute(delete(Decision).where(Decision.case_id == case_id))
    store.keyring.destroy(session, case_scope(case_id))
    for key in originals:
        delete_after_commit(session, store.blobs, key)
        result.blobs += 1

    # A source is kept whole while a live case scanned it, or it was scanned for no case (a collection
    # in its own right). From every other source, only items a live case hits survive.
    live_cases = select(Case.id).where(Case.status != "purged", Case.id != case_id)
    kept_sources = select(Scan.source_id).where(or_(Scan.case_id.in_(live_cases), Scan.case_id.is_(None)))
    collectable = session.scalars(select(Source.id).where(Source.id.not_in(kept_sources))).all()
    hit_elsewhere = select(Hit.item_id)
    for source_id in collectable:
        media_ids = set(
            session.scalars(
                select(Item.media_id).where(Item.source_id == source_id, Item.media_id.is_not(None))
            )
        )
        result.kept_items += (
            session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.source_id == source_id, Item.id.in_(hit_elsewhere))
            )
            or 0
        )
        doomed = select(Item.id).where(Item.source_id == source_id, Item.id.not_in(hit_elsewhere))
        session.execute(delete(RoomLink).where(RoomLink.item_id.in_(doomed)))
        # A later export's version of a doomed message outlives it, unlinked.
        session.execute(update(Item).where(Item.previous_id.in_(doomed)).values(previous_id=None))
        result.items += session.execute(
            delete(Item).where(Item.source_id == source_id, Item.id.not_in(hit_elsewhere))
        ).rowcount
        if not session.scalar(select(func.count()).select_from(Item).where(Item.source_id == source_id)):
            _drop_source(store, session, source_id, media_ids, result)

    # Links known to lead to chats of which nothing is left go too; so does the case's text progress.
    session.execute(
        delete(RoomAlias).where(
            RoomAlias.chat_id.not_in(select(Item.chat_id).where(Item.chat_id.is_not(None)))
        )
    )
    session.execute(delete(Progress).where(Progress.name == f"text:{case_id}"))
    media_gone, blobs_gone = _collect_orphan_media(store, session)
    result.media, result.blobs = result.media + media_gone, result.blobs + blobs_gone

    case.status, case.purged_at = "purged", datetime.now(UTC)
    case.pseudonym = case.consent_by = case.consent_method = case.consent_note = None
    case.consent_at = None
    session.execute(update(AuditEvent).where(AuditEvent.case_id == case_id).values(details={"purged": True}))
    audit.record(
        session,
        "case.purged",
        case_id=case_id,
        references=result.references,
        hits=result.hits,
        items=result.items,
        media=result.media,
        sources=result.sources,
    )
    session.flush()
    # Exports uploaded for this case and not yet scanned hold the person's images in clear: they go now.
    shutil.rmtree(store.settings.upload_dir / str(int(case_id)), ignore_errors=True)
    return result


def _drop_source(
    store: Store, session: Session, source_id: int, media_ids: set[int], result: PurgeResult
) -> None:
    """A source with no items left: its key is shredded, after moving media that others still need.

    Only media this source's items pointed to can be sealed with its key; those still used by another
    source's items are re-sealed under that source's key first.
    """
    scope = source_scope(source_id)
    still_used = select(Item.media_id).where(Item.media_id.is_not(None))
    for media in session.scalars(select(Media).where(Media.id.in_(media_ids), Media.id.in_(still_used))):
        for attr in ("blob_key", "thumb_key"):
            key = getattr(media, attr)
            if key and store.blobs.exists(key) and store.blobs.scope_of(key) == scope:
                _reseal(store, session, media, attr, key)
    session.execute(delete(Scan).where(Scan.source_id == source_id))
    session.execute(delete(SourceChat).where(SourceChat.source_id == source_id))
    session.execute(delete(Source).where(Source.id == source_id))
    store.keyring.destroy(session, scope)
    result.sources += 1


def _reseal(store: Store, session: Session, media: Media, attr: str, key: str) -> None:
    """Move one blob to the key of a source that still holds the media."""
    holder = session.scalar(select(Item.source_id).where(Item.media_id == media.id).limit(1))
    assert holder is not None
    data = store.blobs.get(key)
    new_scope = source_scope(holder)
    store.keyring.key(session, new_scope)
    # Same content, same file name: the file is replaced in one rename, sealed under the new scope, and
    # opens whether this transaction commits or not (its header names the scope).
    setattr(media, attr, store.blobs.put(data, namespace=key.partition("/")[0], scope=new_scope))


def _collect_orphan_media(store: Store, session: Session) -> tuple[int, int]:
    """Delete media no item refers to any more, with their signals and stored bytes."""
    orphans = session.scalars(
        select(Media).where(Media.id.not_in(select(Item.media_id).where(Item.media_id.is_not(None))))
    ).all()
    blobs = 0
    for media in orphans:
        for key in _keys(media.blob_key, media.thumb_key):
            if (
                session.scalar(
                    select(func.count())
                    .select_from(Media)
                    .where((Media.blob_key == key) | (Media.thumb_key == key), Media.id != media.id)
                )
                == 0
            ):
                delete_after_commit(session, store.blobs, key)
                blobs += 1
        session.delete(media)
    session.flush()
    return len(orphans), blobs


def _keys(*keys: str | None) -> Iterable[str]:
    return (k for k in keys if k)


def compact(store: Store) -> None:
    """After a purge, make SQLite rewrite its file so freed pages keep nothing (secure_delete zeroes them too)."""
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.exec_driver_sql("VACUUM")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
