"""Telegram Desktop's HTML export (the app's default): the same provenance as the JSON export.

Exports are written from JSON ones with demo/html_export.py, which follows the app's HTML writer; the
layout facts it relies on (joined messages, pagination, forwarded bodies) are also tested by hand here.
"""

from __future__ import annotations

import resource
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncii_shield.demo.html_export import write_html_export
from ncii_shield.sources import TelegramExport, TelegramHtmlExport
from ncii_shield.sources.base import Item
from ncii_shield.sources.detect import open_sources
from ncii_shield.sources.html_blocks import MAX_BLOCK, READ_CHUNK
from ncii_shield.sources.tree import DirTree
from tests.conftest import ASSETS
from tests.exports import message, write_export

SEOUL = ZoneInfo("Asia/Seoul")
FIELDS = (
    "message_id",
    "date",
    "sender_name",
    "forwarded_from",
    "reply_to",
    "via_bot",
    "text",
    "links",
    "media_path",
    "media_kind",
    "media_note",
    "chat_title",
)


def _messages() -> list[dict[str, object]]:
    photo = "photos/photo_1@24-08-2024_21-03-11.jpg"
    return [
        message(1, photo=photo, text="첫 사진", sender="user1"),
        message(2, text="joined: same sender, a minute later", sender="user1"),
        message(
            3,
            text=[
                "김하린 ",
                {"type": "text_link", "text": "여기", "href": "https://t.me/+AbCdEf123"},
                " @room07",
            ],
            text_entities=[
                {"type": "plain", "text": "김하린 "},
                {"type": "text_link", "text": "여기", "href": "https://t.me/+AbCdEf123"},
                {"type": "plain", "text": " "},
                {"type": "mention", "text": "@room07"},
            ],
            sender="user2",
        ),
        message(4, photo=photo, forwarded_from="다른방 채널", sender="user2"),
        message(5, text="line one\nline two & <b>not bold</b>", reply_to_message_id=1, sender="user3"),
        message(6, file="stickers/sticker.webp", media_type="sticker", sender="user3"),
        message(
            7,
            file="(File not included. Change data exporting settings to download.)",
            media_type="video_file",
            sender="user1",
        ),
        message(8, file="round_video_messages/file_1.mp4", media_type="video_message", sender="user1"),
        message(9, text="via a bot", via_bot="@pic_bot", sender="user4"),
    ]


def _json_export(tmp_path: Path) -> Path:
    files = {
        "photos/photo_1@24-08-2024_21-03-11.jpg": (ASSETS / "obama.jpg").read_bytes(),
        "stickers/sticker.webp": b"RIFF....WEBP",
        "round_video_messages/file_1.mp4": b"\x00\x00\x00\x18ftypmp42",
    }
    return write_export(tmp_path / "json", _messages(), files=files, name="겹지인방 3반").parent


def _items(source: TelegramExport | TelegramHtmlExport) -> list[Item]:
    return [i for i in source.iter_items() if i.kind == "message"]


def _compare(json_items: list[Item], html_items: list[Item]) -> None:
    assert [i.message_id for i in html_items] == [i.message_id for i in json_items]
    for j, h in zip(json_items, html_items, strict=True):
        for name in FIELDS:
            assert getattr(h, name) == getattr(j, name), (j.message_id, name)


@pytest.mark.parametrize("per_page", [1000, 2])
def test_html_gives_what_the_json_gives(tmp_path: Path, per_page: int) -> None:
    json_dir = _json_export(tmp_path)
    html_dir = write_html_export(json_dir, tmp_path / "html", messages_per_page=per_page, tz=SEOUL)
    if per_page == 2:
        assert (html_dir / "messages5.html").is_file() and not (html_dir / "messages6.html").exists()
    html = TelegramHtmlExport(DirTree(html_dir), assumed_timezone=SEOUL)
    _compare(_items(TelegramExport(json_dir, assumed_timezone=SEOUL)), _items(html))
    assert not [i for i in html.iter_items() if i.kind == "invalid"], "pagination followed to its end"


def test_joined_messages_inherit_the_sender_drawn_above(tmp_path: Path) -> None:
    html_dir = write_html_export(_json_export(tmp_path), tmp_path / "html", tz=SEOUL)
    page = (html_dir / "messages.html").read_text()
    assert 'class="message default clearfix joined" id="message2"' in page
    second = _items(TelegramHtmlExport(DirTree(html_dir)))[1]
    assert second.sender_name == "Sender user1"


def test_thumbnails_and_the_exports_own_files_are_never_media(tmp_path: Path) -> None:
    html_dir = write_html_export(_json_export(tmp_path), tmp_path / "html", tz=SEOUL)
    assert any(p.name.endswith("_thumb.jpg") for p in html_dir.rglob("*"))
    assert (html_dir / "css" / "style.css").is_file()
    with open_sources(html_dir) as opened:
        (source,) = opened.sources
        paths = [i.media_path for i in source.iter_items() if i.media_path]
    assert paths and not [p for p in paths if "_thumb" in p or p.startswith(("css/", "js/", "images/"))]


def test_old_exports_without_offsets_take_the_assumed_zone(tmp_path: Path) -> None:
    html_dir = write_html_export(_json_export(tmp_path), tmp_path / "html", tz=SEOUL, with_offset=False)
    assert "UTC+" not in (html_dir / "messages.html").read_text()
    source = TelegramHtmlExport(DirTree(html_dir), assumed_timezone=SEOUL)
    first = _items(source)[0]
    assert first.extra["date_is_local"] is True and source.dates_assumed == len(_messages())
    assert first.date == datetime.fromtimestamp(1_724_500_060, UTC)  # the same instant as the JSON's


def test_full_account_layout(tmp_path: Path) -> None:
    json_dir = tmp_path / "account"
    room = _json_export(tmp_path / "one")
    import json

    chat = json.loads((room / "result.json").read_text())
    for m in chat["messages"]:
        for key in ("photo", "file"):
            if isinstance(m.get(key), str) and not m[key].startswith("("):
                m[key] = f"chats/chat_001/{m[key]}"
    (json_dir / "chats" / "chat_001").mkdir(parents=True)
    for path in room.rglob("*"):
        if path.is_file() and path.name != "result.json":
            target = json_dir / "chats" / "chat_001" / path.relative_to(room)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    other = {
        "name": "Link room",
        "type": "public_channel",
        "id": 42,
        "messages": [message(1, text="t.me/+x")],
    }
    account = {"about": "…", "chats": {"about": "…", "list": [chat, other]}}
    (json_dir / "result.json").write_text(json.dumps(account, ensure_ascii=False))
    html_dir = write_html_export(json_dir, tmp_path / "html", tz=SEOUL)
    assert (html_dir / "lists" / "chats.html").is_file()
    assert (html_dir / "chats" / "chat_002" / "messages.html").is_file()
    with open_sources(html_dir) as opened:
        (source,) = opened.sources
        assert isinstance(source, TelegramHtmlExport)
        items = _items(source)
    assert {i.chat_title for i in items} == {"겹지인방 3반", "Link room"}
    assert {i.chat_type for i in items} == {"group", "channel"}
    photo = next(i for i in items if i.message_id == 1 and i.chat_title == "겹지인방 3반")
    assert photo.media_path == "chats/chat_001/photos/photo_1@24-08-2024_21-03-11.jpg"
    _compare(_items(TelegramExport(json_dir, assumed_timezone=SEOUL)), items)


# ----------------------------------------------------------------------------------------- bad input

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>Exported Data</title></head>
<body><div class="page_wrap"><div class="page_header"><div class="content"><div class="text bold">
Room
</div></div></div><div class="page_body chat_page"><div class="history">
{messages}
</div></div></div></body></html>
"""


def _message(msg_id: int, inner: str, joined: bool = False) -> str:
    cls = "message default clearfix joined" if joined else "message default clearfix"
    sender = "" if joined else '<div class="from_name">Kim</div>'
    return (
        f'<div class="{cls}" id="message{msg_id}"><div class="body">'
        f'<div class="pull_right date details" title="24.08.2024 21:0{msg_id % 10}:00 UTC+09:00">21:00</div>'
        f"{sender}{inner}</div></div>\n"
    )


def _page(tmp_path: Path, messages: str, name: str = "messages.html") -> TelegramHtmlExport:
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(PAGE.format(messages=messages), encoding="utf-8")
    return TelegramHtmlExport(DirTree(folder))


def test_hostile_hrefs_never_become_paths(tmp_path: Path) -> None:
    hrefs = ["../../etc/passwd", "javascript:alert(1)", "/etc/passwd", "file:///etc/passwd", "C:\\x.jpg"]
    body = "".join(
        _message(
            n,
            f'<div class="media_wrap clearfix"><a class="photo_wrap clearfix pull_left" href="{h}"></a></div>',
        )
        for n, h in enumerate(hrefs, 1)
    )
    items = list(_page(tmp_path, body).iter_items())
    assert [i.media_path for i in items] == [None] * len(hrefs)
    assert all(i.media_note and i.media_note.startswith("unsafe media path refused") for i in items)


def test_a_page_cut_mid_message_keeps_what_was_read(tmp_path: Path) -> None:
    source = _page(
        tmp_path, _message(1, '<div class="text">one</div>') + _message(2, '<div class="text">two</div>')
    )
    page = tmp_path / "export" / "messages.html"
    page.write_bytes(page.read_bytes()[: page.read_bytes().index(b"two") + 2])
    items = list(source.iter_items())
    assert [i.message_id for i in items if i.kind == "message"] == [1, 2]
    (cut,) = [i for i in items if i.kind == "invalid"]
    assert "cut short" in str(cut.extra["error"])


def test_a_missing_next_page_is_reported(tmp_path: Path) -> None:
    body = (
        _message(1, '<div class="text">one</div>')
        + '<a class="pagination block_link" href="messages2.html">Next messages</a>'
    )
    items = list(_page(tmp_path, body).iter_items())
    assert [i.message_id for i in items if i.kind == "message"] == [1]
    assert "messages2.html is missing" in str(items[-1].extra["error"])


def test_a_100_mb_page_with_one_message_is_read_in_bounded_memory(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    with (folder / "messages.html").open("w", encoding="utf-8") as handle:
        head, tail = PAGE.split("{messages}")
        handle.write(head + _message(1, '<div class="text">').rsplit("</div></div>", 1)[0])
        for _ in range(100):
            handle.write("A" * (1 << 20))
        handle.write("</div></div></div>\n" + _message(2, '<div class="text">after</div>') + tail)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    items = list(TelegramHtmlExport(DirTree(folder)).iter_items())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [i.message_id for i in items] == [1, 2]
    assert "cut there" in str(items[0].extra["cut"]) and len(items[0].text) <= MAX_BLOCK + READ_CHUNK
    assert items[1].text == "after"
    assert grown_mb < 60, f"peak memory grew by {grown_mb:.0f} MB for a 100 MB page"


def test_date_separators_and_service_rows_are_not_messages(tmp_path: Path) -> None:
    body = (
        '<div class="message service" id="message-1"><div class="body details">24 August 2024</div></div>\n'
        '<div class="message service" id="message5"><div class="body details">Kim joined group by link</div></div>\n'
        + _message(6, '<div class="text">hi</div>', joined=True)
    )
    items = list(_page(tmp_path, body).iter_items())
    assert [(i.kind, i.message_id) for i in items] == [("service", 5), ("message", 6)]
    assert items[0].extra["service_text"] == "Kim joined group by link"
    assert items[1].sender_name is None, "a joined message after a service row has no sender to inherit"


def test_saved_messages_have_the_same_title_in_json_and_html(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "result.json").write_text(
        json.dumps({"type": "saved_messages", "id": 9, "messages": [message(1, text="note to self")]})
    )
    (item,) = TelegramExport(folder, assumed_timezone=SEOUL).iter_items()
    html = write_html_export(folder, tmp_path / "html", tz=SEOUL)
    (same,) = TelegramHtmlExport(DirTree(html)).iter_items()
    assert item.chat_title == same.chat_title == "Saved messages"
