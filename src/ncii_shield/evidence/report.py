"""Render a case's findings as one self-contained HTML file a case worker can hand on.

The report travels: it is mailed to police, attached to a platform complaint, opened on an office
laptop without network. So it is a single file with inline CSS, images as `data:` URIs and no script,
and a Content-Security-Policy that forbids loading anything from outside even if a string slipped
through. It shows sexualised images of a real person, so thumbnails are blurred *by the renderer*:
by default the clear image is not in the file at all, not merely hidden by CSS.

The facts are derived once in `view.py` (sorting, dedup, counting, chart geometry in `chart.py`);
the Jinja2 template only formats them, with autoescape on. Every fixed string comes from `i18n.py`
in the report's language, so the same view feeds the HTML and the PDF (`pdf.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from ncii_shield.evidence.chart import build_chart as _chart  # noqa: F401  (report._chart: tests)
from ncii_shield.evidence.model import ReportData
from ncii_shield.evidence.present import FACE_SAME_PERSON_THRESHOLD, PDQ_MATCH_THRESHOLD, explain_kind
from ncii_shield.evidence.spread_svg import paths_svg, timeline_svg
from ncii_shield.evidence.view import ReportView, build_view
from ncii_shield.store.files import atomic_write

__all__ = [
    "FACE_SAME_PERSON_THRESHOLD",
    "PDQ_MATCH_THRESHOLD",
    "ReportView",
    "build_view",
    "explain_kind",
    "render_report",
    "write_report",
]

_TEMPLATES = Path(__file__).with_name("templates")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def _text(value: object) -> Markup:
    """Jinja filter: escape user text, and mark Korean text lang="ko" for proper line breaking."""
    s = str(value)
    if _HANGUL.search(s):
        return Markup('<span lang="ko">{}</span>').format(s)
    return escape(s)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,  # every string in a report may come from a hostile chat
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["t"] = _text
    return env


def _translator(L: Mapping[str, str]) -> Callable[..., str]:
    """The template's `t_(key, **fields)`: a missing key fails the render instead of printing nothing.

    It returns a plain str, so autoescape escapes the filled-in string as a whole, user fields included.
    """

    def t_(key: str, /, **fields: object) -> str:
        return L[key].format(**fields) if fields else L[key]

    return t_


def render_report(data: ReportData, *, reveal_thumbnails: bool = False, language: str = "en") -> str:
    """Return the whole report as one HTML document (str), in `language` ("en" or "ko").

    Output depends only on `data` (no clock, no randomness), so the same data renders to the same
    bytes and a report can be re-generated and compared. With `reveal_thumbnails` the clear
    thumbnails are embedded too, behind a click, and the report says so at the top.
    Raises ValueError for an unsupported language.
    """
    view = build_view(data, language=language, reveal_thumbnails=reveal_thumbnails)
    template = _environment().get_template("report.html.j2")
    L = view.strings
    figures = {
        f.key: (
            paths_svg(f, L["families_paths"]),
            timeline_svg(f, L["families_timeline"], L["families_first"]),
        )
        for f in data.families
    }
    return template.render(r=view, t_=_translator(L), families=data.families, figures=figures)


def write_report(
    data: ReportData, out: Path, *, reveal_thumbnails: bool = False, language: str = "en"
) -> Path:
    """Render and write the report atomically; return `out`.

    The file goes to a temporary file in the same directory and is moved over `out` with
    os.replace, so a reader (or a crash) never sees half a report. The temporary file is created
    owner-only (0600) and keeps that mode: the report identifies a victim.
    """
    html = render_report(data, reveal_thumbnails=reveal_thumbnails, language=language).encode("utf-8")
    return atomic_write(Path(out), html)
