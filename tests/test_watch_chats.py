"""Live Telegram monitoring, offline: real telethon.tl.types objects through a fake client (no network).

The fake exposes the calls the adapter makes (get_entity, iter_messages, download_media, calling a request)
and finishes each message the way Telethon does (`_finish_init` with the entities of the response), so
message.sender and message.forward resolve as they would live.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.errors import Conflict, NciiError, NotFound
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.sources import open_source
from ncii_shield.sources.base import Item as SourceItem
from ncii_shield.sources.telegram_live import LiveChat, chat_of, message_to_item
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Media, WatchedChat
from ncii_shield.watch.client import api_credentials
from ncii_shield.watch.runner import Hooks, run_once
from ncii_shield.watch.service import (
    add_chat,
    list_chats,
    load_session,
    parse_target,
    remove_chat,
    save_session,
)
from tests.conftest import ASSETS, database_bytes
from tests.exports import BASE_TIME, write_export

telethon = pytest.importorskip("telethon")
from telethon import errors, utils  # noqa: E402
from telethon.tl import functions, types  # noqa: E402

CHAT_ID = 1500
PHOTO_A = (ASSETS / "obama.jpg").read_bytes()
PHOTO_B = (ASSETS / "astronaut.jpg").read_bytes()
PHOTO_C = (ASSETS / "mate-Dune.jpg").read_bytes()


def _date(msg_id: int) -> datetime:
    return datetime.fromtimestamp(BASE_TIME + msg_id * 60, tz=UTC)


ALICE = types.User(id=1001, first_name="Alice", last_name="Kim", access_hash=11)
BOB = types.User(id=1002, first_name="Bob", access_hash=12)


def _news(left: bool = False) -> types.Channel:
    return types.Channel(
        id=2000, title="News Channel", photo=types.ChatPhotoEmpty(), date=_date(0), broadcast=True,
        access_hash=20, left=left,
    )  # fmt: skip


NEWS = _news()
ROOM = types.Channel(
    id=CHAT_ID,
    title="Test room",
    photo=types.ChatPhotoEmpty(),
    date=_date(0),
    megagroup=True,
    access_hash=4242,
)
ENTITIES = (ALICE, BOB, NEWS, ROOM)


def _photo(msg_id: int, data: bytes, **media: Any) -> types.MessageMediaPhoto:
    size = types.PhotoSize(type="y", w=640, h=480, size=len(data))
    photo = types.Photo(
        id=msg_id, access_hash=1, file_reference=b"", date=_date(msg_id), sizes=[size], dc_id=2
    )
    return types.MessageMediaPhoto(photo=photo, **media)


def _message(msg_id: int, sender: types.User | None = ALICE, text: str = "", **fields: Any) -> types.Message:
    return types.Message(
        id=msg_id,
        peer_id=types.PeerChannel(CHAT_ID),
        date=_date(msg_id),
        message=text,
        from_id=types.PeerUser(sender.id) if sender else None,
        **fields,
    )


def _history() -> tuple[list[types.Message], dict[int, bytes]]:
    """A room's messages: a photo with a link, a forward, a reply, an album, a hidden forward, links."""
    messages = [
        _message(
            1,
            text="see https://example.org",
            media=_photo(1, PHOTO_A),
            entities=[types.MessageEntityUrl(offset=4, length=19)],
        ),
        _message(
            2,
            text="from the news",
            fwd_from=types.MessageFwdHeader(date=_date(0), from_id=types.PeerChannel(2000)),
        ),
        _message(3, sender=BOB, text="who is this?", reply_to=types.MessageReplyHeader(reply_to_msg_id=1)),
        _message(4, media=_photo(4, PHOTO_B), grouped_id=9001),
        _message(5, media=_photo(5, PHOTO_C), grouped_id=9001),
        _message(
            6,
            sender=BOB,
            text="passed on",
            fwd_from=types.MessageFwdHeader(date=_date(0), from_name="Hidden Person"),
        ),
        _message(
            7,
            text="hi @someone 😀 click",
            entities=[
                types.MessageEntityMention(offset=3, length=8),
                types.MessageEntityTextUrl(offset=15, length=5, url="https://t.me/+abcdefgh123"),
            ],
        ),
    ]
    return messages, {1: PHOTO_A, 4: PHOTO_B, 5: PHOTO_C}


def _export_messages() -> list[dict[str, Any]]:
    """The same messages as Telegram Desktop writes them in result.json."""

    def base(
        msg_id: int, sender: types.User, text: Any = "", entities: list[Any] | None = None
    ) -> dict[str, Any]:
        name = " ".join(p for p in (sender.first_name, sender.last_name) if p)
        return {
            "id": msg_id,
            "type": "message",
            "date": _date(msg_id).strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(_date(msg_id).timestamp())),
            "from": name,
            "from_id": f"user{sender.id}",
            "text": text,
            "text_entities": entities
            if entities is not None
            else ([{"type": "plain", "text": text}] if text else []),
        }

    def photo(msg: dict[str, Any], path: str, data: bytes) -> dict[str, Any]:
        return {**msg, "photo": path, "photo_file_size": len(data), "width": 640, "height": 480}

    link = [{"type": "plain", "text": "see "}, {"type": "link", "text": "https://example.org"}]
    mention = [
        {"type": "plain", "text": "hi "},
        {"type": "mention", "text": "@someone"},
        {"type": "plain", "text": " 😀 "},
        {"type": "text_link", "text": "click", "href": "https://t.me/+abcdefgh123"},
    ]
    return [
        photo(base(1, ALICE, link, link), "photos/photo_1@24-08-2024.jpg", PHOTO_A),
        {**base(2, ALICE, "from the news"), "forwarded_from": "News Channel"},
        {**base(3, BOB, "who is this?"), "reply_to_message_id": 1},
        photo(base(4, ALICE), "photos/photo_4@24-08-2024.jpg", PHOTO_B),
        photo(base(5, ALICE), "photos/photo_5@24-08-2024.jpg", PHOTO_C),
        {**base(6, BOB, "passed on"), "forwarded_from": "Hidden Person"},
        base(7, ALICE, mention, mention),
    ]


def _write_export(root: Path) -> Path:
    files = {
        "photos/photo_1@24-08-2024.jpg": PHOTO_A,
        "photos/photo_4@24-08-2024.jpg": PHOTO_B,
        "photos/photo_5@24-08-2024.jpg": PHOTO_C,
    }
    return write_export(root, _export_messages(), chat_id=CHAT_ID, name="Test room", files=files)


class FakeClient:
    """The calls the adapter makes, answered from memory; `faults` raise once when message id N is reached."""

    _self_id = 999

    def __init__(self, messages: list[types.Message], media: dict[int, bytes]) -> None:
        self._mb_entity_cache: dict[int, Any] = {}  # Telethon's cache: empty, entities come with the response
        self.messages, self.media = messages, media
        self.entities = {utils.get_peer_id(e): e for e in ENTITIES}
        self.faults: dict[tuple[str, int], BaseException] = {}
        self.entity_errors: dict[int, BaseException] = {}
        self.requests: list[Any] = []
        self.downloads = 0
        self.member = True

    def get_entity(self, peer: Any) -> Any:
        if isinstance(peer, str):
            return {"testroom": ROOM, "news": _news(left=not self.member)}[peer.lower()]
        chat_id = getattr(peer, "channel_id", None) or getattr(peer, "chat_id", None)
        if chat_id in self.entity_errors:
            raise self.entity_errors[chat_id]
        return {CHAT_ID: ROOM, 2000: NEWS}[chat_id]

    def iter_messages(self, peer: Any, *, min_id: int = 0, reverse: bool = False) -> Iterator[types.Message]:
        assert reverse, "history is read oldest first"
        chat_id = getattr(peer, "channel_id", CHAT_ID)
        for message in sorted(self.messages, key=lambda m: m.id):
            if message.id <= min_id or message.peer_id.channel_id != chat_id:
                continue
            fault = self.faults.pop(("iter", message.id), None)
            if fault is not None:
                raise fault
            message._finish_init(self, self.entities, None)
            yield message

    def download_media(self, message: types.Message, file: type = bytes) -> bytes | None:
        assert file is bytes, "media are downloaded to memory, never to a file"
        fault = self.faults.pop(("download", message.id), None)
        if fault is not None:
            raise fault
        self.downloads += 1
        return self.media.get(message.id)

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        if isinstance(request, functions.messages.ImportChatInviteRequest):
            if self.member:
                raise errors.UserAlreadyParticipantError(request=request)
            return types.Updates(updates=[], users=[], chats=[ROOM], date=_date(0), seq=0)
        if isinstance(request, functions.messages.CheckChatInviteRequest):
            return types.ChatInviteAlready(chat=ROOM)
        if isinstance(request, functions.channels.JoinChannelRequest):
            return types.Updates(updates=[], users=[], chats=[request.channel], date=_date(0), seq=0)
        raise AssertionError(f"unexpected request {request!r}")


def _live_items(client: FakeClient) -> list[SourceItem]:
    chat = chat_of(ROOM)
    peer = types.InputPeerChannel(CHAT_ID, 4242)
    return [message_to_item(m, chat) for m in client.iter_messages(peer, min_id=0, reverse=True)]


PROVENANCE = (
    "external_id", "kind", "chat_id", "chat_title", "chat_type", "message_id", "sender_id", "sender_name",
    "date", "forwarded_from", "saved_from", "reply_to", "via_bot", "text", "links", "media_kind", "media_mime",
)  # fmt: skip
LIVE_ONLY_EXTRA = {"forwarded_from_id", "grouped_id"}


def test_live_messages_have_the_same_provenance_as_the_json_export(tmp_path: Path) -> None:
    exported = list(open_source(_write_export(tmp_path / "export")).iter_items())
    live = _live_items(FakeClient(*_history()))
    assert len(live) == len(exported) == 7
    for one, other in zip(live, exported, strict=True):
        for name in PROVENANCE:
            assert getattr(one, name) == getattr(other, name), (one.message_id, name)
        assert {k: v for k, v in one.extra.items() if k not in LIVE_ONLY_EXTRA} == other.extra, one.message_id
    by_id = {i.message_id: i for i in live}
    assert by_id[1].links == ("https://example.org",) and by_id[1].media_kind == "photo"
    assert by_id[2].forwarded_from == "News Channel" and by_id[2].extra["forwarded_from_id"] == "channel2000"
    assert by_id[3].reply_to == 1 and by_id[3].sender_id == "user1002" and by_id[3].sender_name == "Bob"
    assert by_id[4].extra["grouped_id"] == by_id[5].extra["grouped_id"] == "9001"  # one album
    assert by_id[6].forwarded_from == "Hidden Person" and "forwarded_from_id" not in by_id[6].extra
    assert by_id[7].links == ("@someone", "https://t.me/+abcdefgh123")  # UTF-16 offsets past the emoji


def test_channel_posts_and_private_chats_name_the_sender_as_the_export_does() -> None:
    post = types.Message(id=3, peer_id=types.PeerChannel(2000), date=_date(3), message="news", post=True)
    item = message_to_item(post, chat_of(NEWS))
    assert (item.sender_id, item.sender_name, item.chat_type) == (
        "channel2000",
        "News Channel",
        "private_channel",
    )
    dm = types.Message(id=4, peer_id=types.PeerUser(1001), date=_date(4), message="hi")
    item = message_to_item(dm, chat_of(ALICE, self_id=999))
    assert (item.chat_id, item.sender_id, item.sender_name, item.chat_type) == (
        "1001",
        "user1001",
        "Alice Kim",
        "personal_chat",
    )


def _case(store: Store, photos: list[Path] | None = None) -> int:
    with store.session() as s:
        case = open_case(s, "Case A", consent_by="the person", consent_method="signed form")
        if photos:
            enrol(s, store, case, photos)
        return case.id


def _watch(store: Store, client: FakeClient, target: str = "https://t.me/+AbCdEfGh12") -> int:
    return add_chat(store, client, target).id


def _live_rows(store: Store) -> list[tuple[str, int]]:
    with store.session() as s:
        return list(s.execute(select(Item.external_id, Item.message_id).order_by(Item.message_id)).all())


class Clock:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.said: list[str] = []

    def hooks(self) -> Hooks:
        return Hooks(sleep=self.slept.append, say=self.said.append, jitter=lambda: 0.5)


def test_a_demo_photo_sent_in_a_watched_chat_is_a_hit_on_the_enrolled_case(store: Store) -> None:
    case_id = _case(store, [ASSETS / "obama.jpg"])
    client = FakeClient(*_history())
    watched = _watch(store, client)
    runs = run_once(store, client, hooks=Clock().hooks())
    assert runs[0].status == "ok" and runs[0].messages == 7 and runs[0].media == 3
    assert sum(runs[0].new_hits.values()) >= 1
    with store.session() as s:
        hit_items = s.execute(
            select(Item.message_id).join(Hit, Hit.item_id == Item.id).where(Hit.case_id == case_id)
        )
        assert {m for (m,) in hit_items} == {1}
        media = s.scalars(select(Media)).all()
        assert len(media) == 3 and all(m.blob_key for m in media)
    blobs = [p.read_bytes() for p in (store.settings.blob_dir).rglob("*") if p.is_file()]
    assert blobs and not any(PHOTO_A[:64] in b for b in blobs), (
        "media are stored encrypted, as a scan stores them"
    )
    row = list_chats(store)[0]
    assert (row.id, row.last_message_id, row.messages_seen, row.status) == (watched, 7, 7, "ok")
    assert row.last_run_at is not None

    # A new message later: only it is read, stored and matched.
    client.messages.append(_message(8, sender=BOB, media=_photo(8, PHOTO_A)))
    client.media[8] = PHOTO_A
    downloads = client.downloads
    runs = run_once(store, client, hooks=Clock().hooks(), every=30)
    assert runs[0].messages == 1 and client.downloads == downloads + 1
    assert [m for _, m in _live_rows(store)] == list(range(1, 9))
    row = list_chats(store)[0]
    assert row.last_message_id == 8 and row.next_run_at is not None
    assert row.next_run_at - row.last_run_at == timedelta(seconds=30)  # type: ignore[operator]


def test_a_flood_wait_mid_run_waits_and_resumes(store: Store) -> None:
    client = FakeClient(*_history())
    _watch(store, client)
    client.faults[("iter", 4)] = errors.FloodWaitError(request=None, capture=7)
    clock = Clock()
    runs = run_once(store, client, hooks=clock.hooks(), batch=2)
    assert runs[0].status == "ok" and clock.slept == [7.0] and runs[0].waited == 7.0
    assert any("wait 7 s" in line for line in clock.said)
    rows = _live_rows(store)
    assert [m for _, m in rows] == list(range(1, 8)), "nothing lost, nothing twice"


def test_a_disconnect_backs_off_with_jitter_and_resumes_from_the_last_stored_id(store: Store) -> None:
    client = FakeClient(*_history())
    _watch(store, client)
    client.faults[("iter", 6)] = ConnectionError("Connection to Telegram failed")
    client.faults[("download", 5)] = OSError("reset by peer")
    clock = Clock()
    runs = run_once(store, client, hooks=clock.hooks(), batch=3)
    assert runs[0].status == "ok" and runs[0].retries == 2
    # 2 s then 4 s (no batch got through in between), times 0.75 for a jitter draw of 0.5
    assert clock.slept == [1.5, 3.0]
    assert [m for _, m in _live_rows(store)] == list(range(1, 8)), "nothing lost, nothing twice"
    assert list_chats(store)[0].last_message_id == 7


def test_endless_disconnects_end_the_chats_turn_and_the_next_run_resumes(store: Store) -> None:
    client = FakeClient(*_history())
    _watch(store, client)

    class Down(FakeClient):
        def iter_messages(self, peer: Any, **kw: Any) -> Iterator[types.Message]:
            raise ConnectionError("no network")

    down = Down(*_history())
    runs = run_once(store, down, hooks=Clock().hooks())
    assert runs[0].status == "error" and "resumes next run" in (runs[0].reason or "")
    runs = run_once(store, client, hooks=Clock().hooks())
    assert runs[0].status == "ok" and runs[0].messages == 7 and list_chats(store)[0].reason is None


def test_a_chat_that_bans_the_account_is_marked_and_the_others_go_on(store: Store) -> None:
    client = FakeClient(*_history())
    room = _watch(store, client)
    news = _watch(store, client, "@news")
    client.messages.append(types.Message(id=1, peer_id=types.PeerChannel(2000), date=_date(1), message="x"))
    client.entity_errors[CHAT_ID] = errors.ChannelPrivateError(request=None)
    clock = Clock()
    runs = {r.watched_id: r for r in run_once(store, client, hooks=clock.hooks())}
    assert runs[room].status == "banned" and "ChannelPrivateError" in (runs[room].reason or "")
    assert runs[news].status == "ok" and runs[news].messages == 1
    assert runs[room].reason == (
        "ChannelPrivateError: The channel specified is private and you lack permission to access it. "
        "Another reason may be that you were banned from it"
    )
    assert any("banned" in line for line in clock.said)
    statuses = {w.id: (w.status, w.reason) for w in list_chats(store)}
    assert statuses[room][0] == "banned" and "ChannelPrivateError" in (statuses[room][1] or "")
    runs_again = run_once(store, client, hooks=clock.hooks())
    assert [r.watched_id for r in runs_again] == [news], "a banned chat is not retried"
    remove_chat(store, news)
    from ncii_shield.store.models import AuditEvent

    with store.session() as s:
        events = [(e.action, e.details) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    actions = [a for a, _ in events if a.startswith("watch_chats.")]
    assert actions == [
        "watch_chats.added", "watch_chats.added", "watch_chats.banned", "watch_chats.run", "watch_chats.run",
        "watch_chats.removed",
    ]  # fmt: skip
    runs_logged = [d for a, d in events if a == "watch_chats.run"]
    assert runs_logged[0]["banned"] == [room] and runs_logged[0]["messages"] == 1


def test_add_joins_only_where_asked_and_records_the_chat_sealed(store: Store) -> None:
    client = FakeClient(*_history())
    client.member = False
    watched = add_chat(store, client, "t.me/joinchat/AbCdEfGh12")
    assert watched.joined and watched.added_how == "invite_link" and watched.title == "Test room"
    assert [type(r).__name__ for r in client.requests] == ["ImportChatInviteRequest"]
    with pytest.raises(Conflict):
        add_chat(store, client, "https://t.me/+AbCdEfGh12")  # the same chat again
    news = add_chat(store, client, "@news")  # a public channel the account is not in: joined
    assert news.joined and news.chat_type == "private_channel"
    assert type(client.requests[-1]).__name__ == "JoinChannelRequest"
    remove_chat(store, news.id)
    with pytest.raises(NotFound):
        remove_chat(store, news.id)
    assert [w.id for w in list_chats(store)] == [watched.id]
    raw = database_bytes(store.settings.data_dir)
    assert b"Test room" not in raw and b"AbCdEfGh12" not in raw, "title and link are sealed at rest"
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(WatchedChat)) == 1


def test_an_invite_to_a_chat_already_joined_is_only_recorded(store: Store) -> None:
    client = FakeClient(*_history())
    watched = add_chat(store, client, "https://t.me/+AbCdEfGh12")
    assert not watched.joined
    assert [type(r).__name__ for r in client.requests] == [
        "ImportChatInviteRequest",
        "CheckChatInviteRequest",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://t.me/+AbCdEfGh12", ("invite_link", "AbCdEfGh12")),
        ("t.me/joinchat/AbCdEfGh12", ("invite_link", "AbCdEfGh12")),
        ("tg://join?invite=AbCdEfGh12", ("invite_link", "AbCdEfGh12")),
        ("@some_room", ("username", "some_room")),
        ("https://t.me/some_room", ("username", "some_room")),
    ],
)
def test_targets_are_recognised(text: str, expected: tuple[str, str]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["https://example.org/+x", "@ab", "t.me/joinchat/", "not a link at all"])
def test_other_targets_are_refused(text: str) -> None:
    with pytest.raises(NciiError):
        parse_target(text)


def test_the_session_is_sealed_in_the_store_never_in_clear(store: Store) -> None:
    secret = _a_string_session()
    save_session(store, secret, "Monitor (@monitor)")
    assert load_session(store) == secret and len(secret) > 300
    raw = database_bytes(store.settings.data_dir)
    assert not any(secret[i : i + 24].encode() in raw for i in range(0, len(secret) - 24, 24))
    assert b"Monitor (@monitor)" not in raw
    assert not list(store.settings.data_dir.rglob("*.session"))


def test_missing_api_settings_give_one_clear_line(store: Store) -> None:
    with pytest.raises(NciiError, match="NCII_TELEGRAM_API_ID and NCII_TELEGRAM_API_HASH"):
        api_credentials(store.settings)


def test_a_chat_exported_before_is_not_stored_again(store: Store, tmp_path: Path) -> None:
    export = _write_export(tmp_path / "export")
    run_scan(store, open_source(export), location=export.parent, case_id=None, workers=1)
    client = FakeClient(*_history())
    _watch(store, client)
    before = _live_rows(store)
    runs = run_once(store, client, hooks=Clock().hooks())
    assert runs[0].messages == 7 and _live_rows(store) == before, (
        "same chat id + message id + media: repeated"
    )


def test_media_over_the_cap_are_recorded_not_fetched(store: Store) -> None:
    big = types.Document(
        id=1, access_hash=1, file_reference=b"", date=_date(1), mime_type="video/mp4", size=10**12, dc_id=2,
        attributes=[types.DocumentAttributeVideo(duration=3.0, w=640, h=360), types.DocumentAttributeFilename("a.mp4")],
    )  # fmt: skip
    client = FakeClient([_message(1, media=types.MessageMediaDocument(document=big))], {})
    _watch(store, client)
    run_once(store, client, hooks=Clock().hooks())
    assert client.downloads == 0
    with store.session() as s:
        row = s.scalars(select(Item)).one()
        assert row.media_kind == "video_file" and "too large" in (row.skip_reason or "")
        assert row.extra["file_name"] == "a.mp4" and row.extra["duration_seconds"] == 3


def test_live_items_map_as_the_export_for_a_chat_record() -> None:
    chat = LiveChat("channel", str(CHAT_ID), "Test room", "private_supergroup")
    assert chat_of(ROOM) == chat


def test_the_cli_says_in_one_line_what_is_missing(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.conftest import cli_env, new_store

    new_store(tmp_path / "d").close()
    env = cli_env(NCII_DATA_DIR=str(tmp_path / "d"))
    run = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "watch-chats", "run", "--once"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode != 0
    assert "NCII_TELEGRAM_API_ID and NCII_TELEGRAM_API_HASH" in run.stderr and "Traceback" not in run.stderr
    env.update(NCII_TELEGRAM_API_ID="12345", NCII_TELEGRAM_API_HASH="0123456789abcdef")
    run = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "watch-chats", "add", "@testroom"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert run.returncode != 0 and "watch-chats login" in run.stderr and "Traceback" not in run.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "watch-chats", "list", "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    assert listed.stdout.strip() == "[]"
    from tests.conftest import open_store

    store = open_store(tmp_path / "d")
    try:
        add_chat(store, FakeClient(*_history()), "https://t.me/+AbCdEfGh12", [])
    finally:
        store.close()
    cli = [sys.executable, "-m", "ncii_shield.cli.main", "watch-chats"]
    table = subprocess.run([*cli, "list"], capture_output=True, text=True, env=env, check=True).stdout
    assert "Test room" in table and "all open" in table
    rows = json.loads(
        subprocess.run([*cli, "list", "--json"], capture_output=True, text=True, env=env).stdout
    )
    assert [(r["id"], r["chat_id"], r["status"], r["joined"]) for r in rows] == [(1, "1500", "ok", False)]
    gone = subprocess.run([*cli, "remove", "1"], capture_output=True, text=True, env=env)
    assert gone.returncode == 0 and "no longer watched" in gone.stdout
    again = subprocess.run([*cli, "remove", "1"], capture_output=True, text=True, env=env)
    assert again.returncode != 0 and "no watched chat 1" in again.stderr


def test_the_case_sources_page_shows_the_watched_chats_with_last_and_next_run(tmp_path: Path) -> None:
    import re

    import httpx

    from ncii_shield.web.auth import assign, create_user
    from tests.conftest import new_store
    from tests.web_server import live_server

    store = new_store(tmp_path / "data")
    try:
        case_id, other = _case(store, [ASSETS / "obama.jpg"]), _case(store)
        with store.session() as s:
            create_user(s, "worker", "a long test password", "case_worker", language="en")
            assign(s, "worker", case_id)
        client = FakeClient(*_history())
        room = _watch(store, client)
        news = add_chat(store, client, "@news", [other])  # another case's chat: not on this case's page
        run_once(store, client, hooks=Clock().hooks(), every=60)
        with live_server(store) as url, httpx.Client(base_url=url, timeout=60) as web:
            token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text).group(1)  # type: ignore[union-attr]
            web.post(
                "/login", data={"username": "worker", "password": "a long test password", "csrf_token": token}
            )
            page = web.get(f"/cases/{case_id}/scans").text
        assert "Telegram chats watched live" in page and f'data-watched="{room}"' in page
        assert f'data-watched="{news}"' not in page
        row = re.search(rf'<tr data-watched="{room}">(.*?)</tr>', page).group(1)  # type: ignore[union-attr]
        assert "Test room" in row and "Following" in row and '<td class="num">7</td>' in row
        watched = list_chats(store)[0]
        assert watched.next_run_at is not None and watched.next_run_at.strftime("%Y-%m-%d %H:%M") in row
    finally:
        store.close()


def test_a_removed_image_posted_again_in_a_watched_chat_raises_the_re_upload_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ncii_shield.store.models import Alert, Notice, NoticeItem, Reference
    from tests.conftest import new_store

    monkeypatch.setenv("NCII_REPORTER_ORG", "Support Desk")
    monkeypatch.setenv("NCII_REPORTER_EMAIL", "desk@support.test")
    store = new_store(tmp_path / "data")
    case_id = _case(store, [ASSETS / "obama.jpg"])
    client = FakeClient(*_history())
    _watch(store, client)
    assert run_once(store, client, hooks=Clock().hooks())[0].alerts == 0
    with store.session() as s:  # message 1 was reported and the platform took it down
        item_id, family = s.execute(
            select(Hit.item_id, Reference.photo_sha256)
            .join(Reference, Hit.reference_id == Reference.id)
            .where(Hit.case_id == case_id)
        ).first()  # type: ignore[misc]
        notice = Notice(
            case_id=case_id, platform_id="telegram", language="en", channel="email", to="abuse@telegram.test",
            subject="s", body="b", status="sent",
        )  # fmt: skip
        notice.items.append(
            NoticeItem(item_id=item_id, family=family, status="removed", removed_at=datetime.now(UTC))
        )
        s.add(notice)
    client.messages.append(_message(8, sender=BOB, media=_photo(8, PHOTO_A)))
    client.media[8] = PHOTO_A
    runs = run_once(store, client, hooks=Clock().hooks())
    assert runs[0].alerts == 1 and len(runs[0].drafted) == 1 and not runs[0].problems
    with store.session() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.case_id == case_id and s.get(Item, alert.item_id).message_id == 8  # type: ignore[union-attr]
        drafted = s.get(Notice, runs[0].drafted[0])
        assert drafted is not None and drafted.status == "drafted", "a re-notice waits for a case worker"
        assert [ni.url for ni in drafted.items] == ["https://t.me/c/1500/8"]
    store.close()


def test_service_messages_carry_the_export_action_name() -> None:
    joined = types.MessageService(
        id=9, peer_id=types.PeerChannel(CHAT_ID), date=_date(9), from_id=types.PeerUser(1002),
        action=types.MessageActionChatJoinedByLink(inviter_id=1001),
    )  # fmt: skip
    item = message_to_item(joined, chat_of(ROOM))
    assert (item.kind, item.sender_id, item.extra["action"]) == ("service", "user1002", "join_group_by_link")


def test_the_real_client_has_every_call_the_adapter_makes() -> None:
    from telethon.sessions import StringSession
    from telethon.sync import TelegramClient

    for name in ("iter_messages", "download_media", "get_entity", "__call__", "start", "get_me", "connect"):
        assert callable(getattr(TelegramClient, name)), name
    client = TelegramClient(StringSession(), 12345, "0123456789abcdef")  # not connected: no network
    assert client.session.save() == "" and not list(Path.cwd().glob("*.session"))


def test_login_seals_the_string_session_and_writes_no_session_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import telethon.sync

    from ncii_shield.watch.client import login
    from tests.conftest import new_store

    asked: list[str] = []

    class Fake:
        def __init__(self, session: Any, api_id: int, api_hash: str) -> None:
            assert (api_id, api_hash) == (12345, "0123456789abcdef")
            self.session = session

        def start(self, *, phone: Any, code_callback: Any, password: Any) -> None:
            asked.extend([phone(), code_callback(), password()])
            self.session.save = lambda: "1BQANOTREALSESSIONSTRING" + "z" * 200

        def get_me(self) -> types.User:
            return types.User(id=999, first_name="Monitor", username="desk_monitor")

        def disconnect(self) -> None:
            pass

    monkeypatch.setattr(telethon.sync, "TelegramClient", Fake)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NCII_TELEGRAM_API_ID", "12345")
    monkeypatch.setenv("NCII_TELEGRAM_API_HASH", "0123456789abcdef")
    store = new_store(tmp_path / "data")
    try:
        account = login(store, phone=lambda: "+820000", code=lambda: "12345", password=lambda: "pw")
        assert account == "Monitor (@desk_monitor)" and asked == ["+820000", "12345", "pw"]
        assert load_session(store).startswith("1BQANOTREALSESSIONSTRING")
        raw = database_bytes(tmp_path / "data")
        assert b"NOTREALSESSIONSTRING" not in raw
        assert not list(tmp_path.rglob("*.session"))
    finally:
        store.close()


def test_follow_polls_every_s_seconds(store: Store) -> None:
    from ncii_shield.watch.runner import follow

    client = FakeClient(*_history())
    _watch(store, client)
    clock, reports = Clock(), []
    follow(store, client, every=45, hooks=clock.hooks(), turns=3, report=reports.append)
    assert clock.slept == [45, 45] and [sum(r.messages for r in runs) for runs in reports] == [7, 0, 0]


def test_add_refuses_a_case_that_is_not_open_before_joining(store: Store) -> None:
    client = FakeClient(*_history())
    with pytest.raises(NotFound, match="case 42"):
        add_chat(store, client, "@testroom", [42])
    assert client.requests == []


def test_a_revoked_session_stops_the_run_with_the_command_to_log_in_again(store: Store) -> None:
    from ncii_shield.errors import Unavailable

    client = FakeClient(*_history())
    _watch(store, client)
    client.entity_errors[CHAT_ID] = errors.AuthKeyUnregisteredError(request=None)
    with pytest.raises(Unavailable, match="session no longer works") as raised:
        run_once(store, client, hooks=Clock().hooks())
    assert "watch-chats login" in (raised.value.hint or "")
    assert list_chats(store)[0].status == "ok", "the chat is not blamed for the account's session"


@pytest.mark.parametrize(
    ("failure", "message"),
    [(ConnectionError("network is unreachable"), "cannot reach Telegram"), (None, "no longer valid")],
)
def test_connecting_says_in_one_line_why_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException | None, message: str
) -> None:
    import telethon.sync

    from ncii_shield.watch.client import connect
    from tests.conftest import new_store

    class Fake:
        def __init__(self, session: Any, api_id: int, api_hash: str) -> None:
            self.session = session

        def connect(self) -> None:
            if failure is not None:
                raise failure

        def is_user_authorized(self) -> bool:
            return False

        def disconnect(self) -> None:
            pass

    monkeypatch.setattr(telethon.sync, "TelegramClient", Fake)
    monkeypatch.setenv("NCII_TELEGRAM_API_ID", "12345")
    monkeypatch.setenv("NCII_TELEGRAM_API_HASH", "0123456789abcdef")
    store = new_store(tmp_path / "data")
    try:
        with pytest.raises(NciiError, match="no Telegram account is logged in"):
            connect(store)
        save_session(store, "1BQANOTREAL", None)
        with pytest.raises(NciiError, match="cannot be read"):
            connect(store)
        save_session(store, _a_string_session(), None)
        with pytest.raises(NciiError, match=message):
            connect(store)
    finally:
        store.close()


def _a_string_session() -> str:
    """A well-formed StringSession (a made-up key for a test DC): what `watch-chats login` stores."""
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(bytes(range(256)))
    return session.save()


def test_watch_chats_help_imports_neither_telethon_nor_the_store() -> None:
    from tests.test_cli_imports import _modules_after

    for args in (["watch-chats", "--help"], ["watch-chats", "run", "--help"]):
        proc, modules = _modules_after(*args)
        assert proc.returncode == 0, proc.stderr
        assert not modules & {"telethon", "sqlalchemy", "numpy"}, sorted(modules & {"telethon", "sqlalchemy"})
