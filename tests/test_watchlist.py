"""The case watchlist: identifiers kept only as keyed hashes, and the messages that name the person."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Hit, Item
from ncii_shield.text.service import add_terms
from ncii_shield.text.watchlist import digest, field_key, matched_fields, terms
from tests.exports import message, write_export
from tests.test_at_rest import _found
from tests.test_scan import _case, _scan

SECRET = os.urandom(32)
PERSON = [
    ("name", "김하린"),
    ("name", "하린"),
    ("name", "Harin Kim"),
    ("school", "한빛여고"),
    ("birth_year", "2007"),
    ("handle", "@harin.k07"),
    ("phone", "010-2345-6789"),
]


def _watch(values: list[tuple[str, str]] = PERSON) -> dict[bytes, str]:
    return {digest(SECRET, f, k): f for f, k in terms(values)}


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("phone", "010-2345-6789", "01023456789"),
        ("phone", "+82 10 2345 6789", "01023456789"),
        ("birth_year", "07", "2007"),
        ("birth_year", "1999", "1999"),
        ("handle", "harin.k07", "@harink07"),
        ("name", "Harin  Kim", "harinkim"),
        ("school", "한빛 여고", "한빛여고"),
    ],
)
def test_identifiers_are_normalised(field: str, value: str, key: str) -> None:
    assert field_key(field, value) == key


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("한빛여고 07년생 김하린 아시는 분? 갠텔 주세요", {"name", "school", "birth_year"}),
        ("하린이 요즘 어디 다녀?", {"name"}),
        ("김 하린 번호 아는 사람", {"name"}),
        ("Does anyone know Harin Kim from Hanbit?", {"name"}),
        ("인스타 @harin.k07 팔로우 ㄱㄱ", {"handle"}),
        ("연락은 010 2345 6789 로", {"phone"}),
        ("born in 2007, she is Harin Kim", {"name", "birth_year"}),
    ],
)
def test_messages_naming_the_person(text: str, fields: set[str]) -> None:
    assert matched_fields(SECRET, text, _watch()) == fields


@pytest.mark.parametrize(
    "text", ["한빛여고 07년생 아시는 분?", "김하늘 생일 축하해", "harin is a common word here"]
)
def test_messages_not_about_the_person(text: str) -> None:
    """School and birth year alone name no one; another name is another person."""
    assert matched_fields(SECRET, text, _watch()) == set()


def test_an_ordinary_number_is_not_a_birth_year() -> None:
    assert matched_fields(SECRET, "2007개 주문했어요 김하린", _watch()) == {"name"}


def test_unusable_identifiers_are_refused() -> None:
    for field, value in (("phone", "12345"), ("birth_year", "abc"), ("name", "김"), ("colour", "red")):
        with pytest.raises(ValueError):
            terms([(field, value)])


def test_text_hits_and_no_plaintext_anywhere(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    with store.session() as s:
        added = add_terms(store, s, s.get(Case, case_id), PERSON)
    assert added == {"name": 3, "school": 1, "birth_year": 1, "handle": 1, "phone": 1}
    export = write_export(
        tmp_path / "e",
        [
            message(1, text="한빛여고 07년생 김하린 아시는 분? 갠텔 주세요"),
            message(2, text="오늘 급식 뭐야"),
            message(
                3, text=[{"type": "plain", "text": "인스타 "}, {"type": "mention", "text": "@harin.k07"}]
            ),
            message(4, text="한빛여고 07년생 누구 아는 사람"),
        ],
        name="잡담방",
    )
    result = _scan(store, export, case_id)
    assert result.new_hits == {"text": 2}
    with store.session() as s:
        hits = {i.message_id: h.details for h, i in s.execute(select(Hit, Item).join(Item)).all()}
    assert {m: d["fields"] for m, d in hits.items()} == {1: ["birth_year", "name", "school"], 3: ["handle"]}
    assert hits[1]["label"] == "solicitation" and "asks who knows someone" in hits[1]["cues"]
    assert not any(c.startswith("model:") for d in hits.values() for c in d["cues"])
    store.close()
    needles = {
        "identifier": [v.encode() for _, v in PERSON if len(v) > 3]
        + ["김하린".encode(), b"harin.k07", b"01023456789"]
    }
    assert _found(store.settings.data_dir, needles) == []


def test_watchlist_needs_an_open_case(store: Store) -> None:
    case_id = _case(store)
    with store.session() as s:
        case = s.get(Case, case_id)
        case.status = "closed"
    with pytest.raises(NciiError, match="closed"), store.session() as s:
        add_terms(store, s, s.get(Case, case_id), PERSON)


def test_text_hits_are_redacted_ranked_and_matched_incrementally(store: Store, tmp_path: Path) -> None:
    from ncii_shield.review.hits import list_hits
    from ncii_shield.scan.match import match_case

    case_id = _case(store)
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("name", "김하린")])
    first = write_export(
        tmp_path / "a",
        [
            message(1, text="김하린 생일 축하해~ 케이크 맛있었다"),
            message(2, text="한빛여고 07년생 김하린 아시는 분? 갠텔 주세요 010-2345-6789"),
            message(3, text="오늘 급식 뭐야 하린 인스타 @harin.k07"),
        ],
        chat_id=1,
    )
    assert _scan(store, first, case_id).new_hits == {"text": 2}
    with store.session() as s:
        rows = [r for r in list_hits(s, case_id) if r.kind == "text"]
    assert [r.message_id for r in rows] == [2, 1], "the solicitation naming her ranks first"
    excerpt = rows[0].excerpt or ""
    assert "아시는 분" in excerpt and "갠텔" in excerpt
    for secret in ("김하린", "한빛여고", "07년생", "2345"):
        assert secret not in excerpt, excerpt
    assert "[name]" in excerpt and "[school]" in excerpt and "[phone]" in excerpt

    # A new watch term reads the old messages again; a second export is read once, without the first.
    with store.session() as s:
        add_terms(store, s, s.get(Case, case_id), [("handle", "@harin.k07")])
        assert match_case(store, s, case_id) == {"text": 1}
        assert match_case(store, s, case_id) == {}
    second = write_export(tmp_path / "b", [message(1, text="김하린 번호 아는 사람")], chat_id=2)
    assert _scan(store, second, case_id).new_hits == {"text": 1}
