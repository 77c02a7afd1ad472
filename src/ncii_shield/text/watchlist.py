"""The case watchlist: the person's identifiers, kept only as keyed hashes, matched against messages.

A name, school, birth year, handle or phone number given at enrolment is normalised and stored as
HMAC-SHA256 under a deployment-wide key (a data key of the keyring), never in plaintext. Messages are
normalised the same way (words, words without Korean particles, adjacent words joined, phone numbers
and birth years recognised) and compared digest to digest. A message is a hit only when it names the
person (a name, a handle or a phone number): a school or a birth year alone would match far too many.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator

FIELDS = ("name", "school", "birth_year", "handle", "phone")
IDENTIFYING = {"name", "handle", "phone"}  # fields that make a message about the person on their own
DIGEST_BYTES = 16

# Particles and endings that attach to a Korean name or word: 하린이, 하린아, 김하린은, 한빛여고에서...
_PARTICLES = sorted(
    [
        "이",
        "가",
        "은",
        "는",
        "을",
        "를",
        "의",
        "에",
        "아",
        "야",
        "이랑",
        "랑",
        "한테",
        "에게",
        "도",
        "만",
        "님",
        "씨",
        "이가",
        "이는",
        "이를",
        "에서",
        "이야",
        "이에요",
        "예요",
        "이다",
        "다니는",
        "나온",
        "출신",
        "학생",
    ],
    key=len,
    reverse=True,
)
_WORD = re.compile(r"[@\w][\w.]*", re.UNICODE)
_PHONE = re.compile(r"(?<!\d)(?:\+?82[\s-]?)?0?1[016789][\s-]?\d{3,4}[\s-]?\d{4}(?!\d)")
_BORN = re.compile(r"\bborn(?:\s+in)?\s+(19[4-9]\d|20[0-3]\d)\b", re.IGNORECASE)
_BIRTH = re.compile(r"(?:빠른\s*)?(?<!\d)(\d{2}|\d{4})\s*년생")


def normalise(text: str) -> str:
    """NFKC, lower case, no spaces or punctuation (but keep a leading @ of handles)."""
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    handle = text.startswith("@")
    core = "".join(ch for ch in text if ch.isalnum())
    return ("@" + core) if handle else core


def normalise_phone(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if digits.startswith("82"):
        digits = "0" + digits[2:]
    return digits if re.fullmatch(r"01[016789]\d{7,8}", digits) else None


def normalise_year(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) == 2:
        digits = ("20" if int(digits) <= 30 else "19") + digits
    return digits if len(digits) == 4 and 1940 <= int(digits) <= 2030 else None


def field_key(field: str, value: str) -> str | None:
    """The normalised form an identifier is hashed in, or None if it is not usable."""
    if field == "phone":
        return normalise_phone(value)
    if field == "birth_year":
        return normalise_year(value)
    if field == "handle":
        key = normalise(value if value.startswith("@") else "@" + value)
        return key if len(key) > 2 else None
    key = normalise(value)
    return key if len(key) >= 2 else None


def digest(secret: bytes, field: str, key: str) -> bytes:
    return hmac.new(secret, f"{field}\x00{key}".encode(), hashlib.sha256).digest()[:DIGEST_BYTES]


def _strip_particles(word: str) -> Iterator[str]:
    yield word
    for particle in _PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            yield word[: -len(particle)]


def message_keys(text: str) -> Iterator[tuple[str, str]]:
    """Every (field, normalised key) a message could match: the same normalisation as enrolment."""
    words = [m.group(0) for m in _WORD.finditer(unicodedata.normalize("NFKC", text))]
    for word in words:
        bare = word.lstrip("@")
        for form in _strip_particles(bare):
            key = normalise(form)
            if len(key) >= 2:
                yield "name", key
                yield "school", key
        yield "handle", normalise("@" + bare)
    for first, second in itertools.pairwise(words):  # 김 하린, Kim Harin, 한빛 여고
        for form in _strip_particles(second):
            joined = normalise(first + form)
            yield "name", joined
            yield "school", joined
    for match in _PHONE.finditer(text):
        if (phone := normalise_phone(match.group(0))) is not None:
            yield "phone", phone
    for match in _BIRTH.finditer(text):
        if (year := normalise_year(match.group(1))) is not None:
            yield "birth_year", year
    for match in _BORN.finditer(text):
        yield "birth_year", match.group(1)


def matched_fields(secret: bytes, text: str, watch: dict[bytes, str]) -> set[str]:
    """Which of the person's fields a message mentions (empty if it does not name them)."""
    found = {watch[d] for field, key in set(message_keys(text)) if (d := digest(secret, field, key)) in watch}
    return found if found & IDENTIFYING else set()


def terms(values: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(field, normalised key) for each usable identifier; raises ValueError naming an unusable one."""
    out = []
    for field, value in values:
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r}")
        key = field_key(field, value)
        if key is None:
            raise ValueError(f"the {field.replace('_', ' ')} given is not usable (too short or malformed)")
        out.append((field, key))
    return out


def matched_spans(secret: bytes, text: str, watch: dict[bytes, str]) -> list[tuple[int, int, str]]:
    """Where in ``text`` the person's identifiers are, as (start, end, field): what a view must mask."""

    def hit(field: str, key: str) -> bool:
        return watch.get(digest(secret, field, key)) == field

    out: list[tuple[int, int, str]] = []
    words = list(_WORD.finditer(text))
    for m in words:
        bare = unicodedata.normalize("NFKC", m.group(0)).lstrip("@")
        forms = [normalise(f) for f in _strip_particles(bare)]
        for field in ("name", "school"):
            if any(len(k) >= 2 and hit(field, k) for k in forms):
                out.append((m.start(), m.end(), field))
        if hit("handle", normalise("@" + bare)):
            out.append((m.start(), m.end(), "handle"))
    for first, second in itertools.pairwise(words):
        a = unicodedata.normalize("NFKC", first.group(0))
        for form in _strip_particles(unicodedata.normalize("NFKC", second.group(0))):
            for field in ("name", "school"):
                if hit(field, normalise(a + form)):
                    out.append((first.start(), second.end(), field))
    for m in _PHONE.finditer(text):
        if (phone := normalise_phone(m.group(0))) is not None and hit("phone", phone):
            out.append((m.start(), m.end(), "phone"))
    for m in _BIRTH.finditer(text):
        if (year := normalise_year(m.group(1))) is not None and hit("birth_year", year):
            out.append((m.start(), m.end(), "birth_year"))
    return sorted(set(out))
