"""The rule cues: patterns of solicitation and doxxing posts, each with a weight, and which fired.

Both the rule score (:mod:`ncii_shield.text.cues`) and the model's features
(:mod:`ncii_shield.text.classifier`) start from these, so they live in a module of their own that
neither of the two has to import the other for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ncii_shield.text.tokens import deobfuscate


@dataclass(frozen=True)
class Cue:
    name: str
    weight: float
    pattern: re.Pattern[str]


CUES = (
    Cue(
        "asks who knows someone",
        0.45,
        re.compile(r"아시는\s*분|아는\s*(사람|분|애)|누구\s*(앎|아는)|anyone\s+know", re.I),
    ),
    Cue(
        "asks for a private message",
        0.35,
        re.compile(r"갠텔|갠메|개인\s*텔레|DM\s*(me|주|줘)|dm\s*pls", re.I),
    ),
    Cue("recruits for 지인능욕/겹지인 rooms", 0.6, re.compile(r"겹지인방|겹지방|지인\s*능욕|능욕방|박제방")),
    Cue(
        "deepfake making or bots",
        0.45,
        re.compile(
            r"딥페(이크)?\s*(방|봇|제작|만들)|딥페봇|텔레그램봇|합성\s*(해|해줌|가능|의뢰)|nudify|undress",
            re.I,
        ),
    ),
    Cue(
        "trades or asks for photos",
        0.4,
        re.compile(r"사진\s*(교환|팝니다|삽니다|구함|구해|풀어|뿌려)|얼공|신상\s*(털|공개|풀)", re.I),
    ),
)
PERSONAL = {"school", "birth_year", "grade", "age", "phone", "handle", "profile_url"}


def fired_cues(text: str) -> list[Cue]:
    """Cues whose pattern matches the message as written or with filter-dodging spellings undone."""
    plain = deobfuscate(text)
    return [c for c in CUES if c.pattern.search(text) or c.pattern.search(plain)]
