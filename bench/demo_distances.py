"""PDQ and face distances of every demo copy to the enrolled photos, per kind of copy.

Usage: .venv/bin/python bench/demo_distances.py

Shows how far each transformation moves PDQ (bits, of 256; match at <= 31) and where faces land
(euclidean; match under 0.5). These are the numbers docs/matching.md quotes.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from ncii_shield.demo.build import build_demo
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.analyse import analyse_bytes
from ncii_shield.signals.faces import detect_faces
from ncii_shield.signals.pdq import as_words, distances, pdq_dihedral


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        truth = build_demo(Path(tmp))
        refs, faces = [], []
        for photo in truth.enrol_photos:
            decoded = decode_image(photo.read_bytes())
            refs += pdq_dihedral(decoded.rgb)[0]
            faces.append(detect_faces(decoded.upright)[0].embedding)
        words = as_words(refs)
        pdq_by_label: dict[str, list[int]] = defaultdict(list)
        face_by_label: dict[str, list[float]] = defaultdict(list)
        for media in truth.media:
            analysis = analyse_bytes((truth.export_dir / media.path).read_bytes(), with_nudity=False)
            assert analysis.pdq is not None
            pdq_by_label[media.label].append(int(distances(words, as_words([analysis.pdq])[0]).min()))
            for face in analysis.faces:
                face_by_label[media.label].append(
                    min(float(np.linalg.norm(face.embedding - f)) for f in faces)
                )
        print(f"{'label':22s} {'n':>3s}  {'PDQ bits min-max':>16s}  {'face distance min-max':>22s}")
        for label in sorted(pdq_by_label):
            p, f = pdq_by_label[label], face_by_label.get(label, [])
            face = f"{min(f):.3f}-{max(f):.3f} ({len(f)} faces)" if f else "no face"
            print(f"{label:22s} {len(p):3d}  {min(p):7d}-{max(p):<8d}  {face:>22s}")


if __name__ == "__main__":
    main()
