"""A scan killed with SIGKILL midway and started again ends exactly like an uninterrupted scan."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sqlalchemy import select

from ncii_shield.store.models import Hit, Item, Media
from tests.conftest import ASSETS, ON_POSTGRES, cli_env, open_store
from tests.exports import message, write_export


def _pattern(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (480, 360), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, 440)), int(rng.integers(0, 320))
        draw.rectangle(
            (x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 200))),
            fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
        )
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _export(root: Path) -> Path:
    files = {f"photos/p{i}.jpg": _pattern(i) for i in range(40)}
    files["photos/person.jpg"] = (ASSETS / "obama.jpg").read_bytes()
    messages = [message(i, photo=f"photos/p{i % 40}.jpg", text=f"m{i}") for i in range(1, 161)]
    messages += [message(161 + i, photo="photos/person.jpg") for i in range(3)]
    return write_export(root, messages, files=files)


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data_dir), *args]


def _env() -> dict[str, str]:
    return cli_env(NCII_SCAN_CHUNK="4")


def _prepare(data_dir: Path) -> None:
    subprocess.run(_cli(data_dir, "init"), check=True, env=_env(), capture_output=True)
    subprocess.run(
        _cli(data_dir, "case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "form"),
        check=True,
        env=_env(),
        capture_output=True,
    )
    subprocess.run(
        _cli(data_dir, "enrol", "1", str(ASSETS / "obama.jpg")), check=True, env=_env(), capture_output=True
    )


def _snapshot(data_dir: Path) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Everything a scan produces, decrypted, in a stable order."""
    store = open_store(data_dir)
    try:
        with store.session() as s:
            items = sorted(
                (i.external_id, i.media_path, i.skip_reason, m.sha256 if m else None)
                for i, m in s.execute(select(Item, Media).outerjoin(Media, Item.media_id == Media.id)).all()
            )
            media = sorted((m.sha256, m.status, len(m.signals)) for m in s.scalars(select(Media)))
            hits = sorted(
                (i.external_id, h.kind, h.distance) for h, i in s.execute(select(Hit, Item).join(Item)).all()
            )
    finally:
        store.close()
    return items, media, hits


def _count_items(data_dir: Path) -> int:
    if ON_POSTGRES:  # the directory's database on the test server (tests/pgsite)
        import psycopg

        from ncii_shield.config import load_settings
        from tests.pg import RawDb

        try:
            with RawDb(load_settings(data_dir).database_url) as db:
                return db.execute("select count(*) from items").fetchone()[0]  # type: ignore[attr-defined]
        except psycopg.Error:
            return 0
    try:
        db = sqlite3.connect(data_dir / "ncii.db", timeout=5)
        try:
            return db.execute("select count(*) from items").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_kill_during_scan_then_resume(tmp_path: Path) -> None:
    export = _export(tmp_path / "export")
    reference, killed = tmp_path / "ref", tmp_path / "killed"
    for data_dir in (reference, killed):
        _prepare(data_dir)
    subprocess.run(
        _cli(reference, "scan", "1", str(export), "--workers", "1"),
        check=True,
        env=_env(),
        capture_output=True,
    )

    proc = subprocess.Popen(
        _cli(killed, "scan", "1", str(export), "--workers", "2"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while _count_items(killed) < 40 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be killed; make the export bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _count_items(killed)
    assert 0 < partial < 163

    subprocess.run(
        _cli(killed, "scan", "1", str(export), "--workers", "2"), check=True, env=_env(), capture_output=True
    )
    assert _snapshot(killed) == _snapshot(reference)
    items, _, hits = _snapshot(killed)
    assert len(items) == 163 and len({i[0] for i in items}) == 163
    assert {(h[0], h[1]) for h in hits} >= {("777/161", "exact"), ("777/163", "face")}
    if ON_POSTGRES:
        from ncii_shield.config import load_settings
        from tests.pg import RawDb

        with RawDb(load_settings(killed).database_url) as pg:
            statuses = [row[0] for row in pg.execute("select status from scans order by id")]  # type: ignore[attr-defined]
        assert statuses == ["interrupted", "done"]
        return
    db = sqlite3.connect(killed / "ncii.db")
    statuses = [row[0] for row in db.execute("select status from scans order by id")]
    assert statuses == ["interrupted", "done"]
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
