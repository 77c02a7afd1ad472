"""The docs keep up with the code: every setting and every command is in README.md or docs/ (as Datasette
does), so a new one cannot land undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from ncii_shield.cli.main import app

ROOT = Path(__file__).resolve().parents[1]


def _docs() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))
    )


def _commands() -> list[str]:
    found: list[str] = []

    def walk(command: object, prefix: str) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if getattr(sub, "commands", None):
                walk(sub, f"{prefix}{name} ")
            else:
                found.append(f"{prefix}{name}")

    walk(typer.main.get_command(app), "")
    return found


def test_every_setting_is_documented() -> None:
    names = {
        name
        for path in (ROOT / "src").rglob("*.py")
        for name in re.findall(r"NCII_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8"))
    }
    assert len(names) > 20, names  # the scan itself works
    docs = _docs()
    assert not sorted(n for n in names if n not in docs), "settings missing from README.md / docs/"


def test_every_command_is_documented() -> None:
    commands = _commands()
    assert {"scan", "case purge", "audit head", "sources"} <= set(commands)
    docs = _docs()
    missing = [
        c
        for c in commands
        if f"`{c}" not in docs
        and not re.search(r"(ncii-shield|ncii)\s+(--[\w-]+\s+\S+\s+)*" + re.escape(c) + r"\b", docs)
    ]
    assert not missing, f"commands missing from README.md / docs/: {missing}"
