"""Train the solicitation/doxxing classifier and measure it: held-out precision/recall, false positives on
real Korean news comments, and speed. Rules alone are measured in the same run for comparison.

Usage: .venv/bin/python bench/text_classifier.py [--write-model]

- Labelled set: data/text/labelled-*.tsv (written for this project; 25 % held out by a hash of the id).
- Ordinary comments: bench/data/korean-hate-speech/*.tsv, real comments on Korean online news (kocohub,
  CC BY-SA 4.0), many of them rude or hateful: none is a solicitation or doxxing post, so every message
  flagged there is a false positive. Used only to measure, never to train.
- --write-model trains on the training part and writes src/ncii_shield/text/model/solicitation.npz,
  the model the package ships (a test checks that it is what this training produces).
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

from ncii_shield.text.classifier import MODEL_FILE, Example, Model, load_labelled, train
from ncii_shield.text.cues import rule_score, rules_label
from ncii_shield.text.extract import extract

ROOT = Path(__file__).resolve().parents[1]
LABELLED = sorted((ROOT / "data" / "text").glob("labelled-*.tsv"))
COMMENTS = sorted((ROOT / "bench" / "data" / "korean-hate-speech").glob("*.tsv"))


def comments() -> list[str]:
    out = []
    for path in COMMENTS:
        with path.open(encoding="utf-8", newline="") as fh:
            out.extend(row["comments"] for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return out


def rules_flag(text: str) -> str:
    return rules_label(rule_score(text, tuple(extract(text)))[0])


def report(name: str, examples: list[Example], labels: list[str]) -> dict[str, float]:
    """Precision/recall of 'solicitation' and of 'solicitation or suspicious' against harmful."""
    out: dict[str, float] = {}
    for level, flagged in (
        ("solicitation", {"solicitation"}),
        ("+suspicious", {"solicitation", "suspicious"}),
    ):
        tp = sum(
            1 for e, lab in zip(examples, labels, strict=True) if lab in flagged and e.label == "harmful"
        )
        fp = sum(
            1 for e, lab in zip(examples, labels, strict=True) if lab in flagged and e.label != "harmful"
        )
        fn = sum(
            1 for e, lab in zip(examples, labels, strict=True) if lab not in flagged and e.label == "harmful"
        )
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        out[level] = recall
        print(
            f"  {name:6s} {level:13s} precision {precision:.3f}  recall {recall:.3f}  (tp {tp}, fp {fp}, fn {fn})"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-model", action="store_true")
    args = parser.parse_args()

    examples = load_labelled(LABELLED)
    train_set = [e for e in examples if not e.held_out]
    held_out = [e for e in examples if e.held_out]
    print(
        f"labelled set: {len(examples)} messages ({Counter(e.label for e in examples)}), "
        f"train {len(train_set)}, held out {len(held_out)}"
    )
    t0 = time.perf_counter()
    model = train(train_set)
    print(f"trained in {time.perf_counter() - t0:.1f} s: {len(model.weights)} non-zero weights")
    if args.write_model:
        path = ROOT / "src" / "ncii_shield" / "text" / "model" / MODEL_FILE
        model.save(path)
        model = Model.load(path)
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")

    for lang in ("all", "ko", "en"):
        part = [e for e in held_out if lang == "all" or e.id.startswith(lang)]
        print(f"held out, {lang} ({len(part)} messages, {sum(e.label == 'harmful' for e in part)} harmful):")
        report("model", part, [model.label(model.score(e.text)[0]) for e in part])
        report("rules", part, [rules_flag(e.text) for e in part])

    print("held-out misses and false alarms of the model, by category:")
    wrong = Counter(
        (e.label, e.category)
        for e in held_out
        if (model.label(model.score(e.text)[0]) == "solicitation") != (e.label == "harmful")
    )
    for (label, category), n in sorted(wrong.items()):
        print(f"  {label:8s} {category:20s} {n}")

    texts = comments()
    if texts:
        t0 = time.perf_counter()
        labels = [model.label(model.score(t)[0]) for t in texts]
        elapsed = time.perf_counter() - t0
        rules = [rules_flag(t) for t in texts]
        print(f"real news comments (kocohub korean-hate-speech): {len(texts)}")
        for name, labs in (("model", labels), ("rules", rules)):
            sol = sum(lab == "solicitation" for lab in labs)
            sus = sum(lab == "suspicious" for lab in labs)
            print(
                f"  {name}: flagged solicitation {sol} ({100 * sol / len(texts):.2f} %), "
                f"suspicious {sus} ({100 * sus / len(texts):.2f} %)"
            )
        print(f"  model speed: {len(texts) / elapsed:,.0f} messages/s on one core (features + score)")
        for text, lab in zip(texts, labels, strict=True):
            if lab == "solicitation":
                print(f"    flagged: {text[:70]}")


if __name__ == "__main__":
    main()
