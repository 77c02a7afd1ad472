"""Video sampling speed, the scene-change threshold and vPDQ-style clip matching, measured.

Usage: .venv/bin/python bench/video.py [--quick]

Every video is a benign slideshow (slow zooms and pans over the bundled nature photos and official
portraits) encoded with PyAV. Prints the numbers docs/matching.md quotes in its "Video" section:

1. sampling speed: decoded and sampled frames per second at 360p/720p/1080p, and the cost of faces;
2. the scene score inside scenes (pans/zooms at 25, 10 and 5 fps) against cuts between photos;
3. PDQ distance between a re-encoded frame and the reference frame 0-1 s away from it;
4. matching: a 6 s clip cut from a 20 s reference at 7 start points, re-encoded at a lower
   resolution, frame rate and bitrate, inside 54 s of other footage, against references sampled every
   1, 0.5 and 0.25 s; whole copies, containment both ways, and unrelated videos.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import statistics
import time
from pathlib import Path

import av
import numpy as np

from ncii_shield.demo.slideshow import cut, decoded, encode, render, timeline
from ncii_shield.media.video import SCENE_THRESHOLD, VideoReader
from ncii_shield.signals.faces import detect_faces
from ncii_shield.signals.pdq import pdq_hash
from ncii_shield.signals.video import REFERENCE_EVERY_SECONDS, match_video, video_signals

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"
Scene = tuple[str, float, str]  # asset, seconds, "zoom" | "pan" | "fit" (letterboxed portrait zoom)

REFERENCE: list[Scene] = [
    ("mate-Aqua.jpg", 5, "zoom"),
    ("obama.jpg", 5, "fit"),
    ("mate-Elephants.jpg", 5, "pan"),
    ("mate-LadyBird.jpg", 5, "zoom"),
]
BEFORE: list[Scene] = [("mate-Dune.jpg", 9, "pan"), ("mate-Garden.jpg", 9, "zoom"), ("biden.jpg", 9, "fit")]
AFTER: list[Scene] = [
    ("mate-Storm.jpg", 9, "zoom"),
    ("mate-YellowFlower.jpg", 9, "pan"),
    ("mate-GreenMeadow.jpg", 9, "zoom"),
]
UNRELATED: list[list[Scene]] = [
    [("biden2.jpg", 6, "fit"), ("mate-Blinds.jpg", 6, "pan"), ("mate-FreshFlower.jpg", 8, "zoom")],
    [("obama2.jpg", 7, "fit"), ("mate-Dune.jpg", 7, "zoom"), ("astronaut.jpg", 6, "fit")],
    [("obama3.jpg", 10, "fit"), ("mate-Storm.jpg", 10, "pan")],
    [("obama_and_biden.jpg", 8, "zoom"), ("mate-Garden.jpg", 12, "pan")],
]


def bench_speed(quick: bool) -> None:
    print("\n## 1. Sampling speed (30 s slideshows, 3 scenes, 30 fps, H.264; this 2-core machine)")
    print("size        decode-only   sample_frames             sampled")
    sizes = [(640, 360), (1280, 720)] if quick else [(640, 360), (1280, 720), (1920, 1080)]
    scenes: list[Scene] = [
        ("mate-Aqua.jpg", 10, "zoom"),
        ("obama.jpg", 10, "fit"),
        ("mate-Elephants.jpg", 10, "pan"),
    ]
    videos = {}
    for size in sizes:
        data = encode(timeline(scenes, size, 30), size, 30)
        videos[size] = data
        t0 = time.perf_counter()
        with av.open(io.BytesIO(data)) as container:
            container.streams.video[0].codec_context.thread_type = "AUTO"
            n = sum(1 for _ in container.decode(video=0))
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        with VideoReader(data) as reader:
            sampled = sum(1 for _ in reader.frames())
            count = reader.decoded_frames
        took = time.perf_counter() - t0
        print(
            f"{size[0]}x{size[1]:<6} {n / plain:6.0f} fr/s   {count / took:6.0f} fr/s ({30 / took:4.0f}x realtime)   {sampled}"
        )
    print("\nvideo_signals per 30 s of video (PDQ on every sampled frame; faces on some or all):")
    print("size        no faces   faces: 1st+cuts+every 2nd   faces: all   frames with a face (subset/all)")
    for size, data in videos.items():
        row = []
        found = []
        looked = []
        for kwargs in ({"faces": False}, {"face_every": 2}, {"face_every": 1}):
            t0 = time.perf_counter()
            sig = video_signals(data, **kwargs)  # type: ignore[arg-type]
            row.append(time.perf_counter() - t0)
            if kwargs.get("faces", True):
                found.append(sum(1 for f in sig.frames if f.faces))
                looked.append(sum(1 for f in sig.frames if f.faces is not None))
        per_face = (row[2] - row[0]) / looked[1]
        print(
            f"{size[0]}x{size[1]:<6} {row[0]:6.2f} s   {row[1]:6.2f} s ({looked[0]} frames)       "
            f"{row[2]:6.2f} s ({looked[1]})  {found[0]}/{found[1]}   ~{per_face:.2f} s per face search"
        )
    portrait = np.asarray(render("obama.jpg", 0, 1, (384, 384), "fit"))
    t0 = time.perf_counter()
    faces = detect_faces(portrait)
    print(
        f"round video message frame 384x384: detect_faces {time.perf_counter() - t0:.2f} s ({len(faces)} face)"
    )


def bench_scene_threshold() -> None:
    print(f"\n## 2. Scene score (mean abs diff of 64x64 gray thumbnails), threshold {SCENE_THRESHOLD}")
    names = sorted(p.name for p in ASSETS.glob("*.jpg"))
    for fps in (25, 10, 5):
        for mode in ("zoom", "pan"):
            scenes = [(name, 3.0, mode) for name in names]
            data = encode(timeline(scenes, (320, 180), fps), (320, 180), fps, crf=30)
            inside, cuts = [], []
            with VideoReader(data) as reader:
                for frame in reader.frames(every_seconds=1 / fps, scene_threshold=1e9):
                    if frame.index:
                        (cuts if frame.decoded_index % (3 * fps) == 0 else inside).append(frame.scene_score)
            print(
                f"{fps:>2} fps {mode:<4}: inside scenes max {max(inside):5.1f} (p99 {np.percentile(inside, 99):5.1f})"
                f"   cuts min {min(cuts):5.1f} median {statistics.median(cuts):5.1f}"
            )
    sampled = 0
    with VideoReader(encode(timeline(REFERENCE, (320, 180), 25), (320, 180), 25)) as reader:
        reasons = [(f.timestamp, f.reason) for f in reader.frames()]
        sampled = len(reasons)
    print(
        f"reference slideshow (4 scenes, 20 s): {sampled} frames, cuts at",
        [t for t, r in reasons if r == "scene"],
    )


def bench_offset_sensitivity(reference: bytes, copy: bytes) -> None:
    print("\n## 3. PDQ distance from a re-encoded frame to the reference frame dt seconds away")
    ref = decoded(reference)
    cp = decoded(copy)
    ref_times = np.array([t for t, _ in ref])
    by_dt: dict[float, list[int]] = {}
    for t, im in cp[::5]:
        h, q = pdq_hash(np.asarray(im))
        if q < 50:
            continue
        scene_t = t % 5
        for dt in (0.0, 0.125, 0.25, 0.5, 1.0):
            if scene_t + dt >= 4.96:
                continue  # stay inside the scene
            j = int(np.abs(ref_times - (t + dt)).argmin())
            other = pdq_hash(np.asarray(ref[j][1]))[0]
            by_dt.setdefault(dt, []).append(sum((a ^ b).bit_count() for a, b in zip(h, other, strict=True)))
    for dt, ds in by_dt.items():
        over = sum(d > 31 for d in ds)
        print(
            f"dt {dt:5.3f} s: median {statistics.median(ds):5.1f} max {max(ds):3d}  > 31 in {over}/{len(ds)}"
        )


def bench_matching(quick: bool) -> None:
    ref_size, ref_fps = (640, 360), 25
    q_size, q_fps = (480, 270), 15
    reference = encode(timeline(REFERENCE, ref_size, ref_fps), ref_size, ref_fps)
    ref_frames = decoded(reference)
    copy = encode(cut(ref_frames, 0, 20, q_size, q_fps), q_size, q_fps, crf=32)
    bench_offset_sensitivity(reference, copy)

    print("\n## 4. Matching (query sampled every 1 s; reference every 1 / 0.5 / 0.25 s)")
    refs = {every: video_signals(reference, every_seconds=every, faces=False) for every in (1.0, 0.5, 0.25)}
    before = list(timeline(BEFORE, q_size, q_fps))
    after = list(timeline(AFTER, q_size, q_fps))
    starts = [0.0, 7.4] if quick else [0.0, 2.2, 4.5, 7.4, 9.9, 12.7, 14.0]
    found: dict[float, int] = dict.fromkeys(refs, 0)
    errors: dict[float, list[float]] = {every: [] for every in refs}
    t_match = 0.0
    n_match = 0
    print("6 s clip inside 60 s (true query range 27.0-33.0):")
    for start in starts:
        frames = itertools.chain(before, cut(ref_frames, start, 6, q_size, q_fps), after)
        query = video_signals(encode(frames, q_size, q_fps, crf=32), faces=False)
        line = []
        for every, ref in refs.items():
            t0 = time.perf_counter()
            m = match_video(query, ref)
            t_match += time.perf_counter() - t0
            n_match += 1
            if m is None:
                line.append(f"every {every}: no match")
                continue
            found[every] += m.kind == "clip"
            errors[every].append(abs(m.reference_range[0] - (start + m.query_range[0] - 27.0)))
            line.append(
                f"every {every}: {m.kind} q {m.query_range[0]:.1f}-{m.query_range[1]:.1f}"
                f" r {m.reference_range[0]:.1f}-{m.reference_range[1]:.1f} ({m.matched_frames} fr, med {m.median_distance:.0f})"
            )
        print(f"  clip from {start:4.1f} s | " + " | ".join(line))
    for every in refs:
        err = max(errors[every], default=float("nan"))
        print(
            f"  reference every {every} s: clip found {found[every]}/{len(starts)}, reference-time error max {err:.2f} s"
        )

    ref = refs[REFERENCE_EVERY_SECONDS]
    whole = video_signals(copy, faces=False)
    inside = video_signals(
        encode(
            itertools.chain(before[: 10 * q_fps], cut(ref_frames, 0, 20, q_size, q_fps), after[: 10 * q_fps]),
            q_size,
            q_fps,
            crf=32,
        ),
        faces=False,
    )
    alone = video_signals(encode(cut(ref_frames, 7.4, 6, q_size, q_fps), q_size, q_fps, crf=32), faces=False)
    gif = video_signals(encode(cut(ref_frames, 11, 3, (320, 180), 10), (320, 180), 10, crf=30), faces=False)
    still = video_signals(encode(cut(ref_frames, 16, 0.1, (320, 180), 10), (320, 180), 10), faces=False)
    for label, query in [
        ("whole copy, 480x270 15 fps crf 32", whole),
        ("reference inside a 40 s video", inside),
        ("6 s clip alone", alone),
        ("3 s 320x180 animation", gif),
        ("1-frame video", still),
    ]:
        m = match_video(query, ref)
        print(
            f"{label:<36}: "
            + (
                "no match"
                if m is None
                else f"{m.kind} q%={m.query_match_percent:.0f} r%={m.reference_match_percent:.0f}"
                f" q {m.query_range[0]:.1f}-{m.query_range[1]:.1f} r {m.reference_range[0]:.2f}-{m.reference_range[1]:.2f}"
            )
        )

    print("unrelated videos (same style, other photos):")
    nearest = []
    unrelated = [
        video_signals(encode(timeline(s, q_size, q_fps), q_size, q_fps, crf=28), faces=False)
        for s in UNRELATED
    ]
    unrelated.append(
        video_signals(encode(itertools.chain(before, after), q_size, q_fps, crf=28), faces=False)
    )
    false = 0
    for query in unrelated:
        false += match_video(query, ref) is not None
        qh = [h for _, h, q in query.hashes() if q >= 50]
        rh = [h for _, h, q in ref.hashes() if q >= 50]
        nearest.append(
            min(sum((a ^ b).bit_count() for a, b in zip(x, y, strict=True)) for x in qh for y in rh)
        )
    print(f"  {false} matches out of {len(unrelated)}; nearest frame pair {min(nearest)} bits (match <= 31)")
    print(f"match_video: {1000 * t_match / n_match:.1f} ms per query/reference pair (~60 x 80 frames)")
    rng = random.Random(1)
    query_rows = [(float(t), rng.randbytes(32), 90) for t in range(600)]
    ref_rows = [(t * 0.25, rng.randbytes(32), 90) for t in range(2400) for _ in range(8)]
    t0 = time.perf_counter()
    match_video(query_rows, ref_rows)
    print(
        f"match_video: {time.perf_counter() - t0:.2f} s for 600 x 19200 hashes (10 min vs 10 min x 8 variants)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and clip positions")
    args = parser.parse_args()
    bench_speed(args.quick)
    bench_scene_threshold()
    bench_matching(args.quick)


if __name__ == "__main__":
    main()
