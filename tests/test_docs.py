"""The docs keep up with the code: every setting and every command is in README.md or docs/ (as Datasette
does), so a new one cannot land undocumented. The settings come from the `Settings` object itself, and no
module but config.py may read an NCII_* variable, so that list is the whole of them. The module graph has
no import cycles (none worked around with a late import either)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import typer.main

from ncii_shield.cli.main import app
from ncii_shield.config import Settings, describe

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "ncii_shield"

# Import cycles tolerated for now, each named so the list can only shrink (none today).
KNOWN_CYCLES: set[frozenset[str]] = set()
# Packages still reading NCII_* variables themselves (none today: every one goes through config.Settings).
NOT_YET_SETTINGS: set[str] = set()


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


def test_every_setting_field_is_documented() -> None:
    settings = list(describe())
    assert len(settings) > 20 and all(
        variable.startswith("NCII_") and about for _, variable, about in settings
    )
    docs = _docs()
    missing = sorted(variable for _, variable, _ in settings if variable not in docs)
    assert not missing, f"settings missing from README.md / docs/: {missing}"


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


def test_every_variable_named_in_the_code_is_a_setting() -> None:
    """A variable a message or a docstring names is one the Settings read (no stale or made-up names)."""
    known = {variable for _, variable, _ in describe()}
    named = {
        name
        for path in PACKAGE.rglob("*.py")
        for name in re.findall(r"\bNCII_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))
    }
    assert named - known == set(), "named in src/ but not read by config.Settings"


def test_every_field_reads_its_own_variable() -> None:
    for field, variable, _ in describe():
        assert variable == "NCII_" + field.upper(), (field, variable)
    assert Settings.__dataclass_params__.frozen  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ where settings are read


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _environment_reads(path: Path) -> list[str]:
    """Lines that use os.environ / getenv for an NCII_ name: the line names NCII_ or a *_ENV / *_VARIABLE
    constant, or no literal at all (``os.environ.get(name)``, ``env = os.environ``); COLUMNS and HOME pass.
    Typer options with ``envvar="NCII_…"`` count too: the Settings field is the one reader."""
    found: dict[int, str] = {}
    source = path.read_text(encoding="utf-8")
    tree, lines = ast.parse(source), source.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "envvar" and "NCII_" in ast.unparse(node.value):
            found[node.value.lineno] = f"{path.relative_to(ROOT)}:{node.value.lineno}: {ast.unparse(node)}"
        if not isinstance(node, ast.Attribute | ast.Name):
            continue
        name = node.attr if isinstance(node, ast.Attribute) else node.id
        if name not in ("environ", "getenv", "environb"):
            continue
        line = lines[node.lineno - 1]
        if re.search(r"NCII_|_ENV\b|_VARIABLE\b", line) or not re.search(r"[\"']", line):
            found[node.lineno] = f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}"
    return [found[n] for n in sorted(found)]


def test_only_config_reads_ncii_variables() -> None:
    """Nothing reads NCII_* from the environment but config.py (so nothing at import time either)."""
    reads = [
        read
        for module, path in _modules()
        if module != "ncii_shield.config" and ".".join(module.split(".")[:2]) not in NOT_YET_SETTINGS
        for read in _environment_reads(path)
    ]
    assert not reads, "read the Settings (store.settings) instead:\n" + "\n".join(reads)


# ------------------------------------------------------------------------------------------ import cycles


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The ncii_shield modules `module` imports, at module level or inside functions; imports under
    ``if TYPE_CHECKING:`` are left out (they never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                found.add(f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin)
    return {m for m in found if m in known and m != module}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    return {m: _imports(m, p, set(modules)) for m, p in modules.items()}


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(graph) == [frozenset({"a", "b", "c"})]
    assert "ncii_shield.store.sealing" in _graph()["ncii_shield.store.models"]


def test_no_import_cycles() -> None:
    cycles = set(_cycles(_graph()))
    new = [sorted(c) for c in cycles - KNOWN_CYCLES]
    assert not new, f"import cycles (move the shared piece to a module both import): {new}"
    assert not KNOWN_CYCLES - cycles, "a known cycle is gone: remove it from KNOWN_CYCLES"
