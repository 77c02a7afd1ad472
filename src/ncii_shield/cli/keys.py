"""`init` and `keys rotate|public`: the data directory's encryption and its signing key."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ncii_shield.cli.common import JsonFlag, state
from ncii_shield.cli.output import console, err_console, fail, print_json

if TYPE_CHECKING:
    from ncii_shield.store.crypto import KeySource

app = typer.Typer(no_args_is_help=True, help="Manage the encryption keys.")


def init(
    generate_key_file: Annotated[
        Path | None, typer.Option(help="Create a new random key in this file (keep it off the data disk).")
    ] = None,
    key_file: Annotated[Path | None, typer.Option(help="Use the key in this existing file.")] = None,
) -> None:
    """Set up a data directory and its encryption. Without options: a passphrase (asked, or NCII_PASSPHRASE)."""
    from ncii_shield.store.crypto import KeySource, key_source
    from ncii_shield.store.db import Store

    source = _new_key_source(generate_key_file, key_file) or key_source(state.settings, interactive=False)
    if source.key is None and source.passphrase is None:
        if not sys.stdin.isatty():
            fail("no key given", hint="use --generate-key-file PATH, --key-file PATH, or set NCII_PASSPHRASE")
        first = getpass.getpass("new passphrase: ")
        if first != getpass.getpass("repeat passphrase: "):
            fail("the passphrases differ", hint="run init again")
        source = KeySource(passphrase=first)
    store = Store(state.settings, create=source)
    state._store = store
    console.print(f"initialised {store.settings.data_dir} (encrypted; {_describe(source)})")


def _new_key_source(generate: Path | None, existing: Path | None) -> KeySource | None:
    from ncii_shield.store.crypto import KeySource, read_key_file

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


@app.command("rotate")
def keys_rotate(
    generate_key_file: Annotated[Path | None, typer.Option(help="Create the new key in this file.")] = None,
    key_file: Annotated[Path | None, typer.Option(help="The new key is in this existing file.")] = None,
) -> None:
    """Change the deployment key: every data key is re-wrapped; nothing else is rewritten."""
    from ncii_shield.store import audit
    from ncii_shield.store.crypto import PASSPHRASE_ENV, KeySource

    source = _new_key_source(generate_key_file, key_file)
    if source is None:
        new = state.settings.new_passphrase
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


@app.command("public")
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
