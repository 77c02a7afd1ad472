"""Rule cues for solicitation and doxxing posts: which fired, and a score from them.

These are the transparent first layer; a small model trained on a labelled set will sit on top (issue 5).
A cue is a pattern and a weight; the score is 1 - prod(1 - weight) over the cues that fired, so every
score can be explained by listing its cues. Personal data found in the same message adds a cue of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ncii_shield.text.extract import Span, extract


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


@dataclass(frozen=True)
class Assessment:
    score: float
    label: str  # solicitation | suspicious | ordinary
    cues: tuple[str, ...]
    spans: tuple[Span, ...]


def assess(text: str) -> Assessment:
    spans = tuple(extract(text))
    fired = [c for c in CUES if c.pattern.search(text)]
    weights = [c.weight for c in fired]
    names = [c.name for c in fired]
    personal = sorted({s.kind for s in spans if s.kind in PERSONAL})
    if personal:
        weights.append(min(0.5, 0.2 * len(personal)))
        names.append("posts personal details: " + ", ".join(personal))
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    score = round(1.0 - remaining, 3)
    label = "solicitation" if score >= 0.6 else "suspicious" if score >= 0.35 else "ordinary"
    return Assessment(score, label, tuple(names), spans)
