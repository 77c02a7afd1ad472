"""Render a case's findings as a PDF, in English or Korean, for recipients who will only take a PDF.

Police intake systems and platform complaint forms often accept PDF and nothing else, and a printed
HTML page loses its page numbers and case id. So this renders the same view as the HTML report
(`view.build_view`: same order, counts, first-seen dates and wording from `i18n.py`) with fpdf2.
This module says what goes on the pages, section by section; how a block looks (fonts, headings,
tables, thumbnails, running head) is `pdf_layout.py`:

- Text uses the bundled NanumGothic font, which covers Latin and the 2,350 common Hangul syllables.
  A character it lacks (a rare syllable, an emoji) is written as `[U+XXXX]` with a note, so evidence
  text is never silently dropped or shown as an empty box.
- Thumbnails are always the blurred ones from the HTML renderer; the PDF has no "reveal" option and
  the clear JPEG never enters the file.
- Every page carries the case id and "page X of Y", because pages get separated once printed.
- Output depends only on the data: the creation date is `generated_at`, so the same data gives the
  same bytes and a re-generated report can be compared with the one that was filed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ncii_shield import __version__
from ncii_shield.evidence.model import ReportData
from ncii_shield.evidence.pdf_families import families_section
from ncii_shield.evidence.pdf_layout import MUTED, THUMB_BOX, ReportPDF, open_pdf
from ncii_shield.evidence.present import NONE, utc
from ncii_shield.evidence.view import CopyView, ReportView, SightingView, build_view
from ncii_shield.store.files import atomic_write

__all__ = ["render_pdf", "write_pdf"]

_GAP = 4.0  # mm between the thumbnail and the facts beside it
_SIGHTING_WIDTHS = (22.0, 30.0, 14.0, 24.0, 22.0, 28.0, 40.0)  # mm, sums to the 180 mm text width


# ---------------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------------


def _case_header(pdf: ReportPDF, view: ReportView) -> None:
    L, d = view.strings, view.data
    pdf.heading(L["heading_report"].format(case_id=d.case_id), 1)
    pdf.notice(L["notice_confidential"])
    pdf.notice(L["notice_blurred"])
    pdf.facts(
        [
            (L["label_case"], str(d.case_id)),
            (L["label_person"], d.pseudonym),
            (L["label_generated"], f"{view.generated_at} UTC"),
            (L["label_consent"], d.consent_summary),
            (L["label_references"], d.references_summary),
            (L["label_sources"], "\n".join(d.sources) if d.sources else L["none_listed"]),
        ]
    )


def _summary(pdf: ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_summary"], 2)
    pdf.grid(
        [s.label for s in view.stats],
        [1.0] * len(view.stats),
        [[s.value for s in view.stats]],
        size=8.5,
    )
    kinds = "   ·   ".join(f"{kind} {n}" for kind, n in view.counts_by_kind) or L["no_matches"]
    pdf.paragraph(f"{L['matches_by_kind']} {kinds}")


def _legend(pdf: ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_how_to_read"], 2)
    rows = [*view.legend]
    rows.append((L["badge_first_seen"], L["legend_first_seen"]))
    rows.append((L["badge_forwarded_legend"], L["legend_forwarded"]))
    pdf.facts(rows, size=8.5)
    pdf.paragraph(L["note_dates"], size=8, color=MUTED)


def _sighting_rows(view: ReportView, sightings: Sequence[SightingView]) -> tuple[list[list[str]], list[bool]]:
    L = view.strings
    rows: list[list[str]] = []
    for s in sightings:
        date = f"{s.date}\n{L['badge_first_seen']}" if s.first_seen else s.date
        chat = "\n".join(
            part for part in (s.chat, s.chat_type, s.source if view.several_sources else None) if part
        )
        message = s.message_id if s.reply_to == NONE else f"{s.message_id}\n{L['th_reply_to']} {s.reply_to}"
        rows.append([date, chat, message, s.sender, s.forwarded_from or NONE, s.media_path, s.excerpt])
    return rows, [s.first_seen for s in sightings]


def _sighting_headers(L: Mapping[str, str], file_column: str = "th_media_path") -> list[str]:
    """The sightings table's headers; the timeline names the file by hash (`th_file`) in column 6."""
    return [
        L["th_date"],
        L["th_chat"],
        L["th_message"],
        L["th_sender"],
        L["th_forwarded_from"],
        L[file_column],
        L["th_text"],
    ]


def _copy(pdf: ReportPDF, view: ReportView, copy: CopyView) -> None:
    L = view.strings
    pdf.space_for(THUMB_BOX + 22)  # the thumbnail, its facts and the table's first rows together
    top, page = pdf.get_y(), pdf.page
    alt = L["alt_blurred"].format(sha=copy.sha256[:12])
    bottom = pdf.thumbnail(copy.thumb.blurred_jpeg, top, alt=alt, placeholder=copy.thumb.placeholder)
    facts = [
        (L["label_sha256"], copy.sha256),
        (L["label_matched_as"], "\n".join(b.explanation for b in copy.badges) or NONE),
    ]
    if copy.dimensions:
        facts.append((L["label_size"], copy.dimensions))
    if copy.nudity is not None:
        facts.append((L["label_nudity"], f"{copy.nudity} {L['nudity_note']}"))
    first = f"{copy.first_seen} UTC" if copy.first_seen_known else copy.first_seen
    facts.append((L["label_first_seen"], first))
    facts.append((L["label_sightings"], str(len(copy.sightings))))
    pdf.set_xy(pdf.l_margin, top)
    pdf.facts(facts, width=pdf.epw - THUMB_BOX - _GAP, size=8.5)
    if pdf.page == page:
        pdf.set_y(max(pdf.get_y(), bottom + 2))
    if copy.sightings:
        rows, first_seen = _sighting_rows(view, copy.sightings)
        pdf.grid(_sighting_headers(L), _SIGHTING_WIDTHS, rows, highlight=first_seen)
    else:
        pdf.paragraph(L["no_sightings_file"], color=MUTED)
    pdf.rule()
    pdf.ln(3)


def _images(pdf: ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_images"], 2, keep=THUMB_BOX + 60 if view.groups else None)
    if not view.groups:
        pdf.paragraph(L["nothing_matched"], color=MUTED)
    for group in view.groups:
        pdf.heading(group.title, 3)
        if group.reference_label:
            pdf.paragraph(f"{L['label_reference']} {group.reference_label}", color=MUTED)
        if not group.copies:
            pdf.paragraph(L["no_copies"], color=MUTED)
        for copy in group.copies:
            _copy(pdf, view, copy)


def _timeline(pdf: ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_timeline"], 2)
    if view.chart is not None:
        undated = ""
        if view.undated:
            undated = " " + L["undated_one" if view.undated == 1 else "undated_other"].format(n=view.undated)
        pdf.paragraph(view.chart.description + undated, size=8.5, color=MUTED)
    if not view.timeline:
        pdf.paragraph(L["no_sightings"], color=MUTED)
        return
    rows, _ = _sighting_rows(view, [row.sighting for row in view.timeline])
    for row, t in zip(rows, view.timeline, strict=True):
        row[5] = t.copy_sha256[:12]  # the file, in place of the media path shown per copy above
    pdf.grid(_sighting_headers(L, "th_file"), _SIGHTING_WIDTHS, rows)


def _spread(pdf: ReportPDF, view: ReportView) -> None:
    L = view.strings
    pdf.heading(L["heading_spread"], 2)
    if not view.spread:
        pdf.paragraph(L["no_sightings"], color=MUTED)
        return
    pdf.paragraph(L["spread_note"], size=8.5, color=MUTED)
    headers = [
        L["th_chat"],
        L["th_source"],
        L["th_sightings"],
        L["th_files"],
        L["th_forwarded"],
        L["th_first_seen"],
        L["th_last_seen"],
    ]
    rows = [
        [
            "\n".join(p for p in (r.chat, r.chat_type) if p),
            r.source,
            str(r.sightings),
            str(r.copies),
            str(r.forwarded),
            r.first,
            r.last,
        ]
        for r in view.spread
    ]
    pdf.grid(headers, (40.0, 34.0, 17.0, 15.0, 16.0, 29.0, 29.0), rows)


def _takedown(pdf: ReportPDF, view: ReportView) -> None:
    """Each notice's steps and clock, then the platform table (evidence/takedown_view.py), as in the HTML."""
    td, L = view.takedown, view.strings
    if td is None:
        return
    pdf.heading(L["heading_takedown"], 2)
    pdf.paragraph(f"{L['takedown_note']} {L['takedown_as_of'].format(at=td.as_of)}", size=8.5, color=MUTED)
    if not td.notices:
        pdf.paragraph(L["takedown_none"], color=MUTED)
    for n in td.notices:
        pdf.heading(L["heading_notice"].format(id=n.id, platform=n.platform), 3)
        facts = [
            (L["label_td_channel"], n.channel),
            (L["label_td_status"], n.status),
            (L["label_td_created"], n.created),
            (L["label_td_sent"], n.sent),
            (L["label_td_due"], n.due),
            (L["label_td_verdict"], n.verdict_text),
            (L["label_td_resends"], str(n.resends)),
        ]
        pdf.facts(facts + ([(L["label_td_escalated"], n.escalated)] if n.escalated else []))
        pdf.grid(
            [L[k] for k in ("th_td_item", "th_td_url", "th_td_status", "th_td_removed", "th_td_hours")],
            (14.0, 70.0, 30.0, 36.0, 30.0),
            [[i.item, i.url, i.status, i.removed_at, i.hours] for i in n.items],
        )
        pdf.grid(
            [L[k] for k in ("th_td_at", "th_td_step", "th_td_item", "th_td_by", "th_td_detail")],
            (32.0, 30.0, 14.0, 30.0, 74.0),
            [[st.at, st.step, st.item, st.actor, st.detail] for st in n.steps],
        )
    pdf.heading(L["heading_transparency"], 3)
    pdf.paragraph(L["transparency_note"], size=8.5, color=MUTED)
    keys = (
        "platform",
        "notices",
        "items",
        "removed",
        "median",
        "p90",
        "within",
        "still_up",
        "reupload",
        "escalated",
    )
    pdf.grid(
        [L[f"th_tr_{k}"] for k in keys],
        (24.0, 15.0, 15.0, 15.0, 17.0, 19.0, 25.0, 19.0, 19.0, 12.0),
        [[row.platform, *row.cells] for row in td.stats],
    )
    if td.skew:
        pdf.paragraph(L["tr_skew"].format(n=td.skew), size=8.5)


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def render_pdf(data: ReportData, *, language: str = "en") -> bytes:
    """Return the report as PDF bytes, in `language` ("en" or "ko"); thumbnails are always blurred.

    Deterministic: the creation date is `data.generated_at` and nothing else varies, so the same
    data renders to the same bytes. Raises ValueError for an unsupported language.
    """
    view = build_view(data, language=language, reveal_thumbnails=False)
    L = view.strings
    with open_pdf(L, data.case_id) as pdf:
        # Metadata is UTF-16 in the file: a lone surrogate from a broken export would fail the write.
        title = L["doc_title"].format(case_id=data.case_id, pseudonym=data.pseudonym)
        pdf.set_title(title.encode("utf-16", "replace").decode("utf-16"))
        pdf.set_subject(L["pdf_subject"].format(case_id=data.case_id))
        pdf.set_creator("ncii-shield")
        pdf.set_producer(f"ncii-shield {__version__}")
        pdf.set_lang(language)
        pdf.set_creation_date(utc(data.generated_at))
        pdf.add_page()
        _case_header(pdf, view)
        _summary(pdf, view)
        _legend(pdf, view)
        _images(pdf, view)
        _timeline(pdf, view)
        _spread(pdf, view)
        families_section(pdf, L, data.families)
        _takedown(pdf, view)
        pdf.ln(2)
        if pdf.glyphs_replaced:
            pdf.paragraph(L["pdf_glyph_note"], size=8, color=MUTED)
        pdf.paragraph(
            L["footer"].format(version=view.version, generated=view.generated_at, case_id=data.case_id),
            size=8,
            color=MUTED,
        )
        return bytes(pdf.output())


def write_pdf(data: ReportData, out: Path, *, language: str = "en") -> Path:
    """Render and write the PDF atomically (owner-only, never half a file under `out`); return `out`."""
    return atomic_write(Path(out), render_pdf(data, language=language))
