"""`case` (open, list, show, close, purge) and `enrol`: a case and the references it is searched by."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, err_console, fail, print_json, print_table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ncii_shield.read.cases import CaseSummary
    from ncii_shield.read.quick import CaseLine

app = typer.Typer(no_args_is_help=True, help="Open, list and show cases.")


@app.command("open")
def case_open(
    pseudonym: Annotated[str, typer.Option(help="A name for the case that does not identify the person.")],
    consent_by: Annotated[str, typer.Option(help="Who gave consent (the person, or their guardian).")],
    consent_method: Annotated[str, typer.Option(help="How: e.g. 'signed form', 'recorded call'.")],
    consent_at: Annotated[
        datetime | None, typer.Option(help="When consent was given (UTC) [default: now].")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Anything else about the consent.")] = None,
    minor: Annotated[
        bool, typer.Option("--minor", help="The person is a minor: hash-only unless --keep-media.")
    ] = False,
    hash_only: Annotated[
        bool | None,
        typer.Option(
            "--hash-only/--keep-media", help="Keep no image of the hits, only hashes and blurred thumbnails."
        ),
    ] = None,
) -> None:
    """Open a case for a person who has consented to be searched for. Prints the case id."""
    from datetime import UTC

    from ncii_shield.cases.service import open_case

    with state.store.session() as session:
        case = open_case(
            session,
            pseudonym,
            consent_by=consent_by,
            consent_method=consent_method,
            consent_at=consent_at.replace(tzinfo=UTC)
            if consent_at and consent_at.tzinfo is None
            else consent_at,
            consent_note=note,
            minor=minor,
            hash_only=hash_only,
        )
        case_id = case.id
    err_console.print(f"opened case [bold]{case_id}[/]")
    print(case_id)  # alone on stdout, so scripts can do CASE=$(ncii-shield case open ...)


@app.command("list")
def case_list(as_json: JsonFlag = False) -> None:
    """List cases with their number of references and hits."""
    from ncii_shield.read.quick import quick_case_lines

    lines = quick_case_lines(state.settings)  # sqlite3, no SQLAlchemy: ~4x sooner where it can
    if lines is not None:
        rows = [_case_row(c) for c in lines]
    else:
        with state.store.session() as session:
            rows = _case_rows(session)
    if as_json:
        print_json(rows)
    else:
        print_table(
            "Cases",
            ["id", "pseudonym", "status", "opened", "references", "items hit"],
            [
                (
                    r["id"],
                    r["pseudonym"],
                    r["status"],
                    f"{r['opened']:%Y-%m-%d %H:%M}",
                    r["references"],
                    r["hits"],
                )
                for r in rows
            ],
        )


def _case_rows(session: Session) -> list[dict[str, Any]]:
    """Every case with its reference count and messages hit, as `case list --json` prints them."""
    from ncii_shield.read.cases import list_cases

    return [_case_row(c) for c in list_cases(session)]


def _case_row(c: CaseSummary | CaseLine) -> dict[str, Any]:
    return dict(
        id=c.id,
        pseudonym=c.pseudonym,
        status=c.status,
        opened=c.created_at,
        references=c.references,
        hits=c.items,  # = hit_counts.messages
    )


@app.command("show")
def case_show(case_id: int, as_json: JsonFlag = False) -> None:
    """Show a case: consent record, enrolled references, hits by kind."""
    with state.store.session() as session:
        data, purged_at = _case_facts(session, case_id)
    if as_json:
        print_json(data)
        return
    if data["status"] == "purged":
        console.print(f"case {case_id} was purged on {purged_at:%Y-%m-%d %H:%M} UTC; nothing of it remains")
        return
    flags = ", minor" * data["minor"] + ", hash-only" * data["hash_only"]
    console.print(f"[bold]case {data['id']}[/] {escape(data['pseudonym'] or '')} ({data['status']}{flags})")
    console.print(
        f"consent: {escape(data['consent_by'])}, {data['consent_at']:%Y-%m-%d %H:%M} UTC, "
        f"{escape(data['consent_method'])}"
    )
    refs = [(r["photo"], r["kind"], r["count"]) for r in data["references"]]
    print_table("References", ["photo", "kind", "count"], refs)
    by_kind = data["hits_by_kind"]
    console.print("hits by kind: " + (", ".join(f"{k} {n}" for k, n in by_kind.items()) or "none"))


def _case_facts(session: Session, case_id: int) -> tuple[dict[str, Any], datetime | None]:
    """A case's consent record, references and messages by strongest route as `case show --json` prints
    them, and when it was purged."""
    from ncii_shield.read.cases import case_detail

    case = case_detail(session, case_id)
    data = dict(
        id=case.id,
        pseudonym=case.pseudonym,
        status=case.status,
        minor=case.minor,
        hash_only=case.hash_only,
        consent_by=case.consent_by,
        consent_at=case.consent_at,
        consent_method=case.consent_method,
        consent_note=case.consent_note,
        references=[dict(photo=r.photo, kind=r.kind, count=r.count) for r in case.enrolled],
        hits_by_kind=case.hit_counts.strongest,
    )
    return data, case.purged_at


@app.command("spread")
def case_spread(case_id: int, as_json: JsonFlag = False) -> None:
    """Where each of the person's photos went: its copies, first appearance, rooms and top spreader."""
    from ncii_shield.read.cases import get_case_ref
    from ncii_shield.read.families import case_families, family_json

    with state.store.session() as session:
        get_case_ref(session, case_id)  # "no case 7" rather than an empty table
        families = case_families(session, case_id)
    if as_json:
        print_json([family_json(f) for f in families])
        return
    print_table(
        f"Case {case_id}: where the photos went",
        ["family", "copies", "files", "first seen", "first room", "rooms", "top spreader", "to review"],
        [
            (
                f.label,
                len(f.copies),
                f.files,
                f"{f.first.date:%Y-%m-%d %H:%M}" if f.first and f.first.date else "-",
                (f.first.chat or f.first.chat_id or "?") if f.first else "-",
                len(f.rooms),
                f"{f.top_spreader.name or f.top_spreader.key} ({f.top_spreader.copies})"
                if f.top_spreader
                else "-",
                f.undecided,
            )
            for f in families
        ],
    )


@app.command("actors")
def case_actors_command(case_id: int, as_json: JsonFlag = False) -> None:
    """Who posted and forwarded the copies, across rooms and exports (by sender id, else name)."""
    from ncii_shield.read.actors import case_actors
    from ncii_shield.read.cases import get_case_ref

    with state.store.session() as session:
        get_case_ref(session, case_id)
        actors = case_actors(session, case_id)
    if as_json:
        print_json([a.to_json() for a in actors])
        return
    print_table(
        f"Case {case_id}: who spread it",
        ["sender", "id", "posted", "forwarded", "source of", "rooms", "exports", "first post"],
        [
            (
                ", ".join(a.names) or "-",
                a.sender_id or "-",
                a.posted,
                a.forwarded,
                a.origin_of,
                len(a.rooms),
                a.exports,
                f"{a.first_at:%Y-%m-%d %H:%M}" if a.first_at else "-",
            )
            for a in actors
        ],
    )


@app.command("close")
def case_close(case_id: int) -> None:
    """Close a case: it stops matching; its evidence is kept until it is purged."""
    from ncii_shield.cases.retention import close_case

    with state.store.session() as session:
        close_case(session, case_id)
    console.print(f"case {case_id} closed")


@app.command("purge")
def case_purge(
    case_id: int,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Destroy a case's key and data, and what was collected only for it. This cannot be undone."""
    from ncii_shield.cases.retention import compact, purge_case

    if not yes and (
        not sys.stdin.isatty()
        or not typer.confirm(f"Purge case {case_id}? Its data becomes unrecoverable.", err=True)
    ):
        fail(f"case {case_id} not purged", hint="confirm at the prompt, or add --yes")
    from ncii_shield.cases.service import get_case
    from ncii_shield.store.garbage import collect_garbage

    with state.store.session() as session:
        finishing = get_case(session, case_id).status == "purged"
    if finishing:  # a purge interrupted after its commit: only files are left to remove
        removed = collect_garbage(state.store)
        compact(state.store)
        console.print(f"case {case_id} was already purged; {removed} leftover files removed")
        return
    with state.store.session() as session:
        result = purge_case(state.store, session, case_id)
    result.blobs += collect_garbage(state.store)
    compact(state.store)
    if as_json:
        print_json(result.__dict__)
    else:
        console.print(
            f"case {case_id} purged: key destroyed; {result.references} references, {result.hits} hits, "
            f"{result.items} items, {result.media} media, {result.sources} sources removed; "
            f"{result.kept_items} items kept for other cases"
        )


def enrol(
    case_id: Annotated[int, typer.Argument(help="The case to enrol into.")],
    photos: Annotated[list[Path], typer.Argument(help="The person's own photos.")],
    keep_originals: Annotated[
        bool, typer.Option(help="Also keep the photos themselves (default: hashes only).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Enrol a person's photos: SHA-256, 8 dihedral PDQ hashes and the face embedding of each.

    Then matches everything already stored, so a new case searches the whole backlog at once.
    """
    from ncii_shield.cases.service import enrol as do_enrol
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.match import match_case

    with state.store.session() as session, err_console.status("computing references…"):
        case = get_case(session, case_id)
        results = do_enrol(session, state.store, case, photos, keep_originals=keep_originals)
        new_hits = match_case(state.store, session, case_id)
    if as_json:
        print_json(dict(photos=[r.__dict__ for r in results], new_hits=dict(new_hits)))
        return
    print_table(
        f"Enrolled into case {case_id}",
        ["photo", "sha256", "pdq quality", "faces", "notes"],
        [
            (r.label, r.sha256[:16] + "…", r.pdq_quality, r.faces_enrolled, "; ".join(r.warnings))
            for r in results
        ],
    )
    console.print(f"backlog matched: {counts(new_hits)} new hit(s)")
