"""What each route recorded about a match, so a reviewer confirms with the evidence in front of them.

A reviewer shown only "face" cannot tell a true copy from a look-alike. Each route keeps something checkable:
the face route the face's box (on the stored signal) and its distance; `partial` the matched region and its
inlier count (feature route) or the window and its PDQ distance (collage tile); the PDQ routes the Hamming
distance; `video` the time ranges of both clips; `text` the cues and the masked excerpt. This module reads
that for one page of the queue in a few batched queries (never per row) and returns :class:`Evidence`.

Coordinates are fractions of the copy's image (left, top, right, bottom, each 0-1), so a drawing over a
thumbnail of any size lines up. `recorded` is False when an older hit kept nothing usable for its route
(a face hit written before its signal carried a box): the page says "not recorded" rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Hit, Media, Reference, Signal

Box = tuple[float, float, float, float]
MIN_INLIERS = 10  # index/local_features.MIN_INLIERS, repeated so the read layer does not import OpenCV's side


@dataclass(frozen=True)
class Evidence:
    """One route's evidence for one hit (a message found two ways has two)."""

    kind: Annotated[str, Doc("the route: exact, pdq, video, partial, face, text")]
    recorded: Annotated[bool, Doc("false: this (older) hit kept nothing to show for its route")]
    distance: Annotated[float | None, Doc("PDQ bits, face distance or video frame distance")] = None
    threshold: Annotated[float | None, Doc("the route's distance at or under which it matches")] = None
    reference_label: Annotated[str | None, Doc("the enrolled photo this route matched")] = None
    reference_sha256: Annotated[str | None, Doc("its SHA-256 (names its family)")] = None
    box: Annotated[Box | None, Doc("face: the face on the copy, fractions (left, top, right, bottom)")] = None
    frame: Annotated[int | None, Doc("face: the video frame the face is in (0: a still image)")] = None
    route: Annotated[str | None, Doc("partial: 'features' (crop, sticker) or 'window' (collage tile)")] = None
    region: Annotated[Box | None, Doc("partial: where the enrolled photo lies on the copy, fractions")] = None
    quad: Annotated[
        tuple[tuple[float, float], ...] | None,
        Doc(
            "partial (features): the enrolled photo's four corners on the copy, fractions, clockwise from its top-left"
        ),
    ] = None
    inliers: Annotated[int | None, Doc("partial (features): geometrically consistent matched points")] = None
    min_inliers: Annotated[int | None, Doc("partial (features): the fewest inliers that count")] = None
    coverage: Annotated[float | None, Doc("partial (features): share of the enrolled photo visible")] = None
    mirrored: Annotated[bool, Doc("partial: found through the mirrored photo")] = False
    time_range: Annotated[tuple[float, float] | None, Doc("video: seconds of the copy that match")] = None
    reference_range: Annotated[tuple[float, float] | None, Doc("video: seconds of the enrolled clip")] = None
    match_percent: Annotated[float | None, Doc("video: share of the copy's frames that match")] = None
    cues: Annotated[tuple[str, ...], Doc("text: the rule cues that fired")] = ()
    fields: Annotated[tuple[str, ...], Doc("text: which watched identifiers it names")] = ()
    label: Annotated[str | None, Doc("text: the classifier's label")] = None
    score: Annotated[float | None, Doc("text: the classifier's score")] = None

    @property
    def within(self) -> bool | None:
        """Distance at or under the threshold (None where a route has no distance)."""
        if self.distance is None or self.threshold is None:
            return None
        return self.distance <= self.threshold


@dataclass(frozen=True)
class HitEvidence:
    """Every route's evidence for one message, strongest first, and whether its reference image is shown."""

    item_id: int
    routes: tuple[Evidence, ...]
    reference_shown: Annotated[bool, Doc("the enrolled photo (kept original, or a stored identical file)")]
    reference_label: str | None
    width: Annotated[int | None, Doc("the copy's width in pixels (the overlay's aspect)")] = None
    height: Annotated[int | None, Doc("the copy's height in pixels")] = None


def _thresholds() -> dict[str, float]:
    from ncii_shield.signals.registry import BY_NAME  # the kinds' modules: only when evidence is asked for

    return {name: float(kind.threshold) for name, kind in BY_NAME.items()}


def _quad(values: object) -> tuple[tuple[float, float], ...] | None:
    """Four (x, y) fractions, or None: details are stored JSON, so anything else (an older hit, a hand-edited
    row) is left out rather than drawn. Corners may lie off the copy (a crop), but not absurdly far."""
    if not isinstance(values, list) or len(values) != 4:
        return None
    try:
        quad = tuple((float(x), float(y)) for x, y in values)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and -10.0 <= v <= 11.0 for corner in quad for v in corner):
        return None
    return quad


def _box(values: object, width: int | None, height: int | None) -> Box | None:
    if not isinstance(values, list | tuple) or len(values) != 4:
        return None
    left, t, r, b = (float(v) for v in values)
    if max(left, t, r, b) > 1.0:  # pixels: a face box on the stored image
        if not width or not height:
            return None
        left, r, t, b = left / width, r / width, t / height, b / height
    return (round(left, 4), round(t, 4), round(r, 4), round(b, 4))


def hit_evidence(session: Session, case_id: int, item_ids: Iterable[int]) -> dict[int, HitEvidence]:
    """The evidence of these messages' hits (one page of the queue): four queries whatever the page size."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    thresholds = _thresholds()
    rows = session.execute(
        select(
            Hit.item_id,
            Hit.kind,
            Hit.distance,
            Hit.details,
            Hit.signal_id,
            Reference.photo_sha256,
            Reference.photo_label,
            Media.width,
            Media.height,
        )
        .outerjoin(Reference, Hit.reference_id == Reference.id)
        .outerjoin(Media, Hit.media_id == Media.id)
        .where(Hit.case_id == case_id, Hit.item_id.in_(ids))
    ).all()
    signal_ids = {r.signal_id for r in rows if r.kind == "face" and r.signal_id}
    signals = {
        sid: (box, frame)
        for sid, box, frame in session.execute(
            select(Signal.id, Signal.box, Signal.frame).where(Signal.id.in_(signal_ids))
        )
    }
    shas = {r.photo_sha256 for r in rows if r.photo_sha256}
    shown = _references_shown(session, case_id, shas)
    by_item: dict[int, list[Evidence]] = {}
    refs: dict[int, tuple[int, str | None, str | None]] = {}
    sizes: dict[int, tuple[int | None, int | None]] = {}
    for r in rows:
        if r.width and r.height:
            sizes[r.item_id] = (r.width, r.height)
        ev = _evidence(r, thresholds, signals)
        by_item.setdefault(r.item_id, []).append(ev)
        rank = KIND_ORDER.index(r.kind) if r.kind in KIND_ORDER else len(KIND_ORDER)
        if r.photo_sha256 and (r.item_id not in refs or rank < refs[r.item_id][0]):
            refs[r.item_id] = (rank, r.photo_sha256, r.photo_label)
    out = {}
    for item_id, routes in by_item.items():
        routes.sort(key=lambda e: KIND_ORDER.index(e.kind) if e.kind in KIND_ORDER else len(KIND_ORDER))
        _, sha, label = refs.get(item_id, (0, None, None))
        width, height = sizes.get(item_id, (None, None))
        out[item_id] = HitEvidence(item_id, tuple(routes), bool(sha and sha in shown), label, width, height)
    return out


def _evidence(r: object, thresholds: dict[str, float], signals: dict[int, tuple[object, int]]) -> Evidence:
    kind: str = r.kind  # type: ignore[attr-defined]
    d: dict[str, object] = r.details or {}  # type: ignore[attr-defined]
    base = dict(
        kind=kind,
        distance=r.distance,  # type: ignore[attr-defined]
        threshold=thresholds.get(kind),
        reference_label=r.photo_label,  # type: ignore[attr-defined]
        reference_sha256=r.photo_sha256,  # type: ignore[attr-defined]
    )
    width, height = r.width, r.height  # type: ignore[attr-defined]
    if kind == "exact":
        return Evidence(recorded=True, **base)  # type: ignore[arg-type]
    if kind == "pdq":
        return Evidence(recorded=r.distance is not None, **base)  # type: ignore[arg-type, attr-defined]
    if kind == "face":
        box, frame = signals.get(r.signal_id, (None, 0))  # type: ignore[attr-defined]
        face = _box(box, width, height)
        return Evidence(recorded=face is not None, box=face, frame=frame, **base)  # type: ignore[arg-type]
    if kind == "partial":
        route = str(d.get("route") or "") or None
        region = _box(d.get("region"), width, height)
        if route == "window":
            base["threshold"] = thresholds.get("pdq")  # a window is matched by its PDQ
            return Evidence(recorded=region is not None, route=route, region=region, **base)  # type: ignore[arg-type]
        inliers = d.get("inliers")
        return Evidence(
            recorded=region is not None and inliers is not None,
            route=route,
            region=region,
            quad=_quad(d.get("quad")),
            inliers=int(inliers) if isinstance(inliers, int | float) else None,
            min_inliers=MIN_INLIERS,
            coverage=float(d["coverage"]) if isinstance(d.get("coverage"), int | float) else None,  # type: ignore[arg-type]
            mirrored=bool(d.get("mirrored")),
            **base,  # type: ignore[arg-type]
        )
    if kind == "video":
        q, ref = d.get("query_range"), d.get("reference_range")
        return Evidence(
            recorded=isinstance(q, list),
            time_range=(float(q[0]), float(q[1])) if isinstance(q, list) and len(q) == 2 else None,
            reference_range=(float(ref[0]), float(ref[1]))
            if isinstance(ref, list) and len(ref) == 2
            else None,
            match_percent=float(d["query_percent"])
            if isinstance(d.get("query_percent"), int | float)
            else None,  # type: ignore[arg-type]
            **base,  # type: ignore[arg-type]
        )
    if kind == "text":
        base["threshold"] = None
        score = d.get("score")
        return Evidence(
            recorded=bool(d),
            cues=tuple(str(c) for c in d.get("cues") or ()),  # type: ignore[union-attr]
            fields=tuple(str(f) for f in d.get("fields") or ()),  # type: ignore[union-attr]
            label=str(d["label"]) if d.get("label") else None,
            score=float(score) if isinstance(score, int | float) else None,
            **base,  # type: ignore[arg-type]
        )
    return Evidence(recorded=bool(d) or r.distance is not None, **base)  # type: ignore[arg-type, attr-defined]


def _references_shown(session: Session, case_id: int, shas: set[str]) -> set[str]:
    """The enrolled photos there is an image of: a kept original, or a stored file with the same SHA-256."""
    if not shas:
        return set()
    kept = set(
        session.scalars(
            select(Reference.photo_sha256).where(
                Reference.case_id == case_id,
                Reference.photo_sha256.in_(shas),
                Reference.blob_key.is_not(None),
            )
        )
    )
    stored = set(
        session.scalars(select(Media.sha256).where(Media.sha256.in_(shas), Media.thumb_key.is_not(None)))
    )
    return kept | stored


def reference_image(session: Session, case_id: int, item_id: int) -> tuple[str, bool]:
    """(blob key, is it the kept original) of the enrolled photo this hit's strongest route matched.

    The original is kept only when enrolled with --keep-originals; otherwise a stored file with the same
    SHA-256 (an identical repost) shows it. NotFound when neither exists: only its hashes were kept.
    """
    found = session.execute(
        select(Hit.kind, Reference.photo_sha256)
        .join(Reference, Hit.reference_id == Reference.id)
        .where(Hit.case_id == case_id, Hit.item_id == item_id)
    ).all()
    if not found:
        raise NotFound("no enrolled photo for this hit")
    sha = min(found, key=lambda f: KIND_ORDER.index(f[0]) if f[0] in KIND_ORDER else len(KIND_ORDER))[1]
    original = session.scalar(
        select(Reference.blob_key).where(
            Reference.case_id == case_id, Reference.photo_sha256 == sha, Reference.blob_key.is_not(None)
        )
    )
    if original:
        return original, True
    thumb = session.scalar(select(Media.thumb_key).where(Media.sha256 == sha, Media.thumb_key.is_not(None)))
    if thumb:
        return thumb, False
    raise NotFound("the enrolled photo is not kept, only its hashes")
