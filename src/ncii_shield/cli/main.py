"""The `ncii-shield` command (alias `ncii`): every feature of the core, one subcommand each."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from sqlalchemy import func, select

from ncii_shield.cli.output import console, err_console, fail, print_json, print_table
from ncii_shield.config import DEFAULT_TIMEZONE, load_settings
from ncii_shield.errors import NciiError
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store

if TYPE_CHECKING:
    from ncii_shield.scan.pipeline import ScanResult

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Find a consenting person's photos, face and details in collected chat exports.",
)
case_app = typer.Typer(no_args_is_help=True, help="Open, list and show cases.")
app.add_typer(case_app, name="case")
keys_app = typer.Typer(no_args_is_help=True, help="Manage the encryption keys.")
app.add_typer(keys_app, name="keys")
bank_app = typer.Typer(no_args_is_help=True, help="Hash banks: import, export, list; matched on every scan.")
app.add_typer(bank_app, name="bank")
audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")
app.add_typer(audit_app, name="audit")
evidence_app = typer.Typer(no_args_is_help=True, help="Signed evidence bundles: export, and verify offline.")
app.add_typer(evidence_app, name="evidence")
takedown_app = typer.Typer(
    no_args_is_help=True, help="Takedown notices: draft, send, track removal and re-uploads."
)
app.add_typer(takedown_app, name="takedown")
user_app = typer.Typer(no_args_is_help=True, help="Web app users, their cases, and API tokens.")
app.add_typer(user_app, name="user")
review_app = typer.Typer(
    no_args_is_help=True, help="Confirm or reject hits, with a reason (appended, never edited)."
)
app.add_typer(review_app, name="review")

FormatOption = Annotated[
    str, typer.Option("--format", help="te (threatexchange local_file: 'pdq <hex>' lines) or csv.")
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class State:
    data_dir: Path | None = None
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(load_settings(self.data_dir))
        return self._store


state = State()


@app.callback()
def _global(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="NCII_DATA_DIR",
            help="Where the database and media live [default: ./ncii-data].",
        ),
    ] = None,
) -> None:
    state.data_dir = data_dir


# ---------------------------------------------------------------------------------------------- cases


@case_app.command("open")
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


@case_app.command("list")
def case_list(as_json: JsonFlag = False) -> None:
    """List cases with their number of references and hits."""
    from ncii_shield.store.models import Case, Hit, Reference

    with state.store.session() as session:
        refs = dict(
            session.execute(select(Reference.case_id, func.count()).group_by(Reference.case_id)).all()
        )
        hits = dict(
            session.execute(
                select(Hit.case_id, func.count(func.distinct(Hit.item_id))).group_by(Hit.case_id)
            ).all()
        )
        rows = [
            dict(
                id=c.id,
                pseudonym=c.pseudonym,
                status=c.status,
                opened=c.created_at,
                references=refs.get(c.id, 0),
                hits=hits.get(c.id, 0),
            )
            for c in session.scalars(select(Case).order_by(Case.id))
        ]
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


@case_app.command("show")
def case_show(case_id: int, as_json: JsonFlag = False) -> None:
    """Show a case: consent record, enrolled references, hits by kind."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.review.hits import list_hits
    from ncii_shield.store.models import Reference

    with state.store.session() as session:
        case = get_case(session, case_id)
        counted: Counter[tuple[str, str]] = Counter()  # labels are sealed: count here, not in SQL
        for label, kind in session.execute(
            select(Reference.photo_label, Reference.kind).where(Reference.case_id == case_id)
        ):
            counted[(label, kind)] += 1
        refs = [(label, kind, n) for (label, kind), n in counted.items()]
        by_kind: dict[str, int] = {}
        for row in list_hits(session, case_id):
            by_kind[row.kind] = by_kind.get(row.kind, 0) + 1
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
            references=[dict(photo=p, kind=k, count=n) for p, k, n in refs],
            hits_by_kind=by_kind,
        )
    if as_json:
        print_json(data)
        return
    if case.status == "purged":
        console.print(
            f"case {case_id} was purged on {case.purged_at:%Y-%m-%d %H:%M} UTC; nothing of it remains"
        )
        return
    flags = ", minor" * case.minor + ", hash-only" * case.hash_only
    console.print(f"[bold]case {data['id']}[/] {escape(case.pseudonym or '')} ({case.status}{flags})")
    console.print(
        f"consent: {escape(case.consent_by)}, {case.consent_at:%Y-%m-%d %H:%M} UTC, "
        f"{escape(case.consent_method)}"
    )
    print_table("References", ["photo", "kind", "count"], refs)
    console.print("hits by kind: " + (", ".join(f"{k} {n}" for k, n in by_kind.items()) or "none"))


@case_app.command("close")
def case_close(case_id: int) -> None:
    """Close a case: it stops matching; its evidence is kept until it is purged."""
    from ncii_shield.cases.retention import close_case

    with state.store.session() as session:
        close_case(session, case_id)
    console.print(f"case {case_id} closed")


@case_app.command("purge")
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


# ---------------------------------------------------------------------------------------------- enrol


@app.command()
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
    console.print(f"backlog matched: {_counts(new_hits)} new hit(s)")


text_app = typer.Typer(no_args_is_help=True, help="Text signals: personal data and solicitation cues.")
app.add_typer(text_app, name="text")


@text_app.command("check")
def text_check(as_json: JsonFlag = False) -> None:
    """Read messages from standard input, one per line; print score, label, cues and personal data found."""
    from ncii_shield.text.cues import assess

    # Bytes that are not UTF-8 are replaced rather than fatal: one bad line must not stop the rest.
    for number, raw in enumerate(sys.stdin.buffer, 1):
        message = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not message.strip():
            continue
        result = assess(message)
        spans = [
            dict(kind=s.kind, text=s.text, start=s.start, end=s.end, value=s.value) for s in result.spans
        ]
        if as_json:
            sys.stdout.write(
                json.dumps(
                    dict(
                        line=number,
                        score=result.score,
                        label=result.label,
                        cues=list(result.cues),
                        spans=spans,
                    ),
                    ensure_ascii=False,
                )
                + "\n"
            )
        else:
            console.print(f"[bold]{number}[/] {result.label} {result.score:.2f}  {escape(message[:80])}")
            for cue in result.cues:
                console.print(f"    cue: {escape(cue)}")
            for span in result.spans:
                console.print(
                    f"    {span.kind} [{span.start}:{span.end}] {escape(span.text)} -> {escape(span.value)}"
                )


@app.command()
def watch(
    case_id: Annotated[int, typer.Argument(help="The case.")],
    name: Annotated[
        list[str] | None, typer.Option(help="The person's name and its variants (repeatable).")
    ] = None,
    school: Annotated[list[str] | None, typer.Option(help="School, full or short form (repeatable).")] = None,
    birth_year: Annotated[list[str] | None, typer.Option(help="Birth year, e.g. 2007 (repeatable).")] = None,
    handle: Annotated[list[str] | None, typer.Option(help="SNS handle, e.g. @name (repeatable).")] = None,
    phone: Annotated[list[str] | None, typer.Option(help="Phone number (repeatable).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add the person's identifiers to the case watchlist (kept only as keyed hashes), then match messages."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.match import match_case
    from ncii_shield.text.service import add_terms

    values = [
        (f, v)
        for f, vs in (
            ("name", name),
            ("school", school),
            ("birth_year", birth_year),
            ("handle", handle),
            ("phone", phone),
        )
        for v in vs or []
    ]
    if not values:
        fail(
            "no identifier given",
            hint="give at least one of --name, --school, --birth-year, --handle, --phone",
        )
    with state.store.session() as session:
        added = add_terms(state.store, session, get_case(session, case_id), values)
        new = match_case(state.store, session, case_id)
    if as_json:
        print_json(dict(added=dict(added), new_hits=dict(new)))
    else:
        console.print(
            f"watchlist of case {case_id}: {_counts(added)} identifier(s) added (stored as keyed hashes "
            f"only); new hits: {_counts(new)}"
        )


# ---------------------------------------------------------------------------------------------- scan


class _RichProgress:
    def __init__(self, progress: Progress, label: str = "") -> None:
        self.progress = progress
        prefix = f"{label}: " if label else ""
        self.read_task = progress.add_task(f"{prefix}export read (%)", total=None)
        self.items_task = progress.add_task("messages", total=None)
        self.media_task = progress.add_task("media analysed", total=None)
        self.match_task: TaskID | None = None

    def position(self, done: int, total: int) -> None:
        self.progress.update(self.read_task, completed=100 * done // max(total, 1), total=100)

    def items(self, n: int) -> None:
        self.progress.advance(self.items_task, n)

    def media(self, n: int) -> None:
        self.progress.advance(self.media_task, n)

    def stage(self, name: str) -> None:
        if name == "matching":
            self.progress.update(self.read_task, completed=100, total=100)
            self.match_task = self.progress.add_task("matching against the case", total=1)
        elif name == "done" and self.match_task is not None:
            self.progress.update(self.match_task, completed=1)


class RateColumn(ProgressColumn):
    """Files or messages per second: the number that tells whether a big export will take minutes or hours."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="cyan")


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )


@app.command()
def scan(
    case_id: Annotated[int, typer.Argument(help="The case to match against.")],
    path: Annotated[
        Path,
        typer.Argument(
            help="A Telegram Desktop export (JSON or HTML; its folder, result.json, messages.html or a zip "
            "of it), several exports side by side, or a folder of images and videos."
        ),
    ],
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: one per core].")] = None,
    export_timezone: Annotated[
        str,
        typer.Option(
            "--export-timezone",
            envvar="NCII_TIMEZONE",
            help="The zone of the exporting machine, for old exports whose dates carry none.",
        ),
    ] = DEFAULT_TIMEZONE,
    as_json: JsonFlag = False,
) -> None:
    """Ingest what a path holds and match it against the case. Running it again adds nothing twice; a
    re-export of the same chat adds only the messages not seen before."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.service import scan_path

    with state.store.session() as session:
        get_case(session, case_id)
    with progress_bar() as progress:
        done = scan_path(
            state.store,
            path,
            case_id=case_id,
            workers=workers,
            timezone=export_timezone,
            progress=lambda i, n, name: _RichProgress(progress, f"{i + 1}/{n} {name}" if n > 1 else ""),
        )
    if as_json:
        scans = [_scan_data(r) for r in done.results]
        total: dict[str, object] = {}
        for key in (
            "items_seen",
            "items_new",
            "items_repeated",
            "media_new",
            "items_skipped",
            "dates_assumed",
        ):
            total[key] = sum(int(s[key]) for s in scans)  # type: ignore[call-overload]
        for key in ("skip_reasons", "new_hits", "bank_hits"):
            total[key] = dict(sum((Counter(s[key]) for s in scans), Counter()))  # type: ignore[arg-type]
        first = scans[0] if scans else {}
        print_json(
            dict(
                scan_id=first.get("scan_id"),
                source_id=first.get("source_id"),
                status="partial" if done.partial else "done",
                error="; ".join(str(s["error"]) for s in scans if s["error"]) or None,
                **total,
                chats=[c for s in scans for c in s["chats"]],  # type: ignore[attr-defined]
                notes=done.notes,
                scans=scans,
            )
        )
    else:
        for note in done.notes:
            console.print(f"[cyan]note:[/] {escape(note)}")
        for result in done.results:
            _print_scan(result, export_timezone)
    if done.partial:
        raise SystemExit(1)  # what was read is kept; 1 tells scripts the source was not read to its end


def _scan_data(r: ScanResult) -> dict[str, object]:
    return dict(
        scan_id=r.scan_id,
        source_id=r.source_id,
        status=r.status,
        items_seen=r.items_seen,
        items_new=r.items_new,
        items_repeated=r.items_repeated,
        media_new=r.media_new,
        items_skipped=r.items_skipped,
        skip_reasons=dict(r.skip_reasons),
        dates_assumed=r.dates_assumed,
        error=r.error,
        new_hits=dict(r.new_hits),
        bank_hits=dict(r.bank_hits),
        chats=[
            dict(
                chat_id=c.chat_id,
                title=c.title,
                messages=c.messages,
                new=c.new,
                changed=c.changed,
                repeated=c.repeated,
                previous_export=c.previous_export,
            )
            for c in r.chats
        ],
    )


def _print_scan(r: ScanResult, zone: str) -> None:
    repeated = f", {r.items_repeated} already seen in an earlier export" if r.items_repeated else ""
    console.print(
        f"scan [bold]{r.scan_id}[/] {r.status}: {r.items_seen} messages "
        f"({r.items_new} new{repeated}), {r.media_new} new media, {r.items_skipped} skipped"
    )
    for chat in r.chats:
        title = escape(chat.title or chat.chat_id)
        if chat.previous_export:
            changed = f", {chat.changed} with other media than before" if chat.changed else ""
            since = (
                f"the export scanned on {chat.previous_export}"
                if chat.previous_from_scan
                else f"the export of {chat.previous_export}"
            )
            console.print(
                f"  chat {title}: {chat.new} new messages since {since} ({chat.repeated} already seen{changed})"
            )
        elif len(r.chats) > 1:
            console.print(f"  chat {title}: {chat.messages} messages")
    if r.dates_assumed:
        console.print(
            f"  [yellow]{r.dates_assumed} dates had no time zone (an old export): read as {zone}[/]"
            " — if the export was made elsewhere, scan again with --export-timezone"
        )
    for reason, count in r.skip_reasons.most_common():
        console.print(f"  skipped {count}: {escape(reason)}")
    if r.error:
        console.print(f"[yellow]source stopped early:[/] {escape(r.error)}")
    console.print(f"new hits: {_counts(r.new_hits)}")
    if r.bank_hits:
        console.print(f"new bank hits: {_counts(r.bank_hits)}")


@app.command()
def match(case_id: int) -> None:
    """Match a case against everything stored (scans and enrolments already do this)."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.match import match_case

    with state.store.session() as session:
        get_case(session, case_id)
        new = match_case(state.store, session, case_id)
    console.print(f"new hits: {_counts(new)}")


# ---------------------------------------------------------------------------------------------- results


def _counts(by_kind: Mapping[str, int]) -> str:
    """'5 (exact 1, pdq 2, face 2)', or '0'."""
    total = sum(by_kind.values())
    return f"{total} ({', '.join(f'{k} {n}' for k, n in by_kind.items())})" if total else "0"


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


@app.command()
def hits(
    case_id: int,
    kind: Annotated[
        str | None, typer.Option(help="Only hits found by this route: exact, pdq or face.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List a case's hits with their provenance: one row per message, every route that matched it."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.review.hits import list_hits

    if kind is not None and kind not in KIND_ORDER:
        fail(f"unknown kind {kind!r}", hint=f"use one of {', '.join(KIND_ORDER)}")
    with state.store.session() as session:
        get_case(session, case_id)
        rows = list_hits(session, case_id, kind=kind)
    if as_json:
        print_json([r.to_json() for r in rows])
        return
    print_table(
        f"Hits for case {case_id} ({len(rows)})",
        ["item", "kind", "match", "file", "chat", "msg", "sender", "date (UTC)", "forwarded from", "review"],
        [
            (
                r.item_id,
                r.kind,
                _fmt_match(r),
                r.media_path or escape(r.excerpt or ""),
                r.chat,
                r.message_id,
                f"{r.sender or '?'} ({r.sender_id})" if r.sender_id else r.sender,
                f"{r.date:%Y-%m-%d %H:%M}" if r.date else None,
                r.forwarded_from,
            )
            for r in rows
        ],
    )


@app.command()
def rooms(case_id: int, as_json: JsonFlag = False) -> None:
    """The room graph: collected chats with the case's hits, and the invite/channel links between rooms."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.text.rooms import room_graph

    with state.store.session() as session:
        get_case(session, case_id)
        graph = room_graph(state.store, session, case_id)
    if as_json:
        print_json(graph.to_json())
        return
    titles = {c.chat_id: c.title or c.chat_id for c in graph.chats}
    print_table(
        f"Chats ({len(graph.chats)}), case {case_id}'s hits first",
        ["chat id", "title", "type", "messages", "hits", "reached by"],
        [
            (c.chat_id, c.title, c.type, c.messages, _counts(c.hits) or "-", ", ".join(c.links_in) or "-")
            for c in graph.chats
        ],
    )
    print_table(
        f"Links between rooms ({len(graph.edges)})",
        ["from chat", "link", "leads to", "messages", "posters", "first seen", "last seen", "msg ids"],
        [
            (
                titles.get(e.from_chat or "", e.from_chat),
                e.target,
                titles.get(e.to_chat, e.to_chat) if e.to_chat else "(not collected)",
                e.messages,
                e.posters,
                f"{e.first_seen:%Y-%m-%d %H:%M}" if e.first_seen else None,
                f"{e.last_seen:%Y-%m-%d %H:%M}" if e.last_seen else None,
                ", ".join(map(str, e.message_ids[:6])) + (" …" if len(e.message_ids) > 6 else ""),
            )
            for e in graph.edges
        ],
    )


@app.command("room-alias")
def room_alias(
    chat_id: Annotated[str, typer.Argument(help="A collected chat's id (see: ncii-shield rooms CASE).")],
    link: Annotated[str, typer.Argument(help="A link that leads to it: t.me/+…, t.me/name or @name.")],
) -> None:
    """Record that a room link leads to a collected chat, so the room graph can connect them."""
    from ncii_shield.store import audit
    from ncii_shield.text.rooms import add_alias

    with state.store.session() as session:
        added = add_alias(state.store, session, chat_id, link)
        audit.record(session, "rooms.alias", chat_id=chat_id, added=added)
    console.print(f"chat {chat_id}: link {'recorded' if added else 'was already known'}")


@app.command()
def report(
    case_id: int,
    out: Annotated[Path, typer.Option(help="Where to write the HTML report.")],
    reveal_thumbnails: Annotated[
        bool, typer.Option(help="Embed clear thumbnails behind click-to-reveal.")
    ] = False,
) -> None:
    """Write one self-contained HTML report: hits grouped by image, where each copy went, a timeline."""
    from ncii_shield.evidence.assemble import build_report_data
    from ncii_shield.evidence.report import write_report
    from ncii_shield.store import audit

    with state.store.session() as session:
        data = build_report_data(session, state.store.blobs, case_id)
        written = write_report(data, out, reveal_thumbnails=reveal_thumbnails)
        audit.record(
            session,
            "report.written",
            case_id=case_id,
            path=str(written.resolve()),
            reveal_thumbnails=reveal_thumbnails,
        )
    console.print(f"report written to [bold]{written}[/]")


@app.command()
def sources(as_json: JsonFlag = False) -> None:
    """List the sources scanned so far, and each chat as that export showed it (new since the last one)."""
    from ncii_shield.scan.exports import list_sources

    with state.store.session() as session:
        rows = list_sources(session)
    if as_json:
        print_json(rows)
        return
    table = []
    for r in rows:
        zone = f" (dates read as {r['assumed_timezone']})" if r["assumed_timezone"] else ""
        table.append(
            (r["id"], r["kind"], f"{r['name']}{zone}", r["items"], r["exported_on"] or "", r["location"])
        )
        for chat in r["chats"]:  # type: ignore[attr-defined]
            changed = f", {chat['changed']} changed" if chat["changed"] else ""
            table.append(
                (
                    "",
                    "  chat",
                    chat["title"] or chat["chat_id"],
                    chat["messages"],
                    f"{chat['new']} new{changed}",
                    "",
                )
            )
    print_table("Sources", ["id", "kind", "name", "items", "exported", "location"], table)


@app.command()
def skipped(
    source_id: Annotated[int | None, typer.Option("--source", help="Only this source.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List items whose media could not be analysed, with the reason recorded for each."""
    from ncii_shield.store.models import Item

    with state.store.session() as session:
        query = select(Item).where(Item.skip_reason.is_not(None)).order_by(Item.id)
        if source_id is not None:
            query = query.where(Item.source_id == source_id)
        rows = [
            dict(
                item_id=i.id,
                source_id=i.source_id,
                chat=i.chat_title,
                message_id=i.message_id,
                media_path=i.media_path,
                reason=i.skip_reason,
            )
            for i in session.scalars(query)
        ]
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"Skipped items ({len(rows)})",
            ["item", "chat", "msg", "media", "reason"],
            [(r["item_id"], r["chat"], r["message_id"], r["media_path"], r["reason"]) for r in rows],
        )


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option(help="Where the demo export and report go.")] = Path("demo-out"),
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: one per core].")] = None,
) -> None:
    """Build the bundled demo export, open a case, enrol, scan, list hits, write the report, score it."""
    from ncii_shield.demo.run import run_demo

    ok = run_demo(
        state.store, out_dir, workers=workers, progress_factory=progress_bar, progress_adapter=_RichProgress
    )
    if not ok:
        raise SystemExit(1)


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="The bank (created if it does not exist).")],
    file: Annotated[Path, typer.Argument(help="The hash list; '-' reads standard input.")],
    fmt: FormatOption = "te",
    signal_type: Annotated[
        str | None, typer.Option(help="Type of bare hashes on lines without one, e.g. pdq.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import hashes into a bank, then match the bank against everything stored."""
    from ncii_shield.banks.formats import parse
    from ncii_shield.banks.service import get_bank, import_entries, match_banks

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", hint="give a text file of hashes")
    parsed = parse(text, fmt, default_type=signal_type)
    with state.store.session() as session:
        bank = get_bank(session, name, create=True)
        new = import_entries(session, bank, parsed)
        hits = match_banks(session, [bank.id])
    data = dict(
        bank=name,
        read=len(parsed.entries),
        new=new,
        skipped_types=dict(parsed.skipped_types),
        new_hits=hits.get(name, 0),
    )
    if as_json:
        print_json(data)
        return
    console.print(
        f"bank {escape(name)}: {new} new of {len(parsed.entries)} read; {data['new_hits']} new hit(s)"
    )
    for kind, count in parsed.skipped_types.items():
        console.print(f"  skipped {count} {escape(kind)} signal(s): not matched by ncii-shield")


@bank_app.command("export")
def bank_export(
    name: str,
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    fmt: FormatOption = "te",
) -> None:
    """Export a bank as threatexchange local_file lines or CSV."""
    from ncii_shield.banks.formats import write
    from ncii_shield.banks.service import export_entries, get_bank
    from ncii_shield.store import audit
    from ncii_shield.store.files import atomic_write

    with state.store.session() as session:
        bank = get_bank(session, name)
        text = write(export_entries(session, bank), fmt)
        audit.record(session, "bank.exported", bank=name, format=fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write(out, text.encode())
        err_console.print(f"wrote {out}")


@bank_app.command("list")
def bank_list(as_json: JsonFlag = False) -> None:
    """List banks with their number of hashes and of items hit."""
    from ncii_shield.banks.service import list_banks

    with state.store.session() as session:
        rows = list_banks(session)
    if as_json:
        print_json([r.__dict__ for r in rows])
    else:
        print_table(
            "Banks",
            ["name", "enabled", "hashes", "items hit"],
            [(r.name, r.enabled, ", ".join(f"{k} {n}" for k, n in r.signals.items()), r.hits) for r in rows],
        )


@bank_app.command("hits")
def bank_hits_command(name: str, as_json: JsonFlag = False) -> None:
    """Items that matched a bank, with the hash they matched and their provenance."""
    from ncii_shield.banks.service import bank_hits, get_bank

    with state.store.session() as session:
        rows = bank_hits(session, get_bank(session, name))
    if as_json:
        print_json([r.__dict__ for r in rows])
    else:
        print_table(
            f"Hits of bank {name} ({len(rows)})",
            ["kind", "distance", "file", "chat", "msg", "date"],
            [(r.kind, r.distance, r.media_path, r.chat, r.message_id, r.date) for r in rows],
        )


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Image files or folders.")],
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: one per core].")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Decode at full size (slower; the reference path).")
    ] = False,
    te: Annotated[
        bool, typer.Option("--te", help="Print python-threatexchange local_file lines: 'pdq <hex>'.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """PDQ-hash images without storing anything: for banks, or to share hashes instead of images."""
    from ncii_shield.scan.hashing import hash_files, iter_files

    files = list(iter_files(paths))
    missing = [p for p in files if not p.exists()]
    if missing:
        fail(f"{missing[0]}: no such file or folder", hint="check the paths")
    with progress_bar() as progress:
        task = progress.add_task("files hashed", total=len(files))
        results = list(
            hash_files(files, workers=workers, fast=not full, on_done=lambda n: progress.advance(task, n))
        )
    if as_json:
        print_json([r.__dict__ for r in results])
    elif te:
        for r in results:
            if r.pdq and r.quality is not None and r.quality >= 50:
                print(f"pdq {r.pdq}")
    else:
        print_table(
            f"PDQ of {len(results)} files",
            ["pdq", "quality", "file", "problem"],
            [(r.pdq, r.quality, r.path, r.error) for r in results],
        )
    refused = sum(1 for r in results if r.error)
    if refused:
        err_console.print(f"{refused} file(s) could not be hashed (see 'problem')")


@app.command()
def init(
    generate_key_file: Annotated[
        Path | None, typer.Option(help="Create a new random key in this file (keep it off the data disk).")
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help="Use the key in this existing file.")] = None,
) -> None:
    """Set up a data directory and its encryption. Without options: a passphrase (asked, or NCII_PASSPHRASE)."""
    from ncii_shield.store.crypto import key_source_from_environment

    source = _new_key_source(generate_key_file, key_file) or key_source_from_environment(interactive=False)
    if source.key is None and source.passphrase is None:
        if not sys.stdin.isatty():
            fail("no key given", hint="use --generate-key-file PATH, --key-file PATH, or set NCII_PASSPHRASE")
        first = getpass.getpass("new passphrase: ")
        if first != getpass.getpass("repeat passphrase: "):
            fail("the passphrases differ", hint="run init again")
        source = KeySource(passphrase=first)
    store = Store(load_settings(state.data_dir), create=source)
    state._store = store
    console.print(f"initialised {store.settings.data_dir} (encrypted; {_describe(source)})")


def _new_key_source(generate: Path | None, existing: Path | None) -> KeySource | None:
    from ncii_shield.store.crypto import read_key_file

    if generate is not None and existing is not None:
        fail("give either --generate-key-file or --key-file", hint="not both")
    if existing is not None:
        return KeySource(key=read_key_file(existing))
    if generate is None:
        return None
    if generate.exists():
        fail(f"{generate} already exists", hint="choose a new path, or use --key-file to reuse it")
    from ncii_shield.store.files import create_durably

    key = os.urandom(32)
    create_durably(generate, (key.hex() + "\n").encode())  # durable before any commit that needs it
    err_console.print(f"key written to {generate}; set NCII_KEY_FILE={generate} to open the data directory")
    return KeySource(key=key)


def _describe(source: object) -> str:
    return "passphrase" if getattr(source, "passphrase", None) is not None else "key"


@keys_app.command("rotate")
def keys_rotate(
    generate_key_file: Annotated[Path | None, typer.Option(help="Create the new key in this file.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="The new key is in this existing file.")] = None,
) -> None:
    """Change the deployment key: every data key is re-wrapped; nothing else is rewritten."""
    from ncii_shield.store import audit
    from ncii_shield.store.crypto import PASSPHRASE_ENV, KeySource

    source = _new_key_source(generate_key_file, key_file)
    if source is None:
        new = os.environ.get("NCII_NEW_PASSPHRASE")
        if not new:
            fail(
                "no new key given",
                hint=f"use --generate-key-file, --key-file or NCII_NEW_PASSPHRASE (the current one: {PASSPHRASE_ENV})",
            )
        source = KeySource(passphrase=new)
    with state.store.session() as session:
        count = state.store.keyring.rotate(session, source)
        audit.record(session, "keys.rotated", rewrapped=count)
    console.print(f"deployment key rotated ({_describe(source)}); {count} data keys re-wrapped")


@keys_app.command("public")
def keys_public(as_json: JsonFlag = False) -> None:
    """The deployment's Ed25519 public key, which verifies its audit checkpoints and evidence bundles."""
    from ncii_shield.store.chain import fingerprint, public_key_bytes, signing_key

    with state.store.session() as session:
        public = public_key_bytes(signing_key(state.store, session))
    if as_json:
        print_json({"ed25519_public_key": public.hex(), "fingerprint": fingerprint(public)})
        return
    sys.stdout.write(f"{public.hex()}\n")
    err_console.print(f"fingerprint {fingerprint(public)}", style="dim")


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-head",
            help="A head kept from `ncii-shield audit head` (SEQ:HEX, repeatable): the log must still hold it.",
        ),
    ] = None,
    accept_unsigned_tail: Annotated[
        bool,
        typer.Option(
            "--accept-unsigned-tail",
            help="Entries after the last signed head are counted, not reported as errors.",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check the whole audit log against its signed checkpoints, the witness file and any kept head.

    Any edited, deleted, reordered or cut entry is found and named. Exit 1 if so.
    """
    from ncii_shield.store.chain import verify_store
    from ncii_shield.store.witness import parse_head

    try:
        heads = [parse_head(h) for h in expect_head or []]
    except ValueError as exc:
        fail(str(exc), hint="give --expect-head exactly as `ncii-shield audit head` printed it (SEQ:HEX)")
    with state.store.session() as session:
        result = verify_store(
            state.store, session, expected_heads=heads, accept_unsigned_tail=accept_unsigned_tail
        )
    if as_json:
        print_json(
            dict(
                ok=result.ok,
                entries=result.entries,
                checkpoints=result.checkpoints,
                signed_through=result.signed_through,
                unsigned=result.unsigned,
                witnessed=result.witnessed,
                unwitnessed=result.unwitnessed,
                expected_heads=result.expected,
                purged=result.purged,
                legacy=result.legacy,
                problems=result.problems,
                notes=result.notes,
                public_keys=sorted(result.public_keys),
            )
        )
    else:
        for problem in result.problems:
            console.print(f"[red]tampered[/] {escape(problem)}")
        for note in result.notes:
            console.print(f"[yellow]note[/] {escape(note)}")
        console.print(
            f"{result.entries} entries, {result.checkpoints} signed checkpoints, "
            f"{result.witnessed} witnessed"
            + (f", {result.expected} kept head(s) found" if result.expected else "")
            + (f", {result.unsigned} unsigned at the end" if result.unsigned else "")
            + (f", {result.purged} emptied by purges" if result.purged else "")
            + (f", {result.legacy} from before the chain" if result.legacy else "")
            + (": [green]intact[/]" if result.ok else f": [red]{len(result.problems)} problem(s)[/]")
        )
        if result.ok and result.unwitnessed:
            err_console.print(
                f"{result.unwitnessed} checkpoint(s) are not in the witness file (written before it existed)",
                style="dim",
            )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("head")
def audit_head(as_json: JsonFlag = False) -> None:
    """The latest signed head of the audit log: keep it elsewhere (or publish it) for `verify --expect-head`."""
    from ncii_shield.store.chain import fingerprint
    from ncii_shield.store.witness import latest_head

    with state.store.session() as session:
        cp = latest_head(state.store, session)
    if cp is None:
        fail("the audit log has no valid signed head", hint="run `ncii-shield audit verify` to see why")
    kept = f"{cp.seq}:{cp.head.hex()}"
    if as_json:
        print_json(
            dict(
                seq=cp.seq,
                head=cp.head.hex(),
                at=cp.at.isoformat(),
                signature=cp.signature.hex(),
                ed25519_public_key=cp.public_key.hex(),
                fingerprint=fingerprint(cp.public_key),
                expect_head=kept,
            )
        )
        return
    sys.stdout.write(f"{kept}\n")
    err_console.print(
        f"signed {cp.at.isoformat()} by {fingerprint(cp.public_key)}; keep this line off this machine "
        "and check it later with `ncii-shield audit verify --expect-head`",
        style="dim",
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
KindOpt = Annotated[str | None, typer.Option(help="With --all: only hits found by this route.")]
ReasonOpt = Annotated[str, typer.Option(help="Why: kept sealed, in the record.")]


@review_app.command("confirm")
def review_confirm(
    case_id: int,
    items: ItemsArg = None,
    all_hits: AllFlag = False,
    kind: KindOpt = None,
    reason: ReasonOpt = "",
) -> None:
    """Confirm hits: they are the person's images or about the person, and are acted on."""
    _review(case_id, "confirmed", items, all_hits, kind, reason)


@review_app.command("reject")
def review_reject(
    case_id: int,
    items: ItemsArg = None,
    all_hits: AllFlag = False,
    kind: KindOpt = None,
    reason: ReasonOpt = "",
) -> None:
    """Reject hits: not the person; they stay on record but are left out of notices and bundles."""
    _review(case_id, "rejected", items, all_hits, kind, reason)


@evidence_app.command("export")
def evidence_export(
    case_id: int,
    out: Annotated[Path, typer.Option(help="Where to write the bundle (.zip).")],
    media: Annotated[
        str,
        typer.Option(help="none, blurred (thumbnails) or encrypted (originals; NCII_BUNDLE_PASSPHRASE)."),
    ] = "blurred",
) -> None:
    """Write a signed evidence bundle: manifest, reports (HTML, PDF; ko, en), audit slice, signature."""
    from ncii_shield.evidence.bundle import export_bundle

    passphrase = os.environ.get("NCII_BUNDLE_PASSPHRASE")
    with state.store.session() as session:
        result = export_bundle(state.store, session, case_id, out, media=media, passphrase=passphrase)
    console.print(
        f"bundle {escape(str(result.path))}: {result.hits} hits, {result.files} files, "
        f"signed by {result.fingerprint}"
    )


@evidence_app.command("verify")
def evidence_verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle (.zip).")],
    key: Annotated[
        list[str] | None,
        typer.Option(help="The signer's public key (hex) or fingerprint you trust (repeatable)."),
    ] = None,
    signature: Annotated[
        Path | None, typer.Option(help="The detached signature [default: BUNDLE.sig beside it].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a bundle offline, with no data directory: signature, every file's hash, the audit slice."""
    from ncii_shield.evidence.bundle import verify_bundle

    if not bundle.is_file():
        fail(f"no file at {bundle}", hint="give the path of the .zip bundle")
    result = verify_bundle(bundle, trusted=key or (), signature=signature)
    if as_json:
        print_json(
            dict(
                ok=result.ok,
                fingerprint=result.fingerprint,
                pinned=result.pinned,
                whole_file_signed=result.whole_file_signed,
                files=result.files,
                hits=result.hits,
                audit_entries=result.audit_entries,
                problems=result.problems,
            )
        )
    else:
        for problem in result.problems:
            console.print(f"[red]invalid[/] {escape(problem)}")
        if result.ok:
            console.print(
                f"[green]valid[/]: {result.files} files, {result.hits} hits, {result.audit_entries} audit entries; "
                f"signed by {result.fingerprint}"
                + (
                    ""
                    if result.pinned
                    else " (not pinned: compare this fingerprint with the sender's, or pass --key)"
                )
            )
    if not result.ok:
        raise typer.Exit(1)


@takedown_app.command("draft")
def takedown_draft(
    case_id: int,
    org: Annotated[
        str | None, typer.Option(envvar="NCII_REPORTER_ORG", help="Who reports (your organisation).")
    ] = None,
    email: Annotated[
        str | None, typer.Option(envvar="NCII_REPORTER_EMAIL", help="Where platforms answer.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="ko or en [default: ko for Korean bodies, else en].")
    ] = None,
    regulator: Annotated[
        bool, typer.Option("--regulator", help="Also a notice to the KCSC covering every item.")
    ] = False,
    hosting_contact: Annotated[
        str | None, typer.Option(help="Abuse contact (e-mail or form URL) for hits on other websites.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Also write each notice as a text file here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """One notice per platform for the case's confirmed hits that no notice covers yet."""
    from ncii_shield.takedown.service import draft

    if not org or not email:
        fail(
            "who is reporting is not set",
            hint="give --org and --email (or NCII_REPORTER_ORG, NCII_REPORTER_EMAIL)",
        )
    with state.store.session() as session:
        notices = draft(
            session,
            case_id,
            reporter_organisation=org,
            reporter_email=email,
            language=language,
            regulator=regulator,
            hosting_contact=hosting_contact,
            out_dir=out_dir,
        )
        rows = [(n.id, n.platform_id, n.language, n.channel, n.to, len(n.items)) for n in notices]
    if as_json:
        print_json(
            [
                dict(zip(("id", "platform", "language", "channel", "to", "items"), r, strict=True))
                for r in rows
            ]
        )
        return
    print_table(
        f"Notices drafted for case {case_id} ({len(rows)})",
        ["id", "platform", "lang", "via", "to", "items"],
        rows,
    )


@takedown_app.command("show")
def takedown_show(notice_id: int) -> None:
    """Print a notice as it will be sent."""
    from ncii_shield.takedown.service import notices_of

    with state.store.session() as session:
        (notice,) = notices_of(session, [notice_id])
        text = f"To: {notice.to}\nSubject: {notice.subject}\n\n{notice.body}"
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@takedown_app.command("send")
def takedown_send(notice_ids: Annotated[list[int], typer.Argument(help="Drafted e-mail notices.")]) -> None:
    """Send notices by SMTP (NCII_SMTP_HOST, NCII_SMTP_PORT, NCII_SMTP_FROM, …); each is sent once."""
    from ncii_shield.takedown.service import send
    from ncii_shield.takedown.smtp import settings_from_env

    settings = settings_from_env()
    for notice_id in notice_ids:
        with state.store.session() as session:
            message_id = send(session, notice_id, settings)
        console.print(f"notice {notice_id} sent ({escape(message_id)})")


@takedown_app.command("mark")
def takedown_mark(
    notice_id: int,
    status: Annotated[str, typer.Argument(help="sent (through a form, by hand), acknowledged or closed.")],
    note: Annotated[str, typer.Option(help="What happened, for the record.")] = "",
) -> None:
    """Record what happened outside ncii-shield: a form submitted, a platform's acknowledgement."""
    from ncii_shield.takedown.service import mark

    with state.store.session() as session:
        mark(session, notice_id, status, note)
    console.print(f"notice {notice_id}: {status}")


@takedown_app.command("recheck")
def takedown_recheck(
    case_id: int,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
    retries: Annotated[int, typer.Option(help="Retries on errors, with backoff.")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Fetch every reported URL: removed or still up, with the response kept as evidence."""
    from ncii_shield.takedown.service import detect_reappearance, recheck

    with state.store.session() as session:
        rows = recheck(session, case_id, timeout=timeout, retries=retries)
        detect_reappearance(session, case_id)
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    print_table(
        f"Recheck of case {case_id} ({len(rows)} URLs)",
        ["notice", "item", "url", "now", "http", "error"],
        [(r.notice_id, r.item_id, r.url, r.status, r.http_status, r.error) for r in rows],
    )


@takedown_app.command("status")
def takedown_status(case_id: int, as_json: JsonFlag = False) -> None:
    """Every notice and item status, time to removal per platform, and re-upload alerts."""
    from ncii_shield.takedown.service import status

    with state.store.session() as session:
        notices, stats, alerts = status(session, case_id)
        alert_rows = [(a.id, a.item_id, a.kind, a.notice_item_id, a.at) for a in alerts]
    if as_json:
        print_json(
            {
                "notices": [
                    {
                        **n.__dict__,
                        "created_at": n.created_at.isoformat(),
                        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                    }
                    for n in notices
                ],
                "platforms": [s.__dict__ for s in stats],
                "alerts": [
                    dict(
                        zip(
                            ("id", "item_id", "kind", "notice_item_id", "at"),
                            (*a[:4], a[4].isoformat()),
                            strict=True,
                        )
                    )
                    for a in alert_rows
                ],
            }
        )
        return
    print_table(
        f"Notices of case {case_id} ({len(notices)})",
        ["id", "platform", "lang", "status", "sent (UTC)", "items"],
        [
            (
                n.notice_id,
                n.platform_id,
                n.language,
                n.status,
                f"{n.sent_at:%Y-%m-%d %H:%M}" if n.sent_at else "-",
                _counts(n.items),
            )
            for n in notices
        ],
    )
    print_table(
        "Time to removal per platform",
        ["platform", "notices", "items", "removed", "median hours", "max hours"],
        [
            (s.platform_id, s.notices, s.items, s.removed, s.median_hours_to_removal, s.max_hours_to_removal)
            for s in stats
        ],
    )
    for _, item_id, kind, source, at in alert_rows:
        console.print(
            f"[bold red]ALERT[/] {kind}: item {item_id} (removed before as notice item {source}) at {at:%Y-%m-%d %H:%M}"
        )


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[str, typer.Option(help="admin, case_worker, reviewer or auditor.")],
    language: Annotated[str, typer.Option(help="ko or en.")] = "ko",
) -> None:
    """Create a web user. The password is read from NCII_NEW_PASSWORD or asked for (twice)."""
    import getpass

    from ncii_shield.web.auth import create_user

    password = os.environ.get("NCII_NEW_PASSWORD")
    if not password:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("the two passwords differ", hint="type the same password twice")
    with state.store.session() as session:
        create_user(session, username, password, role, language=language)
    console.print(f"user {escape(username)} ({role}) created")


@user_app.command("assign")
def user_assign(
    username: str, case_ids: Annotated[list[int], typer.Argument(help="Cases the user may see.")]
) -> None:
    """Let a user see and act on cases (admins see every case anyway)."""
    from ncii_shield.web.auth import assign

    with state.store.session() as session:
        for case_id in case_ids:
            assign(session, username, case_id)
    console.print(f"user {escape(username)}: cases {', '.join(map(str, case_ids))}")


@user_app.command("token")
def user_token(
    username: str,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. the platform's name.")],
    scope: Annotated[list[str], typer.Option(help="hma, cases:read, cases:write (repeatable).")],
) -> None:
    """Create an API token for a user; it is printed once and stored only as a hash."""
    from ncii_shield.web.auth import create_token

    with state.store.session() as session:
        token = create_token(session, username, name, scope)
    sys.stdout.write(token + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    insecure_cookies: Annotated[
        bool, typer.Option("--insecure-cookies", help="Allow cookies over plain HTTP (loopback demos only).")
    ] = False,
    demo_user: Annotated[
        bool,
        typer.Option(
            "--demo-user", help="Loopback demo: a case worker 'demo' with a new password, on every case."
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (the login limiter counts per client address). Default: none.",
        ),
    ] = None,
) -> None:
    """Run the web app and the API (behind a TLS proxy in production)."""
    import secrets

    import uvicorn
    from sqlalchemy import select

    from ncii_shield.store.models import Case, User
    from ncii_shield.web.app import create_app
    from ncii_shield.web.auth import assign, create_user, set_password

    if (insecure_cookies or demo_user) and host not in ("127.0.0.1", "localhost", "::1"):
        fail(
            "--insecure-cookies and --demo-user are for loopback only",
            hint="serve on 127.0.0.1, or put TLS in front",
        )
    if demo_user:
        insecure_cookies = True
        password = secrets.token_urlsafe(12)
        with state.store.session() as session:
            if session.scalar(select(User).where(User.username == "demo")) is None:
                create_user(session, "demo", password, "case_worker", language="en")
            else:
                set_password(session, "demo", password)
            for case_id in session.scalars(select(Case.id).where(Case.status != "purged")):
                assign(session, "demo", case_id)
        err_console.print(f"log in as [bold]demo[/] with password [bold]{password}[/] (a new one each start)")
    application = create_app(state.store, secure_cookies=not insecure_cookies)
    err_console.print(f"ncii-shield web app on http://{host}:{port}/ (Ctrl-C to stop)")
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: only from named proxies here.
    proxies = ",".join(p.strip() for p in (forwarded_allow_ips or "").split(",") if p.strip())
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
    )


def main() -> None:
    try:
        app()
    except NciiError as exc:
        fail(exc.message, exc.hint)
    finally:
        if state._store is not None:
            state._store.close()


if __name__ == "__main__":
    main()
