"""A case's re-upload alerts as the board shows them: the new location, the notice that had the content
removed, the re-notice drafted for it (takedown/reupload.py) and what the case worker did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Alert, Notice, NoticeItem


@dataclass(frozen=True)
class ReuploadAlert:
    """One removed image seen again, and where its re-notice stands."""

    id: int
    item_id: Annotated[int, Doc("the new item (the re-upload)")]
    at: datetime
    status: Annotated[str, Doc("new | drafted | manual | queued | dismissed")]
    reason: Annotated[str | None, Doc("why it was dismissed, or what stopped the automatic draft")]
    notice_id: Annotated[int | None, Doc("the re-notice drafted for the new location")]
    notice_status: str | None
    notice_channel: str | None
    platform_id: str | None
    original_notice_id: Annotated[int | None, Doc("the notice after which the content was removed")]
    original_sent_at: datetime | None
    removed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None

    @property
    def actionable(self) -> bool:
        return self.status in ("new", "drafted", "manual")


def reupload_alerts(session: Session, case_id: int) -> list[ReuploadAlert]:
    """Every re-upload alert of a case, oldest first (the caller has checked the case exists)."""
    renotice, original = aliased(Notice), aliased(Notice)
    rows = session.execute(
        select(Alert, renotice, NoticeItem, original)
        .outerjoin(renotice, renotice.id == Alert.notice_id)
        .outerjoin(NoticeItem, NoticeItem.id == Alert.notice_item_id)
        .outerjoin(original, original.id == NoticeItem.notice_id)
        .where(Alert.case_id == case_id, Alert.kind == "reappeared")
        .order_by(Alert.id)
    ).all()
    return [
        ReuploadAlert(
            id=a.id,
            item_id=a.item_id,
            at=a.at,
            status=a.status,
            reason=a.reason,
            notice_id=a.notice_id,
            notice_status=n.status if n is not None else None,
            notice_channel=n.channel if n is not None else None,
            platform_id=n.platform_id if n is not None else None,
            original_notice_id=o.id if o is not None else None,
            original_sent_at=o.sent_at if o is not None else None,
            removed_at=ni.removed_at if ni is not None else None,
            resolved_by=a.resolved_by,
            resolved_at=a.resolved_at,
        )
        for a, n, ni, o in rows
    ]
