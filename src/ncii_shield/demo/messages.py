"""Lays the demo's events out as Telegram message dicts on one clock, and renders result.json."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from ncii_shield.demo.chats import (
    CAPTIONS,
    CHANNEL_LINES,
    CHANNEL_LINK,
    CHATS,
    DELETED_ID,
    DOX_POSTS,
    EMOJI,
    GROUP_LINES,
    INVITE_LINK,
    JOINERS,
    KST,
    PLACEHOLDER,
    POSTINGS,
    SPECIALS,
    START,
    TOTAL_MESSAGES,
    VAULT_LINK,
    C,
    L,
    S,
    plain,
    rich,
)
from ncii_shield.demo.imagery import Blob
from ncii_shield.demo.recipes import Recipe


class Writer:
    """Renders the event sequence into Telegram message dicts, keeping per-chat ids and the clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = START
        self.next_id = [1, 1, 1]
        self.messages: list[list[dict[str, Any]]] = [[], [], []]
        self.tags: dict[str, int] = {}
        self.members: list[list[tuple[str, str]]] = [list(c.members) for c in CHATS]

    def _stamp(self, chat: int) -> dict[str, Any]:
        self.clock += timedelta(seconds=self.rng.randint(25, 1500))
        mid = self.next_id[chat]
        self.next_id[chat] += self.rng.choice((1, 1, 1, 1, 2))  # a gap now and then: deleted messages
        return {
            "id": mid,
            "type": "message",
            "date": self.clock.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(self.clock.replace(tzinfo=KST).timestamp())),
        }

    def sender(self, chat: int) -> tuple[str, str]:
        return self.rng.choice(self.members[chat])

    def message(
        self, chat: int, sender: tuple[str | None, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        msg = self._stamp(chat)
        name, from_id = sender if sender is not None else self.sender(chat)
        msg["from"] = name
        msg["from_id"] = from_id
        msg.update(fields)
        if "text" not in msg:
            msg["text"], msg["text_entities"] = plain("")
        self.messages[chat].append(msg)
        return msg

    def service(self, chat: int, actor: tuple[str, str], action: str, **fields: Any) -> dict[str, Any]:
        msg = self._stamp(chat)
        msg["type"] = "service"
        msg["actor"], msg["actor_id"] = actor
        msg["action"] = action
        msg.update(fields)
        msg["text"], msg["text_entities"] = plain("")
        self.messages[chat].append(msg)
        return msg

    def chatter(self, chat: int) -> None:
        lines = CHANNEL_LINES if chat == L else GROUP_LINES
        fields: dict[str, Any] = {}
        recent = [m["id"] for m in self.messages[chat][-8:] if m["type"] == "message"]
        if chat != L and recent and self.rng.random() < 0.15:
            fields["reply_to_message_id"] = self.rng.choice(recent)
        msg = self.message(chat, **fields)
        msg["text"], msg["text_entities"] = plain(self.rng.choice(lines))
        if self.rng.random() < 0.03:
            edited = datetime.strptime(msg["date"], "%Y-%m-%dT%H:%M:%S") + timedelta(seconds=90)
            msg["edited"] = edited.strftime("%Y-%m-%dT%H:%M:%S")
            msg["edited_unixtime"] = str(int(edited.replace(tzinfo=KST).timestamp()))


def media_fields(recipe: Recipe, path: str, blob: Blob, rng: random.Random) -> dict[str, Any]:
    """The fields Telegram Desktop writes for each kind of media."""
    if recipe.kind == "photo":
        return {"photo": path, "photo_file_size": len(blob.data), "width": blob.width, "height": blob.height}
    fields: dict[str, Any] = {"file": path, "file_name": path.rsplit("/", 1)[1], "file_size": len(blob.data)}
    if recipe.kind == "file":
        fields["mime_type"] = "image/jpeg"
    elif recipe.kind == "sticker":
        fields.pop("file_name")
        fields.update(
            media_type="sticker",
            sticker_emoji=rng.choice(EMOJI),
            mime_type="image/webp",
            width=blob.width,
            height=blob.height,
        )
    else:
        fields.update(
            media_type=recipe.kind,
            mime_type="video/mp4",
            duration_seconds=1,
            width=blob.width,
            height=blob.height,
        )
    return fields


def path_for(recipe: Recipe, counters: dict[str, int], when: datetime) -> str:
    """A media path in Telegram Desktop's naming style for this kind of media."""
    n = counters[recipe.kind] = counters.get(recipe.kind, 0) + 1
    if recipe.kind == "photo":
        return f"photos/photo_{n}@{when.strftime('%d-%m-%Y_%H-%M-%S')}.jpg"
    if recipe.kind == "file":
        return f"files/IMG_{2030 + n}.jpg"
    if recipe.kind == "sticker":
        return "stickers/sticker.webp" if n == 1 else f"stickers/sticker ({n - 1}).webp"
    if recipe.kind == "animation":
        return f"animations/IMG_{5510 + n}.gif.mp4"
    return f"video_files/IMG_{5520 + n}.mp4"


def _special(w: Writer, chat: int, tag: str) -> None:
    """Messages that exercise parser corner cases: entities, service actions, null sender, \\x07."""
    channel = CHATS[L].members[0]
    owner = CHATS[S].members[0]
    if tag == "channel_invite":
        text, ents = rich(
            "새 방 열었어요 👉 ",
            {"type": "text_link", "text": "여기로 들어오세요", "href": INVITE_LINK},
            " (demo)",
        )
        w.tags[tag] = w.message(chat, channel, text=text, text_entities=ents)["id"]
    elif tag == "pinned_rules":
        text, ents = rich(
            {"type": "bold", "text": "공지"},
            ": 새로 온 사람은 ",
            {"type": "text_link", "text": "이 링크", "href": INVITE_LINK},
            " 로 들어오세요. 문의 ",
            {"type": "mention", "text": "@demo_minjun"},
            " / ",
            {"type": "link", "text": "https://example.org/demo"},
        )
        w.tags[tag] = w.message(chat, owner, text=text, text_entities=ents)["id"]
    elif tag == "pin":
        w.service(chat, owner, "pin_message", message_id=w.tags["pinned_rules"])
    elif tag in ("join_1", "join_2"):
        joiner = JOINERS[0 if tag == "join_1" else 1]
        w.service(chat, joiner, "join_group_by_link", inviter="Group")
        w.members[chat].append(joiner)
    elif tag == "deleted_account":
        w.message(
            chat,
            (None, DELETED_ID),
            text="hello, anyone here?",
            text_entities=[{"type": "plain", "text": "hello, anyone here?"}],
        )
    elif tag == "invite_members":
        w.service(chat, w.members[chat][0], "invite_members", members=["하린"])
        w.members[chat].append(("하린", "user5012345673"))
    elif tag == "bell":
        # A BEL control character: Telegram writes it as the invalid JSON escape \x07 (see render).
        w.message(
            chat,
            text="알림음 테스트\x07 됐다",
            text_entities=[{"type": "plain", "text": "알림음 테스트\x07 됐다"}],
        )
    elif tag == "channel_pin_target":
        text, ents = rich(
            "백업 채널: ",
            {"type": "text_link", "text": "클릭", "href": INVITE_LINK},
            " ",
            {"type": "hashtag", "text": "#demo"},
        )
        w.tags[tag] = w.message(chat, channel, text=text, text_entities=ents)["id"]
    elif tag == "channel_pin":
        w.service(chat, channel, "pin_message", message_id=w.tags["channel_pin_target"])
    elif tag == "mention":
        text, ents = rich({"type": "mention", "text": "@demo_jiho"}, " 어제 그거 봤어?")
        w.message(chat, text=text, text_entities=ents)
    elif tag.startswith("dox_"):
        text = DOX_POSTS[int(tag[4:])]
        w.tags[tag] = w.message(chat, text=text, text_entities=plain(text)[1])["id"]
    elif tag == "reunion":  # names the person, innocently: a hit, but not a solicitation
        text = "서윤이 ○○고 07년생이었나? 동창회 명단에 있던데"
        w.message(chat, text=text, text_entities=plain(text)[1])
    elif tag == "vault_link":
        text, ents = rich("저장본은 여기로 👉 ", {"type": "link", "text": VAULT_LINK}, " (demo)")
        w.message(chat, text=text, text_entities=ents)
    elif tag == "channel_ad":
        text, ents = rich(
            "링크공유 채널 구독 ㄱ ", {"type": "text_link", "text": "여기", "href": "https://" + CHANNEL_LINK}
        )
        w.message(chat, text=text, text_entities=ents)


def plan_chats(
    recipes: dict[str, Recipe], blobs: dict[str, Blob], seed: int
) -> tuple[list[list[dict[str, Any]]], dict[str, str], int, dict[str, int]]:
    """Lay out all messages on one clock, so forwards always come after what they forward."""
    rng = random.Random(seed)
    w = Writer(rng)
    owner_s, owner_c = CHATS[S].members[0], CHATS[C].members[0]
    channel = CHATS[L].members[0]
    w.service(S, owner_s, "create_group", title=CHATS[S].name, members=[m[0] for m in CHATS[S].members[:4]])
    w.service(S, owner_s, "invite_members", members=[CHATS[S].members[4][0]])
    w.service(L, channel, "create_channel", title=CHATS[L].name)
    w.service(C, owner_c, "create_group", title=CHATS[C].name, members=[m[0] for m in CHATS[C].members])

    events: list[tuple[str, int, str, str]] = []  # (what, chat, key, mode)
    specials = {i: [(c, t) for j, c, t in SPECIALS if j == i] for i in range(len(POSTINGS) + 1)}
    for i, (chat, key, mode) in enumerate(POSTINGS):
        events.extend(("special", c, t, "") for c, t in specials[i])
        events.append(("media", chat, key, mode))
    fixed = len(events) + 4
    chatter_count = TOTAL_MESSAGES - fixed
    slots = sorted(rng.sample(range(chatter_count + len(events)), len(events)))
    chatter_chats = rng.choices((S, L, C), weights=(50, 12, 38), k=chatter_count)

    paths: dict[str, str] = {}
    first_sender: dict[str, tuple[str, str]] = {}
    counters: dict[str, int] = {}
    placeholders = 0
    ev = iter(events)
    chat_iter = iter(chatter_chats)
    slot_set = set(slots)
    for pos in range(chatter_count + len(events)):
        if pos not in slot_set:
            w.chatter(next(chat_iter))
            continue
        what, chat, key, mode = next(ev)
        if what == "special":
            _special(w, chat, key)
            continue
        sender = w.sender(chat)
        caption = rng.choice(CAPTIONS)
        if mode == "placeholder":
            msg = w.message(chat, sender, photo=PLACEHOLDER, width=1280, height=960)
            placeholders += 1
        else:
            recipe = recipes[key]
            if mode == "post":
                if key in paths:
                    raise AssertionError(f"{key} posted twice: use 'repost' or 'forward'")
                paths[key] = path_for(recipe, counters, w.clock)
                first_sender[key] = sender
            elif key not in paths:
                raise AssertionError(f"{key} is {mode}ed before it was posted")
            fields = media_fields(recipe, paths[key], blobs[key], rng)
            if mode == "forward":
                fields = {"forwarded_from": first_sender[key][0], **fields}
            msg = w.message(chat, sender, **fields)
        msg["text"], msg["text_entities"] = plain(caption)
        if rng.random() < 0.1:
            msg["reactions"] = [{"type": "emoji", "count": rng.randint(1, 4), "emoji": "👍"}]
    missing = sorted(set(recipes) - set(paths))
    if missing:
        raise AssertionError(f"recipes never posted: {missing}")
    return w.messages, paths, placeholders, {k: v for k, v in w.tags.items() if k.startswith("dox_")}


def render(messages: list[list[dict[str, Any]]]) -> str:
    """result.json as Telegram Desktop writes it, including its invalid `\\x07` escape."""
    doc = {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't use your data "
        "for ad targeting and doesn't sell it to others. (demo export, fictional content)",
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                {"name": c.name, "type": c.type, "id": c.id, "messages": msgs}
                for c, msgs in zip(CHATS, messages, strict=True)
            ],
        },
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    # json.dumps escapes BEL as \u0007 in both `text` and `text_entities`; Telegram writes \x07.
    if text.count("\\u0007") != 2:
        raise AssertionError("expected exactly one message carrying a BEL character")
    return text.replace("\\u0007", "\\x07") + "\n"
