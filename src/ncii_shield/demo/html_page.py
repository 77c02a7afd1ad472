"""The app's HTML page writer and the blocks every export page shares: userpics, media stand-ins, lists.

Kept apart from the chat writer (html_export.py), which decides what goes on a chat's pages; this module
only knows how the app spells a page and its shared parts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from PIL import Image

from ncii_shield.demo import html_format as fmt

_COLOURS: Final = (0, 7, 4, 1, 6, 3, 5)  # the app's userpic colour for (bare peer id % 7)
CHANNELS: Final = frozenset({"private_channel", "public_channel"})
_PRIVATE: Final = frozenset({"personal_chat", "bot_chat", "saved_messages"})
_NOT_EXPORTED: Final = (
    ("exceeds maximum size", "Exceeds maximum size, change data exporting settings to download."),
    ("unavailable", "Unavailable, please try again later."),
    ("", "Not included, change data exporting settings to download."),
)
_STATIC: Final = {  # stand-ins for the app's own stylesheet and script
    "css/style.css": "/* ncii-shield demo */ .pull_left { float: left; } .pull_right { float: right; }\n",
    "js/script.js": "// ncii-shield demo\nfunction CheckLocation() {}\nfunction GoBack() { return true; }\n"
    "function GoToMessage() { return true; }\nfunction ShowSpoiler(el) { el.className = 'spoiler'; }\n",
}
_STATIC_IMAGES: Final = ("back.png", "back@2x.png", "media_file.png", "media_photo.png", "section_chats.png")


class Page:
    """The app's tag writer: a block tag on its own line, indented one space per tag still open."""

    def __init__(self, base: str, title: str, back: str | None = None) -> None:
        self.parts: list[str] = ["<!DOCTYPE html>"]
        self.open: list[str] = []
        self.push("html")
        self.push("head")
        self.push("meta", charset="utf-8", empty=True)
        self.parts.append("<title>Exported Data</title>")
        self.push("meta", name="viewport", content="width=device-width, initial-scale=1.0", empty=True)
        self.push("link", href=f"{base}css/style.css", rel="stylesheet", empty=True)
        self.push("script", src=f"{base}js/script.js", type="text/javascript")
        self.pop(2)
        self.push("body", onload="CheckLocation();")
        self.push("div", "page_wrap")
        self.push("div", "page_header")
        if back:  # a page below the top links back up
            self.push("a", "content block_link", href=base + back, onclick="return GoBack(this)")
        else:
            self.push("div", "content")
        self.leaf("text bold", fmt.esc(title))
        self.pop(2)

    def push(self, tag: str, cls: str | None = None, *, empty: bool = False, **attrs: str) -> None:
        if cls:
            attrs["class"] = cls
        inner = "".join(f' {k}="{fmt.esc(v)}"' for k, v in sorted(attrs.items()))  # a std::map: sorted
        self.parts.append(f"\n{' ' * len(self.open)}<{tag}{inner}{'/' if empty else ''}>\n")
        if not empty:
            self.open.append(tag)

    def pop(self, count: int = 1) -> None:
        for _ in range(count):
            tag = self.open.pop()
            self.parts.append(f"\n{' ' * len(self.open)}</{tag}>\n")

    def leaf(self, cls: str, html: str, tag: str = "div", **attrs: str) -> None:
        """A block tag around ready-made HTML, which starts its own line unindented, as in the app."""
        self.push(tag, cls, **attrs)
        self.parts.append(html)
        self.pop()

    def save(self, path: Path) -> None:
        self.pop(len(self.open))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes("".join(self.parts).encode("utf-8"))


def userpic(page: Page, name: str, peer: object, px: int = 42) -> None:
    """A coloured circle with initials: a user's first letters of first and last name, a chat's first."""
    colour = _COLOURS[int(re.sub(r"\D", "", str(peer or "")) or 0) % 7] + 1
    first, _, rest = name.strip().partition(" ")
    initials = first[:1] + (rest.strip()[:1] if str(peer or "").startswith("user") else "")
    page.push("div", f"userpic userpic{colour}", style=f"width: {px}px; height: {px}px")
    page.leaf("initials", fmt.esc(initials), style=f"line-height: {px}px")
    page.pop()


def why_missing(raw: object) -> str:
    return next(text for marker, text in _NOT_EXPORTED if marker in str(raw).lower())


def generic_block(page: Page, href: str | None, cls: str, lines: list[str], thumb: str | None = None) -> None:
    """The app's block for media it does not draw: an icon or thumbnail, a title and a status line."""
    page.push("div", "media_wrap clearfix")
    if href:
        page.push("a", f"media clearfix pull_left block_link {cls}", href=href)
    else:  # not exported: nothing to link to
        page.push("div", f"media clearfix pull_left {cls}")
    if thumb:
        page.push("img", "thumb pull_left", src=thumb, empty=True)
    else:
        page.leaf("fill pull_left", "")
    page.push("div", "body")
    for div_class, text in zip(("title bold", "description", "status details"), lines, strict=True):
        if text:  # title, why it is missing, then size or duration
            page.leaf(div_class, fmt.esc(text))
    page.pop(3)


def write_lists(chats: list[dict[str, Any]], folders: list[str], out_dir: Path) -> None:
    """export_results.html and lists/chats.html: the way into a full-account export's chats."""
    summary = Page("", "Exported Data")
    summary.push("div", "page_body")
    summary.push("div", "sections")
    summary.push("a", "section block_link chats", href="lists/chats.html#allow_back")
    summary.leaf("counter details", str(len(chats)))
    summary.leaf("label bold", "Chats")
    summary.save(out_dir / "export_results.html")
    listing = Page("../", "Chats", "export_results.html")
    listing.push("div", "page_body list_page")
    listing.push("div", "entry_list")
    for chat, folder in zip(chats, folders, strict=True):
        name, kind = str(chat.get("name") or "Deleted Account"), chat.get("type")
        count = sum(isinstance(m, dict) for m in chat.get("messages") or [])
        listing.push("a", "entry block_link clearfix", href=f"../chats/{folder}/messages.html#allow_back")
        listing.push("div", "pull_left userpic_wrap")
        userpic(listing, name, chat.get("id"), 48)
        listing.pop()
        listing.push("div", "body")
        info = "private" if kind in _PRIVATE else "channel" if kind in CHANNELS else "group"
        listing.leaf("pull_right info details", info)
        listing.leaf("name bold", fmt.esc(name))
        listing.leaf("details_entry details", f"{count} messages")
        listing.pop(3)
    listing.save(out_dir / "lists" / "chats.html")


def write_static(out_dir: Path) -> None:
    """Stand-ins for the stylesheet, script and icons every real export carries (a parser skips them)."""
    for relative, text in _STATIC.items():
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / relative).write_bytes(text.encode("utf-8"))
    (out_dir / "images").mkdir(exist_ok=True)
    for name in _STATIC_IMAGES:
        Image.new("RGBA", (1, 1), (112, 119, 123, 255)).save(out_dir / "images" / name, "PNG")
