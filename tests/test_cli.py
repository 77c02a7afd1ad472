"""The command line as a user meets it: ids on stdout, JSON listings, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ASSETS, cli_env
from tests.exports import message, write_export


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=cli_env(),
    )


def _error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_case_lifecycle_and_json_listings(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run(data, "init").returncode == 0
    opened = run(
        data,
        "case",
        "open",
        "--pseudonym",
        "Case A",
        "--consent-by",
        "the person",
        "--consent-method",
        "signed form",
    )
    assert opened.returncode == 0 and opened.stdout.strip() == "1", "the id alone on stdout, for scripts"
    enrolled = run(data, "enrol", "1", str(ASSETS / "obama.jpg"), "--json")
    assert enrolled.returncode == 0
    assert json.loads(enrolled.stdout)["photos"][0]["faces_enrolled"] == 1
    export = write_export(
        tmp_path / "e",
        [message(1, photo="photos/a.jpg"), message(2, photo="photos/b.jpg")],
        files={"photos/a.jpg": (ASSETS / "obama.jpg").read_bytes(), "photos/b.jpg": b"junk"},
    )
    scanned = run(data, "scan", "1", str(export), "--workers", "1", "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["new_hits"] == {"exact": 1, "pdq": 1, "face": 1}

    cases = json.loads(run(data, "case", "list", "--json").stdout)
    assert cases == [
        {**cases[0], "id": 1, "pseudonym": "Case A", "status": "open", "references": 11, "hits": 1}
    ]
    sources = json.loads(run(data, "sources", "--json").stdout)
    assert [(s["kind"], s["items"]) for s in sources] == [("telegram_export", 2)]
    skipped = json.loads(run(data, "skipped", "--json").stdout)
    assert [(s["message_id"], s["reason"]) for s in skipped] == [
        (2, "not an image (content is not a format Pillow can read)")
    ]
    hits = json.loads(run(data, "hits", "1", "--json").stdout)
    assert [(h["message_id"], h["kinds"]) for h in hits] == [(1, ["exact", "pdq", "face"])]
    shown = json.loads(run(data, "case", "show", "1", "--json").stdout)
    assert shown["consent_method"] == "signed form" and shown["hits_by_kind"] == {"exact": 1}


def test_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run(data, "init")
    for args in (
        ("hits", "7"),
        ("scan", "7", str(tmp_path)),
        ("enrol", "7", str(ASSETS / "obama.jpg")),
        ("hits", "1", "--kind", "colour"),
    ):
        proc = run(data, *args)
        assert proc.returncode == 2, args
        lines = _error_lines(proc)
        assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), lines
        assert "Traceback" not in proc.stderr


def test_partial_scan_exits_1_and_keeps_what_was_read(tmp_path: Path) -> None:
    data = tmp_path / "d"
    run(data, "init")
    run(data, "case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "form")
    export = write_export(tmp_path / "e", [message(i, text=f"m{i}") for i in range(1, 50)])
    export.write_text(export.read_text()[:-400])
    proc = run(data, "scan", "1", str(export), "--json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["status"] == "partial" and "malformed" in result["error"] and result["items_new"] > 40


def test_keys_close_and_purge_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "d"
    keyfile = tmp_path / "k" / "ncii.key"
    env = {k: v for k, v in cli_env().items() if k != "NCII_KEY"}

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
        )

    made = cli("init", "--generate-key-file", str(keyfile))
    assert made.returncode == 0, made.stderr
    assert keyfile.stat().st_mode & 0o777 == 0o600
    assert cli("init", "--key-file", str(keyfile)).returncode == 2, "initialising twice is refused"

    no_key = cli("case", "list")
    assert no_key.returncode == 2 and "NCII_KEY_FILE" in no_key.stderr and "Traceback" not in no_key.stderr
    wrong = cli("case", "list", NCII_KEY="00" * 32)
    assert wrong.returncode == 2 and "does not open" in wrong.stderr

    ok = {"NCII_KEY_FILE": str(keyfile)}
    assert (
        cli(
            "case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "f", **ok
        ).stdout.strip()
        == "1"
    )
    minor = cli(
        "case", "open", "--pseudonym", "M", "--consent-by", "G", "--consent-method", "f", "--minor", **ok
    )
    assert json.loads(cli("case", "show", minor.stdout.strip(), "--json", **ok).stdout)["hash_only"] is True

    new_key = tmp_path / "k" / "new.key"
    rotated = cli("keys", "rotate", "--generate-key-file", str(new_key), **ok)
    assert rotated.returncode == 0, rotated.stderr
    assert cli("case", "list", **ok).returncode == 2, "the old key no longer opens the data"
    ok = {"NCII_KEY_FILE": str(new_key)}

    assert cli("case", "close", "1", **ok).returncode == 0
    assert cli("case", "purge", "1", **ok).returncode == 2, (
        "purge asks for confirmation; no terminal: not purged"
    )
    purged = cli("case", "purge", "1", "--yes", "--json", **ok)
    assert purged.returncode == 0 and json.loads(purged.stdout)["hits"] == 0
    cases = {c["id"]: c for c in json.loads(cli("case", "list", "--json", **ok).stdout)}
    assert cases[1]["status"] == "purged" and cases[1]["pseudonym"] is None and cases[2]["status"] == "open"


def test_hash_command_needs_no_data_directory(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes((ASSETS / "obama.jpg").read_bytes())
    (folder / "b.jpg").write_bytes(b"not an image")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ncii_shield.cli.main",
            "--data-dir",
            str(tmp_path / "none"),
            "hash",
            str(folder),
            "--json",
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in cli_env().items() if k != "NCII_KEY"},
    )
    assert proc.returncode == 0, proc.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(proc.stdout)}
    assert len(rows["a.jpg"]["pdq"]) == 64 and rows["a.jpg"]["quality"] >= 50
    assert rows["b.jpg"]["pdq"] is None and "not an image" in rows["b.jpg"]["error"]
    assert not (tmp_path / "none").exists(), "hashing stores nothing"
    te = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "hash", str(folder / "a.jpg"), "--te"],
        capture_output=True,
        text=True,
        env=cli_env(),
    ).stdout
    assert te.strip() == f"pdq {rows['a.jpg']['pdq']}"
