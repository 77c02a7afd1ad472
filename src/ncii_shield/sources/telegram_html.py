"""Read a Telegram Desktop HTML export (the app's default format) as a stream of items.

Telegram Desktop writes each message as one `<div class="message …">` block starting on its own
line (export_output_html.cpp), 1,000 messages to a page: messages.html, messages2.html, …. Pages are
therefore cut into message blocks on the byte stream and each block is parsed alone with lxml, so
memory holds one block, never a page (a page can be gigabytes; libxml2's push parser keeps all it
was fed). A block over MAX_BLOCK bytes is cut there and flagged. The HTML has no chat id and no
sender id: the chat is named by its title (the scan derives a keyed id from it) and a `joined`
message inherits the sender of the message above it, as the app draws it.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Final

from lxml import etree

from ncii_shield.errors import SourceError
from ncii_shield.sources.base import Item
from ncii_shield.sources.html_blocks import MAX_BLOCK, iter_blocks, text_and_links
from ncii_shield.sources.html_layout import (
    PARSER,
    HtmlChat,
    chat_list,
    child_with,
    css_classes,
    find_chats,
    first_text,
    page_number,
    parse_date,
    resolve_href,
)
from ncii_shield.sources.tree import Tree

_GO_TO: Final = re.compile(r"go_to_message(\d+)")
_MESSAGE_ID: Final = re.compile(r"^message(-?\d+)$")
_PLACEHOLDERS: Final = (
    ("not included", "file not included in export"),
    ("exceeds maximum size", "file exceeds export size limit"),
    ("unavailable", "file unavailable at export time"),
)
# a.<class> -> media kind; the thumbnails (img src) are never the media.
_WRAPS: Final = {
    "photo_wrap": "photo",
    "sticker_wrap": "sticker",
    "animated_wrap": "animation",
    "video_file_wrap": "video_file",
}
# Generic media blocks (class media_*), refined by their title where one class covers several kinds.
_GENERIC: Final = {
    "media_photo": {"Sticker": "sticker", "": "photo"},
    "media_video": {"Video message": "video_message", "Animation": "animation", "": "video_file"},
    "media_voice_message": {"": "voice_message"},
    "media_audio_file": {"": "audio_file"},
    "media_file": {"": "file"},
}


@dataclass
class _State:
    """What carries from one block to the next while a chat is read."""

    chat: HtmlChat
    key: str
    title: str | None = None
    sender: str | None = None  # of the last default message: a `joined` one continues it
    via: str | None = None
    forwarded_from: str | None = None
    next_page: str | None = None
    max_id: int | None = None  # ids ascend: one at or below this may repeat an earlier message
    position: int = 0


class TelegramHtmlExport:
    """A Telegram Desktop HTML export in a tree: one chat (messages*.html) or a whole account."""

    kind = "telegram_html"

    def __init__(self, tree: Tree, root: str = "", *, assumed_timezone: tzinfo | None = None) -> None:
        self.tree = tree
        self.root_path = root
        self.assumed_timezone = assumed_timezone
        self.chats = find_chats(tree, root)
        if not self.chats:
            listed = chat_list(tree, root)
            if listed:
                raise SourceError(
                    f"{tree.label} lists {len(listed)} chats (lists/chats.html) but none of their pages "
                    "(chats/chat_NNN/messages.html) is there",
                    hint="the export was copied without its chats/ folder: copy or zip the whole export folder",
                )
            raise SourceError(
                f"{tree.label} holds no messages.html",
                hint="point at the folder Telegram Desktop wrote (ChatExport_…) or its zip",
            )
        self._sizes = {page: tree.size(page) or 0 for chat in self.chats for page in chat.pages}
        self._done = 0
        self._reading = 0
        self.dates_assumed = 0  # messages whose date had no offset and took the assumed zone

    def describe(self) -> str:
        where = self.root_path.rstrip("/") or self.tree.label
        count = len(self.chats)
        return f"Telegram HTML export {where}" + (f" ({count} chats)" if count > 1 else "")

    def fingerprint(self) -> str:
        """Sizes plus the first 64 KiB of every page: the same export is recognised wherever it sits."""
        digest = hashlib.sha256(b"telegram_html\n")
        for chat in self.chats:
            for page in chat.pages:
                digest.update(f"{page[len(self.root_path) :]}\0{self._sizes[page]}\n".encode())
                with self.tree.open(page) as handle:
                    digest.update(handle.read(64 * 1024))
        return digest.hexdigest()

    def position(self) -> tuple[int, int]:
        return self._done + self._reading, sum(self._sizes.values())

    def iter_items(self) -> Iterator[Item]:
        for chat in self.chats:
            state = _State(chat=chat, key=chat.folder or "chat", title=chat.title)
            for index, page in enumerate(chat.pages):
                expected = state.next_page
                if expected is not None and expected != page:
                    yield _invalid(state, f"page-{index}", f"{expected} is missing: the export is incomplete")
                state.next_page = None
                yield from self._page(page, state)
                self._done += self._sizes[page]
                self._reading = 0
            if state.next_page is not None:
                yield _invalid(state, "page-end", f"{state.next_page} is missing: the export is incomplete")

    def _page(self, page: str, state: _State) -> Iterator[Item]:
        state.sender = state.via = state.forwarded_from = None  # the first message of a page is never joined
        name = page[len(self.root_path) :]
        try:
            handle = self.tree.open(page)
        except (SourceError, OSError) as exc:
            yield _invalid(state, f"{name}-unreadable", f"{name} cannot be read: {exc}")
            return
        with handle:
            blocks = iter_blocks(handle, boundary=rb'<div class="message ', max_block=MAX_BLOCK)
            first = True
            try:
                for block in blocks:
                    self._reading = blocks.bytes_read  # type: ignore[attr-defined]
                    if first:
                        first = False
                        self._header(block, state)
                        if not block.lstrip().startswith(b'<div class="message '):
                            continue
                    yield from self._block(block, state, name, cut=blocks.cut)  # type: ignore[attr-defined]
            except (OSError, EOFError, SourceError) as exc:
                yield _invalid(state, f"{name}-damaged", f"{name} could not be read to its end: {exc}")
                return
            if not blocks.ended_cleanly:  # type: ignore[attr-defined]
                yield _invalid(
                    state,
                    f"{name}-cut",
                    f"{name} ends mid-page: it was cut short (copy or export it again); "
                    "the messages before the cut were read",
                )

    def _header(self, block: bytes, state: _State) -> None:
        root = etree.fromstring(block, PARSER)
        if root is None:
            return
        for element in root.iter("div"):
            if "page_header" in css_classes(element):
                title = first_text(element, "text")
                if title and state.title is None:
                    state.title = title
                return

    def _block(self, block: bytes, state: _State, page: str, *, cut: bool) -> Iterator[Item]:
        root = etree.fromstring(block, PARSER)
        if root is not None and b"pagination" in block:
            state.next_page = _next_page(root, state.chat.folder, self.root_path)
        message = None if root is None else next(root.iter("div"), None)
        if message is None or "message" not in css_classes(message):
            return
        raw_id = _MESSAGE_ID.match(message.get("id") or "")
        if raw_id is None:
            yield _invalid(state, f"{page}@{hashlib.sha1(block).hexdigest()[:8]}", "message without an id")
            return
        message_id = int(raw_id.group(1))
        if message_id <= 0:  # a date separator the app draws between days: not a message
            return
        if abs(message_id) >= 2**62:
            yield _invalid(state, f"invalid-{hashlib.sha1(block).hexdigest()[:8]}", "message id out of range")
            return
        yield self._message(message, message_id, state, cut=cut)

    def _message(self, message: etree._Element, message_id: int, state: _State, *, cut: bool) -> Item:
        classes = css_classes(message)
        extra: dict[str, object] = {"chat_left": True} if state.chat.left else {}
        if cut:
            extra["cut"] = f"the message block was over {MAX_BLOCK:,} bytes and was cut there"
        state.position += 1
        suffix = ""
        if state.max_id is not None and message_id <= state.max_id:
            suffix = f"#{state.position}"  # stored as its own message, never taken for the earlier one
            extra["out_of_order"] = True
        state.max_id = max(state.max_id if state.max_id is not None else message_id, message_id)
        extra["_suffix"] = suffix
        body = child_with(message, "body")
        if "service" in classes:
            state.sender = state.via = state.forwarded_from = None
            text, _ = text_and_links(body) if body is not None else ("", ())
            extra["service_text"] = text[:2000]
            return self._item(state, message_id, kind="service", extra=extra)
        date_el = child_with(body, "date")
        date, assumed = parse_date(
            date_el.get("title") if date_el is not None else None, self.assumed_timezone
        )
        if assumed:
            extra["date_is_local"] = True
            self.dates_assumed += 1
        joined = "joined" in classes
        from_el = child_with(body, "from_name")
        if from_el is not None:
            sender, via = _name_and_via(from_el)
            if sender == "Deleted Account":  # what the app draws for a sender the JSON gives as null
                sender = None
        elif joined:
            sender, via = state.sender, state.via
        else:
            sender, via = None, None
        forwarded = child_with(body, "forwarded", "body")
        forwarded_from = None
        if forwarded is not None:
            fwd_name = child_with(forwarded, "from_name")
            if fwd_name is not None:
                forwarded_from, _ = _name_and_via(fwd_name)
                span = next((s for s in fwd_name.iter("span") if "date" in css_classes(s)), None)
                if span is not None and span.get("title"):
                    extra["forwarded_date"] = span.get("title")
            else:
                forwarded_from = state.forwarded_from  # a joined forward from the same origin
        state.sender, state.via, state.forwarded_from = sender, via, forwarded_from
        content = forwarded if forwarded is not None else body
        reply_to = None
        reply = child_with(content, "reply_to")
        if reply is not None:
            link = next(reply.iter("a"), None)
            match = _GO_TO.search(link.get("href") or "") if link is not None else None
            if match is not None:
                reply_to = int(match.group(1))
            elif "another chat" in "".join(reply.itertext()):
                extra["reply_in_other_chat"] = True
        signature = child_with(content, "signature")
        if signature is not None:
            extra["signature"] = "".join(signature.itertext()).strip()[:200]
        text_el = child_with(content, "text")
        text, links = text_and_links(text_el) if text_el is not None else ("", ())
        media_path, media_kind, media_note = _media(child_with(content, "media_wrap"), state.chat.folder)
        return self._item(
            state,
            message_id,
            sender_name=sender,
            date=date,
            forwarded_from=forwarded_from,
            reply_to=reply_to,
            via_bot=via,
            text=text,
            links=links,
            media_path=media_path,
            media_kind=media_kind,
            media_note=media_note,
            extra=extra,
        )

    def _item(self, state: _State, message_id: int, **fields: object) -> Item:
        extra = fields.get("extra")
        suffix = extra.pop("_suffix", "") if isinstance(extra, dict) else ""
        return Item(
            external_id=f"{state.key}/{message_id}{suffix}",
            kind=str(fields.pop("kind", "message")),
            chat_title=state.title,
            chat_type=state.chat.type,
            message_id=message_id,
            **fields,  # type: ignore[arg-type]
        )


def _name_and_via(element: etree._Element) -> tuple[str | None, str | None]:
    """'Kim Harin via @somebot' -> ('Kim Harin', 'somebot'); the forwarded date span is left out."""
    parts = [element.text or ""]
    for child in element:
        if not (child.tag == "span" and "date" in css_classes(child)):
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    name = " ".join("".join(parts).split())
    name, _, via = name.partition(" via @")
    return name or None, f"@{via}" if via else None  # as the JSON export writes it


def _media(wrap: etree._Element | None, folder: str) -> tuple[str | None, str | None, str | None]:
    """(path, kind, note) for the message's media; None three times when it has none."""
    if wrap is None:
        return None, None, None
    for element in wrap.iter("a", "div"):
        classes = css_classes(element)
        kind = next((k for c, k in _WRAPS.items() if c in classes), None)
        if kind is None and "media" in classes:
            generic = next((c for c in _GENERIC if c in classes), None)
            if generic is None:
                return None, None, None  # contact, location, poll, game, call: nothing to analyse
            title = first_text(element, "title") or ""
            kind = _GENERIC[generic].get(title, _GENERIC[generic][""])
            if title.startswith("Self-destructing"):
                return None, kind, "self-destructing media: not in the export"
        if kind is None:
            continue
        href = element.get("href") if element.tag == "a" else None
        if not href:
            description = (first_text(element, "description") or "").lower()
            note = next((n for m, n in _PLACEHOLDERS if m in description), "file not in export")
            return None, kind, note
        path, note = resolve_href(folder, href)
        return path, kind, note
    return None, None, None


def _next_page(parsed: etree._Element, folder: str, root: str) -> str | None:
    """The page a "Next messages" link in this block leads to (it follows the last message of a page)."""
    for link in parsed.iter("a"):
        if "pagination" in css_classes(link) and "Next" in "".join(link.itertext()):
            href = link.get("href") or ""
            if page_number(href) is not None:
                return posixpath.join(root, folder, href) if folder else f"{root}{href}"
    return None


def _invalid(state: _State, suffix: str, reason: str) -> Item:
    return Item(
        external_id=f"{state.key}/{suffix}",
        kind="invalid",
        chat_title=state.title,
        chat_type=state.chat.type,
        extra={"error": reason},
    )
