"""Text extractors: positive and false-friend examples in Korean and English, and exact offsets.

Every example is benign and fictional (김하린, 한빛여고, 010-1234-5678).
"""

from __future__ import annotations

import itertools

import pytest

from ncii_shield.text.extract import KINDS, Span, extract


def found(text: str, kind: str) -> list[Span]:
    spans = extract(text)
    for span in spans:
        assert text[span.start : span.end] == span.text, span
        assert span.kind in KINDS
    return [s for s in spans if s.kind == kind]


def values(text: str, kind: str) -> list[str]:
    return [s.value for s in found(text, kind)]


def texts(text: str, kind: str) -> list[str]:
    return [s.text for s in found(text, kind)]


# -- schools -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("한빛여자고등학교 다니는 애 아는 사람", "한빛여자고등학교"),
        ("별숲고등학교 학생", "별숲고등학교"),
        ("푸른들중학교 나왔어요", "푸른들중학교"),
        ("새솔초등학교 동창", "새솔초등학교"),
        ("가람대학교에서 만남", "가람대학교"),
        ("바다여자중학교", "바다여자중학교"),
        ("한빛여고 07년생 김하린 아시는 분?", "한빛여고"),  # lexicon stem
        ("새솔중에서 봤어", "새솔중"),  # lexicon stem with a particle
        ("별숲고 다니는 친구", "별숲고"),  # context after
        ("별숲여중 출신이래", "별숲여중"),
        ("가람대 졸업했음", "가람대"),
        ("서울고 나온 사람", "서울고"),
        ("별숲고 07년생 있나요", "별숲고"),
        ("별숲고 2학년", "별숲고"),
        ("별숲고생 구해요", "별숲고"),
        ("학교는 별숲고", "별숲고"),  # cue before
        ("She goes to Hanbit High School.", "Hanbit High School"),
        ("Saesol Middle School students", "Saesol Middle School"),
        ("graduated from Garam University", "Garam University"),
        ("at the University of Hanbit", "University of Hanbit"),
    ],
)
def test_school_found(text: str, expected: str) -> None:
    assert expected in values(text, "school")


@pytest.mark.parametrize(
    "text",
    [
        "밥 먹고 갈게",
        "진짜 최고 학생이야",
        "나랑 하고 싶고 보고 싶고",
        "그리고 다니는 곳이 어디야",
        "먹고 다니는 거 좋아해",
        "가지고 다니는 가방",
        "만나고 나온 길",
        "보고 나온 영화",
        "대박 최대 할인",
        "중요한 건 중간 고사",
        "수업중 학생들 조용",
        "절대 졸업 못 해",
        "연초 졸업식",
        "고등학교 2학년 때",  # a level, no name
        "I go to High School",
        "at the High School",
    ],
)
def test_school_false_friends(text: str) -> None:
    assert values(text, "school") == []


# -- birth years ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_text"),
    [
        ("07년생 아는 사람", "07년생"),
        ("2007년생 김하린", "2007년생"),
        ("빠른07 이에요", "빠른07"),
        ("빠른 07년생", "빠른 07년생"),
        ("07년생들 모여", "07년생들"),
        ("07생 있어?", "07생"),
        ("95년생 형", "95년생"),
        ("she was born in 2007", "born in 2007"),
        ("Kim Harin (b. 2007)", "b. 2007"),
        ("any '07 liners here", "'07 liners"),
        ("07-liner friends", "07-liner"),
    ],
)
def test_birth_year_found(text: str, expected_text: str) -> None:
    spans = found(text, "birth_year")
    assert [s.text for s in spans] == [expected_text]
    assert spans[0].value in {"2007", "1995"}


@pytest.mark.parametrize(
    "text",
    [
        "order 2007 shipped",
        "가격 2007원",
        "2007개 남음",
        "see page 2007",
        "010-2007-1234",
        "2007년에 있었던 일",
        "12생활 수칙",
        "07생일 축하",
    ],
)
def test_birth_year_false_friends(text: str) -> None:
    assert values(text, "birth_year") == []


def test_birth_year_two_digit_pivot() -> None:
    assert values("07년생", "birth_year") == ["2007"]
    assert values("98년생", "birth_year") == ["1998"]


# -- grades and ages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("고2 김하린", "grade", "고2"),
        ("중3이에요", "grade", "중3"),
        ("초6 동생", "grade", "초6"),
        ("고등학교 2학년", "grade", "고2"),
        ("중학교 3학년 때", "grade", "중3"),
        ("별숲고 2학년", "grade", "2학년"),
        ("she is in year 11", "grade", "year 11"),
        ("10th grade student", "grade", "grade 10"),
        ("17살 여자애", "age", "17"),
        ("만 16세", "age", "16"),
        ("she is 17 years old", "age", "17"),
        ("a 17-year-old student", "age", "17"),
        ("17yo", "age", "17"),
        ("aged 16", "age", "16"),
    ],
)
def test_grade_and_age_found(text: str, kind: str, value: str) -> None:
    assert value in values(text, kind)


@pytest.mark.parametrize(
    "text",
    [
        "10명 모였어",
        "최고2 점",
        "고4",
        "중5",
        "기간 중3일",
        "2024학년도 일정",
        "2학년도 계획",
        "21세기 기술",
        "3세대 모델",
        "the year 2024",
        "17 years ago",
    ],
)
def test_grade_and_age_false_friends(text: str) -> None:
    assert values(text, "grade") == []
    assert values(text, "age") == []


# -- phones --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "010-1234-5678",
        "번호 010 1234 5678 연락",
        "01012345678로 문자",
        "+82 10-1234-5678",
        "+82-10-1234-5678",
        "+821012345678",
        "+82 010-1234-5678",
        "+82 (0)10 1234 5678",
        "0082-10-1234-5678",
        "010.1234.5678",
    ],
)
def test_phone_found(text: str) -> None:
    assert values(text, "phone") == ["+821012345678"]


def test_phone_old_carrier_three_digit_middle() -> None:
    assert values("011-123-4567", "phone") == ["+82111234567"]


@pytest.mark.parametrize(
    "text",
    [
        "order 2024-1234-5678",
        "123-4567-8901",
        "date 2024-08-24",
        "id abc01012345678",
        "https://example.com/item/01012345678",
        "x01012345678",
        "010-123-4567",  # 010 numbers have a four-digit middle
        "010-1234-5678-9999",
        "0101234567890",
    ],
)
def test_phone_false_friends(text: str) -> None:
    assert values(text, "phone") == []


# -- handles and profile links -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "span_text"),
    [
        ("@hh_rin 계정", "@hh_rin", "@hh_rin"),
        ("DM @Harin.Kim.", "@harin.kim", "@Harin.Kim"),
        ("인스타 hh_rin 이야", "@hh_rin", "hh_rin"),
        ("인스타: hh.rin", "@hh.rin", "hh.rin"),
        ("틱톡 @rin_tt", "@rin_tt", "@rin_tt"),
        ("트위터 아이디 rin_tw", "@rin_tw", "rin_tw"),
        ("insta: hanbit_rin", "@hanbit_rin", "hanbit_rin"),
        ("@hh_rin이랑 친해", "@hh_rin", "@hh_rin"),
    ],
)
def test_handle_found(text: str, value: str, span_text: str) -> None:
    spans = found(text, "handle")
    assert [(s.value, s.text) for s in spans] == [(value, span_text)]


@pytest.mark.parametrize(
    "text",
    [
        "rin@example.com",
        "mail me at hh.rin@example.co.kr",
        "인스타 DM 주세요",
        "가격 @1000",
        "instagram.com/hh_rin",
        "tiktok.com/@rin_tt",
        "인스타 하는 사람",
    ],
)
def test_handle_false_friends(text: str) -> None:
    assert values(text, "handle") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("https://www.instagram.com/hh_rin/", "instagram:hh_rin"),
        ("instagram.com/hh.rin", "instagram:hh.rin"),
        ("https://x.com/Rin_X", "twitter:rin_x"),
        ("twitter.com/rin_x 여기", "twitter:rin_x"),
        ("https://www.tiktok.com/@rin.tt?lang=ko", "tiktok:rin.tt"),
    ],
)
def test_profile_url_found(text: str, value: str) -> None:
    assert values(text, "profile_url") == [value]


@pytest.mark.parametrize(
    "text",
    [
        "instagram.com/p/AbCdEf",
        "https://twitter.com/home",
        "tiktok.com/tag/cats",
        "dropbox.com/rin",
        "inbox.com/rin",
    ],
)
def test_profile_url_false_friends(text: str) -> None:
    assert values(text, "profile_url") == []


# -- Telegram links ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("입장 t.me/+AbCdEf123", "t.me/+AbCdEf123"),
        ("https://t.me/+AbCdEf123로 와", "t.me/+AbCdEf123"),
        ("telegram.me/+AbCdEf123", "t.me/+AbCdEf123"),
        ("https://t.me/joinchat/AbCdEf123", "t.me/+AbCdEf123"),
        ("tg://join?invite=AbCdEf123", "t.me/+AbCdEf123"),
    ],
)
def test_invite_link_found(text: str, value: str) -> None:
    assert values(text, "invite_link") == [value]
    assert values(text, "channel") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("t.me/Hanbit_News", "t.me/hanbit_news"),
        ("https://t.me/hanbit_news/123", "t.me/hanbit_news"),
        ("tg://resolve?domain=hanbit_news", "t.me/hanbit_news"),
    ],
)
def test_channel_found(text: str, value: str) -> None:
    assert values(text, "channel") == [value]
    assert values(text, "invite_link") == []


@pytest.mark.parametrize(
    "text",
    ["t.me/share/url?url=x", "t.me/c/12345/67", "at.me/hanbit_news", "t.me/+ab", "@hanbit_news"],
)
def test_telegram_false_friends(text: str) -> None:
    assert values(text, "channel") == []
    assert values(text, "invite_link") == []


def test_at_mention_of_a_channel_stays_a_handle() -> None:
    assert values("@hanbit_news 채널", "handle") == ["@hanbit_news"]


# -- e-mail --------------------------------------------------------------------------------------------


def test_email_is_not_a_handle() -> None:
    text = "연락 Hh.Rin@Example.com 으로"
    assert values(text, "email") == ["hh.rin@example.com"]
    assert values(text, "handle") == []


@pytest.mark.parametrize("text", ["@hh_rin", "rin@localhost", "a@b"])
def test_email_false_friends(text: str) -> None:
    assert values(text, "email") == []


# -- regions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("서울 사는 07년생", "서울"),
        ("부산에서 왔어", "부산"),
        ("서울특별시", "서울"),
        ("경기도 사람", "경기"),
        ("경기 남부", "경기"),
        ("경기 수원시 사는", "경기"),
        ("세종시", "세종"),
        ("충청북도", "충북"),
        ("전남 쪽", "전남"),
        ("제주도 출신", "제주"),
        ("서울 강남구", "강남구"),
        ("해운대구 사는 애", "해운대구"),
        ("역삼1동 근처", "역삼1동"),
        ("lives in Seoul", "서울"),
        ("from Busan", "부산"),
        ("Gangnam-gu", "gangnam-gu"),
    ],
)
def test_region_found(text: str, value: str) -> None:
    assert value in values(text, "region")


@pytest.mark.parametrize(
    "text",
    [
        "친구 사는 곳",
        "다시 해봐",
        "운동 동안 쉬어",
        "혹시 사는 곳",
        "축구 경기 보러 가",
        "경기 다시 하자",
        "세종 대왕",
        "세종대왕",
        "전남친 얘기",
        "서울대 출신",
    ],
)
def test_region_false_friends(text: str) -> None:
    assert values(text, "region") == []


# -- extract() as a whole ------------------------------------------------------------------------------


def test_typical_post_offsets_and_order() -> None:
    text = "한빛여고 07년생 김하린 아시는 분? 갠텔 주세요 인스타 hh_rin 010-1234-5678 t.me/+AbCdEf123"
    spans = extract(text)
    assert [s.kind for s in spans] == ["school", "birth_year", "handle", "phone", "invite_link"]
    assert [s.start for s in spans] == sorted(s.start for s in spans)
    for span in spans:
        assert text[span.start : span.end] == span.text


def test_no_overlapping_duplicates_of_one_kind() -> None:
    text = "빠른07년생 틱톡 @rin_tt"
    spans = extract(text)
    for kind in KINDS:
        same = [s for s in spans if s.kind == kind]
        for a, b in itertools.pairwise(same):
            assert a.end <= b.start
    assert values(text, "birth_year") == ["2007"]
    assert values(text, "handle") == ["@rin_tt"]


def test_nothing_inside_links() -> None:
    text = "https://example.com/2007년생/010-1234-5678/@rin"
    assert [s.kind for s in extract(text)] == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("링크t.me/+AbCdEf123 들어와", "invite_link", "t.me/+AbCdEf123"),
        ("프로필instagram.com/hh_rin", "profile_url", "instagram:hh_rin"),
        ("채널 t.me/hanbit_news로 와", "channel", "t.me/hanbit_news"),
    ],
)
def test_links_next_to_korean(text: str, kind: str, value: str) -> None:
    assert values(text, kind) == [value]


def test_benign_paragraph_has_nothing() -> None:
    text = (
        "오늘 학교 끝나고 친구랑 떡볶이 먹고 집에 갔어. 내일은 시험이라 공부해야 돼. 그리고 주말에 축구 경기 "
        "보러 가자. 다시 연락해! 대박 최고였어 2024년 3월 5일 오후 3시 10명 정도 왔어. "
        "The order 2007 shipped on 2024-08-24 for 12,000원. Year 2024 was great."
    )
    assert extract(text) == []


def test_empty_and_benign_text() -> None:
    assert extract("") == []
    assert extract("오늘 점심 뭐 먹고 싶어? 그리고 내일 운동 가자") == []
