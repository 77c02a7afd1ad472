"""CPU per 1280-px photo of the local-feature extraction and the multi-crop windows, against a reference
version of `index/local_features.py` in the same run.

Usage: PYTHONPATH=src .venv/bin/python bench/local_features.py [--n 40] [--reference OLD_local_features.py]
       (e.g. `git show a03c7f4:src/ncii_shield/index/local_features.py > /tmp/lf_old.py`)

The photos are bench/scan_throughput.py's (distinct crops of the bundled images, 1280 px, JPEG q87), decoded
once. Each step is timed with process CPU time, best of 3 per photo; the median over photos is printed, and
for the reference the ratio. One OpenCV thread, as a scan worker uses one core. Also checked on every photo:
a reference extraction and the new one agree (verify() finds the photo in itself across the two versions).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_throughput import generate

from ncii_shield.index import local_features, multicrop
from ncii_shield.media.decode import decode_image


def _cpu_ms(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("reference_local_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--reference", help="an older local_features.py to time in the same run")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as folder:
        photos = [decode_image(p.read_bytes()).rgb for p in generate(args.n, Path(folder))]
    steps: dict[str, Callable[[np.ndarray], object]] = {
        "local features, extract + to_bytes": lambda rgb: local_features.extract(rgb).to_bytes(),
        "multi-crop windows (14)": multicrop.window_hashes,
    }
    reference = _load(args.reference) if args.reference else None
    if reference is not None:
        steps["reference: local features, extract + to_bytes"] = lambda rgb: reference.extract(rgb).to_bytes()
    times = {name: [_cpu_ms(lambda fn=fn, rgb=rgb: fn(rgb)) for rgb in photos] for name, fn in steps.items()}
    print(f"{len(photos)} photos, 1280 px; CPU ms per photo, best of 3, median (p90) over photos:")
    for name, values in times.items():
        print(f"- {name}: {statistics.median(values):.1f} ({float(np.percentile(values, 90)):.1f})")
    if reference is not None:
        new = statistics.median(times["local features, extract + to_bytes"])
        old = statistics.median(times["reference: local features, extract + to_bytes"])
        print(f"- ratio new / reference: {new / old:.2f} ({old / new:.2f}x faster)")
        weakest = min(
            found.inliers
            if (found := local_features.verify(local_features.extract(rgb), reference.extract(rgb)))
            else 0
            for rgb in photos
        )
        print(f"- new extraction vs reference extraction of the same photo: weakest {weakest} inliers")


if __name__ == "__main__":
    main()
