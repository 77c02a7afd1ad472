"""The solicitation/doxxing classifier: trained from the repository's labelled set, measured on held-out
messages and on real Korean news comments, with its reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncii_shield.text.classifier import Example, load_labelled, shipped_model, train
from ncii_shield.text.cues import assess, fired_cues
from ncii_shield.text.tokens import deobfuscate

ROOT = Path(__file__).resolve().parents[1]
LABELLED = sorted((ROOT / "data" / "text").glob("labelled-*.tsv"))
COMMENTS = sorted((ROOT / "bench" / "data" / "korean-hate-speech").glob("*.tsv"))


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return load_labelled(LABELLED)


def test_the_set_has_both_languages_and_hard_negatives(examples: list[Example]) -> None:
    ids = {e.id for e in examples}
    assert len(ids) == len(examples) > 1000
    assert {e.id[:2] for e in examples} == {"ko", "en"}
    hard = {"school_chat", "news_deepfake", "victim_support", "insult", "reunion_lost_found"}
    assert hard <= {e.category for e in examples if e.label == "ordinary"}
    held = [e for e in examples if e.held_out]
    assert 0.2 < len(held) / len(examples) < 0.3


def test_the_shipped_model_is_what_the_repository_data_trains(examples: list[Example]) -> None:
    retrained = train([e for e in examples if not e.held_out])
    shipped = shipped_model()
    assert shipped.meta["examples"] == retrained.meta["examples"]
    assert set(shipped.weights) == set(retrained.weights)
    assert max(abs(shipped.weights[k] - retrained.weights[k]) for k in shipped.weights) < 1e-4
    assert shipped.bias == pytest.approx(retrained.bias, abs=1e-6)


def test_held_out_precision_and_recall_beat_the_rules(examples: list[Example]) -> None:
    model = shipped_model()
    held = [e for e in examples if e.held_out]
    flagged = [assess(e.text).label == "solicitation" for e in held]
    by_rules = [assess(e.text, use_model=False).label == "solicitation" for e in held]
    harmful = [e.label == "harmful" for e in held]
    tp = sum(f and h for f, h in zip(flagged, harmful, strict=True))
    precision, recall = tp / sum(flagged), tp / sum(harmful)
    rules_recall = sum(f and h for f, h in zip(by_rules, harmful, strict=True)) / sum(harmful)
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)
    assert recall > rules_recall
    assert model.solicitation_at == 0.5


def test_few_false_positives_on_real_news_comments() -> None:
    import csv

    texts = []
    for path in COMMENTS:
        with path.open(encoding="utf-8", newline="") as fh:
            texts += [r["comments"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    assert len(texts) > 3000
    flagged = sum(assess(t).label == "solicitation" for t in texts)
    assert flagged / len(texts) < 0.005, flagged


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("겹 지 인 방 들어와", "겹지인방 들어와"),
        ("지.인.능.욕 방", "지인능욕방"),
        ("능1욕방 링크", "능욕방 링크"),
        ("딥 페 이 크 봇", "딥페이크봇"),
        ("오늘 너 나 우리 같이 가자", "오늘 너 나 우리 같이 가자"),  # ordinary spacing stays
    ],
)
def test_filter_dodging_spellings_are_undone(text: str, plain: str) -> None:
    assert deobfuscate(text) == plain


def test_cues_fire_through_obfuscation() -> None:
    assert [c.name for c in fired_cues("겹 지 인 방 들어올 사람")] == ["recruits for 지인능욕/겹지인 rooms"]
    assert fired_cues("지.인.능.욕 ㄱㄱ") and not fired_cues("지인 결혼식 갔다 옴")


def test_flagged_messages_carry_reasons_and_ordinary_ones_none() -> None:
    post = assess("새솔고 07년생 이다온 아시는 분? 갠텔 주세요")
    assert post.label == "solicitation"
    assert "asks who knows someone" in post.cues and any(c.startswith("model:") for c in post.cues)
    chat = assess("끝나고 떡볶이 먹고 갈 사람? 거기 최고임")
    assert chat.label == "ordinary" and chat.cues == ()


def test_news_and_victim_support_are_not_solicitations() -> None:
    for text in (
        "경찰, 텔레그램 딥페이크 성범죄 집중 단속… 수백 명 입건",
        "지인능욕방 발견하면 캡처해서 경찰에 신고하세요. 1366에서도 도와줍니다",
    ):
        assert assess(text).label != "solicitation", text


def test_a_bad_labelled_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "labelled-x.tsv"
    bad.write_text("id\tlabel\tcategory\ttext\nx-1\tmaybe\tnone\thello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label must be harmful or ordinary"):
        load_labelled([bad])
