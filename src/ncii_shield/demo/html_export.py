"""Write the HTML export Telegram Desktop would have made from a JSON export of the same chats.

The demo, the tests and a benchmark need one set of chats in both of the app's export formats, so a
scan of each can be compared hit for hit. JSON is what gets generated (and what public exports mostly
are), so the HTML is derived from it, following the app's own HTML writer (export_output_html.cpp): its
tag layout, pages of 1,000 messages, date separators with negative ids, "joined" messages without a
sender line, forwarded blocks, replies across pages and the media blocks with their thumbnails.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from PIL import Image

from ncii_shield.demo import html_format as fmt
from ncii_shield.demo.html_page import (
    CHANNELS,
    Page,
    generic_block,
    userpic,
    why_missing,
    write_lists,
    write_static,
)
from ncii_shield.sources.control_escapes import ControlEscapeFilter
from ncii_shield.sources.paths import resolve_inside, safe_relative_path

Message = Mapping[str, Any]

KST: Final = ZoneInfo("Asia/Seoul")  # the demo's exporting machine
JOIN_WITHIN: Final = 900  # seconds: this close to the sender's previous message, no userpic or name
PHOTO_BOX: Final = 260  # photos and video previews are drawn at most this big (CSS px)...
THUMB_BOX: Final = 520  # ...from a thumbnail twice as big, for high-density screens
STICKER_BOX: Final = 128
_MONTHS: Final = (
    *("", "January", "February", "March", "April", "May", "June", "July", "August", "September"),
    *("October", "November", "December"),
)
_DOCUMENTS: Final = {  # media_type -> (title, status, class) of the app's generic media block
    "sticker": ("Sticker", "emoji", "media_photo"),
    "video_message": ("Video message", "duration", "media_video"),
    "voice_message": ("Voice message", "duration", "media_voice_message"),
    "animation": ("Animation", "size", "media_video"),
    "video_file": ("Video file", "duration", "media_video"),
    "audio_file": ("Audio file", "duration", "media_audio_file"),
}
_STORED: Final = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".mp4", ".webm", ".ogg", ".tgs"})
_ZIP_TIME: Final = (2024, 8, 24, 0, 0, 0)  # fixed member dates: a folder always zips to the same bytes


def write_html_export(
    json_dir: Path,
    out_dir: Path,
    *,
    messages_per_page: int = 1000,
    tz: tzinfo = KST,
    with_offset: bool = True,
    thumbs: bool = True,
) -> Path:
    """Returns out_dir. json_dir holds result.json (+ media folders). Media files are copied to the same
    relative paths under out_dir (single chat: photos/..., full account: chats/chat_001/photos/...)."""
    if messages_per_page < 1:
        raise ValueError("messages_per_page must be at least 1")
    with (json_dir / "result.json").open("rb") as handle:  # \xNN escapes: not JSON until filtered
        doc = json.loads(ControlEscapeFilter(handle).read())
    if not isinstance(doc, dict):
        raise ValueError(f"{json_dir / 'result.json'} is not a Telegram export")
    opts = _Options(json_dir, out_dir, messages_per_page, tz, with_offset, thumbs)
    write_static(out_dir)
    if "messages" in doc:  # one chat exported on its own: its pages sit at the top
        _ChatWriter(doc, "", opts).write()
        return out_dir
    lists = [doc.get(key) or {} for key in ("chats", "left_chats")]
    chats = [c for got in lists if isinstance(got, dict) for c in got.get("list") or []]
    chats = [chat for chat in chats if isinstance(chat, dict)]
    folders = [f"chat_{number:03d}" for number in range(1, len(chats) + 1)]  # 1-based, in list order
    for chat, folder in zip(chats, folders, strict=True):
        _ChatWriter(chat, f"chats/{folder}/", opts).write()
    write_lists(chats, folders, out_dir)
    return out_dir


def zip_export(folder: Path, zip_path: Path, *, top: str | None = "ChatExport_2024-08-24") -> Path:
    """Zip a folder; with `top`, every member sits under that one folder (as people zip an export)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(zip_path, "w") as archive:
        for relative, path in files:
            if path.resolve() == zip_path.resolve():
                continue
            info = zipfile.ZipInfo(f"{top}/{relative}" if top else relative, date_time=_ZIP_TIME)
            # Media is compressed already: stored, as most zip tools leave it; the rest is deflated.
            stored = path.suffix.lower() in _STORED
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            big = path.stat().st_size >= 1 << 31
            with path.open("rb") as src, archive.open(info, "w", force_zip64=big) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return zip_path


@dataclass
class _Options:
    json_dir: Path
    out_dir: Path
    per_page: int
    tz: tzinfo
    with_offset: bool
    thumbs: bool
    copied: set[str] = field(default_factory=set)


def _page_name(index: int) -> str:
    return f"messages{index + 1 if index else ''}.html"


class _ChatWriter:
    """One chat's pages, with what the app carries from message to message: the previous row, pages."""

    def __init__(self, chat: Message, folder: str, opts: _Options) -> None:
        self.chat, self.folder, self.opts = chat, folder, opts
        self.base = "../../" if folder else ""
        self.where: dict[int, int] = {}  # message id -> page it was written on
        self.page_index = self.date_id = 0
        self.prev: tuple[Message, datetime, bool] | None = None  # (message, when, a default message?)

    def write(self) -> None:
        messages = [m for m in self.chat.get("messages") or [] if isinstance(m, dict)]
        per = self.opts.per_page
        chunks = [messages[i : i + per] for i in range(0, len(messages), per)] or [[]]
        saved = self.chat.get("type") == "saved_messages"
        name = str(self.chat.get("name") or ("Saved messages" if saved else "Deleted Account"))
        for index, chunk in enumerate(chunks):
            self.page_index, self.prev = index, None  # a page never starts with a joined message
            page = Page(self.base, name, "lists/chats.html" if self.folder else None)
            page.push("div", "page_body chat_page")
            page.push("div", "history")
            if index:
                page.leaf("pagination block_link", "Previous messages", "a", href=_page_name(index - 1))
            for msg in chunk:
                when = fmt.when(msg, self.opts.tz)
                if self.prev is None or self.prev[1].date() != when.date():
                    self.date_id -= 1  # date separators count down through the whole chat
                    self._service(page, self.date_id, f"{when.day} {_MONTHS[when.month]} {when.year}")
                self._message(page, msg, when)
                if isinstance(msg.get("id"), int):
                    self.where[msg["id"]] = index
            if index + 1 < len(chunks):  # the app opens a next page only when a message needs one
                page.leaf("pagination block_link", "Next messages", "a", href=_page_name(index + 1))
            page.save(self.opts.out_dir / self.folder / _page_name(index))

    def _link(self, target: object, text: str) -> str:
        """A link to a message: by onclick on this page, by file name when it is on an earlier one."""
        page = self.where.get(target) if isinstance(target, int) else None
        if page is not None and page < self.page_index:
            return f'<a href="{_page_name(page)}#go_to_message{target}">{text}</a>'
        return f'<a href="#go_to_message{target}" onclick="return GoToMessage({target})">{text}</a>'

    def _service(self, page: Page, mid: object, html: str) -> None:
        page.push("div", "message service", id=f"message{mid}")
        page.leaf("body details", html)
        page.pop()

    def _service_text(self, msg: Message) -> str:
        """The app's sentence for a service action; an action it has none for is shown by its name."""
        action, channel = str(msg.get("action") or ""), self.chat.get("type") in CHANNELS
        actor = fmt.esc(msg.get("actor") or "Deleted Account")
        title = f"&laquo;{fmt.esc(msg.get('title') or '')}&raquo;"
        names = ", ".join(fmt.esc(m or "Deleted Account") for m in msg.get("members") or ())
        inviter = fmt.esc(msg.get("inviter") or "Deleted Account")
        return {
            "pin_message": f"{actor} pinned {self._link(msg.get('message_id'), 'this message')}",
            "create_group": f"{actor} created group {title}" + (f" with members {names}" if names else ""),
            "invite_members": f"{actor} invited {names}",
            "remove_members": f"{actor} removed {names}",
            "join_group_by_link": f"{actor} joined group by link from {inviter}",
            "create_channel": f"Channel {title} created",
            "edit_group_title": f"Channel title changed to {title}"
            if channel
            else f"{actor} changed group title to {title}",
            "edit_group_photo": "Channel photo changed" if channel else f"{actor} changed group photo",
            "delete_group_photo": "Channel photo removed" if channel else f"{actor} removed group photo",
            "migrate_to_supergroup": f"{actor} converted this group to a supergroup",
            "migrate_from_group": f"{actor} converted a basic group to this supergroup {title}",
        }.get(action, fmt.esc(action))

    def _joins(self, msg: Message, when: datetime) -> bool:
        """The app's rule for drawing a message under the previous one, without userpic and name."""
        if self.prev is None or not self.prev[2] or msg.get("from_id") is None:
            return False
        before, then, _ = self.prev
        forwarded = "forwarded_from" in msg
        same = all(before.get(k) == msg.get(k) for k in ("from_id", "via_bot", "forwarded_from"))
        close = abs(when.timestamp() - then.timestamp()) <= (1 if forwarded else JOIN_WITHIN)
        return same and forwarded == ("forwarded_from" in before) and then.date() == when.date() and close

    def _message(self, page: Page, msg: Message, when: datetime) -> None:
        if msg.get("type") == "service":
            self._service(page, msg.get("id"), self._service_text(msg))
            self.prev = (msg, when, False)
            return
        joined = self._joins(msg, when)
        self.prev = (msg, when, True)
        cls = "message default clearfix joined" if joined else "message default clearfix"
        page.push("div", cls, id=f"message{msg.get('id')}")
        name = str(msg.get("from") or "Deleted Account")
        if not joined:
            page.push("div", "pull_left userpic_wrap")
            userpic(page, name, msg.get("from_id"))
            page.pop()
        page.push("div", "body")
        title = fmt.title(when, self.opts.with_offset)
        page.leaf("pull_right date details", when.strftime("%H:%M"), title=title)
        if not joined:
            bot = str(msg.get("via_bot") or "").lstrip("@")
            page.leaf("from_name", fmt.esc(name) + (f" via @{fmt.esc(bot)}" if bot else ""))
        forwarded = "forwarded_from" in msg
        if forwarded:  # what follows, up to the text, is drawn inside the forwarded block
            origin = str(msg.get("forwarded_from") or "Deleted Account")
            page.push("div", "pull_left forwarded userpic_wrap")
            userpic(page, origin, msg.get("forwarded_from_id"))
            page.pop()
            page.push("div", "forwarded body")
            stamp = when.strftime(" %d.%m.%Y %H:%M:%S")  # when it was forwarded: the JSON has no other date
            stamp = f'<span class="date details" title="{fmt.esc(title)}">{stamp}</span>'
            page.leaf("from_name", fmt.esc(origin) + stamp)
        if isinstance(reply := msg.get("reply_to_message_id"), int):
            page.leaf("reply_to details", "In reply to " + self._link(reply, "this message"))
        if "photo" in msg:
            self._photo(page, msg)
        elif "file" in msg:
            self._document(page, msg)
        if text := fmt.text(msg):
            page.leaf("text", text)
        if forwarded:
            page.pop()
        if msg.get("author"):
            page.leaf("signature details", fmt.esc(msg["author"]))
        page.pop(2)

    def _copy(self, raw: str | None) -> Path | None:
        """Copy an exported file to the same relative path under out_dir; its source, if safe and there."""
        safe = safe_relative_path(raw) if raw else None
        src = resolve_inside(self.opts.json_dir, safe) if safe else None
        if safe is None or src is None or not src.is_file():
            return None
        dst = self.opts.out_dir / safe
        if safe not in self.opts.copied and not (dst.exists() and os.path.samefile(src, dst)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        self.opts.copied.add(safe)
        return src

    def _thumb(self, src: Path | None, rel: str, box: int, image_format: str) -> tuple[int, int] | None:
        """Write the thumbnail the app would (when thumbs are on); return the source image's size."""
        safe = safe_relative_path(rel)
        if src is None or safe is None:
            return None
        try:
            with Image.open(src) as image:
                size = image.size
                if self.opts.thumbs:
                    image.thumbnail((box, box))
                    rgb = "RGB" if image_format == "JPEG" else "RGBA"
                    image.convert(rgb).save(self.opts.out_dir / safe, image_format)
        except (OSError, ValueError, Image.DecompressionBombError):
            return None
        return size

    def _photo(self, page: Page, msg: Message) -> None:
        raw, size = fmt.exported(msg["photo"]), fmt.dims(msg)
        if raw is None:
            status = f"{size[0]}x{size[1]}" if size else "0x0"
            status = ", ".join(filter(None, [status, fmt.size(msg.get("photo_file_size"))]))
            generic_block(page, None, "media_photo", ["Photo", why_missing(msg["photo"]), status])
            return
        thumb, src = posixpath.splitext(raw)[0] + "_thumb.jpg", self._copy(raw)
        if self.opts.thumbs or size is None:
            size = self._thumb(src, thumb, THUMB_BOX, "JPEG") or size
        page.push("div", "media_wrap clearfix")
        page.push("a", "photo_wrap clearfix pull_left", href=self.base + raw)
        page.push("img", "photo", src=self.base + thumb, style=fmt.style(size, PHOTO_BOX), empty=True)
        page.pop(2)

    def _document(self, page: Page, msg: Message) -> None:
        kind, raw, thumb = (
            str(msg.get("media_type")),
            fmt.exported(msg["file"]),
            fmt.exported(msg.get("thumbnail")),
        )
        duration, size = fmt.duration(msg.get("duration_seconds")), fmt.size(msg.get("file_size"))
        title, shown, cls = _DOCUMENTS.get(kind, (str(msg.get("file_name") or "File"), "size", "media_file"))
        if kind == "audio_file" and msg.get("performer") and msg.get("title"):
            title = f"{msg['performer']} - {msg['title']}"
        status = {"emoji": str(msg.get("sticker_emoji") or ""), "duration": duration, "size": size}[shown]
        if raw is None:
            status = ", ".join(filter(None, [status, size])) if shown == "duration" else status
            generic_block(page, None, cls, [title, why_missing(msg["file"]), status])
            return
        src, href, style = self._copy(raw), self.base + raw, fmt.style(fmt.dims(msg), PHOTO_BOX)
        if thumb:
            self._copy(thumb)
        if kind == "sticker" and (thumb or raw.lower().endswith((".webp", ".png", ".jpg", ".jpeg"))):
            if not thumb:  # the app renders the sticker itself into a PNG beside it
                thumb = raw + "_thumb.png"
                self._thumb(src, thumb, STICKER_BOX * 2, "PNG")
            page.push("div", "media_wrap clearfix")
            page.push("a", "sticker_wrap clearfix pull_left", href=href)
            style = fmt.style(fmt.dims(msg), STICKER_BOX)
            page.push("img", "sticker", src=self.base + thumb, style=style, empty=True)
            page.pop(2)
        elif kind in ("animation", "video_file") and thumb:
            animation = kind == "animation"
            page.push("div", "media_wrap clearfix")
            wrap = "animated_wrap" if animation else "video_file_wrap"
            page.push("a", f"{wrap} clearfix pull_left", href=href)
            page.push("div", "video_play_bg")
            page.leaf("gif_play" if animation else "video_play", "GIF" if animation else "")
            page.pop()
            if not animation:
                page.leaf("video_duration", duration)
            img = "animated" if animation else "video_file"
            page.push("img", img, src=self.base + thumb, style=style, empty=True)
            page.pop(2)
        else:
            picture = self.base + thumb if thumb and kind == "video_message" else None
            generic_block(page, href, cls, [title, "", status], picture)
