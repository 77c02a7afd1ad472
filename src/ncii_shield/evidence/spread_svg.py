"""How far one photo spread, drawn as SVG on the server: the forward paths between rooms, and a timeline.

One builder for the web app's Spread tab and the HTML report, so the figures a case worker sees and the ones
handed to the police are drawn from the same `read/families.Family` the same way. Plain SVG, no script and
nothing fetched: the report is opened offline under a CSP that forbids both. Every name is escaped (they come
from hostile chats). Labels arrive translated from the caller, which owns its language catalogue. Marks carry
their colours as attributes, once per group where many share them (the web's stylesheet refines them by class),
so the PDF, which has no stylesheet, draws the same figure (evidence/pdf_families.py).
"""

from __future__ import annotations

import math
from datetime import datetime

from markupsafe import Markup

from ncii_shield.read.families import Family

__all__ = ["paths_svg", "timeline_svg"]

ROW = 34  # px between two boxes of the path graph
LANE = 22  # px between two rooms of the timeline
MAX_LANES = 12  # rooms drawn on the timeline (most copies first); the table lists them all
DOT_PX = 6  # copies of one room within this many px of the timeline share one dot


def _short(name: str, size: int = 26) -> str:
    return name if len(name) <= size else name[: size - 1] + "…"


def paths_svg(family: Family, label: str) -> Markup:
    """Forward sources on the left (people, channels, rooms that forwarded), the rooms reached on the right,
    a line per path, thicker for more copies. Empty when nothing in the family was forwarded."""
    if not family.paths:
        return Markup("")
    targets = [r.chat for r in family.rooms]
    sources = sorted({p.from_source for p in family.paths})
    left = {name: (10, 10 + i * ROW) for i, name in enumerate(sources)}
    right = {name: (330, 10 + i * ROW) for i, name in enumerate(targets)}
    height = 20 + max(len(sources), len(targets), 1) * ROW
    edges = [
        Markup(
            '<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke-width="{w}" class="edge"><title>{n}</title></line>'
        ).format(
            x1=left[p.from_source][0] + 200,
            y1=left[p.from_source][1] + 12,
            x2=right[p.to_chat][0],
            y2=right[p.to_chat][1] + 12,
            w=min(8, 1 + p.copies),
            n=p.copies,
        )
        for p in family.paths
        if p.to_chat in right
    ]
    boxes: list[Markup] = []
    names: list[Markup] = []
    for side, nodes in (("source", left), ("room", right)):
        for name, (x, y) in nodes.items():
            boxes.append(
                Markup(
                    '<g class="node {side}"><rect x="{x}" y="{y}" width="200" height="24" rx="4"></rect></g>'
                ).format(side=side, x=x, y=y)
            )
            names.append(
                Markup('<text x="{x}" y="{y}">{name}</text>').format(x=x + 8, y=y + 16, name=_short(name))
            )
    # Each kind of mark in one group that carries its colours once (a family can reach hundreds of rooms).
    parts = [
        Markup('<g stroke="#8fa0b4">{}</g>').format(Markup("").join(edges)),
        Markup('<g fill="#eef1f4" stroke="#d0d7de">{}</g>').format(Markup("").join(boxes)),
        Markup('<g fill="#1f2328">{}</g>').format(Markup("").join(names)),
    ]
    return Markup(
        '<svg class="paths" xmlns="http://www.w3.org/2000/svg" width="560" height="{h}" viewBox="0 0 560 {h}" role="img" aria-label="{label}">{body}</svg>'
    ).format(h=height, label=label, body=Markup("").join(parts))


def timeline_svg(family: Family, label: str, first_label: str) -> Markup:
    """One lane per room (most copies first), a dot per dated copy at its time; the first appearance is
    drawn dark and named. Empty when no copy has a date."""
    dated = [r for r in family.copies if r.date is not None]
    if not dated:
        return Markup("")
    rooms = [r.chat for r in family.rooms][:MAX_LANES]
    start = min(r.date for r in dated if r.date)
    end = max(r.date for r in dated if r.date)
    span = max((end - start).total_seconds(), 1.0)
    left, right, top = 170, 690, 24
    height = top + LANE * max(len(rooms), 1) + 24

    def x(when: datetime) -> float:
        return left + (right - left) * (when - start).total_seconds() / span

    parts: list[Markup] = []
    for i, room in enumerate(rooms):
        y = top + i * LANE + LANE / 2
        parts.append(
            Markup(
                '<line class="lane" stroke="#d0d7de" x1="{l}" x2="{r}" y1="{y}" y2="{y}"></line>'
                '<text x="{tx}" y="{ty}" text-anchor="end">{name}</text>'
            ).format(l=left, r=right, y=y, tx=left - 6, ty=y + 4, name=_short(room, 24))
        )
    lane = {room: i for i, room in enumerate(rooms)}
    first = family.first if family.first and family.first.date else None
    # Copies close in time in one room share a dot (one per DOT_PX of the lane), sized by how many: a family
    # of thousands stays a readable figure and a page of kilobytes, not one element per copy.
    dots: dict[tuple[int, int], list[datetime]] = {}
    for row in dated:
        room = row.chat or row.chat_id or "?"
        if room not in lane or row.date is None or (first is not None and row.item_id == first.item_id):
            continue
        dots.setdefault((lane[room], int(x(row.date) // DOT_PX)), []).append(row.date)
    copies: list[Markup] = []  # in one group that carries their colour once (a family can have hundreds)
    for (i, _), times in sorted(dots.items()):
        times.sort()
        when = f"{times[0]:%Y-%m-%d %H:%M}" + (f" – {times[-1]:%Y-%m-%d %H:%M}" if len(times) > 1 else "")
        copies.append(
            Markup(
                '<circle class="copy" cx="{cx:.1f}" cy="{cy}" r="{r:.1f}"><title>{what}</title></circle>'
            ).format(
                cx=sum(x(t) for t in times) / len(times),
                cy=top + i * LANE + LANE / 2,
                r=min(4 * math.sqrt(len(times)), LANE / 2 - 1),
                what=f"{when} · {rooms[i]}" + (f" · ×{len(times)}" if len(times) > 1 else ""),
            )
        )
    if copies:
        parts.append(Markup('<g fill="#57606a" fill-opacity="0.6">{}</g>').format(Markup("").join(copies)))
    if first is not None and (first.chat or first.chat_id or "?") in lane and first.date is not None:
        room = first.chat or first.chat_id or "?"
        parts.append(
            Markup(
                '<circle class="first" fill="#b35900" cx="{cx:.1f}" cy="{cy}" r="6"><title>{what}</title></circle>'
            ).format(
                cx=x(first.date),
                cy=top + lane[room] * LANE + LANE / 2,
                what=f"{first.date:%Y-%m-%d %H:%M} · {room} · {first_label}",
            )
        )
    bottom = top + LANE * max(len(rooms), 1) + 16
    parts.append(
        Markup(
            '<text x="{l}" y="{b}">{start}</text><text x="{r}" y="{b}" text-anchor="end">{end}</text>'
            '<text x="{l}" y="14">{first}</text>'
        ).format(
            l=left,
            r=right,
            b=bottom,
            start=f"{start:%Y-%m-%d %H:%M}",
            end=f"{end:%Y-%m-%d %H:%M}",
            first=f"{first_label}: {family.first.date:%Y-%m-%d %H:%M} · {family.first.chat or family.first.chat_id or '?'}"
            if family.first and family.first.date
            else "",
        )
    )
    return Markup(
        '<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="700" height="{h}" viewBox="0 0 700 {h}" '
        'fill="#1f2328" role="img" aria-label="{label}">'
        "<title>{label}</title>{body}</svg>"
    ).format(h=height, label=label, body=Markup("").join(parts))
