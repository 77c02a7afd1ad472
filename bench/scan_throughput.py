"""Full-scan throughput on distinct 1280-px photos, per-stage CPU, and a naive reference in the same run.

Usage: PYTHONPATH=src .venv/bin/python bench/scan_throughput.py [--n 120] [--workers 2] [--stages 40] [--repeat 2]
       PYTHONPATH=src .venv/bin/python bench/scan_throughput.py --faces   (face size x angle: quarter passes, standard, fine)

1. Generates N distinct benign photos from the demo's bundled images (crop, scale to 1280 px on the long
   side, mirror, colour gains), saved as JPEG q87, so no two files share a hash or a decode.
2. (a) `signals.analyse.analyse_bytes` — what a scan computes per new file, every route — over a pool of
   `--workers` processes whose models are loaded once per worker: photos/s.
3. (b) CPU ms per stage per file, one process, on the first `--stages` photos.
4. (c) The naive reference: a script doing full decode + pdqhash + dlib HOG (1 upsample, as dlib's
   examples do) + 5-point landmarks + ResNet embedding, one process per core: photos/s, and the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"


def generate(n: int, folder: Path, seed: int = 14) -> list[Path]:
    """N distinct 1280-px JPEGs: random crop (60-100 % of each side), mirror, colour gains, q87."""
    rng = np.random.default_rng(seed)
    sources = sorted(p for p in ASSETS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    originals = [Image.open(p).convert("RGB") for p in sources]
    paths: list[Path] = []
    for i in range(n):
        img = originals[i % len(originals)]
        w, h = img.size
        fw, fh = rng.uniform(0.6, 1.0, size=2)
        cw, ch = max(64, int(w * fw)), max(64, int(h * fh))
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        out = img.crop((x0, y0, x0 + cw, y0 + ch))
        scale = 1280 / max(out.size)
        out = out.resize((round(out.width * scale), round(out.height * scale)), Image.Resampling.LANCZOS)
        if rng.random() < 0.5:
            out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        gains = rng.uniform(0.85, 1.15, size=3)
        pixels = np.clip(np.asarray(out, dtype=np.float32) * gains, 0, 255).astype(np.uint8)
        path = folder / f"photo{i:05d}.jpg"
        Image.fromarray(pixels).save(path, format="JPEG", quality=87)
        paths.append(path)
    return paths


# ---------------------------------------------------------------- the naive reference script


def _naive_models():  # type: ignore[no-untyped-def]
    global _NAIVE
    if "_NAIVE" not in globals():
        import dlib
        import face_recognition_models as frm

        _NAIVE = (
            dlib.get_frontal_face_detector(),
            dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
        )
    return _NAIVE


def naive(data: bytes) -> tuple[str, int]:
    """What a short script would do: full decode, pdqhash, HOG with 1 upsample, landmarks, embedding."""
    import pdqhash

    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    bits, _quality = pdqhash.compute(rgb)
    detector, shaper, encoder = _naive_models()
    faces = 0
    for rect in detector(rgb, 1):
        encoder.compute_face_descriptor(rgb, shaper(rgb, rect), 1)
        faces += 1
    return hashlib.sha256(np.packbits(bits).tobytes()).hexdigest(), faces


def _warm_naive() -> None:
    _naive_models()


# ---------------------------------------------------------------- the pool runs


def pool_rate(
    work: Callable[[bytes], object], init: Callable[[], None], blobs: list[bytes], workers: int
) -> float:
    """Photos/s over a warm pool (models loaded by the initializer; a first pass of one file per worker)."""
    with ProcessPoolExecutor(max_workers=workers, initializer=init) as pool:
        list(pool.map(work, blobs[:workers]))  # workers up, models in memory
        start = time.perf_counter()
        list(pool.map(work, blobs, chunksize=4))
        return len(blobs) / (time.perf_counter() - start)


def _analyse(data: bytes) -> object:
    """What a scan's worker runs on a new file (nudity comes later, for hits only: scan/ranking.py)."""
    from ncii_shield.signals.analyse import analyse_bytes

    return analyse_bytes(data, with_nudity=False)


def _warm_scan() -> None:
    """What a scan's workers run first: the models loaded."""
    from ncii_shield.scan.pipeline import _warm_worker

    _warm_worker()


# ---------------------------------------------------------------- per stage, one process


def stages(blobs: list[bytes]) -> dict[str, list[float]]:
    """CPU ms per file of each step analyse_bytes takes, in its order."""
    from ncii_shield.index.local_features import extract
    from ncii_shield.index.multicrop import window_hashes
    from ncii_shield.media.decode import decode_image
    from ncii_shield.media.thumbs import thumbnail_jpeg
    from ncii_shield.signals import analyse
    from ncii_shield.signals.faces import embed_faces, locate_faces
    from ncii_shield.signals.nudity import nudity_score
    from ncii_shield.signals.pdq import pdq_hash

    _warm_scan()
    _naive_models()
    times: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], object]) -> object:
        start = time.process_time()
        value = fn()
        times.setdefault(name, []).append((time.process_time() - start) * 1000)
        return value

    for data in blobs:
        timed("sha256", lambda data=data: hashlib.sha256(data).hexdigest())
        d = timed("decode", lambda data=data: decode_image(data))
        timed("PDQ", lambda d=d: pdq_hash(d.rgb))  # type: ignore[attr-defined]
        timed("multicrop windows", lambda d=d: window_hashes(d.rgb))  # type: ignore[attr-defined]
        timed("ORB local features", lambda d=d: extract(d.rgb).to_bytes())  # type: ignore[attr-defined]
        up = np.ascontiguousarray(d.upright)  # type: ignore[attr-defined]
        boxes = timed("face detection (YuNet, 8 passes)", lambda up=up: locate_faces(up))
        timed("landmarks + embedding", lambda up=up, boxes=boxes: embed_faces(up, boxes))  # type: ignore[arg-type]
        timed("(nudity: hits only, not in the total)", lambda d=d: nudity_score(d.rgb))  # type: ignore[attr-defined]
        timed("thumbnail", lambda d=d: thumbnail_jpeg(d.upright))  # type: ignore[attr-defined]
        timed("total (analyse_bytes)", lambda data=data: analyse.analyse_bytes(data, with_nudity=False))
        timed("naive reference", lambda data=data: naive(data))
    return times


def faces_table(
    angles: tuple[int, ...] = (0, 30, 45, 60, 90, 135, 180, 270),
    sizes: tuple[int, ...] = (20, 24, 28, 32, 40, 56, 80, 120),
) -> None:
    """Detection and match rate by face size and angle: 6 bundled faces (3 people), each turned and pasted at
    each size into 4 nature photos scaled to 1280 px, JPEG q87. found = a face there; matched = under the
    same-person distance to the face enrolled from the upright portrait. Three pass sets in the same run:
    the quarter turns alone (upright 640 px, turned 320 px: the standard before the diagonal passes), the
    standard now (the same plus the 45° copy at 320 px), and NCII_FACE_DETAIL=fine."""
    from dataclasses import replace

    from ncii_shield.media.decode import decode_image
    from ncii_shield.signals.faces import PASSES, SAME_PERSON_DISTANCE, STANDARD, detect_faces

    configs = {
        "quarter turns": replace(STANDARD, diagonal_side=0),
        "standard": STANDARD,
        "fine": PASSES["fine"],
    }
    faces = []
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "biden2.jpg", "astronaut.jpg"):
        img = Image.open(ASSETS / name).convert("RGB")
        face = detect_faces(np.asarray(img))[0]
        left, top, right, bottom = face.box
        margin = (right - left) // 2
        box = (max(0, left - margin), max(0, top - margin), right + margin, bottom + margin)
        faces.append((img.crop(box), right - left, face.embedding))
    scenes = [Image.open(p).convert("RGB") for p in sorted(ASSETS.glob("mate-*.jpg"))[:4]]
    header = " | ".join(f"{s} px" for s in sizes)
    print(f"\nfound / matched out of {len(faces) * len(scenes)}: {' → '.join(configs)}\n")
    print(f"| turned | {header} |\n|---|" + "---|" * len(sizes))
    times: dict[str, list[float]] = {name: [] for name in configs}
    for angle in angles:
        cells = []
        for size in sizes:
            rng = np.random.default_rng(3)
            counts = {name: [0, 0] for name in configs}
            for crop, width, embedding in faces:
                for scene in scenes:
                    canvas = scene.resize((1280, round(1280 * scene.height / scene.width)))
                    k = size / width
                    patch = crop.resize((max(1, round(crop.width * k)), max(1, round(crop.height * k))))
                    patch = patch.rotate(
                        angle, expand=True, resample=Image.Resampling.BICUBIC, fillcolor=(128,) * 3
                    )
                    x = int(rng.integers(0, canvas.width - patch.width))
                    y = int(rng.integers(0, canvas.height - patch.height))
                    canvas.paste(patch, (x, y))
                    buf = io.BytesIO()
                    canvas.save(buf, "JPEG", quality=87)
                    rgb = np.ascontiguousarray(decode_image(buf.getvalue()).upright)
                    cx, cy = x + patch.width / 2, y + patch.height / 2
                    for name, passes in configs.items():
                        start = time.process_time()
                        found = [(f.box, f.embedding) for f in detect_faces(rgb, passes)]
                        times[name].append(time.process_time() - start)
                        near = [
                            e
                            for b, e in found
                            if abs((b[0] + b[2]) / 2 - cx) < size and abs((b[1] + b[3]) / 2 - cy) < size
                        ]
                        counts[name][0] += bool(near)
                        counts[name][1] += (
                            bool(near)
                            and min(float(np.linalg.norm(e - embedding)) for e in near) < SAME_PERSON_DISTANCE
                        )
            cells.append(
                " → ".join(
                    f"{'**' if n == 'standard' else ''}{c[0]}/{c[1]}{'**' if n == 'standard' else ''}"
                    for n, c in counts.items()
                )
            )
        print(f"| {angle}° | " + " | ".join(cells) + " |", flush=True)
    print(
        "\nmedian CPU per image (detection + embedding): "
        + ", ".join(f"{name} {1000 * statistics.median(t):.0f} ms" for name, t in times.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="distinct photos per pool run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stages", type=int, default=40, help="photos for the per-stage table")
    parser.add_argument("--repeat", type=int, default=1, help="pool runs of each, alternating; median quoted")
    parser.add_argument("--faces", action="store_true", help="only the face size x angle table")
    args = parser.parse_args()
    if args.faces:
        faces_table()
        return

    with tempfile.TemporaryDirectory() as tmp:
        paths = generate(args.n, Path(tmp))
        blobs = [p.read_bytes() for p in paths]
    sizes = {Image.open(io.BytesIO(b)).size for b in blobs[:5]}
    print(f"{len(blobs)} distinct photos, e.g. {sorted(sizes)}, JPEG q87, {args.workers} workers")

    scan_rates: list[float] = []
    naive_rates: list[float] = []
    for _ in range(args.repeat):
        scan_rates.append(pool_rate(_analyse, _warm_scan, blobs, args.workers))
        naive_rates.append(pool_rate(naive, _warm_naive, blobs, args.workers))
        print(f"  run: full scan {scan_rates[-1]:.2f} photos/s, naive {naive_rates[-1]:.2f} photos/s")
    scan, ref = statistics.median(scan_rates), statistics.median(naive_rates)

    times = stages(blobs[: args.stages])
    total = statistics.median(times["total (analyse_bytes)"])
    print(f"\nPer stage, CPU ms per file, one process, median over {len(times['sha256'])} photos:\n")
    print("| stage | median | mean | share of the mean total |")
    print("|---|---|---|---|")
    for name, values in times.items():
        med, mean = statistics.median(values), statistics.fmean(values)
        share = (
            ""
            if name.startswith(("total", "naive", "("))
            else f"{100 * mean / statistics.fmean(times['total (analyse_bytes)']):.0f} %"
        )
        print(f"| {name} | {med:.1f} | {mean:.1f} | {share} |")
    print(
        f"\nmedian analyse_bytes CPU: {total:.0f} ms -> at most {1000 * args.workers / total:.1f} photos/s on "
        f"{args.workers} cores"
    )
    naive_cpu = statistics.median(times["naive reference"])
    print(
        f"median naive reference CPU: {naive_cpu:.0f} ms -> CPU ratio naive / full scan {naive_cpu / total:.2f}x"
    )
    print(f"\n| run | photos/s ({args.workers} processes) |")
    print("|---|---|")
    print(f"| full scan (analyse_bytes, every route) | {scan:.2f} |")
    print(f"| naive reference (decode + pdqhash + HOG x1 upsample + landmarks + embedding) | {ref:.2f} |")
    print(f"| **ratio** | **{scan / ref:.2f}x** |")


if __name__ == "__main__":
    main()
