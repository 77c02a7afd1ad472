"""`ncii-shield hits` reads at any terminal width and shows each hit's review decision."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import copy_data_dir
from tests.test_kill_resume import _cli, _env


def _hits(data: Path, columns: int) -> subprocess.CompletedProcess[str]:
    env = {**_env(), "COLUMNS": str(columns)}
    return subprocess.run(_cli(data, "hits", "1"), env=env, capture_output=True, text=True, check=True)


def test_hits_table_at_80_and_200_columns(scanned: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    copy_data_dir(scanned, data)  # the shared fixture stays as it is
    rows = json.loads(
        subprocess.run(
            _cli(data, "hits", "1", "--json"), env=_env(), capture_output=True, text=True, check=True
        ).stdout
    )
    first = rows[0]["item_id"]
    subprocess.run(
        _cli(data, "review", "confirm", "1", str(first), "--reason", "hers"),
        env=_env(),
        check=True,
        capture_output=True,
    )

    narrow = _hits(data, 80)
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "item" in line and "kind" in line)
    assert "review" in header and "sender" not in header and "file" not in header
    row = next(line for line in lines if line.startswith("│ " + str(first) + " "))
    assert "confirmed" in row
    assert "hidden" in narrow.stderr and "--json" in narrow.stderr

    wide = _hits(data, 200)
    header = next(line for line in wide.stdout.splitlines() if "item" in line and "kind" in line)
    assert all(c in header for c in ("match", "file", "sender", "review"))
    assert "confirmed" in next(line for line in wide.stdout.splitlines() if line.startswith(f"│ {first} "))
    assert "hidden" not in wide.stderr
