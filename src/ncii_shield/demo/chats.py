"""The demo's chats as data: rooms, members, the posting plan, chatter lines and the special posts' links.

The posting plan is hand-written so the demo tells a readable story: first postings in the school room,
then the spread (forwards to the channel and the chat room, reposts of the same file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

PLACEHOLDER = "(File not included. Change data exporting settings to download.)"
KST = timezone(timedelta(hours=9))  # the export's local time: `date` has no offset, `date_unixtime` is UTC
START = datetime(2024, 8, 20, 19, 30, 0)

S, L, C = 0, 1, 2  # school supergroup, link channel, chat group


@dataclass(frozen=True)
class Chat:
    """A room of the export: its name, Telegram type and id, and who is in it from the start."""

    name: str
    type: str
    id: int
    members: tuple[tuple[str, str], ...]  # (name, from_id)


CHATS = (
    Chat(
        "○○고 겹지인방 (demo)",
        "private_supergroup",
        1801234567,
        (
            ("민준", "user5012345671"),
            ("지호", "user5012345672"),
            ("하린", "user5012345673"),
            ("도윤", "user5012345674"),
            ("Alex K.", "user5012345675"),
        ),
    ),
    Chat("링크공유 (demo)", "public_channel", 1809876543, (("링크공유 (demo)", "channel1809876543"),)),
    Chat(
        "잡담방 (demo)",
        "private_group",
        4512345678,
        (
            ("지호", "user5012345672"),
            ("서진", "user5012345676"),
            ("예린", "user5012345677"),
            ("Jamie (demo)", "user5012345678"),
        ),
    ),
)
JOINERS = (("서진", "user5012345676"), ("Jamie (demo)", "user5012345678"))
DELETED_ID = "user5099999999"

# One posting per line: chat (S school room, L link channel, C chat room), mode, recipe key. Modes: post
# (first appearance), forward (forwarded_from set), repost (the same file sent again, no forward header),
# placeholder (the export left the file out).
POSTINGS_TABLE = """
S post        unrelated_storm
S post        exact_a
C post        unrelated_dune
S post        recompressed_a
S post        sticker_a
L post        unrelated_aqua
S post        resized_a_640
S post        composite_elephants
C forward     exact_a
S placeholder
S post        mirrored_a
L post        composite_greenmeadow
S post        other_biden
S post        resized_b_1280
C forward     composite_greenmeadow
S post        unrelated_garden
S post        exact_b
S post        brightness_a
S post        sticker_face
L forward     resized_a_640
S post        composite_garden
S post        cropped_a
C post        unrelated_ladybird
S post        animation_b
S post        recompressed_b
L post        composite_dune
S post        group_photo
C forward     group_photo
S post        resized_a_1280
S placeholder
S post        partial_face
S post        other_astronaut
L post        unrelated_freshflower
S post        composite_on_biden
S post        resized_b_640
C repost      sticker_a
S post        video_a
S post        cropped_b
L forward     composite_elephants
S post        other_composite_aqua
S post        mirrored_b
C forward     video_a
S post        brightness_b
S post        composite_ladybird
S post        unrelated_yellowflower
L forward     exact_b
S post        resized_a_320
S post        cropped_a_6pct
C post        other_composite_freshflower
S post        composite_on_astronaut
S post        sticker_b
L post        composite_yellowflower
S post        resized_b_320
C forward     composite_garden
S post        other_biden2
S post        unrelated_elephants
C forward     recompressed_a
L post        unrelated_blinds
S post        other_composite_blinds
S placeholder
C forward     composite_dune
S repost      composite_elephants
C repost      animation_b
L forward     mirrored_a
C post        unrelated_greenmeadow
S repost      recompressed_a
C forward     composite_yellowflower
L forward     composite_on_astronaut
C repost      sticker_face
C forward     resized_b_640
C forward     partial_face
S forward     composite_greenmeadow
C forward     composite_on_biden
L forward     video_a
"""
POSTINGS: tuple[tuple[int, str, str], ...] = tuple(
    ({"S": S, "L": L, "C": C}[row[0]], row[2] if len(row) > 2 else "", row[1])
    for row in (line.split() for line in POSTINGS_TABLE.strip().splitlines())
)

GROUP_LINES = (
    "오늘 급식 뭐였지?",
    "내일 체육복 챙겨야 함",
    "ㅋㅋㅋㅋ",
    "ㅇㅇ",
    "헐 진짜?",
    "수행평가 언제까지야",
    "나 지금 버스",
    "비 온대 우산 챙겨",
    "주말에 뭐해?",
    "축제 준비 다 했어?",
    "떡볶이 먹으러 갈 사람",
    "끝나고 뭐 먹고 갈래? 거기 진짜 최고임",
    "딥페이크 처벌법 뉴스 봤어? 이제 보기만 해도 처벌이래",
    "동아리 사진 단톡에 올려줘",
    "3반 시간표 바뀐 거 아는 사람?",
    "ㄱㄱ",
    "숙제 몇 쪽까지였어?",
    "모의고사 망함",
    "담임쌤 오늘 기분 좋으시던데",
    "동아리 모임 6시",
    "노래방 가자",
    "오늘 날씨 진짜 덥다",
    "자습실 자리 있음?",
    "잘 자",
    "굿굿",
    "아 배고파",
    "영어 단어 시험 범위 알려줄 사람",
    "그거 이미 봤어",
    "나중에 얘기하자",
    "확인!",
    "ㅋㅋ 웃기다",
    "see you tomorrow",
    "lol",
    "anyone up for basketball after school?",
    "brb",
    "that's wild",
    "did you finish the reading?",
    "ok sounds good",
    "thanks!",
    "haha same",
    "동창회 연락처는 010-0000-0000 (demo)",
    "사진 잘 나왔네",
    "이거 어디서 찍은 거야?",
    "저장함",
    "원본 있어?",
)
CHANNEL_LINES = (
    "오늘의 모음 📌",
    "공지: 채널 규칙을 확인해 주세요",
    "새 글 올라갔습니다",
    "내일 또 올라옵니다",
    "Daily roundup",
    "구독자 100명 감사합니다",
    "링크는 고정 메시지 참고",
    "Mirror link in the pinned post",
)
CAPTIONS = ("", "", "", "ㅋㅋ", "이거 봐", "new one", "또 있음", "퍼옴", "저장 ㄱ", "원본")
EMOJI = ("😂", "👍", "😎", "🔥", "🙂")

TOTAL_MESSAGES = 300


def rich(*parts: str | dict[str, str]) -> tuple[list[Any], list[dict[str, str]]]:
    """Build `text` (strings and entity objects) and `text_entities` the way Telegram writes them."""
    text: list[Any] = []
    entities: list[dict[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
            entities.append({"type": "plain", "text": part})
        else:
            text.append(dict(part))
            entities.append(dict(part))
    return text, entities


def plain(s: str) -> tuple[str, list[dict[str, str]]]:
    return s, ([{"type": "plain", "text": s}] if s else [])


INVITE_LINK = "https://t.me/+AbCdEf123"  # leads to the school room (its pinned rules post it)
CHANNEL_LINK = "t.me/demo_linkshare"  # the link-sharing channel's public address
VAULT_LINK = "https://t.me/+DeMoVaUlT42"  # a room the monitor has not collected
# Doxxing and solicitation posts (fictional people, benign wording). The first names the demo person.
DOX_POSTS = (
    "○○고 07년생 서윤 아시는 분? 갠텔 주세요",
    "한빛여고 2학년 지민이 인스타 아는 사람? 사진 있으면 교환함",
)

# Special messages placed at fixed points among the postings: (after posting #, chat, tag).
SPECIALS: tuple[tuple[int, int, str], ...] = (
    (0, L, "channel_invite"),
    (2, S, "pinned_rules"),
    (3, S, "pin"),
    (6, S, "join_1"),
    (12, S, "deleted_account"),
    (20, C, "invite_members"),
    (27, C, "bell"),
    (33, S, "join_2"),
    (40, L, "channel_pin_target"),
    (41, L, "channel_pin"),
    (50, C, "mention"),
    (9, S, "dox_0"),
    (15, S, "vault_link"),
    (24, S, "dox_1"),
    (30, C, "channel_ad"),
    (36, L, "vault_link"),
    (18, C, "reunion"),
)
