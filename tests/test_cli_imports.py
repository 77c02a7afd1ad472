"""Start-up stays fast: importing the CLI must not import the heavy libraries (an import-graph check, not a
timing test). Commands import the core inside their bodies; a top-level import of a service module would
pull these in for every call, `--help` included. Running a command imports only what it uses: `hash`
neither the store nor (with a pool) the decoders in the parent; `case list` not SQLAlchemy (read/quick.py uses
sqlite3), the audit chain's signing code, the text patterns or Alembic; no command Pydantic (cli/coercion.py converts the values)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ASSETS, cli_env, sqlite_only

HEAVY = ("dlib", "onnxruntime", "cv2", "av", "kiwipiepy", "alembic", "fastapi", "lxml", "boto3", "botocore")
# Not needed to parse arguments or print help either: only the commands that use them import them.
ALSO_LATE = ("numpy", "sqlalchemy", "jinja2", "fpdf", "PIL", "uvicorn", "pydantic")

# Runs the CLI in this interpreter, then prints every module it imported (top-level packages, and
# ncii_shield's own modules in full) on stderr's last line.
RUN_AND_LIST = (
    "import json, sys\n"
    "import ncii_shield.cli.main as m\n"
    "sys.argv = ['ncii-shield', *sys.argv[1:]]\n"
    "code = 0\n"
    "try:\n"
    "    m.main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "names = {n.split('.')[0] for n in sys.modules} | {n for n in sys.modules if n.startswith('ncii_shield')}\n"
    "print(json.dumps(sorted(names)), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _modules_after(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args], capture_output=True, text=True, env=cli_env()
    )
    return proc, set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_importing_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import ncii_shield.cli.main\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(proc.stdout))
    assert "typer" in loaded, "the check itself works"
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert not loaded & set(ALSO_LATE), sorted(loaded & set(ALSO_LATE))


@pytest.mark.parametrize("args", [["--help"], ["case", "lst"], ["hash", "--help"]])
def test_help_and_wrong_arguments_import_no_pydantic(args: list[str]) -> None:
    proc, loaded = _modules_after(*args)
    assert proc.returncode in (0, 2), proc.stderr
    assert not loaded & {*HEAVY, *ALSO_LATE}, sorted(loaded & {*HEAVY, *ALSO_LATE})


@pytest.mark.parametrize("args", [["case", "show", "x"], ["hash", "--workers", "x", "."]])
def test_a_refused_value_still_gets_typers_own_message(args: list[str]) -> None:
    proc, _ = _modules_after(*args)
    assert proc.returncode == 2
    assert "Input should be a valid integer" in proc.stderr


def test_hash_in_a_pool_leaves_the_store_and_the_decoders_to_the_workers(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    photos = sorted(ASSETS.glob("*.jpg"))[:8]
    for photo in photos:
        shutil.copy(photo, folder / photo.name)
    proc, loaded = _modules_after("hash", "--te", "--workers", "2", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert len([line for line in proc.stdout.splitlines() if line.startswith("pdq ")]) == len(photos)
    assert not loaded & {"numpy", "PIL", "pdqhash", "sqlalchemy", "pydantic", *HEAVY}, sorted(loaded)
    assert not [m for m in loaded if m.startswith("ncii_shield.store")], "hashing opens no store"


@sqlite_only("`case list` skips the Store only through the sqlite3 fast path (read/quick.py)")
def test_case_list_imports_no_pydantic_chain_signing_or_text_patterns(tmp_path: Path) -> None:
    data = tmp_path / "d"
    base = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data)]
    subprocess.run([*base, "init"], check=True, capture_output=True, env=cli_env())
    subprocess.run(
        [*base, "case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "form"],
        check=True,
        capture_output=True,
        env=cli_env(),
    )
    proc, loaded = _modules_after("--data-dir", str(data), "case", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [c["pseudonym"] for c in json.loads(proc.stdout)] == ["A"]
    assert "ncii_shield.store.lite" in loaded, "the check itself works: listing cases opens the store"
    unwanted = {
        "pydantic",
        "alembic",
        "numpy",
        "sqlalchemy",  # a SQLite store at head with a key is read with sqlite3 (read/quick.py)
        "ncii_shield.store.db",
        "ncii_shield.store.models",
        "ncii_shield.store.chain",
        "ncii_shield.store.hashchain",
        "ncii_shield.store.witness",
        "ncii_shield.text.patterns",
    }
    assert not loaded & unwanted, sorted(loaded & unwanted)


@pytest.mark.parametrize(
    ("annotation", "values"),
    [
        (int, ["12", "-3", "007", "0", "-0", "1_000", " 5", "+5", "5.0", "", "١٢", "x", "9" * 30]),
        (str, ["", "a b", "김하린", "-"]),
        (Path, ["a/b", "/x/", ".", " a ", ""]),
        (list[int], [["1", "2"], ["1", "x"], []]),
        (list[Path], [["a", "b/c"], []]),
        (list[str], [["a", ""]]),
    ],
)
def test_plain_conversion_agrees_with_typers_pydantic_path(annotation: object, values: list[object]) -> None:
    """Same value, or the same error message, whichever path converts it."""
    from typer import _coercion
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer.core import TyperCommand, TyperOption
    from typer.models import OptionInfo

    from ncii_shield.cli import coercion

    assert coercion.install()
    descriptor = _coercion.resolve_type_descriptor(annotation, OptionInfo())  # type: ignore[arg-type]
    many = annotation in (list[int], list[Path], list[str])
    param = TyperOption(param_decls=["--x"], type_descriptor=descriptor, multiple=many)
    ctx = Context(TyperCommand("c"))
    plain = param.get_runtime_param()
    assert type(plain).__name__ == "PlainParam"
    reference = _coercion.build_runtime_param(descriptor)
    for value in values:
        outcomes = []
        for runtime in (plain, reference):
            try:
                outcomes.append(("ok", runtime._coerce_value(value, param=param, ctx=ctx)))
            except BadParameter as exc:
                outcomes.append(("error", exc.format_message()))
        assert outcomes[0] == outcomes[1], (value, outcomes)


def test_hash_of_many_files_starts_its_workers_before_typer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ncii_shield.cli import early
    from ncii_shield.scan import hashing

    started: list[int | None] = []
    monkeypatch.setattr(hashing, "start_pool", lambda workers=None: started.append(workers))
    many = [str(tmp_path / f"{i}.jpg") for i in range(hashing.POOL_FROM)]
    for args in (
        ["hash", "--help"],
        ["hash", *many[:3]],
        ["hash", "--workers", "1", *many],
        ["hash", "--workers=2", *many],
        ["case", "list", *many],
        ["--data-dir", "x", "hash", *many],
        [],
    ):
        early.start_early(args)
        assert started == [], args
    early.start_early(["hash", "--te", *many])
    early.start_early(["hash", str(tmp_path)])
    assert started == [None, None]
    proc, loaded = _modules_after("hash", "--te", str(ASSETS))
    assert proc.returncode == 0, proc.stderr
    assert len([line for line in proc.stdout.splitlines() if line.startswith("pdq ")]) >= hashing.POOL_FROM
    assert not loaded & {"numpy", "PIL", "pdqhash"}, "the parent still leaves the decoders to the workers"
