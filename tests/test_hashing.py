"""`ncii-shield hash`'s engine: the pool gives what one process gives, in order, and the hash-only decode
gives what `pdq_from_bytes` gives (no EXIF-rotated copy, same pixels)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from ncii_shield.media import decode
from ncii_shield.scan import hashing
from ncii_shield.signals.pdq import pdq_from_bytes
from tests.conftest import ASSETS, cli_env


def test_the_size_limit_is_the_decoders() -> None:
    assert hashing.MAX_FILE_BYTES == decode.MAX_FILE_BYTES


def _rotated_exif_jpeg(path: Path) -> None:
    """A JPEG whose EXIF says 'rotate 90°': the stored pixels are hashed, never the turned ones."""
    img = Image.open(ASSETS / "obama.jpg").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    path.write_bytes(buffer.getvalue())


def test_pool_and_one_process_agree_with_pdq_from_bytes(tmp_path: Path) -> None:
    photos = sorted(ASSETS.glob("*.jpg"))[:9]
    files = [shutil.copy(p, tmp_path / p.name) for p in photos]
    (tmp_path / "not-an-image.jpg").write_bytes(b"hello")
    _rotated_exif_jpeg(tmp_path / "turned.jpg")
    paths = [Path(f) for f in files] + [tmp_path / "not-an-image.jpg", tmp_path / "turned.jpg"]
    assert len(paths) >= hashing.POOL_FROM

    for fast in (True, False):
        pooled = list(hashing.hash_files(paths, workers=2, fast=fast))
        alone = list(hashing.hash_files(paths, workers=1, fast=fast))
        assert pooled == alone
        assert [r.path for r in pooled] == [str(p) for p in paths], "in the order given"
        for path, result in zip(paths[:-2] + paths[-1:], pooled[:-2] + pooled[-1:], strict=True):
            value, quality = pdq_from_bytes(path.read_bytes(), fast=fast)
            assert (result.pdq, result.quality, result.error) == (value.hex(), quality, None)
        refused = pooled[-2]
        assert refused.pdq is None and refused.error is not None and "not an image" in refused.error


def test_the_upright_copy_is_skipped_only_when_asked(tmp_path: Path) -> None:
    data = (ASSETS / "obama.jpg").read_bytes()
    full = decode.decode_image(data)
    lean = decode.decode_image(data, upright=False)
    assert (lean.rgb == full.rgb).all() and lean.upright is lean.rgb
    assert (full.upright == full.rgb).all()
    _rotated_exif_jpeg(tmp_path / "turned.jpg")
    turned = decode.decode_image((tmp_path / "turned.jpg").read_bytes())
    assert turned.upright.shape == (turned.rgb.shape[1], turned.rgb.shape[0], 3), "scans still turn it"


def test_a_pool_started_early_is_used_or_shut_down(tmp_path: Path) -> None:
    photos = sorted(ASSETS.glob("*.jpg"))[:9]
    paths = [Path(shutil.copy(p, tmp_path / p.name)) for p in photos]
    alone = list(hashing.hash_files(paths, workers=1))
    hashing.start_pool(2)
    early = hashing._early
    assert early is not None
    assert list(hashing.hash_files(paths, workers=2)) == alone
    assert hashing._early is None and early[0]._shutdown_thread, "used, then shut down with the job"
    hashing.start_pool(2)
    other = hashing._early
    assert other is not None
    assert list(hashing.hash_files(paths[:3], workers=2)) == alone[:3], "too few files for a pool"
    assert hashing._early is None and other[0]._shutdown_thread


FAULTS = """
import resource, sys
from ncii_shield.scan import hashing
if sys.argv[1] == "keep":
    hashing._keep_freed_memory()
names = sys.argv[2:]
for name in names:  # once to warm up, then counted
    hashing.hash_file(name)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    for name in names:
        hashing.hash_file(name)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_workers_keep_freed_memory() -> None:
    """The workers' malloc setting is what stops ~1,200 page faults a file (docs/benchmarks.md)."""
    names = [str(p) for p in sorted(ASSETS.glob("*.jpg"))[:6]]
    faults = {}
    for mode in ("keep", "default"):
        out = subprocess.run(
            [sys.executable, "-c", FAULTS, mode, *names],
            capture_output=True,
            text=True,
            check=True,
            env=cli_env(),
        )
        faults[mode] = int(out.stdout)
    assert faults["keep"] * 5 < faults["default"], faults
