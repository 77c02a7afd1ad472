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

from ncii_shield.cli import (
    audit,
    banks,
    cases,
    coercion,
    evidence,
    keys,
    review,
    scan,
    takedown,
    takedown_follow,  # noqa: F401  (adds inbox, removed, reuploads to takedown.app)
    text,
    users,
)
from ncii_shield.cli import crawl as crawl_cli
from ncii_shield.cli import watch as watch_chats
from ncii_shield.cli.common import state
from ncii_shield.cli.output import fail
from ncii_shield.errors import NciiError

coercion.install()  # plain str/int/Path values without importing Pydantic (cli/coercion.py)

# Top-level commands, in the order `--help` lists them.
COMMANDS = {
    "enrol": cases.enrol,
    "watch": text.watch,
    "scan": scan.scan,
    "crawl": crawl_cli.crawl,
    "match": scan.match,
    "hits": review.hits,
    "rooms": text.rooms,
    "room-alias": text.room_alias,
    "report": evidence.report,
    "sources": scan.sources,
    "skipped": scan.skipped,
    "demo": scan.demo,
    "hash": scan.hash_command,
    "init": keys.init,
    "serve": users.serve,
}
GROUPS = {
    "case": cases.app,
    "keys": keys.app,
    "bank": banks.app,
    "audit": audit.app,
    "evidence": evidence.app,
    "takedown": takedown.app,
    "user": users.app,
    "review": review.app,
    "text": text.app,
    "watch-chats": watch_chats.app,
}


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


def build(only: str | None = None) -> typer.Typer:
    """The CLI; with ``only``, just that command or group under the same root (see main)."""
    root = typer.Typer(
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        help="Find a consenting person's photos, face and details in collected chat exports.",
    )
    for name, command in COMMANDS.items():
        if only in (None, name):
            root.command(name)(command)
    for name, group in GROUPS.items():
        if only in (None, name):
            root.add_typer(group, name=name)
    root.callback()(_global)
    return root


app = build()


def _named(args: list[str]) -> str | None:
    """The command or group the arguments name, after the global options; None if none is named plainly."""
    rest = (
        args[2:]
        if args[:1] == ["--data-dir"]
        else args[1:]
        if args[:1] and args[0].startswith("--data-dir=")
        else args
    )
    return rest[0] if rest and (rest[0] in COMMANDS or rest[0] in GROUPS) else None


def main() -> None:
    """Run the command; an `NciiError` becomes one `error:` line, a `hint:` line and its kind's exit code."""
    try:
        # Typer builds every command's parameters from its signature on each call (~30 ms for all of
        # them); the root holding only the named command parses, helps and fails the same way.
        named = _named(sys.argv[1:])
        (build(named) if named else app)()
    except NciiError as exc:
        fail(exc.message, exc.hint, code=exc.exit_code)
    finally:
        state.close()


if __name__ == "__main__":
    main()
