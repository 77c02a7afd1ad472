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

from ncii_shield.text.patterns import (
    AGE_EN,
    AGE_KO,
    AMBIGUOUS_PROVINCES,
    AT_HANDLE,
    BIRTH_EN,
    BIRTH_FAST,
    BIRTH_KO,
    CHANNEL,
    CUED_HANDLE,
    DISTRICT,
    DISTRICT_CONTEXT_AFTER,
    DISTRICT_EN,
    EMAIL,
    EN_LEADING,
    GRADE_BARE,
    GRADE_EN,
    GRADE_LONG,
    GRADE_MAX,
    GRADE_SHORT,
    INVITE,
    LONG_TO_SHORT,
    NOT_DISTRICTS,
    NOT_HANDLES,
    PHONE,
    PLACE_AFTER,
    PLACE_TAILS,
    PLATFORMS,
    PROFILE,
    PROFILE_RESERVED,
    PROVINCE,
    REGION_EN,
    REGIONS_EN,
    SCHOOL_CONTEXT_AFTER,
    SCHOOL_CUE_BEFORE,
    SCHOOL_EN,
    SCHOOL_KO,
    SCHOOL_STEMS,
    SHORT_SCHOOL,
    STEM_FINAL_STOP,
    TME_RESERVED,
    URL_TOKEN,
)

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


def _span(kind: str, m: re.Match[str], value: str, group: int | str = 0) -> Span:
    return Span(kind, m.group(group), m.start(group), m.end(group), value)


# --------------------------------------------------------------------------------------------------
# URLs: anything inside a link is only reported by the link extractors (digits in a path are not phones).


def url_tokens(text: str) -> list[tuple[int, int]]:
    """Where links are, so that digits or @ inside a link are not taken for a phone or a handle."""
    return [m.span() for m in URL_TOKEN.finditer(text)]


def invite_links(text: str) -> list[Span]:
    """Private invite links; ``t.me/joinchat/X`` and ``tg://join?invite=X`` are the same invite as ``t.me/+X``."""
    return [
        _span("invite_link", m, "t.me/+" + (m.group("code") or m.group("tgcode")))
        for m in INVITE.finditer(text)
    ]


def channels(text: str) -> list[Span]:
    """Public channel or group links; Telegram usernames are case-insensitive, so the value is lower case."""
    out = []
    for m in CHANNEL.finditer(text):
        name = m.group("name") or m.group("tgname")
        if name.lower() in TME_RESERVED:
            continue
        out.append(_span("channel", m, "t.me/" + name.lower()))
    return out


def profile_urls(text: str) -> list[Span]:
    """Instagram / Twitter (X) / TikTok profile links; value is ``platform:name`` so the same account on two
    hosts (x.com, twitter.com) compares equal."""
    out = []
    for m in PROFILE.finditer(text):
        site, name = m.group("site").lower(), m.group("name").rstrip(".")
        platform = PLATFORMS[site]
        if not name or name.lower() in PROFILE_RESERVED:
            continue
        if platform == "tiktok" and not m.group("at"):
            continue  # TikTok accounts are always /@name; other paths are site pages
        end = m.start("name") + len(name)
        out.append(Span("profile_url", text[m.start() : end], m.start(), end, f"{platform}:{name.lower()}"))
    return out


def emails(text: str) -> list[Span]:
    """E-mail addresses, lower-cased (mailbox case is almost never significant in practice)."""
    return [_span("email", m, m.group().lower()) for m in EMAIL.finditer(text)]


# --------------------------------------------------------------------------------------------------
# Handles


def handles(text: str) -> list[Span]:
    """``@name`` mentions and bare names after a platform cue; value is ``@name`` in lower case."""
    out = []
    for m in AT_HANDLE.finditer(text):
        name = m.group("name").rstrip(".")
        if not re.search(r"[A-Za-z]", name):
            continue  # "@123" is a price or a count, not an account
        out.append(Span("handle", "@" + name, m.start(), m.start() + 1 + len(name), "@" + name.lower()))
    for m in CUED_HANDLE.finditer(text):
        name = m.group("name").rstrip(".")
        if name.lower() in NOT_HANDLES or not re.search(r"[A-Za-z]", name):
            continue
        start = m.start("handle")
        end = m.start("name") + len(name)
        out.append(Span("handle", text[start:end], start, end, "@" + name.lower()))
    return out


# --------------------------------------------------------------------------------------------------
# Phones: Korean mobile numbers only (01X), the identifier that appears in these posts.


def phones(text: str) -> list[Span]:
    """Korean mobile numbers in E.164 (``+821012345678``); 010 numbers always have a four-digit middle."""
    out = []
    for m in PHONE.finditer(text):
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


def birth_years(text: str) -> list[Span]:
    """07년생, 2007년생, 빠른07, 07생, "born in 2007", "b. 2007", "'07 liner"; value is the four-digit year."""
    out = []
    for m in (*BIRTH_KO.finditer(text), *BIRTH_FAST.finditer(text)):
        year = _full_year(m.group("year"))
        if year:
            out.append(_span("birth_year", m, year))
    for m in BIRTH_EN.finditer(text):
        digits = (m.group("year") or m.group("year2") or m.group("year3")).lstrip("'")
        year = _full_year(digits)
        if year:
            out.append(_span("birth_year", m, year))
    return out


# --------------------------------------------------------------------------------------------------
# Grades and ages


def grades(text: str) -> list[Span]:
    """School grades: 고2, 중3, 초6, 고등학교 2학년, 2학년, "year 11", "10th grade"; value 고2 / 2학년 / year 11."""
    out = []
    taken: list[tuple[int, int]] = []
    for pattern in (GRADE_LONG, GRADE_SHORT):
        for m in pattern.finditer(text):
            level, n = m.group("level"), int(m.group("n"))
            if n <= GRADE_MAX[level]:
                out.append(_span("grade", m, f"{level}{n}"))
                taken.append(m.span())
    for m in GRADE_BARE.finditer(text):
        if not any(s <= m.start() < e for s, e in taken):
            out.append(_span("grade", m, f"{m.group('n')}학년"))
    for m in GRADE_EN.finditer(text):
        if m.group("year"):
            out.append(_span("grade", m, f"year {m.group('year')}"))
        else:
            out.append(_span("grade", m, f"grade {m.group('ord') or m.group('grade')}"))
    return out


def ages(text: str) -> list[Span]:
    """Ages: 17살, 만 17세, "17 years old", "17yo", "aged 17"; value is the number. Counts (10명) are not ages."""
    out = []
    for m in AGE_KO.finditer(text):
        out.append(_span("age", m, str(int(m.group("n")))))
    for m in AGE_EN.finditer(text):
        out.append(_span("age", m, str(int(m.group("n") or m.group("n2") or m.group("n3")))))
    return [s for s in out if 5 <= int(s.value) <= 99]


# --------------------------------------------------------------------------------------------------
# Schools


def _short_school_ok(text: str, m: re.Match[str]) -> bool:
    stem, suffix = m.group("stem"), m.group("suffix")
    if stem in SCHOOL_STEMS:
        return True
    if len(stem) < 2 or stem[-1] in STEM_FINAL_STOP[suffix]:
        return False  # one-syllable stems (최고, 하고, 보고) are almost never schools without the lexicon
    if m.group("particle") == "생" or SCHOOL_CONTEXT_AFTER.match(text, m.end()):
        return True
    return bool(SCHOOL_CUE_BEFORE.search(text, 0, m.start()))


def schools(text: str) -> list[Span]:
    """School names: full Korean and English names anywhere; short forms (한빛여고) with context or lexicon."""
    out = []
    for m in SCHOOL_KO.finditer(text):
        name = m.group("stem") + m.group("suffix")
        out.append(_span("school", m, name))
    for m in SHORT_SCHOOL.finditer(text):
        if _short_school_ok(text, m):
            out.append(_span("school", m, m.group("name"), "name"))
    for m in SCHOOL_EN.finditer(text):
        words = m.group().split()
        lead = 0
        while lead < len(words) - 1 and words[lead].lower() in EN_LEADING:
            lead += 1
        if m.group("suffix") and lead >= len(words) - len(m.group("suffix").split()):
            continue  # "At High School": no name left
        start = m.start() + m.group().index(words[lead]) if lead else m.start()
        value = " ".join(words[lead:])
        out.append(Span("school", text[start : m.end()], start, m.end(), value))
    return out


# --------------------------------------------------------------------------------------------------
# Regions


def _ambiguous_province_ok(text: str, m: re.Match[str]) -> bool:
    """경기 alone is "a match"; it is the province with 도, a direction (남부) or a following city (경기 수원시)."""
    if m.group("name") in LONG_TO_SHORT or m.group("tail") in PLACE_TAILS:
        return True
    after = PLACE_AFTER.match(text, m.end())
    return bool(after) and (after.group("tail") is not None or after.group("city") not in NOT_DISTRICTS)


def regions(text: str) -> list[Span]:
    """Provinces and metropolitan cities (value is the short Korean name), and districts with context."""
    out = []
    for m in PROVINCE.finditer(text):
        name = m.group("name")
        if name in AMBIGUOUS_PROVINCES and not _ambiguous_province_ok(text, m):
            continue
        out.append(_span("region", m, LONG_TO_SHORT.get(name, name), "name"))
    province_ends = {s.end for s in out}
    for m in DISTRICT.finditer(text):
        name = m.group("name")
        if name in NOT_DISTRICTS or name in LONG_TO_SHORT:
            continue
        before = text[: m.start()].rstrip()
        after_prov = any(before and len(before) == end for end in province_ends)
        if after_prov or DISTRICT_CONTEXT_AFTER.match(text, m.end("name")):
            out.append(_span("region", m, name, "name"))
    for m in REGION_EN.finditer(text):
        out.append(_span("region", m, REGIONS_EN[m.group().lower()]))
    for m in DISTRICT_EN.finditer(text):
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
