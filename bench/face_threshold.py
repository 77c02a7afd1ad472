"""Measure the face route on the bundled faces: distances between the same and different people.

Usage: .venv/bin/python bench/face_threshold.py

Prints every pairwise distance between detected faces of the bundled public-domain portraits
(labelled by who they are), the largest same-person and smallest different-person distance, and the
detector's hit rate on resized copies (down to small faces). The chosen threshold
(signals.faces.SAME_PERSON_DISTANCE) must sit between the two with a margin; docs/matching.md
records the numbers.
"""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ncii_shield.media.decode import decode_image
from ncii_shield.signals.faces import SAME_PERSON_DISTANCE, detect_faces

ASSETS = Path(__file__).resolve().parents[1] / "src" / "ncii_shield" / "demo" / "assets"
PEOPLE = {
    "obama.jpg": "obama",
    "obama2.jpg": "obama",
    "obama3.jpg": "obama",
    "obama_partial_face.jpg": "obama",
    "biden.jpg": "biden",
    "biden2.jpg": "biden",
    "astronaut.jpg": "collins",
}


def main() -> None:
    faces: list[tuple[str, str, np.ndarray]] = []
    for name, person in PEOPLE.items():
        found = detect_faces(decode_image((ASSETS / name).read_bytes()).upright)
        faces.append((name, person, found[0].embedding))
    same, different = [], []
    for (na, pa, ea), (nb, pb, eb) in itertools.combinations(faces, 2):
        d = float(np.linalg.norm(ea - eb))
        (same if pa == pb else different).append(d)
        print(f"{'same' if pa == pb else 'diff'}  {d:.3f}  {na} ~ {nb}")
    print(f"\nsame person:      n={len(same)}  max={max(same):.3f}  mean={np.mean(same):.3f}")
    print(f"different people: n={len(different)}  min={min(different):.3f}  mean={np.mean(different):.3f}")
    print(
        f"threshold in use: {SAME_PERSON_DISTANCE} (margin {SAME_PERSON_DISTANCE - max(same):+.3f} / "
        f"{min(different) - SAME_PERSON_DISTANCE:+.3f})"
    )

    print("\ndetection of small faces (obama.jpg scaled down, face width in px):")
    original = Image.open(ASSETS / "obama.jpg").convert("RGB")
    reference = faces[0][2]
    for side in (1024, 640, 400, 300, 200, 150, 100):
        img = original.copy()
        img.thumbnail((side, side))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=80)
        start = time.perf_counter()
        found = detect_faces(decode_image(buf.getvalue()).upright)
        took = time.perf_counter() - start
        if found:
            d = float(np.linalg.norm(found[0].embedding - reference))
            print(f"  image {side:5d}px  face {found[0].size:4d}px  distance {d:.3f}  {took * 1000:.0f} ms")
        else:
            print(f"  image {side:5d}px  no face found  {took * 1000:.0f} ms")

    print("\nin-plane rotation (obama2.jpg rotated, white fill):")
    tilted = Image.open(ASSETS / "obama2.jpg").convert("RGB")
    for angle in (0, 10, 20, 30, 45, 60, 90):
        found = detect_faces(np.asarray(tilted.rotate(angle, expand=True, fillcolor=(255, 255, 255))))
        if found:
            d = float(np.linalg.norm(found[0].embedding - reference))
            print(f"  {angle:3d} degrees  face {found[0].size:4d}px  distance {d:.3f}")
        else:
            print(f"  {angle:3d} degrees  no face found")


if __name__ == "__main__":
    main()
