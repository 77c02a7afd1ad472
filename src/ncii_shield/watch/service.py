"""The watch list in the store: add (joining only where the operator asks), list, remove; the sealed session.

A chat is added from an invite link (t.me/+hash, t.me/joinchat/hash: ImportChatInviteRequest) or a public
@username (JoinChannelRequest); one the account is already in is only recorded. Its id, access hash, title
and the link given are sealed at rest. The monitor account's Telethon session is kept as a StringSession in a
sealed column, never as a .session file. Every change is an audit entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ncii_shield.errors import Conflict, NciiError, NotFound, Unavailable
from ncii_shield.sources.telegram_live import LiveChat, chat_of
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, TelegramSession, WatchedChat, utcnow

SESSION_NAME = "default"
_INVITE = re.compile(
    r"^(?:(?:https?://)?(?:t|telegram)\.me/(?:\+|joinchat/)|tg://join\?invite=)([A-Za-z0-9_-]{8,64})/?$"
)
_USERNAME = re.compile(r"^(?:@|(?:https?://)?(?:t|telegram)\.me/)?([A-Za-z][A-Za-z0-9_]{3,31})/?$")


@dataclass(frozen=True)
class Watched:
    """One watched chat as the CLI and the sources page show it."""

    id: int
    peer_kind: str
    telegram_id: str
    title: str | None
    chat_type: str | None
    added_how: str
    joined: bool
    cases: list[int]
    last_message_id: int
    messages_seen: int
    status: str
    reason: str | None
    source_id: int | None
    created_at: datetime
    last_run_at: datetime | None
    next_run_at: datetime | None

    @property
    def chat(self) -> LiveChat:
        return LiveChat(self.peer_kind, self.telegram_id, self.title, self.chat_type)


def _watched(row: WatchedChat) -> Watched:
    return Watched(
        row.id,
        row.peer_kind,
        row.telegram_id,
        row.title,
        row.chat_type,
        row.added_how,
        row.joined,
        list(row.cases or []),
        row.last_message_id,
        row.messages_seen,
        row.status,
        row.reason,
        row.source_id,
        row.created_at,
        row.last_run_at,
        row.next_run_at,
    )


def parse_target(text: str) -> tuple[str, str]:
    """("invite_link", hash) or ("username", name) from what the operator typed; NciiError otherwise."""
    clean = text.strip()
    if match := _INVITE.match(clean):
        return "invite_link", match.group(1)
    if (match := _USERNAME.match(clean)) and match.group(1).lower() not in ("joinchat", "addlist"):
        return "username", match.group(1)
    raise NciiError(
        f"not a Telegram invite link or public username: {clean[:80]!r}",
        hint="give t.me/+HASH, t.me/joinchat/HASH, @name or t.me/name",
    )


def join(client: Any, how: str, value: str) -> tuple[Any, bool]:
    """(the chat entity, whether the account joined it now). Joins only the one chat named."""
    from telethon import errors
    from telethon.tl import functions, types

    try:
        if how == "invite_link":
            try:
                result = client(functions.messages.ImportChatInviteRequest(value))
                return result.chats[0], True
            except errors.UserAlreadyParticipantError:
                invite = client(functions.messages.CheckChatInviteRequest(value))
                return invite.chat, False
        entity = client.get_entity(value)
        if isinstance(entity, types.Channel) and entity.left:
            result = client(functions.channels.JoinChannelRequest(entity))
            chats = [c for c in getattr(result, "chats", []) if getattr(c, "id", None) == entity.id]
            return (chats[0] if chats else entity), True
        return entity, False
    except errors.InviteRequestSentError as exc:
        raise Unavailable(
            "the chat asks its admins to approve joins: a request was sent",
            hint="run `watch-chats add` again once it is approved",
        ) from exc
    except (errors.InviteHashExpiredError, errors.InviteHashInvalidError) as exc:
        raise NotFound("the invite link has expired or is not valid") from exc
    except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError, ValueError) as exc:
        raise NotFound(f"no public chat is called {value!r}") from exc
    except (errors.ChannelPrivateError, errors.ChannelBannedError, errors.UserBannedInChannelError) as exc:
        raise Unavailable(f"the account may not join this chat ({type(exc).__name__})") from exc
    except errors.ChannelsTooMuchError as exc:
        raise Unavailable("the account is in too many chats to join another") from exc


def add_chat(store: Store, client: Any, target: str, cases: list[int] | None = None) -> Watched:
    """Join (or find) the chat `target` names and record it; Conflict if it is already watched."""
    how, value = parse_target(target)
    with store.session() as session:
        for case_id in cases or []:
            case = session.get(Case, case_id)
            if case is None or case.status != "open":
                raise NotFound(f"case {case_id} is not open", hint="`case list` shows the open cases")
    entity, joined = join(client, how, value)
    chat = chat_of(entity)
    with store.session() as session:
        for row in session.scalars(select(WatchedChat)):
            if row.peer_kind == chat.peer_kind and row.telegram_id == chat.id:
                raise Conflict(f"this chat is already watched as {row.id}")
        row = WatchedChat(
            peer_kind=chat.peer_kind,
            telegram_id=chat.id,
            access_hash=str(getattr(entity, "access_hash", None) or "") or None,
            title=chat.title,
            chat_type=chat.type,
            added_how=how,
            joined=joined,
            target=target.strip(),
            cases=sorted(set(cases or [])),
            last_message_id=0,
            messages_seen=0,
            status="ok",
        )
        session.add(row)
        session.flush()
        audit.record(session, "watch_chats.added", watched_id=row.id, how=how, joined=joined, cases=row.cases)
        return _watched(row)


def list_chats(store: Store) -> list[Watched]:
    with store.session() as session:
        return [_watched(r) for r in session.scalars(select(WatchedChat).order_by(WatchedChat.id))]


def get_chat(store: Store, watched_id: int) -> Watched:
    with store.session() as session:
        row = session.get(WatchedChat, watched_id)
        if row is None:
            raise NotFound(f"no watched chat {watched_id}", hint="`watch-chats list` shows them")
        return _watched(row)


def remove_chat(store: Store, watched_id: int) -> None:
    """Stop watching (the account stays in the chat: leaving is the operator's call, in Telegram)."""
    with store.session() as session:
        row = session.get(WatchedChat, watched_id)
        if row is None:
            raise NotFound(f"no watched chat {watched_id}", hint="`watch-chats list` shows them")
        session.delete(row)
        audit.record(session, "watch_chats.removed", watched_id=watched_id)


def input_peer(watched: Watched, access_hash: str | None) -> Any:
    """The InputPeer that addresses the chat without Telethon's entity cache."""
    from telethon.tl import types

    chat_id = int(watched.telegram_id)
    if watched.peer_kind == "chat":
        return types.InputPeerChat(chat_id)
    if watched.peer_kind == "channel":
        return types.InputPeerChannel(chat_id, int(access_hash or 0))
    return types.InputPeerUser(chat_id, int(access_hash or 0))


def access_hash_of(store: Store, watched_id: int) -> str | None:
    with store.session() as session:
        row = session.get(WatchedChat, watched_id)
        return row.access_hash if row is not None else None


def update_chat(store: Store, watched_id: int, **changes: object) -> None:
    """Record a run's outcome on the row (last id, status, reason, times)."""
    with store.session() as session:
        row = session.get(WatchedChat, watched_id)
        if row is not None:
            for name, value in changes.items():
                setattr(row, name, value)


def save_session(store: Store, session_string: str, account: str | None) -> None:
    """Keep the account's StringSession sealed with the data key (replacing an earlier login)."""
    with store.session() as session:
        row = session.scalar(select(TelegramSession).where(TelegramSession.name == SESSION_NAME))
        if row is None:
            row = TelegramSession(name=SESSION_NAME, session=session_string)
            session.add(row)
        row.session, row.account, row.updated_at = session_string, account, utcnow()
        audit.record(session, "watch_chats.login")


def load_session(store: Store) -> str:
    """The stored StringSession; Unavailable with the command to run when there is none."""
    with store.session() as session:
        row = session.scalar(select(TelegramSession).where(TelegramSession.name == SESSION_NAME))
        if row is None:
            raise Unavailable(
                "no Telegram account is logged in", hint="run `ncii-shield watch-chats login` once"
            )
        return row.session
