"""`bank import|export|list|hits`: hash banks, matched against everything stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, err_console, fail, print_json, print_table

app = typer.Typer(no_args_is_help=True, help="Hash banks: import, export, list; matched on every scan.")

FormatOption = Annotated[
    str, typer.Option("--format", help="te (threatexchange local_file: 'pdq <hex>' lines) or csv.")
]


@app.command("import")
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


@app.command("export")
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


@app.command("list")
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


@app.command("hits")
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
