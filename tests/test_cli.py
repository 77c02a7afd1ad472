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
        {**cases[0], "id": 1, "pseudonym": "Case A", "status": "open", "references": 10, "hits": 1}
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
