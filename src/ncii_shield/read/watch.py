"""The Telegram chats followed live (`watch-chats`) that match a case: status, last message, last and next run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.read.shape import Doc
from ncii_shield.store.models import WatchedChat


@dataclass(frozen=True)
class WatchedChatRow:
    """One watched chat as the case's sources page shows it."""

    id: int
    title: str | None
    status: Annotated[str, Doc("ok | banned | left | error")]
    reason: Annotated[str | None, Doc("why a chat is banned, left or in error")]
    last_message_id: Annotated[int, Doc("the last message read and stored")]
    messages: Annotated[int, Doc("messages read so far")]
    last_run_at: datetime | None
    next_run_at: datetime | None
    every_case: Annotated[bool, Doc("matched against every open case, not a list of cases")]


def case_watched_chats(session: Session, case_id: int) -> list[WatchedChatRow]:
    """The watched chats matched against this case (theirs by --case, or every open case), in order added."""
    rows = []
    for row in session.scalars(select(WatchedChat).order_by(WatchedChat.id)):
        cases = list(row.cases or [])
        if cases and case_id not in cases:
            continue
        rows.append(
            WatchedChatRow(
                row.id,
                row.title,
                row.status,
                row.reason,
                row.last_message_id,
                row.messages_seen,
                row.last_run_at,
                row.next_run_at,
                not cases,
            )
        )
    return rows
