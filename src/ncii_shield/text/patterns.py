"""The pattern tables of the personal-data extractors: regular expressions, lexicons and place names.

Data apart from the extraction functions (extract.py), so the tables can be read and extended on their own.
Precision matters more than recall: short Korean forms are accepted only with context or from a lexicon.
"""

from __future__ import annotations

import re


def words(spaced: str) -> frozenset[str]:
    """A lexicon written as one space-separated string."""
    return frozenset(spaced.split())


HANGUL = "가-힣"
NOT_HANGUL_AFTER = rf"(?![{HANGUL}])"
NOT_HANGUL_BEFORE = rf"(?<![{HANGUL}])"


# --------------------------------------------------------------------------------------------------
# URLs: anything inside a link is only reported by the link extractors (digits in a path are not phones).
URL_TOKEN = re.compile(
    r"(?:https?://|tg://|www\.)[\x21-\x7e]+"
    r"|(?<![A-Za-z0-9_@.\-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|me|kr|io|am|ly|gg|co|tv|dog)/[\x21-\x7e]*",
    re.IGNORECASE,
)

INVITE = re.compile(
    r"(?<![A-Za-z0-9_.])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?:\+|joinchat/)(?P<code>[A-Za-z0-9_-]{6,})"
    r"|tg://join\?invite=(?P<tgcode>[A-Za-z0-9_-]{6,})",
    re.IGNORECASE,
)

# Paths on t.me that are not a channel or group name.
TME_RESERVED = {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "login", "c", "s"}

CHANNEL = re.compile(
    r"(?<![A-Za-z0-9_.])(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?P<name>[A-Za-z][A-Za-z0-9_]{3,31})(?![A-Za-z0-9_])"
    r"|tg://resolve\?domain=(?P<tgname>[A-Za-z][A-Za-z0-9_]{3,31})",
    re.IGNORECASE,
)

PLATFORMS = {
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "tiktok.com": "tiktok",
}

# First path segments that are site pages, not accounts.
PROFILE_RESERVED = words(
    "p reel reels explore stories accounts direct tv home i search hashtag intent share settings login tag discover music video foryou"
)

PROFILE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?:https?://)?(?:www\.|m\.|mobile\.|vm\.)?"
    r"(?P<site>instagram\.com|instagr\.am|twitter\.com|x\.com|tiktok\.com)/(?P<at>@?)(?P<name>[A-Za-z0-9_.]{1,30})"
    r"(?![A-Za-z0-9_])",
    re.IGNORECASE,
)

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![A-Za-z0-9_-])"
)


# --------------------------------------------------------------------------------------------------
# Handles
AT_HANDLE = re.compile(
    r"(?<![A-Za-z0-9._%+\-@/])@(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}))(?![A-Za-z0-9_@])"
)

# A platform word followed by an account name: "인스타 hh_rin", "인스타: hh_rin", "틱톡 @hh_rin".
CUED_HANDLE = re.compile(
    r"(?:인스타(?:그램)?|인별|트위터|트윗|엑스|틱톡|insta(?:gram)?|\big|twitter|tiktok)"
    r"\s*(?:아이디|계정|id|ID)?\s*[:：=]?\s*"
    r"(?P<handle>@?(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29})))(?![A-Za-z0-9_@])",
    re.IGNORECASE,
)

# Words that follow a platform name without being an account ("인스타 DM 주세요").
NOT_HANDLES = words("dm id pm link story live account profile bio url http https www")


# --------------------------------------------------------------------------------------------------
# Phones: Korean mobile numbers only (01X), the identifier that appears in these posts.
PHONE = re.compile(
    r"(?<![0-9A-Za-z_./=+\-])"
    r"(?:(?:\+|00)82[\s.\-]?(?:\(0\)\s?|0)?|0)"
    r"1(?P<carrier>[016789])[\s.\-]?(?P<mid>\d{3,4})[\s.\-]?(?P<last>\d{4})"
    r"(?![0-9A-Za-z_]|[\-.]\d)"
)


# --------------------------------------------------------------------------------------------------
# Birth years: only with an explicit marker; a bare "2007" is an order number or a price.
BIRTH_KO = re.compile(
    r"(?<!\d)(?P<year>(?:19|20)\d{2}|\d{2})(?:\s?년\s?생(?:들)?|생(?=(?:들|이|인|임|은|)(?:[^가-힣]|$)))"
)

# 빠른07: born January-February, schooled with the year before; the marker alone makes it a birth year.
BIRTH_FAST = re.compile(r"빠른\s?(?P<year>(?:19|20)\d{2}|\d{2})(?!\d)(?:\s?년\s?생(?:들)?|년|생)?")

BIRTH_EN = re.compile(
    r"\bborn\s+(?:in\s+)?(?P<year>(?:19|20)\d{2}|'\d{2})\b"
    r"|\bb\.\s?(?P<year2>(?:19|20)\d{2})\b"
    r"|(?<![\w'])(?P<year3>'\d{2}|\d{2}|(?:19|20)\d{2})[\s\-]?liners?\b",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------------
# Grades and ages
GRADE_MAX = {"초": 6, "중": 3, "고": 3}

# Units that make "중3" or "고2" part of a quantity ("기간 중3일", "중 3개").
UNIT_AFTER = r"(?!\s?(?:개|일|월|시|분|초|명|번|회|년|주|층|위|등|%|원|차|cm|kg|km))"

GRADE_SHORT = re.compile(rf"{NOT_HANGUL_BEFORE}(?P<level>[초중고])(?:딩|등)?(?P<n>[1-6])(?!\d){UNIT_AFTER}")

GRADE_LONG = re.compile(r"(?P<level>[초중고])(?:등학교|학교|등학생|학생)\s*(?P<n>[1-6])\s*학년(?!도)")

GRADE_BARE = re.compile(r"(?<![\d가-힣])(?P<n>[1-6])\s?학년(?!도)")

GRADE_EN = re.compile(
    r"\b(?:year|yr)\s?(?P<year>1[0-3]|[1-9])\b(?!\s?(?:old|ago))"
    r"|\b(?P<ord>1[0-2]|[1-9])(?:st|nd|rd|th)\s+grade\b"
    r"|\bgrade\s?(?P<grade>1[0-2]|[1-9])\b",
    re.IGNORECASE,
)

AGE_KO = re.compile(r"(?<![\d.])(?:만\s?)?(?P<n>\d{1,2})\s?(?:살|세(?![대기트종계금상요]))")

AGE_EN = re.compile(
    r"\b(?P<n>\d{1,2})\s?(?:-\s?)?(?:years?|yrs?)(?:\s?-\s?|\s)old\b|\b(?P<n2>\d{1,2})\s?y/?o\b|\baged\s(?P<n3>\d{1,2})\b",
    re.IGNORECASE,
)


# --------------------------------------------------------------------------------------------------
# Schools
# Fictional example stems: a deployment extends this from its cases. A stem here makes the short forms
# (한빛고, 한빛여중...) a school without further context.
SCHOOL_STEMS = frozenset({"한빛", "새솔", "푸른숲", "하늘빛", "은하수", "별빛", "누리"})

LONG_SUFFIX = r"(?:여자)?(?:초등학교|중학교|고등학교|대학교)"

SCHOOL_KO = re.compile(rf"{NOT_HANGUL_BEFORE}(?P<stem>[{HANGUL}]{{1,12}}?)(?P<suffix>{LONG_SUFFIX})")

SCHOOL_EN = re.compile(
    r"(?P<stem>(?:[A-Z][\w'\-]*\s+){1,4})(?P<suffix>High School|Middle School|Elementary School|Primary School|"
    r"Girls' High School|University|College|Academy)\b"
    r"|\bUniversity of(?:\s[A-Z][\w\-]*){1,3}"
)

EN_LEADING = words("at the in from to of my our her his their i she he go")

SHORT_SUFFIX = r"(?:여고|여중|고|중|대|초)"

PARTICLE = r"(?:에서|에선|에|를|을|의|는|은|이|가|랑|이랑|임|도|생|애들|애|학생|)"

SHORT_SCHOOL = re.compile(
    rf"{NOT_HANGUL_BEFORE}(?P<name>(?P<stem>[{HANGUL}]{{1,8}}?)(?P<suffix>{SHORT_SUFFIX}))"
    rf"(?P<particle>{PARTICLE})(?![{HANGUL}])"
)

# What makes "○○고" a school when its stem is unknown: what follows it, or a cue before it.
SCHOOL_CONTEXT_AFTER = re.compile(
    r"\s*(?:다니는|다녀|다님|다니|나온|나왔|출신|학생|졸업|재학|전학|(?:빠른\s?)?\d{2,4}\s?년?\s?생|[1-6]\s?학년)"
)

SCHOOL_CUE_BEFORE = re.compile(
    r"(?:학교|school|출신|다니는\s?곳)\s*(?:는|은|가|이|:|：|=)?\s*$", re.IGNORECASE
)

# Syllables that end verb forms or common nouns before 고/중/대/초 (그리고, 먹었고, 수업중, 절대, 연초).
STEM_FINAL_STOP = {
    "고": set("었았였했겠있없같좋싶하되보먹주오가알살받놀웃듣말자타리렇니나시쓰치싸지서며"),
    "중": set("업의사행화무전와도집부비기가애용재"),
    "대": set("최절반상기군세시무접십백현"),
    "초": set("최연월당기년해분"),
    "여고": set(),
    "여중": set(),
}


# --------------------------------------------------------------------------------------------------
# Regions
PROVINCES = {
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
AMBIGUOUS_PROVINCES = {"경기", "세종", "대전"}

LONG_TO_SHORT = {long: short for short, longs in PROVINCES.items() for long in longs}

REGION_TAIL = r"(?:에서|에선|에|은|는|이|가|의|도|쪽|권|지역|사람|사는|살고|남부|북부|출신|)"

PROVINCE = re.compile(
    rf"{NOT_HANGUL_BEFORE}(?P<name>{'|'.join(sorted(LONG_TO_SHORT, key=len, reverse=True))}"
    rf"|{'|'.join(PROVINCES)})(?P<tail>{REGION_TAIL})(?![{HANGUL}])"
)

REGIONS_EN = {
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

REGION_EN = re.compile(rf"\b(?:{'|'.join(REGIONS_EN)})\b", re.IGNORECASE)

DISTRICT_EN = re.compile(r"\b[A-Z][a-z]{1,15}-(?:gu|si|dong|gun|eup)\b")

DISTRICT = re.compile(
    rf"{NOT_HANGUL_BEFORE}(?P<name>[{HANGUL}]{{1,5}}?\d{{0,2}}(?P<suffix>구|시|군|동|읍))"
    rf"(?P<tail>{REGION_TAIL})(?![{HANGUL}])"
)

# Words ending in 구/시/군/동 that are not places (친구 "friend", 다시 "again", 운동 "exercise").
NOT_DISTRICTS = words(
    "친구 가구 연구 요구 도구 입구 출구 창구 축구 농구 야구 배구 탁구 족구 비구 "
    "다시 당시 역시 혹시 즉시 동시 수시 잠시 감시 무시 표시 지시 전시 항시 평시 "
    "동안 운동 행동 활동 이동 자동 감동 충동 노동 작동 출동 소동 폭동 변동 "
    "장군 국군 아군 적군 해군 공군 육군 대군 "
    "이시 그시 몇시 어시"
)

DISTRICT_CONTEXT_AFTER = re.compile(
    r"(?:에서|에|쪽|)?\s*(?:살|사는|사니|거주|주민|근처|출신|쪽|[가-힣]{1,5}(?:구|동|읍))"
)

PLACE_TAILS = {"쪽", "권", "지역", "남부", "북부", "사는", "출신"}

PLACE_AFTER = re.compile(
    r"\s?(?:(?P<tail>쪽|권|지역|남부|북부|사는|살|출신)|(?P<city>[가-힣]{1,4}(?:시|군)))(?![가-힣])"
)
