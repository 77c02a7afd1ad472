"""What the CLI does before it imports Typer: start `hash`'s worker processes.

Typer, Rich and the command modules take ~100 ms of one core to import. `ncii-shield hash` over many files
spends most of its life in worker processes that must first import NumPy, Pillow and pdqhash (~55 ms
each): started here, they do that on the other core while this process is still importing the CLI
(scan/hashing.start_pool). Only the plain form is recognised — `hash` first, at least POOL_FROM paths or
a folder, no `--workers` and no `--help` — anything else is left to the command, which starts its pool
itself; a pool started for nothing (a bad option) is shut down at exit.
"""

from __future__ import annotations

import os


def start_early(args: list[str]) -> None:
    if (
        not args
        or args[0] != "hash"
        or any(a in ("--help", "--workers") or a.startswith("--workers=") for a in args)
    ):
        return
    from ncii_shield.scan.hashing import POOL_FROM, start_pool

    paths = [a for a in args[1:] if not a.startswith("-")]
    if len(paths) >= POOL_FROM or any(os.path.isdir(p) for p in paths):
        start_pool()
