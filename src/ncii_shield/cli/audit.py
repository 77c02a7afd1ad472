"""`audit verify|head`: check the tamper-evident audit log, and keep its head elsewhere."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, err_console, fail, print_json

app = typer.Typer(no_args_is_help=True, help="The tamper-evident audit log.")


@app.command("verify")
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
        print_json(result.summary())
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


@app.command("head")
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
