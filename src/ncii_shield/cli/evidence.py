"""`report` and `evidence export|verify`: what a case found, written for people and for courts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="Signed evidence bundles: export, and verify offline.")


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


@app.command("export")
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

    passphrase = state.settings.bundle_passphrase
    with state.store.session() as session:
        result = export_bundle(state.store, session, case_id, out, media=media, passphrase=passphrase)
    console.print(
        f"bundle {escape(str(result.path))}: {result.hits} hits, {result.files} files, "
        f"signed by {result.fingerprint}"
    )


@app.command("verify")
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
