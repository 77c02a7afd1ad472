"""A hit's evidence as the review page shows it: an SVG drawn over the copy's thumbnail, and one line per route.

Drawn on the server as plain SVG (no script, no canvas library, nothing from a CDN) whose viewBox has the
copy's own proportions, laid over the thumbnail at the same width (CSS), so the fractions `read/evidence`
returns land on the image at any size, revealed or not; the strokes keep their width (`vector-effect`). Only geometry is drawn, never pixels: revealing the image stays
the audited POST it always was.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from ncii_shield.read.evidence import Evidence, HitEvidence


def overlay_svg(evidence: HitEvidence | None, t: Callable[[str], str]) -> Markup:
    """The face boxes and matched regions of a hit, as an SVG to lay over its thumbnail ('' if none)."""
    if evidence is None:
        return Markup("")
    w = 1000.0
    h = w * evidence.height / evidence.width if evidence.width and evidence.height else w
    shapes: list[Markup] = []
    for ev in evidence.routes:
        box = ev.box if ev.kind == "face" else ev.region if ev.kind == "partial" else None
        if box is None:
            continue
        left, top, right, bottom = box[0] * w, box[1] * h, box[2] * w, box[3] * h
        what = t("ev_face_box") if ev.kind == "face" else t("ev_region")
        if ev.kind == "partial" and ev.quad:  # the photo's own outline: turned, tilted or cropped as it lies
            points = " ".join(f"{x * w:.2f},{y * h:.2f}" for x, y in ev.quad)
            shapes.append(
                Markup(
                    '<polygon class="ev-partial" points="{points}" vector-effect="non-scaling-stroke">'
                    "<title>{what}</title></polygon>"
                ).format(points=points, what=what)
            )
            continue
        shapes.append(
            Markup(
                '<rect class="ev-{kind}" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" '
                'vector-effect="non-scaling-stroke"><title>{what}</title></rect>'
            ).format(
                kind=ev.kind, x=left, y=top, w=max(0.5, right - left), h=max(0.5, bottom - top), what=what
            )
        )
    if not shapes:
        return Markup("")
    return Markup(
        '<svg class="overlay" viewBox="0 0 {w:.0f} {h:.0f}" preserveAspectRatio="none" aria-hidden="true" '
        'focusable="false">{shapes}</svg>'
    ).format(w=w, h=h, shapes=Markup("").join(shapes))


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"


def fact(ev: Evidence, t: Callable[[str], str]) -> str:
    """One route's evidence in words: what was measured against what, or that nothing was recorded."""
    if not ev.recorded:
        return t("ev_not_recorded").format(kind=ev.kind)
    if ev.kind == "exact":
        return t("ev_exact")
    if ev.kind in ("pdq", "face") or (ev.kind == "partial" and ev.route == "window"):
        key = {"pdq": "ev_pdq", "face": "ev_face"}.get(ev.kind, "ev_window")
        line = t(key).format(distance=_num(ev.distance), threshold=_num(ev.threshold))
        if ev.kind == "face" and ev.frame:
            line += " " + t("ev_frame").format(frame=ev.frame)
        return line
    if ev.kind == "partial":
        line = t("ev_partial").format(inliers=_num(ev.inliers), minimum=_num(ev.min_inliers))
        if ev.coverage is not None:
            line += " " + t("ev_coverage").format(percent=round(100 * ev.coverage))
        return line + (" " + t("ev_mirrored") if ev.mirrored else "")
    if ev.kind == "video":
        q, r = ev.time_range or (0.0, 0.0), ev.reference_range or (0.0, 0.0)
        return t("ev_video").format(
            start=_num(q[0], 1),
            end=_num(q[1], 1),
            ref_start=_num(r[0], 1),
            ref_end=_num(r[1], 1),
            percent=_num(ev.match_percent, 0),
            distance=_num(ev.distance),
            threshold=_num(ev.threshold),
        )
    if ev.kind == "text":
        cues = ", ".join(ev.cues + ev.fields) or "—"
        return t("ev_text").format(cues=cues, label=ev.label or "—", score=_num(ev.score))
    return ev.kind


def facts(evidence: HitEvidence | None, t: Callable[[str], str]) -> list[tuple[str, str, bool | None]]:
    """(route, line, within threshold) for each route of a hit, strongest first."""
    if evidence is None:
        return []
    return [(ev.kind, fact(ev, t), ev.within) for ev in evidence.routes]


__all__ = ["fact", "facts", "overlay_svg"]
