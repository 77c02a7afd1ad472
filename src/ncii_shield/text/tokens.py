"""Korean morphemes (kiwipiepy) and the undoing of filter-dodging spellings.

Rooms write their vocabulary so that keyword filters miss it: 겹 지 인, 지.인.능.욕, 능1욕, 딥 페 이 크.
:func:`deobfuscate` joins such runs back before anything else looks at the text. :func:`morphemes`
splits Korean into morphemes with their part of speech, so that 먹고 (verb + ending) is told apart from
한빛고 (name + noun) and a name is found under its particles (하은이가 → 하은 + 이 + 가).

The Kiwi model ships inside the ``kiwipiepy-model`` package; it loads once per process (~1 s) and then
tokenises a chat message in about 0.1 ms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi


@dataclass(frozen=True)
class Morpheme:
    form: str
    tag: str  # Sejong tags: NNP proper noun, NNG common noun, VV verb, EC ending, JKS particle, SL latin...
    start: int
    end: int


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _kiwi() -> Kiwi:
    from kiwipiepy import Kiwi

    return Kiwi(num_workers=-1)  # -1: no worker threads; the scan already uses one process per core


def morphemes(text: str) -> list[Morpheme]:
    """Kiwi's best analysis of ``text``; offsets index ``text`` itself."""
    if not text.strip():
        return []
    kiwi = _kiwi()
    with _lock:
        tokens = kiwi.tokenize(text)
    return [Morpheme(t.form, t.tag, t.start, t.start + t.len) for t in tokens]


# Separators put between the syllables of one word: spaces, dots, dashes, middle dots, stars, emoji.
_SEP = r"[\s.\-_·*~,/|^]|[\U0001F300-\U0001FAFF\u2600-\u27BF]"
_SPELLED = re.compile(rf"(?<![가-힣])[가-힣](?:(?:{_SEP})+[가-힣](?![가-힣])){{2,}}")
_DIGIT_IN_WORD = re.compile(r"(?<=[가-힣])[0-9!1lI|]+(?=[가-힣])")
_SEPARATOR = re.compile(_SEP)


def deobfuscate(text: str) -> str:
    """NFKC, case-folded, with spelled-out runs joined (겹 지 인 → 겹지인) and digits inside words dropped.

    Only runs of three or more single syllables are joined, so ordinary spacing between words is kept.
    The result is for matching and features only: offsets do not map back to the original.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _SPELLED.sub(lambda m: _SEPARATOR.sub("", m.group(0)), text)
    return _DIGIT_IN_WORD.sub("", text)
