"""kill -9 during an enrolment and during report writes, then start again: nothing lost, doubled or half-written.

(The scan's kill-and-resume test is in test_kill_resume.py.)
"""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from ncii_shield.config import load_settings
from ncii_shield.store.models import Reference
from tests.conftest import ASSETS, ON_POSTGRES, cli_env, open_store
from tests.pg import RawDb


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data_dir), *args]


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    base = Image.open(ASSETS / "obama.jpg").convert("RGB")
    paths = []
    for i in range(count):
        buf = io.BytesIO()
        base.resize((600 - i * 7, 750 - i * 9)).save(buf, format="JPEG", quality=70 + i)
        path = folder / f"p{i:02d}.jpg"
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def _prepare(data_dir: Path) -> None:
    for args in (
        ("init",),
        ("case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "form"),
    ):
        subprocess.run(_cli(data_dir, *args), check=True, env=cli_env(), capture_output=True)


def _references(data_dir: Path) -> list[tuple]:
    store = open_store(data_dir)
    try:
        with store.session() as s:
            rows = s.scalars(select(Reference)).all()
            blobs = [store.blobs.get(r.blob_key) for r in rows if r.blob_key]
            return [
                *sorted(
                    (
                        r.photo_sha256,
                        r.kind,
                        r.variant,
                        r.photo_label,
                        r.value if r.kind not in ("face", "features") else b"",
                        r.blob_key is not None,
                    )
                    for r in rows
                ),
                ("blobs", len(blobs)),
            ]
    finally:
        store.close()


def test_kill_during_enrolment_then_again(tmp_path: Path) -> None:
    photos = [str(p) for p in _photos(tmp_path / "photos", 12)]
    reference, killed = tmp_path / "ref", tmp_path / "killed"
    for data_dir in (reference, killed):
        _prepare(data_dir)
    start = time.monotonic()
    subprocess.run(
        _cli(reference, "enrol", "1", *photos, "--keep-originals"),
        check=True,
        env=cli_env(),
        capture_output=True,
    )
    took = time.monotonic() - start

    proc = subprocess.Popen(
        _cli(killed, "enrol", "1", *photos, "--keep-originals"),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    originals = killed / "blobs" / "originals"
    while proc.poll() is None and time.monotonic() < deadline:  # kill once some originals are on disk
        if originals.exists() and sum(1 for p in originals.rglob("*") if p.is_file()) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"enrolment finished ({took:.1f}s) before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    if ON_POSTGRES:  # the same check on the directory's PostgreSQL database (no integrity_check there)
        with RawDb(load_settings(killed).database_url) as pg:
            count = pg.execute('select count(*) from "references"').fetchone()[0]  # type: ignore[attr-defined]
        assert count == 0, "enrolment is all or nothing"
    else:
        db = sqlite3.connect(killed / "ncii.db")
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert db.execute('select count(*) from "references"').fetchone()[0] == 0, (
            "enrolment is all or nothing"
        )
        db.close()

    again = subprocess.run(
        _cli(killed, "enrol", "1", *photos, "--keep-originals"), env=cli_env(), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert _references(killed) == _references(reference)


def test_kill_during_report_writes_never_leaves_half_a_report(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    writer = tmp_path / "writer.py"
    writer.write_text(
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from ncii_shield.evidence.model import ReportData\n"
        "from ncii_shield.evidence.report import write_report\n"
        "for n in range(int(sys.argv[2]) if len(sys.argv) > 2 else 100000):\n"
        "    data = ReportData(case_id=1, pseudonym='x' * 200000, generated_at=datetime.now(UTC),\n"
        "                      consent_summary='c', references_summary='r', sources=(), groups=())\n"
        "    write_report(data, Path(sys.argv[1]))\n"
        "    print(n, flush=True)\n"
    )
    subprocess.run([sys.executable, str(writer), str(tmp_path / "complete.html"), "1"], check=True)
    complete = len((tmp_path / "complete.html").read_text(encoding="utf-8"))
    rng = random.Random(7)
    for round_ in range(5):
        proc = subprocess.Popen([sys.executable, str(writer), str(out)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one report written
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        html = out.read_text(encoding="utf-8")
        assert html.rstrip().endswith("</html>"), (
            f"round {round_}: a half-written report under the final name"
        )
        assert len(html) == complete, f"round {round_}: the report under the final name is not whole"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.html.")]
    assert all(name.endswith(".tmp") for name in leftovers), "only temporary names may be left by a kill"
