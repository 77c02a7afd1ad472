"""The JSON -> HTML export writer lays pages out the way Telegram Desktop's HTML writer does."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC
from pathlib import Path
from typing import Any

from PIL import Image

from ncii_shield.demo.html_export import write_html_export, zip_export

T0 = 1_724_500_991  # 24.08.2024 21:03:11 in Seoul (12:03:11 UTC)
PLACEHOLDER = "(File not included. Change data exporting settings to download.)"


def _msg(mid: int, at: int, sender: str = "Alex Kim", **fields: Any) -> dict[str, Any]:
    msg = {"id": mid, "type": "message", "date": "2024-08-24T21:03:11", "date_unixtime": str(at)}
    msg |= {"from": sender, "from_id": f"user{len(sender)}", "text": "", "text_entities": []}
    return msg | fields


def _plain(text: str) -> dict[str, Any]:
    return {"text": text, "text_entities": [{"type": "plain", "text": text}]}


def _export(root: Path, doc: dict[str, Any], photos: list[str]) -> Path:
    """result.json as Telegram writes it (with its invalid \\x07 escape) and benign 64x64 photos."""
    for i, rel in enumerate(photos):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 64), (40 * i, 120, 200)).save(root / rel, "JPEG")
    root.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, ensure_ascii=False, indent=1).replace("\\u0007", "\\x07")
    (root / "result.json").write_text(text, encoding="utf-8")
    return root


def _chat_messages(photo: str) -> list[dict[str, Any]]:
    return [
        _msg(1, T0, photo=photo, width=64, height=64, **_plain("first\nline")),
        _msg(2, T0 + 60, **_plain("same sender, a minute later")),  # joined to 1
        _msg(3, T0 + 120, forwarded_from="Old Channel", **_plain("forwarded words")),
        _msg(4, T0 + 180, sender="Bo", reply_to_message_id=1, **_plain("bell\x07 <b>")),
        _msg(5, T0 + 240, photo=PLACEHOLDER, width=1280, height=960, photo_file_size=123187),
    ]


def _single(tmp_path: Path) -> Path:
    photo = "photos/photo_1@24-08-2024_21-03-11.jpg"
    doc = {"name": "Test room", "type": "private_group", "id": 42, "messages": _chat_messages(photo)}
    return _export(tmp_path / "json", doc, [photo])


def _block(page: str, start: str) -> str:
    """From the tag line `start` to its closing tag, found by the writer's one-space-per-level indent."""
    at = page.index(start)
    indent = at - page.rindex("\n", 0, at) - 1
    tag = start[1 : start.index(" ")]
    return page[at : page.index(f"\n{' ' * indent}</{tag}>\n", at)]


def _pages(out: Path) -> list[str]:
    names = ["messages.html", "messages2.html", "messages3.html"]
    return [(out / name).read_text(encoding="utf-8") for name in names]


def test_three_pages_with_links_and_date_separators(tmp_path: Path) -> None:
    out = write_html_export(_single(tmp_path), tmp_path / "html", messages_per_page=2)
    first, second, third = _pages(out)
    assert not (out / "messages4.html").exists()
    assert first.startswith(
        '<!DOCTYPE html>\n<html>\n\n <head>\n\n  <meta charset="utf-8"/>\n<title>Exported'
    )
    assert '<link href="css/style.css" rel="stylesheet"/>' in first
    assert (out / "css/style.css").is_file() and (out / "js/script.js").is_file()
    assert (out / "images/back.png").is_file()
    assert '<div class="text bold">\nTest room\n' in first
    assert [page.count('class="message default') for page in (first, second, third)] == [2, 2, 1]
    # Every page opens with a date separator; their ids count down through the chat.
    for page, sep in ((first, "-1"), (second, "-2"), (third, "-3")):
        assert f'<div class="message service" id="message{sep}">' in page
        assert "24 August 2024" in _block(page, f'<div class="message service" id="message{sep}">')
    assert '<a class="pagination block_link" href="messages2.html">\nNext messages\n' in first
    assert "Previous messages" not in first
    assert '<a class="pagination block_link" href="messages.html">\nPrevious messages\n' in second
    assert second.index("Previous messages") < second.index('id="message-2"')
    assert 'href="messages3.html">\nNext messages' in second
    assert 'href="messages2.html">\nPrevious messages' in third and "Next messages" not in third


def test_joined_forwarded_reply_and_text(tmp_path: Path) -> None:
    out = write_html_export(_single(tmp_path), tmp_path / "html", messages_per_page=2)
    first, second, _ = _pages(out)
    joined = _block(first, '<div class="message default clearfix joined" id="message2">')
    assert "from_name" not in joined and "userpic" not in joined
    assert '<div class="message default clearfix" id="message1">' in first
    assert "first<br>line" in _block(first, '<div class="text">')
    # A page never starts with a joined message, and a forward is never joined to a non-forward.
    assert '<div class="message default clearfix" id="message3">' in second
    forwarded = _block(second, '<div class="forwarded body">')
    assert (
        'Old Channel<span class="date details" title="24.08.2024 21:05:11 UTC+09:00"> 24.08.2024' in forwarded
    )
    assert "forwarded words" in _block(forwarded, '<div class="text">')
    assert '<div class="pull_left forwarded userpic_wrap">' in second
    reply = _block(second, '<div class="reply_to details">')
    assert 'In reply to <a href="messages.html#go_to_message1">this message</a>' in reply
    assert "bell&#x07; &lt;b&gt;" in second


def test_photo_thumbnail_and_placeholder(tmp_path: Path) -> None:
    out = write_html_export(_single(tmp_path), tmp_path / "html")
    page = (out / "messages.html").read_text(encoding="utf-8")
    assert not (out / "messages2.html").exists()
    photo = _block(page, '<a class="photo_wrap clearfix pull_left"')
    assert 'href="photos/photo_1@24-08-2024_21-03-11.jpg"' in photo
    assert 'src="photos/photo_1@24-08-2024_21-03-11_thumb.jpg" style="width: 64px; height: 64px"/>' in photo
    assert (out / "photos/photo_1@24-08-2024_21-03-11.jpg").is_file()
    assert (out / "photos/photo_1@24-08-2024_21-03-11_thumb.jpg").is_file()
    missing = _block(page, '<div class="media clearfix pull_left media_photo">')
    assert "href" not in missing
    assert "Photo" in missing and "Not included, change data exporting settings to download." in missing
    assert "1280x960, 120.3 KB" in missing


def test_date_title_with_and_without_offset(tmp_path: Path) -> None:
    json_dir = _single(tmp_path)
    new = write_html_export(json_dir, tmp_path / "new", thumbs=False) / "messages.html"
    old = write_html_export(json_dir, tmp_path / "old", with_offset=False) / "messages.html"
    utc = write_html_export(json_dir, tmp_path / "utc", tz=UTC) / "messages.html"
    assert 'title="24.08.2024 21:03:11 UTC+09:00">\n21:03\n' in new.read_text(encoding="utf-8")
    assert 'title="24.08.2024 21:03:11">\n21:03\n' in old.read_text(encoding="utf-8")
    assert 'title="24.08.2024 12:03:11 UTC+00:00">\n12:03\n' in utc.read_text(encoding="utf-8")
    assert not (tmp_path / "new/photos/photo_1@24-08-2024_21-03-11_thumb.jpg").exists()


def test_old_export_without_unixtime_uses_local_date(tmp_path: Path) -> None:
    msg = _msg(7, T0, **_plain("old"))
    del msg["date_unixtime"]
    json_dir = _export(
        tmp_path / "json", {"name": "Old", "type": "personal_chat", "id": 1, "messages": [msg]}, []
    )
    page = (write_html_export(json_dir, tmp_path / "html") / "messages.html").read_text(encoding="utf-8")
    assert 'title="24.08.2024 21:03:11 UTC+09:00"' in page


def test_full_account_layout(tmp_path: Path) -> None:
    photo = "chats/chat_001/photos/photo_1@24-08-2024_21-03-11.jpg"
    pin = {"id": 6, "type": "service", "date_unixtime": str(T0 + 300), "actor": "Alex Kim"}
    pin |= {"actor_id": "user8", "action": "pin_message", "message_id": 1, **_plain("")}
    chats = [
        {"name": "Room A", "type": "private_supergroup", "id": 11, "messages": [*_chat_messages(photo), pin]},
        {"name": "News", "type": "public_channel", "id": 12, "messages": [_msg(1, T0, **_plain("hi"))]},
    ]
    json_dir = _export(tmp_path / "json", {"about": "x", "chats": {"about": "y", "list": chats}}, [photo])
    out = write_html_export(json_dir, tmp_path / "html")
    summary = (out / "export_results.html").read_text(encoding="utf-8")
    section = _block(summary, '<a class="section block_link chats" href="lists/chats.html#allow_back">')
    assert '<div class="counter details">\n2\n' in section and "Chats" in section
    listing = (out / "lists/chats.html").read_text(encoding="utf-8")
    assert (
        '<a class="content block_link" href="../export_results.html" onclick="return GoBack(this)">'
        in listing
    )
    entry = _block(
        listing, '<a class="entry block_link clearfix" href="../chats/chat_001/messages.html#allow_back">'
    )
    assert "Room A" in entry and "6 messages" in entry and "group" in entry
    entry = _block(
        listing, '<a class="entry block_link clearfix" href="../chats/chat_002/messages.html#allow_back">'
    )
    assert "News" in entry and "channel" in entry
    page = (out / "chats/chat_001/messages.html").read_text(encoding="utf-8")
    assert '<link href="../../css/style.css" rel="stylesheet"/>' in page
    assert 'href="../../lists/chats.html" onclick="return GoBack(this)"' in page
    assert f'href="../../{photo}"' in page and (out / photo).is_file()
    assert (
        'Alex Kim pinned <a href="#go_to_message1" onclick="return GoToMessage(1)">this message</a>' in page
    )
    assert (out / "chats/chat_002/messages.html").is_file() and not (out / "messages.html").exists()


def test_zip_members_sit_under_one_folder(tmp_path: Path) -> None:
    out = write_html_export(_single(tmp_path), tmp_path / "html")
    with zipfile.ZipFile(zip_export(out, tmp_path / "export.zip")) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    assert "ChatExport_2024-08-24/messages.html" in names
    assert "ChatExport_2024-08-24/photos/photo_1@24-08-2024_21-03-11.jpg" in names
    assert all(name.startswith("ChatExport_2024-08-24/") for name in names)
    with zipfile.ZipFile(zip_export(out, tmp_path / "flat.zip", top=None)) as archive:
        assert "messages.html" in archive.namelist()
