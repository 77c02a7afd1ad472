"""The one Jinja environment notices are written with: sandboxed, strict, and every value one clean line.

Much of what goes into a notice comes from hostile places (chat titles are chosen by the people who run the
rooms), so values are data, never template code, and `finalize` strips every inserted value of control and
formatting characters (line breaks that forge headers, bidi overrides that reorder text). Autoescape is off
because the output is plain text, not HTML.
"""

from __future__ import annotations

import unicodedata

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


def clean(value: object) -> str:
    """A value as one line of plain text: control, format and line-separator characters removed.

    Line breaks and tabs become spaces (a chat title must not start a new header line); everything
    else in those categories (NUL, ESC, bidi overrides, zero-width characters) is dropped.
    """
    if value is None:  # a template printing None is a bug, not something to send to a platform
        raise TypeError("a notice template printed None; guard the value with {% if %}")
    out = []
    for char in str(value):
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" " if char.isspace() else "")
        elif category == "Cf":
            continue
        else:
            out.append(char)
    return " ".join("".join(out).split())


_ENV: SandboxedEnvironment | None = None


def environment() -> SandboxedEnvironment:
    """One environment for all notices; sandboxed as defence in depth should a template ever be edited."""
    global _ENV
    if _ENV is None:
        _ENV = SandboxedEnvironment(
            loader=PackageLoader("ncii_shield.takedown", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # plain text; injection is handled by clean, not by HTML escaping
            finalize=clean,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _ENV
