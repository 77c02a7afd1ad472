"""The layout of a Telegram Desktop HTML export: its pages, its chat list, dates and links.

What telegram_html.py needs to know about where things are, apart from how a message is read: which
files are pages and in what order, what lists/chats.html says of each chat, how the app writes a date,
and which links are files of the export.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final

from lxml import etree

from ncii_shield.sources.html_blocks import iter_blocks
from ncii_shield.sources.tree import Tree

PAGE_NAME: Final = re.compile(r"^messages(\d*)\.html$")
DATE_TITLE: Final = re.compile(
    r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: (?:UTC|GMT)(?:([+-])(\d{1,2}):?(\d{2}))?)?\s*$"
)
PARSER: Final = etree.HTMLParser(
    encoding="utf-8", recover=True, no_network=True, remove_comments=True, remove_pis=True
)


@dataclass
class HtmlChat:
    """One chat of the export: the folder its pages are in, and what the chat list says of it."""

    folder: str  # "" for a single-chat export, "chats/chat_001" in a full-account one
    pages: list[str]  # relative paths in reading order
    title: str | None = None
    type: str | None = None  # "group", "channel", "private", "bot" from lists/chats.html
    left: bool = False


def page_number(name: str) -> int | None:
    match = PAGE_NAME.match(name)
    return None if match is None else int(match.group(1) or 1)


def find_chats(tree: Tree, root: str = "") -> list[HtmlChat]:
    """The chats of an HTML export rooted at `root`, pages sorted by number."""
    pages: dict[str, list[tuple[int, str]]] = {}
    for relative, error in tree.files():
        if error or not relative.startswith(root):
            continue
        folder, _, name = relative[len(root) :].rpartition("/")
        number = page_number(name)
        if number is not None and (folder == "" or re.fullmatch(r"chats/chat_\d+", folder)):
            pages.setdefault(folder, []).append((number, relative))
    listed = chat_list(tree, root)
    chats = []
    for folder in sorted(pages):
        title, kind, left = listed.get(folder, (None, None, False))
        ordered = [relative for _, relative in sorted(pages[folder])]
        chats.append(HtmlChat(folder=folder, pages=ordered, title=title, type=kind, left=left))
    return chats


def chat_list(tree: Tree, root: str) -> dict[str, tuple[str | None, str | None, bool]]:
    """folder -> (name, type, left) from lists/chats.html of a full-account export, if present."""
    relative = f"{root}lists/chats.html"
    if tree.size(relative) is None:
        return {}
    found: dict[str, tuple[str | None, str | None, bool]] = {}
    left = False
    with tree.open(relative) as handle:
        for block in iter_blocks(handle, boundary=rb'<a class="entry block_link'):
            if b"aboutLeft" in block or b"left chats" in block.lower():
                left = True
            tree_ = etree.fromstring(block, PARSER)
            if tree_ is None:
                continue
            for entry in tree_.iter("a"):
                href = entry.get("href") or ""
                match = re.match(r"^\.\./(chats/chat_\d+)/messages\.html", href)
                if match is None:
                    continue
                name = first_text(entry, "name")
                kind = first_text(entry, "info")
                found[match.group(1)] = (name, kind, left)
    return found


def css_classes(element: etree._Element) -> set[str]:
    return set((element.get("class") or "").split())


def first_text(element: etree._Element, css_class: str) -> str | None:
    for child in element.iter("div", "span"):
        if css_class in css_classes(child):
            text = "".join(child.itertext()).strip()
            return text or None
    return None


def child_with(element: etree._Element | None, *wanted: str) -> etree._Element | None:
    """The first direct child carrying all these classes (div.forwarded.body, not div.forwarded.userpic_wrap)."""
    if element is None:
        return None
    for child in element:
        if isinstance(child.tag, str) and css_classes(child).issuperset(wanted):
            return child
    return None


def parse_date(title: str | None, assumed: tzinfo | None) -> tuple[datetime | None, bool]:
    """("24.08.2024 21:03:11 UTC+09:00") -> aware UTC. Without an offset (old versions) the time is the
    exporting machine's local time: `assumed` is applied and the second value says so."""
    match = DATE_TITLE.match(title or "")
    if match is None:
        return None, False
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None, False
    if sign is not None or "UTC" in (title or "") or "GMT" in (title or ""):
        offset = timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
        if offset >= timedelta(hours=24):
            return None, False
        zone = timezone(-offset if sign == "-" else offset)
        try:
            return naive.replace(tzinfo=zone).astimezone(UTC), False
        except OverflowError:
            return None, False
    if assumed is None:
        return None, True
    try:
        return naive.replace(tzinfo=assumed).astimezone(UTC), True
    except OverflowError:
        return None, True


def resolve_href(folder: str, href: str | None) -> tuple[str | None, str | None]:
    """(path relative to the export root, None) or (None, why the link is not a file of the export)."""
    if not href:
        return None, "media path missing from export"
    if "\x00" in href or href.startswith(("/", "\\")) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", href):
        return None, f"unsafe media path refused: {href!r:.80}"
    joined = posixpath.normpath(posixpath.join(folder, href.replace("\\", "/")))
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None, f"unsafe media path refused: {href!r:.80}"
    return joined, None
