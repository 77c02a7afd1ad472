"""Every signal of one media file from one decode: the unit of work a scan sends to a worker.

A pure function from bytes to data, so it runs the same in a worker process, in enrolment and in
tests, and never touches the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ncii_shield.errors import MediaError
from ncii_shield.index.local_features import extract as extract_features
from ncii_shield.index.multicrop import WindowHash, window_hashes
from ncii_shield.media.animation import is_animation
from ncii_shield.media.decode import decode_image
from ncii_shield.media.thumbs import thumbnail_jpeg
from ncii_shield.signals.faces import PASSES, Face, detect_faces
from ncii_shield.signals.pdq import pdq_hash
from ncii_shield.signals.video import FrameSignals, video_signals


@dataclass(frozen=True)
class Analysis:
    sha256: str
    size: int
    error: str | None = None  # one-line reason the media was refused; nothing else is set then
    format: str | None = None
    width: int | None = None
    height: int | None = None
    pdq: bytes | None = None
    pdq_quality: int | None = None
    faces: list[Face] = field(default_factory=list)
    nudity: float | None = None
    thumbnail: bytes | None = None
    frames: list[FrameSignals] = field(default_factory=list)  # videos/animations: every sampled frame
    features: bytes | None = None  # local features (index/local_features.py), for partial copies
    windows: list[WindowHash] = field(default_factory=list)  # multi-crop PDQ, for collage tiles


def prepare_worker(*, with_nudity: bool = False) -> None:
    """Once per scan worker: the models loaded before the first file, not on it.

    OpenCV's thread count is deliberately left alone here: calling cv2.setNumThreads in a forked worker
    whose parent had already used OpenCV's thread pool deadlocked (futex wait) in the demo test.
    """
    from ncii_shield.signals.faces import _models
    from ncii_shield.signals.yunet import _library

    _models()
    _library()
    if with_nudity:
        from ncii_shield.signals.nudity import _classifier

        _classifier()


def analyse_bytes(data: bytes, *, with_nudity: bool = True, face_detail: str = "standard") -> Analysis:
    """Decode once, then hash, find faces and score. A refused file comes back with `error` set.

    Scans pass with_nudity=False: the score only orders hits for review, so it is computed afterwards for
    the few media that have a hit, from their stored thumbnail (scan/ranking.py), not for every file.
    """
    sha = hashlib.sha256(data).hexdigest()
    try:
        decoded = decode_image(data)
    except MediaError as exc:
        return Analysis(sha256=sha, size=len(data), error=exc.message)
    pdq, quality = pdq_hash(decoded.rgb)
    frames: list[FrameSignals] = []
    if decoded.format.startswith("video/") or is_animation(data):
        try:  # a frame about every second and at each scene change: PDQ and faces on all of them
            frames = video_signals(data).frames
        except MediaError:
            frames = []  # the first frame decoded above still counts
    return Analysis(
        sha256=sha,
        size=len(data),
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        pdq=pdq,
        pdq_quality=quality,
        faces=[] if frames else detect_faces(decoded.upright, PASSES[face_detail]),
        frames=frames,
        nudity=_nudity(decoded.rgb) if with_nudity else None,
        thumbnail=thumbnail_jpeg(decoded.upright),
        features=extract_features(decoded.rgb).to_bytes(),
        windows=window_hashes(decoded.rgb),
    )


def _nudity(rgb: np.ndarray) -> float:
    from ncii_shield.signals.nudity import nudity_score  # onnxruntime: loaded only where it is used

    return nudity_score(rgb)
