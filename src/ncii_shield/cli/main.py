"""The `ncii-shield` command (alias `ncii`): every feature of the core, one subcommand each.

This module only assembles: the global options, the command groups (one module each under cli/) and the
one error handler. Command modules import the core inside their commands, so `--help`, a wrong argument or
a quick listing never pays for dlib, onnxruntime, OpenCV, PyAV, Kiwi or the web stack.
"""

from __future__ import annotations

# ruff: noqa: E402 (the imports below come after `hash` has started its workers)
import sys

from ncii_shield.cli.early import start_early

start_early(sys.argv[1:])  # before Typer and Rich load: see cli/early.py

from pathlib import Path
from typing import Annotated

import typer

from ncii_shield.cli import audit, banks, cases, coercion, evidence, keys, review, scan, takedown, text, users
from ncii_shield.cli.common import state
from ncii_shield.cli.output import fail
from ncii_shield.errors import NciiError

coercion.install()  # plain str/int/Path values without importing Pydantic (cli/coercion.py)

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Find a consenting person's photos, face and details in collected chat exports.",
)

# Top-level commands, in the order `--help` lists them.
for name, command in (
    ("enrol", cases.enrol),
    ("watch", text.watch),
    ("scan", scan.scan),
    ("match", scan.match),
    ("hits", review.hits),
    ("rooms", text.rooms),
    ("room-alias", text.room_alias),
    ("report", evidence.report),
    ("sources", scan.sources),
    ("skipped", scan.skipped),
    ("demo", scan.demo),
    ("hash", scan.hash_command),
    ("init", keys.init),
    ("serve", users.serve),
):
    app.command(name)(command)

for name, group in (
    ("case", cases.app),
    ("keys", keys.app),
    ("bank", banks.app),
    ("audit", audit.app),
    ("evidence", evidence.app),
    ("takedown", takedown.app),
    ("user", users.app),
    ("review", review.app),
    ("text", text.app),
):
    app.add_typer(group, name=name)


@app.callback()
def _global(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where the database and media live [default: NCII_DATA_DIR, else ./ncii-data].",
        ),
    ] = None,
) -> None:
    state.data_dir = data_dir


def main() -> None:
    """Run the command; an `NciiError` becomes one `error:` line, a `hint:` line and its kind's exit code."""
    try:
        app()
    except NciiError as exc:
        fail(exc.message, exc.hint, code=exc.exit_code)
    finally:
        state.close()


if __name__ == "__main__":
    main()
