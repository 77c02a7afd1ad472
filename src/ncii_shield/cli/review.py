"""`hits` and `review confirm|reject`: a case's hits as rows a person reads, and the decisions on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, err_console, fail, print_json, print_table
from ncii_shield.kinds import KIND_ORDER

if TYPE_CHECKING:
    from ncii_shield.read.families import Family

TEXT_FAMILY = "messages"  # read.families.TEXT_FAMILY, not imported at start-up (SQLAlchemy)

app = typer.Typer(
    no_args_is_help=True, help="Confirm or reject hits, with a reason (appended, never edited)."
)


def _fmt_distance(row_kind: str, distances: dict[str, float | None]) -> str:
    parts = []
    for kind, value in distances.items():
        if value is None:
            parts.append(kind)
        else:
            parts.append(f"{kind} {value:.0f}" if kind == "pdq" else f"{kind} {value:.2f}")
    return ", ".join(parts)


def _fmt_match(row: object) -> str:
    """Distances per route; for a text hit, the fields named and the classifier's label and score."""
    text = (getattr(row, "details", None) or {}).get("text")
    base = _fmt_distance(row.kind, row.distances)
    if not text:
        return base
    return f"{base}: {', '.join(text.get('fields', []))}; {text.get('label')} {text.get('score', 0):.2f}"


WIDE_TABLE = 120  # terminal columns the full hits table needs to stay readable
NARROW_COLUMNS = ("item", "kind", "chat or URL", "msg", "date (UTC)", "review")


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _family_title(family: Family) -> str:
    """What a family's table counts, in words: messages (one row each), distinct files, rooms, undecided."""
    what = "by their words" if family.key == TEXT_FAMILY else family.label
    parts = [_count(len(family.copies), "message")]
    if family.files:
        parts.append(_count(family.files, "file"))
    parts.append(_count(len(family.rooms), "room"))
    if family.first and family.first.date:
        parts.append(f"first {family.first.date:%Y-%m-%d}")
    parts.append(f"{family.undecided} to review")
    return f"{escape(what)}: {' · '.join(parts)}"


def hits(
    case_id: int,
    kind: Annotated[
        str | None, typer.Option(help=f"Only hits found by this route: {', '.join(KIND_ORDER)}.")
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column, however narrow the terminal (cells then fold).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """List a case's hits by family (the copies of one enrolled photo, then messages found by their words):
    one row per message, every route that matched it, earliest first."""
    from ncii_shield.read.cases import get_case_ref
    from ncii_shield.read.families import case_families
    from ncii_shield.read.hits import list_hits

    if kind is not None and kind not in KIND_ORDER:
        fail(f"unknown kind {kind!r}", hint=f"use one of {', '.join(KIND_ORDER)}")
    with state.store.session() as session:
        get_case_ref(session, case_id)
        rows = list_hits(session, case_id, kind=kind)
        families = case_families(session, case_id, rows=rows)
    if as_json:
        family_of = {r.item_id: f for f in families for r in f.copies}
        print_json(
            [
                {
                    **r.to_json(),
                    "family": family_of[r.item_id].key,
                    "family_label": family_of[r.item_id].label,
                }
                for r in rows
            ]
        )
        return
    columns = [
        "item",
        "kind",
        "match",
        "file",
        "chat or URL",
        "msg",
        "sender",
        "date (UTC)",
        "forwarded from",
        "review",
    ]
    keep = list(range(len(columns)))
    if console.width < WIDE_TABLE and not wide:  # ten columns folded into 80 leave 1-5 characters a cell
        keep = [columns.index(c) for c in NARROW_COLUMNS]
        err_console.print(
            f"[dim]{console.width} columns: match, file, sender and forward hidden; "
            "use --wide for every column, or --json for every field[/]"
        )
    files = len({r.media_sha256 for r in rows if r.media_sha256})
    undecided = sum(1 for r in rows if r.decision is None)
    console.print(
        f"Case {case_id}: {_count(len(rows), 'message')} with hits · {len(families)} "
        f"{'family' if len(families) == 1 else 'families'} · {_count(files, 'distinct file')} · "
        f"{undecided} to review",
        highlight=False,
    )
    for family in families:
        table = [
            (
                r.item_id,
                r.kind,
                _fmt_match(r),
                r.media_path or escape(r.excerpt or ""),
                escape(r.url or r.chat or ""),  # a crawled image: its address says more than its site
                r.message_id,
                f"{r.sender or '?'} ({r.sender_id})" if r.sender_id else r.sender,
                f"{r.date:%Y-%m-%d %H:%M}" if r.date else None,
                r.forwarded_from,
                r.decision or "-",
            )
            for r in family.copies
        ]
        print_table(
            _family_title(family),
            [columns[i] for i in keep],
            [tuple(row[i] for i in keep) for row in table],
        )


def _review(
    case_id: int, decision: str, items: list[int] | None, all_hits: bool, kind: str | None, reason: str
) -> None:
    from ncii_shield.review.decisions import decide

    if not items and not all_hits:
        fail("no hits named", hint="give item ids (see `ncii-shield hits CASE`) or --all [--kind KIND]")
    if items and all_hits:
        fail("give item ids or --all, not both")
    if kind is not None and kind not in KIND_ORDER:
        fail(f"unknown kind {kind!r}", hint=f"use one of {', '.join(KIND_ORDER)}")
    with state.store.session() as session:
        done = decide(
            session, case_id, decision, reason, item_ids=items or None, kind=kind, undecided_only=all_hits
        )
    console.print(f"case {case_id}: {len(done)} hit(s) {decision}")


ItemsArg = Annotated[list[int] | None, typer.Argument(help="Item ids of hits (see `ncii-shield hits CASE`).")]
AllFlag = Annotated[
    bool, typer.Option("--all", help="Every hit not yet reviewed (with --kind: of that kind).")
]
KindOpt = Annotated[
    str | None, typer.Option(help=f"With --all: only hits found by this route ({', '.join(KIND_ORDER)}).")
]
ReasonOpt = Annotated[str, typer.Option(help="Why: kept sealed, in the record.")]


@app.command("confirm")
def review_confirm(
    case_id: int,
    items: ItemsArg = None,
    all_hits: AllFlag = False,
    kind: KindOpt = None,
    reason: ReasonOpt = "",
) -> None:
    """Confirm hits: they are the person's images or about the person, and are acted on."""
    _review(case_id, "confirmed", items, all_hits, kind, reason)


@app.command("reject")
def review_reject(
    case_id: int,
    items: ItemsArg = None,
    all_hits: AllFlag = False,
    kind: KindOpt = None,
    reason: ReasonOpt = "",
) -> None:
    """Reject hits: not the person; they stay on record but are left out of notices and bundles."""
    _review(case_id, "rejected", items, all_hits, kind, reason)
