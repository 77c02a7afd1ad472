"""A small solicitation/doxxing classifier: logistic regression over hashed text features and the rule cues.

The rules in :mod:`ncii_shield.text.rules` are explainable but brittle: rooms vary their wording, and the
same words appear in news and in victim-support posts ("지인능욕방 신고하는 법"). The model learns how
much each cue and each word or character n-gram counts from the labelled set in ``data/text/`` (Korean
and English, with hard negatives). It is plain numpy: hashed sparse features, L2-regularised logistic
regression fitted by full-batch Adam, deterministic, a few seconds on a laptop; the weights ship inside
the package (``text/model/solicitation.npz``), so nothing is downloaded or trained at run time.

Every score keeps its reasons: the cues that fired plus the features that pushed it up most.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ncii_shield.text.extract import extract
from ncii_shield.text.rules import fired_cues
from ncii_shield.text.tokens import deobfuscate, morphemes

BUCKETS = 1 << 20
MODEL_FILE = "solicitation.npz"
HELD_OUT_PERCENT = 25
_CONTENT_TAGS = ("NNG", "NNP", "NNB", "NP", "VV", "VA", "XR", "SL", "SH", "MAG", "IC", "XSN", "SN")


def cue_features(text: str) -> list[str]:
    """The rule cues and personal-data kinds as features."""
    feats = [f"cue:{c.name}" for c in fired_cues(text)]
    feats += sorted({f"pd:{s.kind}" for s in extract(text)})
    return feats


def features(text: str) -> list[str]:
    """Feature strings of a message: cues, personal-data kinds, morphemes and their pairs, char n-grams."""
    plain = deobfuscate(text)
    feats = cue_features(text)
    words = plain.split()
    feats.append(f"len:{min(len(words), 40) // 5}")
    for word in words:
        padded = f"<{word}>"
        for n in (2, 3, 4):
            feats.extend(f"c:{padded[i : i + n]}" for i in range(len(padded) - n + 1))
    content = [m for m in morphemes(plain) if m.tag.startswith(_CONTENT_TAGS)]
    feats.extend(f"m:{m.form}/{m.tag[:2]}" for m in content)
    feats.extend(f"b:{a.form}+{b.form}" for a, b in itertools.pairwise(content))
    return feats


def bucket(feature: str) -> int:
    return zlib.crc32(feature.encode()) % BUCKETS


CUE_BOOST = 3.0  # a rule cue or a kind of personal data counts as much as several n-grams


def vector(feats: Sequence[str]) -> dict[str, float]:
    """Each distinct feature with its value: cues boosted, all scaled by 1/sqrt(number of features)."""
    uniq = sorted(set(feats))
    scale = 1.0 / np.sqrt(len(uniq)) if uniq else 0.0
    return {f: (CUE_BOOST if f.startswith(("cue:", "pd:")) else 1.0) * scale for f in uniq}


@dataclass
class Model:
    """Weights by feature bucket, a bias, and the two score thresholds of the labels."""

    weights: dict[int, float]
    bias: float
    solicitation_at: float = 0.5
    suspicious_at: float = 0.25
    meta: dict[str, object] = field(default_factory=dict)

    def score_features(self, feats: Sequence[str]) -> tuple[float, list[tuple[str, float]]]:
        """Probability and the features that raised it most (strongest first)."""
        contrib = [(f, self.weights.get(bucket(f), 0.0) * v) for f, v in vector(feats).items()]
        margin = self.bias + sum(c for _, c in contrib)
        prob = float(1.0 / (1.0 + np.exp(-margin)))
        top = sorted((fc for fc in contrib if fc[1] > 0), key=lambda fc: -fc[1])[:8]
        return prob, top

    def score(self, text: str) -> tuple[float, list[tuple[str, float]]]:
        return self.score_features(features(text))

    def label(self, prob: float) -> str:
        if prob >= self.solicitation_at:
            return "solicitation"
        return "suspicious" if prob >= self.suspicious_at else "ordinary"

    def save(self, path: Path) -> None:
        keys = np.array(sorted(self.weights), dtype=np.int32)
        values = np.array([self.weights[int(k)] for k in keys], dtype=np.float32)
        meta = dict(self.meta, solicitation_at=self.solicitation_at, suspicious_at=self.suspicious_at)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, buckets=keys, weights=values, bias=np.float64(self.bias), meta=np.array(json.dumps(meta))
            )

    @classmethod
    def load(cls, path: Path) -> Model:
        with np.load(path) as npz:
            meta = json.loads(str(npz["meta"]))
            weights = dict(zip(npz["buckets"].tolist(), npz["weights"].astype(float).tolist(), strict=True))
            return cls(weights, float(npz["bias"]), meta["solicitation_at"], meta["suspicious_at"], meta)


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    """The model trained on the repository's labelled set (see ``bench/text_classifier.py``)."""
    with resources.as_file(resources.files("ncii_shield.text") / "model" / MODEL_FILE) as path:
        return Model.load(path)


# --------------------------------------------------------------------------------------------------
# The labelled set and training


@dataclass(frozen=True)
class Example:
    id: str
    label: str  # harmful | ordinary
    category: str
    text: str

    @property
    def held_out(self) -> bool:
        """A stable 25 % of the set, chosen by a hash of the id, never seen in training."""
        return int(hashlib.sha256(self.id.encode()).hexdigest(), 16) % 100 < HELD_OUT_PERCENT


def load_labelled(paths: Iterable[Path]) -> list[Example]:
    out: list[Example] = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row["label"] not in ("harmful", "ordinary"):
                    raise ValueError(f"{path}: {row['id']}: label must be harmful or ordinary")
                out.append(Example(row["id"], row["label"], row["category"], row["text"]))
    return out


def train(
    examples: Sequence[Example], *, l2: float = 1e-4, steps: int = 300, learning_rate: float = 0.05
) -> Model:
    """Fit the weights on ``examples`` (class-balanced logistic loss, L2, full-batch Adam; deterministic)."""
    rows: list[dict[int, float]] = []
    for e in examples:
        row: dict[int, float] = {}
        for f, v in vector(features(e.text)).items():
            row[bucket(f)] = row.get(bucket(f), 0.0) + v
        rows.append(row)
    y = np.array([1.0 if e.label == "harmful" else 0.0 for e in examples])
    lengths = np.array([len(r) for r in rows])
    indices = np.array([b for r in rows for b in sorted(r)], dtype=np.int64)
    values = np.array([r[b] for r in rows for b in sorted(r)])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    positives = max(y.sum(), 1.0)
    negatives = max(len(y) - y.sum(), 1.0)
    sample_weight = np.where(y == 1, len(y) / (2 * positives), len(y) / (2 * negatives)) / len(y)

    w = np.zeros(BUCKETS)
    b = 0.0
    m_w, v_w = np.zeros(BUCKETS), np.zeros(BUCKETS)
    m_b = v_b = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        margin = np.add.reduceat(values * w[indices], starts) + b
        prob = 1.0 / (1.0 + np.exp(-margin))
        g = (prob - y) * sample_weight
        grad_w = np.bincount(indices, weights=values * np.repeat(g, lengths), minlength=BUCKETS) + l2 * w
        grad_b = float(g.sum())
        m_w = beta1 * m_w + (1 - beta1) * grad_w
        v_w = beta2 * v_w + (1 - beta2) * grad_w**2
        m_b = beta1 * m_b + (1 - beta1) * grad_b
        v_b = beta2 * v_b + (1 - beta2) * grad_b**2
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        w -= learning_rate * (m_w / correction1) / (np.sqrt(v_w / correction2) + eps)
        b -= learning_rate * (m_b / correction1) / (np.sqrt(v_b / correction2) + eps)
    used = np.unique(indices)
    weights = {int(k): float(w[k]) for k in used if abs(w[k]) > 1e-7}
    meta = {"examples": len(examples), "harmful": int(y.sum()), "l2": l2, "steps": steps}
    return Model(weights, b, meta=meta)
