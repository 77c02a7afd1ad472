"""The Telegram Desktop JSON export reader, on real result.json files written to tmp_path."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.telegram import ControlEscapeFilter, TelegramExport

UNIX = 1724526191  # 2024-08-24 19:03:11 UTC


def message(message_id: int, **fields: object) -> dict[str, object]:
    """A plain text message as Telegram Desktop writes it; `fields` override or add keys."""
    base: dict[str, object] = {
        "id": message_id,
        "type": "message",
        "date": "2024-08-24T21:03:11",
        "date_unixtime": str(UNIX),
        "from": "Mina",
        "from_id": "user111",
        "text": "",
        "text_entities": [],
    }
    base.update(fields)
    return base


def chat(messages: list[object], chat_id: int = 4001, name: str = "Room A") -> dict[str, object]:
    return {"name": name, "type": "private_supergroup", "id": chat_id, "messages": messages}


def write_export(tmp_path: Path, data: object) -> Path:
    """Write result.json into an export folder; bytes are written as they are."""
    folder = tmp_path / "ChatExport_2024-08-24"
    folder.mkdir(exist_ok=True)
    result = folder / "result.json"
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False, indent=1).encode()
    result.write_bytes(raw)
    return result


def read_all(path: Path) -> list[Item]:
    return list(TelegramExport(path, assumed_timezone=UTC).iter_items())


def only(tmp_path: Path, msg: dict[str, object]) -> Item:
    items = read_all(write_export(tmp_path, chat([msg])))
    assert len(items) == 1
    return items[0]


# --- layouts ---------------------------------------------------------------------------------------


def test_single_chat_yields_one_item_per_message_in_file_order(tmp_path: Path) -> None:
    path = write_export(tmp_path, chat([message(7, text="first"), message(3, text="second")]))
    source = TelegramExport(path)
    items = list(source.iter_items())
    # Exports ascend by id; one that does not (edited, or a repeated id) keeps its own id by position,
    # so it is stored rather than taken for an earlier message.
    assert [i.external_id for i in items] == ["4001/7", "4001/3#1"]
    assert items[1].extra["out_of_order"] is True
    assert [i.text for i in items] == ["first", "second"]
    first = items[0]
    assert (first.chat_id, first.chat_title, first.chat_type) == ("4001", "Room A", "private_supergroup")
    assert (first.message_id, first.kind) == (7, "message")
    assert (first.sender_id, first.sender_name) == ("user111", "Mina")
    assert source.kind == "telegram_export"
    assert source.root == path.parent
    assert source.describe() == "Telegram export ChatExport_2024-08-24"


def test_folder_or_result_json_both_open_the_export(tmp_path: Path) -> None:
    path = write_export(tmp_path, chat([message(1)]))
    assert TelegramExport(path.parent).path == path
    assert [i.external_id for i in read_all(path.parent)] == ["4001/1"]


def test_full_account_export_reads_chats_then_left_chats(tmp_path: Path) -> None:
    data = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "Case", "phone_number": "+82 10 0000 0000"},
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                chat([message(1), message(2)], chat_id=11, name="School room"),
                {"name": None, "type": "saved_messages", "id": 12, "messages": [message(5)]},
            ],
        },
        "left_chats": {
            "about": "This page lists all supergroups and channels from this export that you've left.",
            "list": [chat([message(9, text="left behind")], chat_id=13, name="Old channel")],
        },
    }
    items = read_all(write_export(tmp_path, data))
    assert [i.external_id for i in items] == ["11/1", "11/2", "12/5", "13/9"]
    # Saved Messages has no name in JSON: it is called what the app calls it.
    assert [i.chat_title for i in items] == ["School room", "School room", "Saved messages", "Old channel"]
    assert items[2].chat_type == "saved_messages"
    assert items[3].text == "left behind"
    assert items[3].extra.get("chat_left") is True
    assert "chat_left" not in items[0].extra


# --- text and links --------------------------------------------------------------------------------


def test_text_as_plain_string(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, text="○○고 07년생 아시는 분?", text_entities=[]))
    assert item.text == "○○고 07년생 아시는 분?"
    assert item.links == ()


def test_hidden_invite_link_is_taken_from_text_link_href(tmp_path: Path) -> None:
    entities = [
        {"type": "plain", "text": "more in "},
        {"type": "text_link", "text": "this room", "href": "https://t.me/+AbCdEf123"},
        {"type": "plain", "text": " and "},
        {"type": "text_link", "text": "that one", "href": "https://t.me/joinchat/XyZ987"},
    ]
    text = ["more in ", entities[1], " and ", entities[3]]
    item = only(tmp_path, message(1, text=text, text_entities=entities))
    assert item.text == "more in this room and that one"
    assert item.links == ("https://t.me/+AbCdEf123", "https://t.me/joinchat/XyZ987")


def test_link_and_mention_entities_are_kept_once_in_order(tmp_path: Path) -> None:
    entities = [
        {"type": "mention", "text": "@seller_kr"},
        {"type": "plain", "text": " "},
        {"type": "link", "text": "t.me/+Room42"},
        {"type": "plain", "text": " "},
        {"type": "text_link", "text": "again", "href": "t.me/+Room42"},
        {"type": "mention", "text": "@seller_kr"},
        {"type": "bold", "text": "!"},
    ]
    item = only(tmp_path, message(1, text=entities, text_entities=entities))
    assert item.text == "@seller_kr t.me/+Room42 again@seller_kr!"
    assert item.links == ("@seller_kr", "t.me/+Room42")


def test_text_list_is_used_when_text_entities_is_absent(tmp_path: Path) -> None:
    msg = message(1, text=["see ", {"type": "text_link", "text": "here", "href": "https://t.me/+Hidden"}])
    del msg["text_entities"]
    item = only(tmp_path, msg)
    assert item.text == "see here"
    assert item.links == ("https://t.me/+Hidden",)


def test_text_entities_are_preferred_over_text(tmp_path: Path) -> None:
    entities = [{"type": "text_link", "text": "x", "href": "https://t.me/+FromEntities"}]
    item = only(tmp_path, message(1, text="stale", text_entities=entities))
    assert item.text == "x"
    assert item.links == ("https://t.me/+FromEntities",)


# --- the \xNN quirk --------------------------------------------------------------------------------


def test_control_escapes_written_as_backslash_x_are_read(tmp_path: Path) -> None:
    raw = (
        b'{"name": "R", "type": "private_group", "id": 5, "messages": ['
        b'{"id": 1, "type": "message", "date_unixtime": "1", "text": "bell\\x07tab\\x09end"},'
        b'{"id": 2, "type": "message", "date_unixtime": "1", "text": "C:\\\\x41"},'
        b'{"id": 3, "type": "message", "date_unixtime": "1", "text": "\\\\\\x41"}'
        b"]}"
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)  # the reason for the filter
    items = read_all(write_export(tmp_path, raw))
    assert [i.text for i in items] == ["bell\x07tab\tend", "C:\\x41", "\\A"]


FILTER_CASES = [
    (b'"a\\x07b"', b'"a\\u0007b"'),
    (b'"\\\\x41"', b'"\\\\x41"'),  # escaped backslash, then plain x41
    (b'"\\\\\\x41"', b'"\\\\\\u0041"'),  # escaped backslash, then an escape
    (b'"\\\\\\\\x41"', b'"\\\\\\\\x41"'),
    (b'"\\x1f\\x00\\"x\\x7f"', b'"\\u001f\\u0000\\"x\\u007f"'),
    (b'"x\\n\\\\" "\\x01x"', b'"x\\n\\\\" "\\u0001x"'),
]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 5, 7, 64])
@pytest.mark.parametrize(("raw", "expected"), FILTER_CASES)
def test_filter_rewrites_only_unescaped_backslash_x_across_chunk_boundaries(
    raw: bytes, expected: bytes, chunk_size: int
) -> None:
    for read_size in (1, 2, 3, 1000):
        stream = ControlEscapeFilter(io.BytesIO(raw), chunk_size=chunk_size)
        out = b""
        while block := stream.read(read_size):
            assert len(block) <= read_size
            out += block
        assert out == expected, (chunk_size, read_size)
        assert stream.bytes_read == len(raw)


def test_filter_read_all_and_read_zero() -> None:
    stream = ControlEscapeFilter(io.BytesIO(b'"\\x41"'), chunk_size=2)
    assert stream.read(0) == b""
    assert stream.read() == b'"\\u0041"'
    assert stream.read(10) == b""


# --- dates and provenance --------------------------------------------------------------------------


def test_date_comes_from_date_unixtime_as_aware_utc(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, date="1999-01-01T00:00:00", date_unixtime=str(UNIX)))
    assert item.date == datetime(2024, 8, 24, 19, 3, 11, tzinfo=UTC)
    assert "date_is_local" not in item.extra


def test_local_date_is_used_only_without_date_unixtime_and_flagged(tmp_path: Path) -> None:
    msg = message(1, date="2024-08-24T21:03:11")
    del msg["date_unixtime"]
    result = write_export(tmp_path, chat([msg]))
    seoul = next(iter(TelegramExport(result, assumed_timezone=ZoneInfo("Asia/Seoul")).iter_items()))
    assert seoul.date == datetime(2024, 8, 24, 12, 3, 11, tzinfo=UTC)  # 21:03 in Seoul is 12:03 UTC
    assert seoul.extra["date_is_local"] is True
    # With no zone to assume, the date is left out rather than stored as if it were UTC.
    unknown = next(iter(TelegramExport(result).iter_items()))
    assert unknown.date is None
    assert unknown.extra["date_is_local"] is True


@pytest.mark.parametrize("bad", ["9" * 5000, "soon", "", "²"])
def test_unusable_date_unixtime_falls_back_to_local_date(tmp_path: Path, bad: str) -> None:
    item = only(tmp_path, message(1, date="2024-08-24T21:03:11", date_unixtime=bad, edited_unixtime=bad))
    assert item.date == datetime(2024, 8, 24, 21, 3, 11, tzinfo=UTC)  # read_all assumes UTC
    assert item.extra["date_is_local"] is True
    assert "edited" not in item.extra


def test_forwarded_saved_reply_and_via_bot(tmp_path: Path) -> None:
    item = only(
        tmp_path,
        message(
            8,
            forwarded_from="Channel X",
            saved_from="Someone",
            reply_to_message_id=3,
            via_bot="@nudify_bot",
            edited="2024-08-24T22:00:00",
            edited_unixtime=str(UNIX + 3600),
        ),
    )
    assert (item.forwarded_from, item.saved_from, item.reply_to, item.via_bot) == (
        "Channel X",
        "Someone",
        3,
        "@nudify_bot",
    )
    assert item.extra["edited"] == UNIX + 3600


def test_sender_name_may_be_null(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, **{"from": None, "from_id": "channel77"}))
    assert item.sender_name is None
    assert item.sender_id == "channel77"


def test_service_message_takes_actor_and_keeps_action(tmp_path: Path) -> None:
    msg = {
        "id": 2,
        "type": "service",
        "date": "2024-08-24T21:03:11",
        "date_unixtime": str(UNIX),
        "actor": "Admin",
        "actor_id": "user900",
        "action": "invite_members",
        "members": ["Mina", None],
        "text": "",
        "text_entities": [],
    }
    item = only(tmp_path, msg)
    assert (item.kind, item.sender_id, item.sender_name) == ("service", "user900", "Admin")
    assert item.extra["action"] == "invite_members"
    assert item.extra["members"] == ["Mina", None]


# --- media -----------------------------------------------------------------------------------------


def test_photo(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, photo="photos/photo_12@24-08-2024_21-03-11.jpg", width=1280, height=960))
    assert (item.media_kind, item.media_path, item.media_note) == (
        "photo",
        "photos/photo_12@24-08-2024_21-03-11.jpg",
        None,
    )
    assert (item.extra["width"], item.extra["height"]) == (1280, 960)


@pytest.mark.parametrize(
    ("path", "media_type", "mime", "expected_kind"),
    [
        ("stickers/sticker.webp", "sticker", "image/webp", "sticker"),
        ("animations/anim.mp4", "animation", "video/mp4", "animation"),
        ("video_files/clip.mp4", "video_file", "video/mp4", "video_file"),
        ("round_video_messages/round.mp4", "video_message", "video/mp4", "video_message"),
        ("voice_messages/voice.ogg", "voice_message", "audio/ogg", "voice_message"),
        ("files/report.pdf", None, "application/pdf", "file"),
    ],
)
def test_files_take_their_media_type(
    tmp_path: Path, path: str, media_type: str | None, mime: str, expected_kind: str
) -> None:
    fields: dict[str, object] = {"file": path, "mime_type": mime, "thumbnail": f"{path}_thumb.jpg"}
    if media_type is not None:
        fields["media_type"] = media_type
    item = only(tmp_path, message(1, **fields))
    assert (item.media_kind, item.media_path, item.media_mime) == (expected_kind, path, mime)
    assert item.extra["thumbnail"] == f"{path}_thumb.jpg"


def test_file_extras_are_kept(tmp_path: Path) -> None:
    item = only(
        tmp_path,
        message(
            1,
            file="stickers/s.webp",
            media_type="sticker",
            sticker_emoji="😀",
            file_name="s.webp",
            width=512,
            height=512,
            duration_seconds=3,
            media_spoiler=True,
            self_destruct_period_seconds=10,
        ),
    )
    for key, value in {
        "sticker_emoji": "😀",
        "file_name": "s.webp",
        "width": 512,
        "height": 512,
        "duration_seconds": 3,
        "media_spoiler": True,
        "self_destruct_period_seconds": 10,
    }.items():
        assert item.extra[key] == value, key


@pytest.mark.parametrize(
    ("placeholder", "note"),
    [
        ("(File not included. Change data exporting settings to download.)", "file not included in export"),
        (
            "(File exceeds maximum size. Change data exporting settings to download.)",
            "file exceeds export size limit",
        ),
        ("(File unavailable, please try again later)", "file unavailable at export time"),
    ],
)
def test_placeholders_give_a_note_instead_of_a_path(tmp_path: Path, placeholder: str, note: str) -> None:
    item = only(tmp_path, message(1, file=placeholder, media_type="video_file", thumbnail=placeholder))
    assert item.media_path is None
    assert item.media_kind == "video_file"
    assert item.media_note == note
    assert "thumbnail" not in item.extra


@pytest.mark.parametrize(
    "hostile", ["../etc/passwd", "/etc/passwd", "C:\\x.jpg", "photos/../../x.jpg", "photos/a\x00.jpg"]
)
def test_unsafe_media_paths_are_refused(tmp_path: Path, hostile: str) -> None:
    item = only(tmp_path, message(1, photo=hostile, thumbnail=hostile))
    assert item.media_path is None
    assert item.media_kind == "photo"
    assert item.media_note == f"unsafe media path refused: {repr(hostile)[:80]}"
    assert "thumbnail" not in item.extra


def test_unsafe_note_is_truncated(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, photo="../" * 100))
    assert item.media_note is not None
    assert len(item.media_note) == len("unsafe media path refused: ") + 80


def test_windows_separators_are_normalised(tmp_path: Path) -> None:
    item = only(tmp_path, message(1, photo="photos\\photo_1.jpg"))
    assert item.media_path == "photos/photo_1.jpg"


# --- damage ----------------------------------------------------------------------------------------


def _export_bytes(count: int) -> bytes:
    return json.dumps(chat([message(i, text=f"m{i}") for i in range(1, count + 1)])).encode()


@pytest.mark.parametrize("count", [5, 3000])  # small: one parser buffer; large: error after many buffers
def test_malformed_json_in_the_middle_yields_earlier_messages_then_fails(tmp_path: Path, count: int) -> None:
    raw = _export_bytes(count)
    cut = raw.index(b'{"id": %d,' % (count - 1))
    broken = raw[:cut] + b'{"id": 99 "oops": 1}, ' + raw[cut:]
    path = write_export(tmp_path, broken)
    seen: list[int | None] = []
    with pytest.raises(SourceError) as info:
        for item in TelegramExport(path).iter_items():
            seen.append(item.message_id)
    assert seen == list(range(1, count - 1))
    text = str(info.value)
    assert text.startswith("result.json is malformed near byte ")
    assert f"the {count - 2:,} items before it were read" in text
    assert "\n" not in info.value.message
    assert info.value.hint


def test_truncated_file_yields_complete_messages_then_fails_at_its_end(tmp_path: Path) -> None:
    raw = _export_bytes(4)
    cut = raw.index(b'{"id": 3,') + 20
    path = write_export(tmp_path, raw[:cut])
    seen: list[str] = []
    with pytest.raises(SourceError, match=f"near byte {cut:,}: parse error: premature EOF"):
        for item in TelegramExport(path).iter_items():
            seen.append(item.external_id)
    assert seen == ["4001/1", "4001/2"]


@pytest.mark.parametrize("data", [{"foo": 1, "bar": [1, 2]}, [1, 2, 3], "just a string"])
def test_json_that_is_not_an_export_is_refused(tmp_path: Path, data: object) -> None:
    path = write_export(tmp_path, data)
    with pytest.raises(SourceError, match="is not a Telegram Desktop JSON export"):
        read_all(path)


def test_missing_file_asks_for_result_json(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        TelegramExport(tmp_path / "nowhere")
    assert info.value.hint is not None
    assert "result.json" in info.value.hint


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write_export(tmp_path, b"")
    with pytest.raises(SourceError, match="is empty"):
        read_all(path)


def test_messages_without_id_or_not_objects_become_invalid_items(tmp_path: Path) -> None:
    no_id = message(0, text="orphan", photo="photos/p.jpg")
    del no_id["id"]
    path = write_export(tmp_path, chat([message(1), no_id, "garbage", [1, 2], message(2)]))
    items = read_all(path)
    assert [i.external_id for i in items] == [
        "4001/1",
        "4001/invalid-1",
        "4001/invalid-2",
        "4001/invalid-3",
        "4001/2",
    ]
    assert items[1].text == "orphan"
    assert items[1].media_path == "photos/p.jpg"
    assert items[1].message_id is None
    assert "no integer 'id'" in str(items[1].extra["error"])
    assert items[2].extra["error"] == "message #2 is str, not an object"
    assert items[3].extra["error"] == "message #3 is list, not an object"
    assert items[2].chat_id == "4001"
    assert "error" not in items[0].extra


# --- fingerprint -----------------------------------------------------------------------------------


def test_fingerprint_recognises_the_same_export_elsewhere(tmp_path: Path) -> None:
    raw = _export_bytes(20_000)
    assert len(raw) > 3 * 1024 * 1024  # so head, tail and middle are distinct regions
    middle = len(raw) // 2
    paths = []
    variants = {
        "a": raw,
        "b": raw,
        "tail": raw.replace(b'"m20000"', b'"m2000X"'),
        "head": raw.replace(b"Room A", b"Room B"),
        "size": raw[:middle] + b" " + raw[middle:],  # only the size tells this one apart
    }
    for name, data in variants.items():
        assert name in "ab" or data != raw
        assert name == "size" or len(data) == len(raw)
        (tmp_path / name).mkdir()
        paths.append(write_export(tmp_path / name, data))
    first, second, *changed = paths
    fingerprint = TelegramExport(first).fingerprint()
    assert len(fingerprint) == 64
    assert TelegramExport(second).fingerprint() == fingerprint
    for path in changed:
        assert TelegramExport(path).fingerprint() != fingerprint, path.parent.name


# --- streaming -------------------------------------------------------------------------------------


def _write_big_export(path: Path, count: int) -> None:
    """Written from a generator, so the test itself never holds the export in memory."""

    def chunks() -> Iterator[str]:
        yield '{"name": "Big", "type": "public_channel", "id": 777, "messages": ['
        for i in range(count):
            sep = "," if i else ""
            yield f'{sep}{{"id": {i}, "type": "message", "date_unixtime": "{UNIX + i}", "text": "msg {i}"}}'
        yield "]}"

    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(chunks())


def test_a_large_export_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    count = 200_000
    folder = tmp_path / "big"
    folder.mkdir()
    result = folder / "result.json"
    _write_big_export(result, count)
    assert result.stat().st_size > 15_000_000

    started = time.perf_counter()
    tracemalloc.start()
    try:
        seen = 0
        last = None
        for item in TelegramExport(result).iter_items():
            seen += 1
            last = item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started

    assert seen == count
    assert last is not None and last.external_id == f"777/{count - 1}"
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert elapsed < 60, f"took {elapsed:.1f}s"
