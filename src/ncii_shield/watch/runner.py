"""`watch-chats run`: read each watched chat from its last stored message on, through the scan pipeline.

Polling from the last stored id, not Telethon's NewMessage events: a poll is the back-fill itself
(`iter_messages(min_id=last, reverse=True)`), so a restart, a disconnect or a FloodWait resumes exactly
where the store says, and nothing depends on the account having been online when a message came. Each
batch of messages (with its media downloaded to memory) is one `run_scan` of a `LiveBatch` source, then
matched against every open case (or the chat's own cases); the chat's last id moves only once its batch is
committed, so a batch cut short is fetched again and stored once. A chat that bans or drops the account
is marked and reported, never retried; the other chats go on.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ncii_shield.errors import NciiError, Unavailable
from ncii_shield.scan.match import match_case
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources.telegram_live import (
    LiveBatch,
    LiveChat,
    MemoryTree,
    chat_location,
    chat_of,
    media_of,
    message_to_item,
)
from ncii_shield.store import audit
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case
from ncii_shield.watch.service import Watched, access_hash_of, input_peer, list_chats, update_chat

MAX_FLOOD_WAIT = 900  # seconds: a longer wait ends this chat's turn; the next run resumes it
MAX_RETRIES = 6  # disconnects in a row before a chat's turn ends (it resumes on the next run)
BACKOFF_BASE, BACKOFF_CAP = 2.0, 120.0
BATCH = 50  # messages per scan transaction set (and per Scan row)
_EXTENSIONS = {"photo": ".jpg", "video_file": ".mp4", "video_message": ".mp4", "animation": ".mp4"}


@dataclass
class ChatRun:
    """What one chat's turn did."""

    watched_id: int
    title: str | None
    status: str = "ok"
    reason: str | None = None
    messages: int = 0
    media: int = 0
    last_message_id: int = 0
    new_hits: Counter[str] = field(default_factory=Counter)
    alerts: int = 0  # re-upload alerts raised: an image removed after a notice, seen again
    drafted: list[int] = field(default_factory=list)  # notices drafted for those re-uploads (for review)
    problems: list[str] = field(default_factory=list)
    waited: float = 0.0
    retries: int = 0


@dataclass
class Hooks:
    """What a run does besides talking to Telegram: sleeping and saying so (tests replace both)."""

    sleep: Callable[[float], None] = time.sleep
    say: Callable[[str], None] = lambda line: None
    jitter: Callable[[], float] = random.random


def _ban_errors() -> tuple[type[BaseException], ...]:
    from telethon import errors

    return (
        errors.ChannelPrivateError,
        errors.ChannelBannedError,
        errors.UserBannedInChannelError,
        errors.ChatForbiddenError,
        errors.UserKickedError,
        errors.ChatRestrictedError,
        errors.ChannelInvalidError,
    )


def _session_errors() -> tuple[type[BaseException], ...]:
    from telethon import errors

    return (
        errors.AuthKeyUnregisteredError,
        errors.AuthKeyDuplicatedError,
        errors.SessionRevokedError,
        errors.SessionExpiredError,
        errors.UserDeactivatedError,
        errors.UserDeactivatedBanError,
    )


def run_once(
    store: Store, client: Any, *, hooks: Hooks | None = None, batch: int = BATCH, every: float | None = None
) -> list[ChatRun]:
    """One turn over every watched chat that is not banned or left; `every` sets each one's next run."""
    hooks = hooks or Hooks()
    runs = []
    for watched in list_chats(store):
        if watched.status in ("banned", "left"):
            continue
        run = run_chat(store, client, watched, hooks=hooks, batch=batch)
        now = datetime.now(UTC)
        update_chat(
            store,
            watched.id,
            last_run_at=now,
            next_run_at=now + timedelta(seconds=every) if every else None,
        )
        runs.append(run)
    with store.session() as session:
        audit.record(
            session,
            "watch_chats.run",
            chats=len(runs),
            messages=sum(r.messages for r in runs),
            banned=[r.watched_id for r in runs if r.status == "banned"],
            new_hits=dict(sum((r.new_hits for r in runs), Counter())),
            alerts=sum(r.alerts for r in runs),
        )
    return runs


def follow(
    store: Store,
    client: Any,
    *,
    every: float,
    hooks: Hooks | None = None,
    turns: int | None = None,
    report: Callable[[list[ChatRun]], None] = lambda runs: None,
) -> None:
    """Poll every `every` seconds until stopped (Ctrl-C, SIGTERM) or, in tests, for `turns` turns."""
    hooks = hooks or Hooks()
    done = 0
    while turns is None or done < turns:
        report(run_once(store, client, hooks=hooks, every=every))
        done += 1
        if turns is None or done < turns:
            hooks.sleep(every)


def run_chat(store: Store, client: Any, watched: Watched, *, hooks: Hooks, batch: int = BATCH) -> ChatRun:
    """Back-fill one chat from its last stored id to now, resuming after FloodWaits and disconnects."""
    from telethon import errors

    run = ChatRun(watched.id, watched.title, last_message_id=watched.last_message_id)
    bans = _ban_errors()
    peer = input_peer(watched, access_hash_of(store, watched.id))
    chat = watched.chat
    failures, progress_at = 0, run.last_message_id
    while True:
        try:
            entity = client.get_entity(peer)
            fresh = chat_of(entity, getattr(client, "_self_id", None))
            chat = LiveChat(chat.peer_kind, chat.id, fresh.title or chat.title, fresh.type, fresh.self_id)
            pending: list[Any] = []
            for message in client.iter_messages(peer, min_id=run.last_message_id, reverse=True):
                pending.append(message)
                if len(pending) >= batch:
                    _ingest(store, client, watched, chat, pending, run)
                    pending = []
            _ingest(store, client, watched, chat, pending, run)
            run.title = chat.title
            update_chat(store, watched.id, status="ok", reason=None, title=chat.title, chat_type=chat.type)
            return run
        except errors.FloodWaitError as exc:
            wait = min(float(exc.seconds), MAX_FLOOD_WAIT)
            if exc.seconds > MAX_FLOOD_WAIT:
                return _stop(store, run, "ok", f"Telegram asked to wait {exc.seconds} s; resumes next run")
            hooks.say(f"chat {watched.id}: Telegram asks to wait {exc.seconds} s (flood limit); waiting")
            hooks.sleep(wait)
            run.waited += wait
        except bans as exc:
            return _stop(store, run, "banned", _why(exc), report=hooks.say)
        except errors.UserNotParticipantError as exc:
            return _stop(store, run, "left", _why(exc), report=hooks.say)
        except _session_errors() as exc:  # the account, not the chat: no chat can be read, so stop here
            raise Unavailable(
                f"the monitor account's Telegram session no longer works ({type(exc).__name__})",
                hint="run `ncii-shield watch-chats login` again",
            ) from exc
        except errors.RPCError as exc:  # anything else Telegram refuses: reported, tried again next run
            return _stop(store, run, "error", _why(exc), report=hooks.say)
        except (ConnectionError, OSError, TimeoutError) as exc:
            if run.last_message_id > progress_at:  # batches got through since the last failure
                failures, progress_at = 0, run.last_message_id
            failures += 1
            run.retries += 1
            if failures > MAX_RETRIES:
                return _stop(
                    store, run, "error", f"disconnected {failures} times ({_why(exc)}); resumes next run"
                )
            delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1)) * (0.5 + hooks.jitter() / 2)
            hooks.say(f"chat {watched.id}: connection lost ({_why(exc)}); retrying in {delay:.0f} s")
            hooks.sleep(delay)
            run.waited += delay


def _stop(
    store: Store, run: ChatRun, status: str, reason: str, report: Callable[[str], None] | None = None
) -> ChatRun:
    run.status, run.reason = status, reason
    update_chat(store, run.watched_id, status=status, reason=reason)
    if report is not None and status == "error":
        report(f"chat {run.watched_id}: {reason}")
    if status in ("banned", "left"):
        with store.session() as session:
            audit.record(session, f"watch_chats.{status}", watched_id=run.watched_id, reason=reason)
        if report is not None:
            report(f"chat {run.watched_id}: {status} ({reason}); it is not read again until added anew")
    return run


def _why(exc: BaseException) -> str:
    """The error's name and first sentence (Telethon appends "(caused by SomeRequest)")."""
    text = str(exc).split(" (caused by ")[0].strip()
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def _ingest(
    store: Store, client: Any, watched: Watched, chat: LiveChat, messages: list[Any], run: ChatRun
) -> None:
    """Download the batch's media to memory, scan it as a source, match the cases, then move the last id."""
    if not messages:
        return
    cap = store.settings.telegram_max_media_bytes
    tree = MemoryTree(f"Telegram chat {chat.title or chat.id}", chat_location(chat))
    items = []
    for message in messages:
        kind, _, extra = media_of(message)
        path = note = None
        if kind is not None:
            size = _size(message, extra)
            if size is not None and size > cap:
                note = f"file too large to fetch ({size} bytes; NCII_TELEGRAM_MAX_MEDIA_BYTES is {cap})"
            else:
                data = client.download_media(message, file=bytes)
                if data is None:
                    note = "media could not be downloaded"
                elif len(data) > cap:
                    note = f"file too large to fetch ({len(data)} bytes)"
                else:
                    path = f"{message.id}/{kind}{_EXTENSIONS.get(kind, '')}"
                    tree.put(path, bytes(data))
                    run.media += 1
        items.append(message_to_item(message, chat, media_path=path, media_note=note))
    cases = _cases(store, watched)
    scan_case = next((c for c, hash_only in cases if hash_only), cases[0][0] if cases else None)
    result = run_scan(
        store, LiveBatch(chat, items, tree), location=Path(chat_location(chat)), case_id=scan_case, workers=1
    )
    run.new_hits.update(result.new_hits)
    matched = [scan_case] if scan_case is not None and sum(result.new_hits.values()) else []
    with store.session() as session:
        for case_id, _ in cases:
            if case_id != scan_case and sum((new := match_case(store, session, case_id)).values()):
                run.new_hits.update(new)
                matched.append(case_id)
    for case_id in matched:  # a removed image posted again: the same re-upload alert and draft as a scan's
        _renotice(store, case_id, run)
    run.messages += len(messages)
    run.last_message_id = max(run.last_message_id, *(m.id for m in messages))
    update_chat(
        store,
        watched.id,
        last_message_id=run.last_message_id,
        messages_seen=watched.messages_seen + run.messages,
        source_id=result.source_id,
    )
    tree.close()


def _renotice(store: Store, case_id: int, run: ChatRun) -> None:
    """takedown/reupload.py, as `scan` calls it: the alert is raised once, a notice drafted for review."""
    from ncii_shield.takedown.reupload import renotice_cases

    try:
        found = renotice_cases(store, store.settings, case_id=case_id)
    except NciiError as exc:  # the batch is stored; the takedown worker's next pass looks again
        run.problems.append(f"re-uploads not looked for: {exc}")
        return
    run.alerts += len(found.alerts)
    run.drafted.extend(found.drafted)
    run.problems.extend(found.problems)


def _size(message: Any, extra: dict[str, object]) -> int | None:
    """The file's size before downloading it: the document's, or the largest photo size's."""
    size = extra.get("file_size")
    if isinstance(size, int):
        return size
    photo = getattr(getattr(message, "media", None), "photo", None)
    sizes = (
        [getattr(s, "size", None) or max(getattr(s, "sizes", [0]) or [0]) for s in photo.sizes]
        if photo
        else []
    )
    return max(sizes) if sizes else None


def _cases(store: Store, watched: Watched) -> list[tuple[int, bool]]:
    """(case id, hash-only) of the open cases this chat is matched against: its own, else every open one.

    A hash-only case among them makes the scan keep no media bytes (only a blurred thumbnail)."""
    with store.session() as session:
        query = select(Case.id, Case.hash_only).where(Case.status == "open").order_by(Case.id)
        if watched.cases:
            query = query.where(Case.id.in_(watched.cases))
        return [(case_id, bool(hash_only)) for case_id, hash_only in session.execute(query)]
