"""Rule cues for solicitation and doxxing posts: which fired, and a score from them.

These are the transparent first layer. A cue is a pattern and a weight; the rule score is
1 - prod(1 - weight) over the cues that fired, and personal data found in the same message adds a cue of
its own. The cues are also features of the small model in :mod:`ncii_shield.text.classifier`, which learns
how much each counts next to the words around it; :func:`assess` reports the model's score with the cues
and the model's strongest features as its reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ncii_shield.text.classifier import shipped_model
from ncii_shield.text.extract import Span, extract
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


@dataclass(frozen=True)
class Assessment:
    score: float  # the model's probability that the message solicits or doxxes someone
    label: str  # solicitation | suspicious | ordinary
    cues: tuple[str, ...]  # rule cues that fired, then "model: <feature>" for what weighed most
    spans: tuple[Span, ...]
    rule_score: float  # the rules alone, kept for comparison and for when no model is wanted


def rule_score(text: str, spans: tuple[Span, ...]) -> tuple[float, list[str]]:
    """1 - prod(1 - weight) over the cues that fired, and their names."""
    fired = fired_cues(text)
    weights = [c.weight for c in fired]
    names = [c.name for c in fired]
    personal = sorted({s.kind for s in spans if s.kind in PERSONAL})
    if personal:
        weights.append(min(0.5, 0.2 * len(personal)))
        names.append("posts personal details: " + ", ".join(personal))
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return round(1.0 - remaining, 3), names


def rules_label(score: float) -> str:
    return "solicitation" if score >= 0.6 else "suspicious" if score >= 0.35 else "ordinary"


def assess(text: str, *, use_model: bool = True) -> Assessment:
    spans = tuple(extract(text))
    rules, names = rule_score(text, spans)
    if not use_model:
        return Assessment(rules, rules_label(rules), tuple(names), spans, rules)
    model = shipped_model()
    prob, top = model.score(text)
    label = model.label(prob)
    # What the model weighed most, for flagged messages only: an ordinary message needs no reasons.
    words = [f for f, _ in top if not f.startswith(("cue:", "pd:"))]
    reasons = names + ([f"model: {_readable(f)}" for f in words[:3]] if label != "ordinary" else [])
    return Assessment(round(prob, 3), label, tuple(reasons), spans, rules)


def _readable(feature: str) -> str:
    kind, _, value = feature.partition(":")
    what = {"c": "characters", "m": "word", "b": "words", "len": "length"}.get(kind, kind)
    return f"{what} {value.strip('<>')!r}"
