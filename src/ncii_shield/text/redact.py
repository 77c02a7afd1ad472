"""Show a message only around what made it a hit, with the personal data in it masked.

A text hit in a report or a listing is read by case workers and sent to platforms; the whole message
would repeat the doxxing it documents. What is shown is a window around each cue that fired and each
identifier of the person, with those identifiers and any other personal data replaced by their kind
("[name]", "[school]"); the rest of the message is elided. Offsets are computed when the hit is made and
stored with it (offsets only, never text), so the view can be rebuilt from the sealed message.
"""

from __future__ import annotations

from collections.abc import Sequence

from ncii_shield.text.extract import extract

MASKED_KINDS = {"school", "birth_year", "grade", "age", "phone", "handle", "profile_url", "email", "region"}
WINDOW = 16  # characters kept either side of a cue or identifier


def personal_spans(text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.kind) for s in extract(text) if s.kind in MASKED_KINDS]


def excerpt(
    text: str,
    anchors: Sequence[Sequence[int]],
    masks: Sequence[Sequence[int | str]],
    *,
    window: int = WINDOW,
) -> str:
    """The parts of ``text`` within ``window`` characters of an anchor, masks replaced, gaps as ' … '."""
    if not text:
        return ""
    spans = [(int(a[0]), int(a[1])) for a in anchors] or [(int(m[0]), int(m[1])) for m in masks]
    if not spans:
        return "…"
    keep = [False] * len(text)
    for start, end in spans:
        for i in range(max(0, start - window), min(len(text), end + window)):
            keep[i] = True
    mask_at: dict[int, tuple[int, str]] = {}
    for start, end, kind in sorted((int(m[0]), int(m[1]), str(m[2])) for m in masks):
        if start < len(text) and all(i not in mask_at for i in range(start, end)):
            mask_at[start] = (end, kind)
    out: list[str] = []
    i = 0
    gap = False
    while i < len(text):
        if i in mask_at and any(keep[i : mask_at[i][0]]):
            end, kind = mask_at[i]
            out.append(f"[{kind.replace('_', ' ')}]")
            i, gap = end, False
            continue
        if keep[i]:
            out.append(text[i])
            gap = False
        elif not gap:
            out.append(" … ")
            gap = True
        i += 1
    return "".join(out).strip()
