"""How the HTML and the PDF report present a fact: dates, empty values, match kinds and thumbnails.

Both renderers show the same view (`view.py`), and whatever turns one value into display text lives
here once, so the two files cannot word a date, a distance or a missing value differently.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO

from PIL import Image

from ncii_shield.evidence.i18n import strings
from ncii_shield.media.thumbs import _open_thumbnail
from ncii_shield.signals.registry import BY_NAME, KINDS

__all__ = [
    "FACE_SAME_PERSON_THRESHOLD",
    "KIND_LEGEND",
    "NONE",
    "PDQ_MATCH_THRESHOLD",
    "clear_thumbnail",
    "data_uri",
    "date_order",
    "explain_kind",
    "fmt_dt",
    "iso_dt",
    "kind_legend",
    "or_none",
    "utc",
]

# Thresholds quoted to the reader next to each distance, so a distance is never shown without the
# line it is judged against. Taken from the signal modules so the report states what the matcher used.
PDQ_MATCH_THRESHOLD = BY_NAME["pdq"].threshold  # Hamming distance out of 256 bits
FACE_SAME_PERSON_THRESHOLD = BY_NAME["face"].threshold  # euclidean distance of 128-d embeddings

NONE = "—"  # shown for a value that is missing, in both renderers


# --------------------------------------------------------------------------------------------
# Dates and empty values
# --------------------------------------------------------------------------------------------


def utc(d: datetime) -> datetime:
    """Dates are UTC in the store; a naive one is taken as UTC rather than as local time."""
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def date_order(d: datetime | None) -> tuple[bool, datetime]:
    """A sort key putting dates in order and a missing date after all of them."""
    return (d is None, utc(d) if d is not None else datetime.min.replace(tzinfo=UTC))


def fmt_dt(d: datetime | None, L: Mapping[str, str]) -> str:
    return L["unknown"] if d is None else utc(d).strftime("%Y-%m-%d %H:%M:%S")


def iso_dt(d: datetime | None) -> str | None:
    return None if d is None else utc(d).strftime("%Y-%m-%dT%H:%M:%SZ")


def or_none(value: object | None) -> str:
    return NONE if value is None or value == "" else str(value)


# --------------------------------------------------------------------------------------------
# Match kinds
# --------------------------------------------------------------------------------------------


def explain_kind(kind: str, distance: float | None, *, language: str = "en") -> str:
    """One plain-language line per match kind, with the distance and the threshold it is judged by."""
    L = strings(language)
    spec = BY_NAME.get(kind)
    if spec is None or f"kind_{kind}" not in L:
        return L["kind_other"].format(kind=kind)
    if distance is not None and f"kind_{kind}_distance" in L:
        return L[f"kind_{kind}_distance"].format(distance=distance, threshold=spec.threshold)
    return L[f"kind_{kind}"]


def kind_legend(language: str = "en") -> tuple[tuple[str, str], ...]:
    """The "how to read" lines per match kind, thresholds filled in from the matcher's own constants."""
    L = strings(language)
    fill = {k.name: k.threshold for k in KINDS}
    return tuple((k.name, L[f"legend_{k.name}"].format(**fill)) for k in KINDS if f"legend_{k.name}" in L)


KIND_LEGEND: tuple[tuple[str, str], ...] = kind_legend("en")


# --------------------------------------------------------------------------------------------
# Thumbnails
# --------------------------------------------------------------------------------------------


def clear_thumbnail(jpeg: bytes) -> bytes:
    """The clear thumbnail to embed on explicit request: the stored bytes if they are a JPEG.

    Kept verbatim so what the report shows is exactly what the store holds; anything else is
    re-encoded as JPEG so the data: URI's declared type is true.
    """
    with Image.open(BytesIO(jpeg)) as im:
        if im.format == "JPEG":
            return jpeg
    out = BytesIO()
    _open_thumbnail(jpeg).save(out, format="JPEG", quality=85)
    return out.getvalue()


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
