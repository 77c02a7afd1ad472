"""`scan`, `match`, `sources`, `skipped`, `hash` and `demo`: reading exports in, and what was read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, err_console, fail, print_json, print_table
from ncii_shield.config import DEFAULT_TIMEZONE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ncii_shield.scan.pipeline import ScanResult


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
        str | None,
        typer.Option(
            "--export-timezone",
            help="The zone of the exporting machine, for old exports whose dates carry none "
            f"[default: NCII_TIMEZONE, else {DEFAULT_TIMEZONE}].",
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Run the media work on a Dask cluster: its scheduler address (tcp://host:8786), or local:N "
            "to start N local workers; its workers must see this data directory [default: NCII_CLUSTER].",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Ingest what a path holds and match it against the case. Running it again adds nothing twice; a
    re-export of the same chat adds only the messages not seen before."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.cli.progress import RichProgress, progress_bar
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
            progress=lambda i, n, name: RichProgress(progress, f"{i + 1}/{n} {name}" if n > 1 else ""),
            cluster=cluster,
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
            _print_scan(result, export_timezone or state.settings.timezone)
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
    console.print(f"new hits by route: {counts(r.new_hits)}")
    if r.bank_hits:
        console.print(f"new bank hits: {counts(r.bank_hits)}")


def match(case_id: int) -> None:
    """Match a case against everything stored (scans and enrolments already do this)."""
    from ncii_shield.cases.service import get_case
    from ncii_shield.scan.match import match_case

    with state.store.session() as session:
        get_case(session, case_id)
        new = match_case(state.store, session, case_id)
    console.print(f"new hits by route: {counts(new)}")


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


def skipped(
    source_id: Annotated[int | None, typer.Option("--source", help="Only this source.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List items whose media could not be analysed, with the reason recorded for each."""
    with state.store.session() as session:
        rows = _skipped_rows(session, source_id)
    if as_json:
        print_json(rows)
    else:
        print_table(
            f"Skipped items ({len(rows)})",
            ["item", "chat", "msg", "media", "reason"],
            [(r["item_id"], r["chat"], r["message_id"], r["media_path"], r["reason"]) for r in rows],
        )


def _skipped_rows(session: Session, source_id: int | None) -> list[dict[str, Any]]:
    """Skipped items with their reason, as `skipped --json` prints them."""
    from dataclasses import asdict

    from ncii_shield.read.sources import skipped_items

    return [asdict(i) for i in skipped_items(session, source_id)]


def demo(
    out_dir: Annotated[Path, typer.Option(help="Where the demo export and report go.")] = Path("demo-out"),
    workers: Annotated[int | None, typer.Option(help="Worker processes [default: one per core].")] = None,
) -> None:
    """Build the bundled demo export, open a case, enrol, scan, list hits, write the report, score it."""
    from ncii_shield.cli.progress import RichProgress, progress_bar
    from ncii_shield.demo.run import run_demo

    ok = run_demo(
        state.store, out_dir, workers=workers, progress_factory=progress_bar, progress_adapter=RichProgress
    )
    if not ok:
        raise SystemExit(1)


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
    hashing = hash_files(files, workers=workers, fast=not full)  # workers start loading the decoders now
    from ncii_shield.cli.progress import progress_bar

    results = []
    with progress_bar() as progress:
        task = progress.add_task("files hashed", total=len(files))
        for result in hashing:
            results.append(result)
            progress.advance(task, 1)
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
