"""Personal data and Telegram links in chat messages, as spans with character offsets.

Doxxing posts in these rooms name a person by school, birth year, grade, phone and social handles, and
advertise rooms by invite link ("○○고 07년생 ○○○ 아시는 분? 갠텔 주세요"). Each extractor here is a pure
function over the message text and returns :class:`Span` objects whose offsets index the original string,
so a reviewer's view can highlight exactly what was found and the watchlist can compare normalised values.

Precision matters more than recall: a false "school" or "phone" in a benign chat would put an innocent
message in front of a reviewer. Short Korean forms (○○고, ○○구) are therefore accepted only with context
or from a small lexicon, because the same syllables end ordinary words (먹고, 최고, 친구, 다시).
Only the standard library is used; no Korean tokeniser is needed for these patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

KINDS = (
    "school",
    "birth_year",
    "grade",
    "age",
    "phone",
    "handle",
    "profile_url",
    "invite_link",
    "channel",
    "email",
    "region",
)


@dataclass(frozen=True)
class Span:
    """One finding: ``text == message[start:end]``; ``value`` is the normalised form used for matching."""

    kind: str
    text: str
    start: int
    end: int
    value: str


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


def _span(kind: str, m: re.Match[str], value: str, group: int | str = 0) -> Span:
    return Span(kind, m.group(group), m.start(group), m.end(group), value)


_HANGUL = "가-힣"
_NOT_HANGUL_AFTER = rf"(?![{_HANGUL}])"
_NOT_HANGUL_BEFORE = rf"(?<![{_HANGUL}])"

# --------------------------------------------------------------------------------------------------
# URLs: anything inside a link is only reported by the link extractors (digits in a path are not phones).

_URL_TOKEN = re.compile(
    r"(?:https?://|tg://|www\.)[\x21-\x7e]+"
    r"|(?<![A-Za-z0-9_@.\-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|me|kr|io|am|ly|gg|co|tv|dog)/[\x21-\x7e]*",
    re.IGNORECASE,
)

_INVITE = re.compile(
    r"(?<![A-Za-z0-9_.])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:\+|joinchat/)(?P<code>[A-Za-z0-9_-]{6,})"
    r"|tg://join\?invite=(?P<tgcode>[A-Za-z0-9_-]{6,})",
    re.IGNORECASE,
)

# Paths on t.me that are not a channel or group name.
_TME_RESERVED = {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "login", "c", "s"}
_CHANNEL = re.compile(
    r"(?<![A-Za-z0-9_.])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?P<name>[A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])"
    r"|tg://resolve\?domain=(?P<tgname>[A-Za-z][A-Za-z0-9_]{3,31})",
    re.IGNORECASE,
)

_PLATFORMS = {
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "tiktok.com": "tiktok",
}
# First path segments that are site pages, not accounts.
_PROFILE_RESERVED = _words(
    "p reel reels explore stories accounts direct tv home i search hashtag intent share settings login tag discover music video foryou"
)
_PROFILE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?:https?://)?(?:www\.|m\.|mobile\.|vm\.)?"
    r"(?P<site>instagram\.com|instagr\.am|twitter\.com|x\.com|tiktok\.com)/(?P<at>@?)(?P<name>[A-Za-z0-9_.]{1,30})"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![A-Za-z0-9_-])"
)


def url_tokens(text: str) -> list[tuple[int, int]]:
    """Where links are, so that digits or @ inside a link are not taken for a phone or a handle."""
    return [m.span() for m in _URL_TOKEN.finditer(text)]


def invite_links(text: str) -> list[Span]:
    """Private invite links; ``t.me/joinchat/X`` and ``tg://join?invite=X`` are the same invite as ``t.me/+X``."""
    return [
        _span("invite_link", m, "t.me/+" + (m.group("code") or m.group("tgcode")))
        for m in _INVITE.finditer(text)
    ]


def channels(text: str) -> list[Span]:
    """Public channel or group links; Telegram usernames are case-insensitive, so the value is lower case."""
    out = []
    for m in _CHANNEL.finditer(text):
        name = m.group("name") or m.group("tgname")
        if name.lower() in _TME_RESERVED:
            continue
        out.append(_span("channel", m, "t.me/" + name.lower()))
    return out


def profile_urls(text: str) -> list[Span]:
    """Instagram / Twitter (X) / TikTok profile links; value is ``platform:name`` so the same account on two
    hosts (x.com, twitter.com) compares equal."""
    out = []
    for m in _PROFILE.finditer(text):
        site, name = m.group("site").lower(), m.group("name").rstrip(".")
        platform = _PLATFORMS[site]
        if not name or name.lower() in _PROFILE_RESERVED:
            continue
        if platform == "tiktok" and not m.group("at"):
            continue  # TikTok accounts are always /@name; other paths are site pages
        end = m.start("name") + len(name)
        out.append(Span("profile_url", text[m.start() : end], m.start(), end, f"{platform}:{name.lower()}"))
    return out


def emails(text: str) -> list[Span]:
    """E-mail addresses, lower-cased (mailbox case is almost never significant in practice)."""
    return [_span("email", m, m.group().lower()) for m in _EMAIL.finditer(text)]


# --------------------------------------------------------------------------------------------------
# Handles

_AT_HANDLE = re.compile(
    r"(?<![A-Za-z0-9._%+\-@/])@(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}))(?![A-Za-z0-9_@])"
)
# A platform word followed by an account name: "인스타 hh_rin", "인스타: hh_rin", "틱톡 @hh_rin".
_CUED_HANDLE = re.compile(
    r"(?:인스타(?:그램)?|인별|트위터|트윗|엑스|틱톡|insta(?:gram)?|\big|twitter|tiktok)"
    r"\s*(?:아이디|계정|id|ID)?\s*[:：=]?\s*"
    r"(?P<handle>@?(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29})))(?![A-Za-z0-9_@])",
    re.IGNORECASE,
)
# Words that follow a platform name without being an account ("인스타 DM 주세요").
_NOT_HANDLES = _words("dm id pm link story live account profile bio url http https www")


def handles(text: str) -> list[Span]:
    """``@name`` mentions and bare names after a platform cue; value is ``@name`` in lower case."""
    out = []
    for m in _AT_HANDLE.finditer(text):
        name = m.group("name").rstrip(".")
        if not re.search(r"[A-Za-z]", name):
            continue  # "@123" is a price or a count, not an account
        out.append(Span("handle", "@" + name, m.start(), m.start() + 1 + len(name), "@" + name.lower()))
    for m in _CUED_HANDLE.finditer(text):
        name = m.group("name").rstrip(".")
        if name.lower() in _NOT_HANDLES or not re.search(r"[A-Za-z]", name):
            continue
        start = m.start("handle")
        end = m.start("name") + len(name)
        out.append(Span("handle", text[start:end], start, end, "@" + name.lower()))
    return out


# --------------------------------------------------------------------------------------------------
# Phones: Korean mobile numbers only (01X), the identifier that appears in these posts.

_PHONE = re.compile(
    r"(?<![0-9A-Za-z_./=+\-])"
    r"(?:(?:\+|00)82[\s.\-]?(?:\(0\)\s?|0)?|0)"
    r"1(?P<carrier>[016789])[\s.\-]?(?P<mid>\d{3,4})[\s.\-]?(?P<last>\d{4})"
    r"(?![0-9A-Za-z_]|[\-.]\d)"
)


def phones(text: str) -> list[Span]:
    """Korean mobile numbers in E.164 (``+821012345678``); 010 numbers always have a four-digit middle."""
    out = []
    for m in _PHONE.finditer(text):
        if m.group("carrier") == "0" and len(m.group("mid")) != 4:
            continue
        out.append(_span("phone", m, f"+821{m.group('carrier')}{m.group('mid')}{m.group('last')}"))
    return out


# --------------------------------------------------------------------------------------------------
# Birth years: only with an explicit marker; a bare "2007" is an order number or a price.


def _full_year(digits: str) -> str | None:
    """Two-digit years pivot at 30 (07 -> 2007, 95 -> 1995): the people named are minors or young adults."""
    year = (
        int(digits) if len(digits) == 4 else (2000 + int(digits) if int(digits) <= 30 else 1900 + int(digits))
    )
    return str(year) if 1940 <= year <= 2030 else None


_BIRTH_KO = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d{2}|\d{2})(?:\s?년\s?생(?:들)?|생(?=(?:들|이|인|임|은|)(?:[^가-힣]|$)))"
)
# 빠른07: born January-February, schooled with the year before; the marker alone makes it a birth year.
_BIRTH_FAST = re.compile(r"빠른\s?(?P<year>(?:19|20)\d{2}|\d{2})(?!\d)(?:\s?년\s?생(?:들)?|년|생)?")
_BIRTH_EN = re.compile(
    r"\bborn\s+(?:in\s+)?(?P<year>(?:19|20)\d{2}|'\d{2})\b"
    r"|\bb\.\s?(?P<year2>(?:19|20)\d{2})\b"
    r"|(?<![\w'])(?P<year3>'\d{2}|\d{2}|(?:19|20)\d{2})[\s\-]?liners?\b",
    re.IGNORECASE,
)


def birth_years(text: str) -> list[Span]:
    """07년생, 2007년생, 빠른07, 07생, "born in 2007", "b. 2007", "'07 liner"; value is the four-digit year."""
    out = []
    for m in (*_BIRTH_KO.finditer(text), *_BIRTH_FAST.finditer(text)):
        year = _full_year(m.group("year"))
        if year:
            out.append(_span("birth_year", m, year))
    for m in _BIRTH_EN.finditer(text):
        digits = (m.group("year") or m.group("year2") or m.group("year3")).lstrip("'")
        year = _full_year(digits)
        if year:
            out.append(_span("birth_year", m, year))
    return out


# --------------------------------------------------------------------------------------------------
# Grades and ages

_GRADE_MAX = {"초": 6, "중": 3, "고": 3}
# Units that make "중3" or "고2" part of a quantity ("기간 중3일", "중 3개").
_UNIT_AFTER = r"(?!\s?(?:개|일|월|시|분|초|명|번|회|년|주|층|위|등|%|원|차|cm|kg|km))"
_GRADE_SHORT = re.compile(
    rf"{_NOT_HANGUL_BEFORE}(?P<level>[초중고])(?:딩|등)?(?P<n>[1-6])(?!\d){_UNIT_AFTER}"
)
_GRADE_LONG = re.compile(r"(?P<level>[초중고])(?:등학교|학교|등학생|학생)\s*(?P<n>[1-6])\s*학년(?!도)")
_GRADE_BARE = re.compile(r"(?<![\d가-힣])(?P<n>[1-6])\s?학년(?!도)")
_GRADE_EN = re.compile(
    r"\b(?:year|yr)\s?(?P<year>1[0-3]|[1-9])\b(?!\s?(?:old|ago))"
    r"|\b(?P<ord>1[0-2]|[1-9])(?:st|nd|rd|th)\s+grade\b"
    r"|\bgrade\s?(?P<grade>1[0-2]|[1-9])\b",
    re.IGNORECASE,
)


def grades(text: str) -> list[Span]:
    """School grades: 고2, 중3, 초6, 고등학교 2학년, 2학년, "year 11", "10th grade"; value 고2 / 2학년 / year 11."""
    out = []
    taken: list[tuple[int, int]] = []
    for pattern in (_GRADE_LONG, _GRADE_SHORT):
        for m in pattern.finditer(text):
            level, n = m.group("level"), int(m.group("n"))
            if n <= _GRADE_MAX[level]:
                out.append(_span("grade", m, f"{level}{n}"))
                taken.append(m.span())
    for m in _GRADE_BARE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            out.append(_span("grade", m, f"{m.group('n')}학년"))
    for m in _GRADE_EN.finditer(text):
        if m.group("year"):
            out.append(_span("grade", m, f"year {m.group('year')}"))
        else:
            out.append(_span("grade", m, f"grade {m.group('ord') or m.group('grade')}"))
    return out


_AGE_KO = re.compile(r"(?<![\d.])(?:만\s?)?(?P<n>\d{1,2})\s?(?:살|세(?![대기트종계금상요]))")
_AGE_EN = re.compile(
    r"\b(?P<n>\d{1,2})\s?(?:-\s?)?(?:years?|yrs?)(?:\s?-\s?|\s)old\b|\b(?P<n2>\d{1,2})\s?y/?o\b|\baged\s(?P<n3>\d{1,2})\b",
    re.IGNORECASE,
)


def ages(text: str) -> list[Span]:
    """Ages: 17살, 만 17세, "17 years old", "17yo", "aged 17"; value is the number. Counts (10명) are not ages."""
    out = []
    for m in _AGE_KO.finditer(text):
        out.append(_span("age", m, str(int(m.group("n")))))
    for m in _AGE_EN.finditer(text):
        out.append(_span("age", m, str(int(m.group("n") or m.group("n2") or m.group("n3")))))
    return [s for s in out if 5 <= int(s.value) <= 99]


# --------------------------------------------------------------------------------------------------
# Schools

# Fictional example stems: a deployment extends this from its cases. A stem here makes the short forms
# (한빛고, 한빛여중...) a school without further context.
SCHOOL_STEMS = frozenset({"한빛", "새솔", "푸른숲", "하늘빛", "은하수", "별빛", "누리"})

_LONG_SUFFIX = r"(?:여자)?(?:초등학교|중학교|고등학교|대학교)"
_SCHOOL_KO = re.compile(rf"{_NOT_HANGUL_BEFORE}(?P<stem>[{_HANGUL}]{{1,12}}?)(?P<suffix>{_LONG_SUFFIX})")
_SCHOOL_EN = re.compile(
    r"(?P<stem>(?:[A-Z][\w'\-]*\s+){1,4})(?P<suffix>High School|Middle School|Elementary School|Primary School|"
    r"Girls' High School|University|College|Academy)\b"
    r"|\bUniversity of(?:\s[A-Z][\w\-]*){1,3}"
)
_EN_LEADING = _words("at the in from to of my our her his their i she he go")

_SHORT_SUFFIX = r"(?:여고|여중|고|중|대|초)"
_PARTICLE = r"(?:에서|에선|에|를|을|의|는|은|이|가|랑|이랑|임|도|생|애들|애|학생|)"
_SHORT_SCHOOL = re.compile(
    rf"{_NOT_HANGUL_BEFORE}(?P<name>(?P<stem>[{_HANGUL}]{{1,8}}?)(?P<suffix>{_SHORT_SUFFIX}))"
    rf"(?P<particle>{_PARTICLE})(?![{_HANGUL}])"
)
# What makes "○○고" a school when its stem is unknown: what follows it, or a cue before it.
_SCHOOL_CONTEXT_AFTER = re.compile(
    r"\s*(?:다니는|다녀|다님|다니|나온|나왔|출신|학생|졸업|재학|전학|(?:빠른\s?)?\d{2,4}\s?년?\s?생|[1-6]\s?학년)"
)
_SCHOOL_CUE_BEFORE = re.compile(
    r"(?:학교|school|출신|다니는\s?곳)\s*(?:는|은|가|이|:|：|=)?\s*$", re.IGNORECASE
)
# Syllables that end verb forms or common nouns before 고/중/대/초 (그리고, 먹었고, 수업중, 절대, 연초).
_STEM_FINAL_STOP = {
    "고": set("었았였했겠있없같좋싶하되보먹주오가알살받놀웃듣말자타리렇니나시쓰치싸지서며"),
    "중": set("업의사행화무전와도집부비기가애용재"),
    "대": set("최절반상기군세시무접십백현"),
    "초": set("최연월당기년해분"),
    "여고": set(),
    "여중": set(),
}


def _short_school_ok(text: str, m: re.Match[str]) -> bool:
    stem, suffix = m.group("stem"), m.group("suffix")
    if stem in SCHOOL_STEMS:
        return True
    if len(stem) < 2 or stem[-1] in _STEM_FINAL_STOP[suffix]:
        return False  # one-syllable stems (최고, 하고, 보고) are almost never schools without the lexicon
    if m.group("particle") == "생" or _SCHOOL_CONTEXT_AFTER.match(text, m.end()):
        return True
    return bool(_SCHOOL_CUE_BEFORE.search(text, 0, m.start()))


def schools(text: str) -> list[Span]:
    """School names: full Korean and English names anywhere; short forms (한빛여고) with context or lexicon."""
    out = []
    for m in _SCHOOL_KO.finditer(text):
        name = m.group("stem") + m.group("suffix")
        out.append(_span("school", m, name))
    for m in _SHORT_SCHOOL.finditer(text):
        if _short_school_ok(text, m):
            out.append(_span("school", m, m.group("name"), "name"))
    for m in _SCHOOL_EN.finditer(text):
        words = m.group().split()
        lead = 0
        while lead < len(words) - 1 and words[lead].lower() in _EN_LEADING:
            lead += 1
        if m.group("suffix") and lead >= len(words) - len(m.group("suffix").split()):
            continue  # "At High School": no name left
        start = m.start() + m.group().index(words[lead]) if lead else m.start()
        value = " ".join(words[lead:])
        out.append(Span("school", text[start : m.end()], start, m.end(), value))
    return out


# --------------------------------------------------------------------------------------------------
# Regions

_PROVINCES = {
    "서울": ("서울특별시", "서울시"),
    "부산": ("부산광역시", "부산시"),
    "대구": ("대구광역시", "대구시"),
    "인천": ("인천광역시", "인천시"),
    "광주": ("광주광역시", "광주시"),
    "대전": ("대전광역시", "대전시"),
    "울산": ("울산광역시", "울산시"),
    "세종": ("세종특별자치시", "세종시"),
    "경기": ("경기도",),
    "강원": ("강원특별자치도", "강원도"),
    "충북": ("충청북도",),
    "충남": ("충청남도",),
    "전북": ("전북특별자치도", "전라북도"),
    "전남": ("전라남도",),
    "경북": ("경상북도",),
    "경남": ("경상남도",),
    "제주": ("제주특별자치도", "제주도", "제주시"),
}
# Short names that are also ordinary words (경기 "match", 세종 the king, 대전 "great war") need a suffix.
_AMBIGUOUS_PROVINCES = {"경기", "세종", "대전"}
_LONG_TO_SHORT = {long: short for short, longs in _PROVINCES.items() for long in longs}
_REGION_TAIL = r"(?:에서|에선|에|은|는|이|가|의|도|쪽|권|지역|사람|사는|살고|남부|북부|출신|)"
_PROVINCE = re.compile(
    rf"{_NOT_HANGUL_BEFORE}(?P<name>{'|'.join(sorted(_LONG_TO_SHORT, key=len, reverse=True))}"
    rf"|{'|'.join(_PROVINCES)})(?P<tail>{_REGION_TAIL})(?![{_HANGUL}])"
)
_REGIONS_EN = {
    "seoul": "서울",
    "busan": "부산",
    "pusan": "부산",
    "daegu": "대구",
    "incheon": "인천",
    "gwangju": "광주",
    "daejeon": "대전",
    "ulsan": "울산",
    "sejong": "세종",
    "gyeonggi": "경기",
    "gangwon": "강원",
    "chungbuk": "충북",
    "chungnam": "충남",
    "jeonbuk": "전북",
    "jeonnam": "전남",
    "gyeongbuk": "경북",
    "gyeongnam": "경남",
    "jeju": "제주",
}
_REGION_EN = re.compile(rf"\b(?:{'|'.join(_REGIONS_EN)})\b", re.IGNORECASE)
_DISTRICT_EN = re.compile(r"\b[A-Z][a-z]{1,15}-(?:gu|si|dong|gun|eup)\b")
_DISTRICT = re.compile(
    rf"{_NOT_HANGUL_BEFORE}(?P<name>[{_HANGUL}]{{1,5}}?\d{{0,2}}(?P<suffix>구|시|군|동|읍))"
    rf"(?P<tail>{_REGION_TAIL})(?![{_HANGUL}])"
)
# Words ending in 구/시/군/동 that are not places (친구 "friend", 다시 "again", 운동 "exercise").
_NOT_DISTRICTS = _words(
    "친구 가구 연구 요구 도구 입구 출구 창구 축구 농구 야구 배구 탁구 족구 비구 "
    "다시 당시 역시 혹시 즉시 동시 수시 잠시 감시 무시 표시 지시 전시 항시 평시 "
    "동안 운동 행동 활동 이동 자동 감동 충동 노동 작동 출동 소동 폭동 변동 "
    "장군 국군 아군 적군 해군 공군 육군 대군 "
    "이시 그시 몇시 어시"
)
_DISTRICT_CONTEXT_AFTER = re.compile(
    r"(?:에서|에|쪽|)?\s*(?:살|사는|사니|거주|주민|근처|출신|쪽|[가-힣]{1,5}(?:구|동|읍))"
)


_PLACE_TAILS = {"쪽", "권", "지역", "남부", "북부", "사는", "출신"}
_PLACE_AFTER = re.compile(
    r"\s?(?:(?P<tail>쪽|권|지역|남부|북부|사는|살|출신)|(?P<city>[가-힣]{1,4}(?:시|군)))(?![가-힣])"
)


def _ambiguous_province_ok(text: str, m: re.Match[str]) -> bool:
    """경기 alone is "a match"; it is the province with 도, a direction (남부) or a following city (경기 수원시)."""
    if m.group("name") in _LONG_TO_SHORT or m.group("tail") in _PLACE_TAILS:
        return True
    after = _PLACE_AFTER.match(text, m.end())
    return bool(after) and (after.group("tail") is not None or after.group("city") not in _NOT_DISTRICTS)


def regions(text: str) -> list[Span]:
    """Provinces and metropolitan cities (value is the short Korean name), and districts with context."""
    out = []
    for m in _PROVINCE.finditer(text):
        name = m.group("name")
        if name in _AMBIGUOUS_PROVINCES and not _ambiguous_province_ok(text, m):
            continue
        out.append(_span("region", m, _LONG_TO_SHORT.get(name, name), "name"))
    province_ends = {s.end for s in out}
    for m in _DISTRICT.finditer(text):
        name = m.group("name")
        if name in _NOT_DISTRICTS or name in _LONG_TO_SHORT:
            continue
        before = text[: m.start()].rstrip()
        after_prov = any(before and len(before) == end for end in province_ends)
        if after_prov or _DISTRICT_CONTEXT_AFTER.match(text, m.end("name")):
            out.append(_span("region", m, name, "name"))
    for m in _REGION_EN.finditer(text):
        out.append(_span("region", m, _REGIONS_EN[m.group().lower()]))
    for m in _DISTRICT_EN.finditer(text):
        out.append(_span("region", m, m.group().lower()))
    return out


# --------------------------------------------------------------------------------------------------

_EXTRACTORS: tuple[Callable[[str], list[Span]], ...] = (
    invite_links,
    channels,
    profile_urls,
    emails,
    handles,
    phones,
    birth_years,
    grades,
    ages,
    schools,
    regions,
)
_LINK_KINDS = {"invite_link", "channel", "profile_url", "email"}


def _inside(span: Span, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(span.start < e and s < span.end for s, e in ranges)


def _without_overlaps(spans: Iterable[Span]) -> Iterator[Span]:
    """Per kind, the earliest and then longest span wins (for "2007년생" and "07년생" in the same place)."""
    kept: dict[str, list[Span]] = {}
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        same = kept.setdefault(span.kind, [])
        if not any(span.start < k.end and k.start < span.end for k in same):
            same.append(span)
            yield span


def extract(text: str) -> list[Span]:
    """Every span of every kind, sorted by start. Links win over what is inside them: the local part of an
    e-mail is not a handle, and the digits of a URL are not a phone."""
    found = [span for extractor in _EXTRACTORS for span in extractor(text)]
    links = [(s.start, s.end) for s in found if s.kind in _LINK_KINDS] + url_tokens(text)
    found = [s for s in found if s.kind in _LINK_KINDS or not _inside(s, links)]
    return sorted(_without_overlaps(found), key=lambda s: (s.start, s.end, s.kind))
