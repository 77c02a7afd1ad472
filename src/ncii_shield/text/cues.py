"""Rule cues for solicitation and doxxing posts: which fired, and a score from them.

These are the transparent first layer. A cue is a pattern and a weight (the table is in
:mod:`ncii_shield.text.rules`); the rule score is 1 - prod(1 - weight) over the cues that fired, and
personal data found in the same message adds a cue of its own. The cues are also features of the small model in :mod:`ncii_shield.text.classifier`, which learns
how much each counts next to the words around it; :func:`assess` reports the model's score with the cues
and the model's strongest features as its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from ncii_shield.text.classifier import shipped_model
from ncii_shield.text.extract import Span, extract
from ncii_shield.text.rules import CUES, PERSONAL, Cue, fired_cues

__all__ = ["CUES", "PERSONAL", "Assessment", "Cue", "assess", "fired_cues", "rule_score", "rules_label"]


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
