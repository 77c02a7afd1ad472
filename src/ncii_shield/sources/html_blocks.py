"""Cutting an HTML byte stream into blocks, and reading text and links out of a parsed block.

Kept apart from the Telegram layout so each half is small and can be tested (and fuzzed) alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, Final

from lxml import etree

READ_CHUNK: Final = 256 * 1024
MAX_BLOCK: Final = 4 * 1024 * 1024  # a Telegram message block is a few KB; 4 MiB is generous
_END_OF_PAGE: Final = re.compile(rb"</html>\s*$", re.IGNORECASE)


class BlockStream:
    """Yields the bytes before the first boundary, then one block per boundary, never holding more
    than `max_block` + one read chunk. `cut` says whether the block just yielded was cut short."""

    def __init__(self, handle: BinaryIO, boundary: bytes, max_block: int = MAX_BLOCK) -> None:
        self._handle = handle
        self._boundary = boundary
        self._max_block = max_block
        self.bytes_read = 0
        self.cut = False
        self.ended_cleanly = False
        self._tail = b""

    def __iter__(self) -> Iterator[bytes]:
        buffer = bytearray()
        cut = False
        searched = 1  # where to look for the next boundary: never at 0, where the current block starts
        eof = False
        while True:
            at = buffer.find(self._boundary, max(searched, 1))
            if at > 0:
                self.cut, cut = cut, False
                block = bytes(buffer[:at])
                del buffer[:at]
                searched = 1
                yield block
                continue
            if eof:
                break
            searched = max(1, len(buffer) - len(self._boundary) + 1)
            chunk = self._handle.read(READ_CHUNK)
            if not chunk:
                eof = True
                continue
            self.bytes_read += len(chunk)
            self._tail = (self._tail + chunk)[-64:]
            buffer += chunk
            if len(buffer) > self._max_block and buffer.find(self._boundary, searched) < 0:
                # No boundary in sight: keep the head of the block and the last few bytes, where one may
                # be starting, and drop the middle.
                keep = len(self._boundary)
                del buffer[self._max_block - keep : len(buffer) - keep]
                searched = self._max_block - keep
                cut = True
        self.ended_cleanly = bool(_END_OF_PAGE.search(self._tail))
        if buffer:
            self.cut = cut
            yield bytes(buffer)


def iter_blocks(handle: BinaryIO, *, boundary: bytes, max_block: int = MAX_BLOCK) -> BlockStream:
    return BlockStream(handle, boundary, max_block)


def text_and_links(element: etree._Element) -> tuple[str, tuple[str, ...]]:
    """The text as the reader saw it (<br> is a newline) and its links, as the JSON export lists them.

    The JSON export lists a hidden link's target, a visible URL once and a mention as "@name"; the
    HTML writes all three as <a href>, so they are told apart by comparing href and text.
    """
    parts: list[str] = []
    links: dict[str, None] = {}

    def walk(node: etree._Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "br":
                parts.append("\n")
            elif tag in ("script", "style"):
                pass
            else:
                if tag == "a":
                    _link(child, links)
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return "".join(parts).strip(), tuple(links)


def _link(anchor: etree._Element, links: dict[str, None]) -> None:
    href = (anchor.get("href") or "").strip()
    text = "".join(anchor.itertext()).strip()
    if not href or href.startswith(("mailto:", "tel:", "#", "javascript:")):
        return
    if text.startswith("@") and href.rstrip("/").lower().endswith("/" + text[1:].lower()):
        links[text] = None  # a mention
    elif href == text:
        links[text] = None  # a visible URL
    elif "://" in href or href.startswith(("tg:", "t.me/", "www.")):
        links[href] = None  # a hidden link: the target is what matters
