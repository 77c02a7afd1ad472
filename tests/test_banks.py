"""Hash banks: formats, import/export, matching during scans, and the round trip with threatexchange."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ncii_shield.banks.formats import parse, write
from ncii_shield.banks.service import bank_hits, export_entries, get_bank, import_entries, list_banks
from ncii_shield.errors import NciiError
from ncii_shield.signals.pdq import pdq_from_bytes
from ncii_shield.store.db import Store
from tests.conftest import ASSETS, cli_env
from tests.exports import message, write_export
from tests.test_scan import _scan

THREATEXCHANGE = Path(sys.executable).parent / "threatexchange"
H1, H2 = "ab" * 32, "0f" * 32


def _recompressed(name: str, side: int = 700, quality: int = 60) -> bytes:
    img = Image.open(ASSETS / name).convert("RGB")
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_parse_local_file_and_csv() -> None:
    parsed = parse(f"# a comment\npdq {H1}\n\nvideo_md5 {'0' * 32}\npdq {H2.upper()}\n", "te")
    assert [e.hex for e in parsed.entries] == [H1, H2] and parsed.skipped_types == {"video_md5": 1}
    assert [e.hex for e in parse(f"{H1}\n", "te", default_type="pdq").entries] == [H1]
    csv_text = write(parsed.entries, "csv")
    assert csv_text.splitlines()[0] == "signal_type,signal,label"
    assert parse(csv_text, "csv").entries == parsed.entries
    assert write(parse(write(parsed.entries, "te"), "te").entries, "te") == f"pdq {H1}\npdq {H2}\n"


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (f"pdq {H1}\npdq 1234\n", "te", "line 2: a pdq signal has 64 hex characters"),
        (f"pdq {H1}\nsha1 {H1}\n", "te", "line 2: unknown signal type 'sha1'"),
        ("pdq zz" + "0" * 62 + "\n", "te", "line 1: pdq signal is not hexadecimal"),
        (f"{H1}\n", "te", "line 1: expected '<signal_type> <signal>'"),
        (f"hash\n{H1}\n", "csv", "CSV needs a header"),
        ("", "xml", "unknown format"),
    ],
)
def test_bad_files_name_the_line(text: str, fmt: str, message: str) -> None:
    with pytest.raises(NciiError) as info:
        parse(text, fmt)
    assert message in str(info.value) and "\n" not in info.value.message


def test_banks_match_during_scans_and_after_import(store: Store, tmp_path: Path) -> None:
    obama = pdq_from_bytes((ASSETS / "obama.jpg").read_bytes())[0].hex()
    with store.session() as s:
        bank = get_bank(s, "partner-1", create=True)
        assert import_entries(s, bank, parse(f"pdq {obama}\npdq {H1}\n", "te")) == 2
        assert import_entries(s, bank, parse(f"pdq {obama}\n", "te")) == 0, "no duplicates"
    export = write_export(
        tmp_path / "e",
        [message(1, photo="photos/a.jpg"), message(2, photo="photos/b.jpg")],
        files={"photos/a.jpg": _recompressed("obama.jpg"), "photos/b.jpg": _recompressed("mate-Dune.jpg")},
    )
    result = _scan(store, export, None)
    assert result.bank_hits == {"partner-1": 1}
    assert _scan(store, export, None).bank_hits == {}, "matching again adds nothing"
    with store.session() as s:
        rows = bank_hits(s, get_bank(s, "partner-1"))
        assert [(r.message_id, r.kind, r.signal) for r in rows] == [(1, "pdq", f"pdq {obama}")]
        assert rows[0].distance is not None and rows[0].distance <= 31
        (summary,) = list_banks(s)
        assert summary.signals == {"pdq": 2} and summary.hits == 1
        assert [e.hex for e in export_entries(s, get_bank(s, "partner-1"))] == [obama, H1]


def test_a_bad_file_imports_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(f"pdq {H1}\n")
    bad.write_text(f"pdq {H2}\npdq nothex\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=cli_env(),
        )

    cli("init")
    assert cli("bank", "import", "b", str(good)).returncode == 0
    failed = cli("bank", "import", "b", str(bad))
    assert failed.returncode == 2 and "line 2" in failed.stderr
    assert cli("bank", "export", "b").stdout == f"pdq {H1}\n"
    assert json.loads(cli("bank", "list", "--json").stdout)[0]["signals"] == {"pdq": 1}


def _threatexchange(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(THREATEXCHANGE), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        timeout=120,
    )


@pytest.mark.skipif(not THREATEXCHANGE.exists(), reason="the threatexchange CLI is a dev dependency")
def test_round_trip_with_the_real_threatexchange_cli(tmp_path: Path) -> None:
    data, home = tmp_path / "d", tmp_path / "home"
    home.mkdir()

    def ncii(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(data), *args],
            capture_output=True,
            text=True,
            env=cli_env(),
        )

    ncii("init")
    # 1. A bank made here, exported, is matched by threatexchange.
    portraits = [ASSETS / n for n in ("obama.jpg", "obama2.jpg", "biden.jpg", "biden2.jpg", "astronaut.jpg")]
    hashes = ncii("hash", *map(str, portraits), "--te", "--full").stdout
    (tmp_path / "hashes.txt").write_text(hashes)
    assert ncii("bank", "import", "ours", str(tmp_path / "hashes.txt")).returncode == 0
    exported = tmp_path / "exported.txt"
    assert ncii("bank", "export", "ours", "--out", str(exported)).returncode == 0
    assert (
        _threatexchange(
            home,
            "config",
            "collab",
            "edit",
            "local_file",
            "--create",
            "--filename",
            str(exported),
            "from-ncii",
        ).returncode
        == 0
    )
    assert _threatexchange(home, "fetch").returncode == 0
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(_recompressed("obama.jpg", 640, 70))
    matched = _threatexchange(home, "match", "photo", str(copy))
    assert "(from-ncii)" in matched.stdout, matched.stdout + matched.stderr
    other = tmp_path / "other.jpg"
    other.write_bytes(_recompressed("mate-Dune.jpg"))
    assert "(from-ncii)" not in _threatexchange(home, "match", "photo", str(other)).stdout

    # 2. Hashes threatexchange writes are imported here and matched during a scan.
    written = "".join(
        _threatexchange(home, "hash", "photo", str(ASSETS / n)).stdout
        for n in ("mate-Garden.jpg", "mate-Storm.jpg")
    )
    assert written.count("pdq ") == 2
    (tmp_path / "from-te.txt").write_text(written)
    assert ncii("bank", "import", "theirs", str(tmp_path / "from-te.txt")).returncode == 0
    folder = tmp_path / "collected"
    folder.mkdir()
    (folder / "garden-copy.jpg").write_bytes(_recompressed("mate-Garden.jpg", 900, 75))
    (folder / "unrelated.jpg").write_bytes(_recompressed("mate-Dune.jpg"))
    ncii("case", "open", "--pseudonym", "A", "--consent-by", "A", "--consent-method", "f")
    scanned = ncii("scan", "1", str(folder), "--json", "--workers", "1")
    assert json.loads(scanned.stdout)["bank_hits"] == {"theirs": 1}
    hits = json.loads(ncii("bank", "hits", "theirs", "--json").stdout)
    assert [h["media_path"] for h in hits] == ["garden-copy.jpg"]
