"""Video signals (PDQ and faces on sampled frames) and vPDQ-style video matching.

Meta's vPDQ hashes one frame a second and calls two videos the same when enough of the query's frames
match some frame of the other (the "query match percent") and enough of the other's frames match the
query (the "compared match percent"), 80 % by default. That decides whole copies; it misses a short
clip of a reference cut into a longer video (6 s of a 20 s reference inside a minute of other footage
is 10 % of the query and 30 % of the reference). So matching here also looks for the time offset at
which most query frames line up with reference frames, and reports the aligned stretch in both videos.

Everything below `video_signals` is a pure function of stored per-frame hashes, lists of
(timestamp, 32-byte PDQ, quality), so a new enrolment can be matched against the backlog without
decoding anything again. Several hashes at one timestamp (e.g. the 8 dihedral variants of a reference
frame) count as one frame that matches when any of them does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from ncii_shield.errors import MediaError
from ncii_shield.media.animation import AnimationReader, is_animation
from ncii_shield.media.thumbs import thumbnail_jpeg
from ncii_shield.media.video import MAX_SAMPLED_FRAMES, SAMPLE_EVERY_SECONDS, Reason, VideoReader
from ncii_shield.signals.faces import Face, detect_faces
from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY, as_words, pdq_hash

FACE_EVERY = 2  # faces on the first frame, each scene start and every 2nd sampled frame (measured cost)
REFERENCE_EVERY_SECONDS = 0.25  # references are sampled 4x as densely as scans: a query frame is then
# never more than 0.125 s from a reference frame, where PDQ still agrees (bench/video.py, docs/matching.md)

QUERY_MATCH_PERCENT = 80.0  # vPDQ's default: the query is (mostly) made of the reference
REFERENCE_MATCH_PERCENT = 80.0  # the reference is (mostly) inside the query
COVER_SECONDS = 0.5  # a frame counts as matched when a frame this close to it matches (see _covered)
ALIGN_TOLERANCE_SECONDS = 0.75  # a sampled frame lands within half a sampling step of its counterpart
MIN_CLIP_FRAMES = 3  # an aligned stretch needs 3 matching query frames ...
MIN_CLIP_SECONDS = 2.0  # ... spanning 2 s, so one stray look-alike frame is never a clip
MIN_CLIP_COVERAGE = 0.5  # ... and at least half the query frames inside it must line up
MAX_GAP_SECONDS = 4.0  # unmatched query time (an overlay, a flash) allowed inside one stretch
_BIN_SECONDS = 0.25  # resolution of the offset search
_GRID_CELLS = 4_000_000  # memory bound of the offset search (16 MB)

MatchKind = Literal["same", "query_in_reference", "reference_in_query", "clip"]


class FrameHash(NamedTuple):
    """One stored per-frame PDQ: what matching needs, nothing more."""

    timestamp: float  # seconds from the start of the video
    pdq: bytes  # 32 bytes
    quality: int  # 0-100


@dataclass(frozen=True)
class FrameSignals:
    """The signals of one sampled frame."""

    index: int  # position among the sampled frames (the `frame` of a stored signal)
    timestamp: float
    reason: Reason  # why the frame was sampled: "first", "interval" or "scene"
    pdq: bytes
    pdq_quality: int
    faces: list[Face] | None  # None: faces were not looked for on this frame (see FACE_EVERY)
    # A letterboxed or pillarboxed frame (a photo shown whole in a slideshow, a portrait clip in a landscape
    # video): the PDQ of the picture inside the bars, which matches the photo where the frame's own cannot.
    content_pdq: bytes | None = None
    content_quality: int = 0


@dataclass(frozen=True)
class VideoSignals:
    """Every signal of one video, from one streaming decode."""

    sha256: str
    size: int
    codec: str
    width: int  # as displayed (rotation applied)
    height: int
    rotation: int
    fps: float | None  # declared average frame rate
    duration: float  # seconds actually decoded (up to the cap)
    decoded_frames: int
    frames: list[FrameSignals]
    capped: bool  # sampling stopped at the frame cap: the rest of the video was not looked at
    damaged: str | None  # decoding stopped early on damaged data; frames before it are kept
    thumbnail: bytes | None = None  # small JPEG of the first frame, for review (as for images)

    def hashes(self) -> list[FrameHash]:
        """Per-frame PDQ in the form matching and storage use."""
        return [FrameHash(f.timestamp, f.pdq, f.pdq_quality) for f in self.frames]


def video_signals(
    data: bytes,
    *,
    every_seconds: float = SAMPLE_EVERY_SECONDS,
    faces: bool = True,
    face_every: int = FACE_EVERY,
    max_frames: int | None = None,
) -> VideoSignals:
    """PDQ of every sampled frame and faces on a subset. Raises MediaError with a one-line reason.

    Enrol reference videos with `every_seconds=REFERENCE_EVERY_SECONDS`; scan with the default.
    `max_frames` defaults to the same 10 minutes of video at any density (600 at 1 s, 2400 at 0.25 s).
    Only one decoded frame is held at a time, so a worker's memory does not grow with the video.
    """
    if max_frames is None:
        max_frames = max(1, round(MAX_SAMPLED_FRAMES * SAMPLE_EVERY_SECONDS / every_seconds))
    frames: list[FrameSignals] = []
    thumbnail = None
    # Animated GIF/WebP/APNG are read frame by frame like a video (media/animation.py).
    with AnimationReader(data) if is_animation(data) else VideoReader(data) as reader:
        for frame in reader.frames(every_seconds=every_seconds, max_frames=max_frames):
            if frame.index == 0:
                thumbnail = thumbnail_jpeg(frame.rgb)
            pdq, quality = pdq_hash(frame.rgb)
            content_pdq, content_quality = _content_hash(frame.rgb)
            look = faces and (frame.reason != "interval" or frame.index % max(1, face_every) == 0)
            frames.append(
                FrameSignals(
                    index=frame.index,
                    timestamp=frame.timestamp,
                    reason=frame.reason,
                    pdq=pdq,
                    pdq_quality=quality,
                    faces=detect_faces(frame.rgb) if look else None,
                    content_pdq=content_pdq,
                    content_quality=content_quality,
                )
            )
        info = reader.info
    if not frames:
        raise MediaError("video has no decodable frame")
    return VideoSignals(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        codec=info.codec,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        fps=info.fps,
        duration=round(reader.duration, 3),
        decoded_frames=reader.decoded_frames,
        frames=frames,
        capped=reader.capped,
        damaged=reader.damaged,
        thumbnail=thumbnail,
    )


BAR_TOLERANCE = 24  # levels a bar pixel may differ from the bar's colour (compression noise)
BAR_CONTENT = 0.02  # a line with more than this share of differing pixels is picture, not bar
MIN_BAR = 0.03  # bars narrower than this share of the frame are left alone (PDQ shrugs them off)


def bars(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside flat bars on any side: letterbox, pillarbox or
    both. Unlike multicrop.trim, each side has its own bar colour, and a side whose outer line is picture
    keeps it, so a bar on two sides only is still found."""
    import cv2

    h, w = rgb.shape[:2]
    if min(h, w) < 16 or rgb.ndim != 3:
        return 0, h, 0, w
    edges = {"top": rgb[0], "bottom": rgb[-1], "left": rgb[:, 0], "right": rgb[:, -1]}
    cut = {}
    for side, line in edges.items():
        colour = np.median(line.astype(np.int16), axis=0)
        lower, upper = np.clip(colour - BAR_TOLERANCE, 0, 255), np.clip(colour + BAR_TOLERANCE, 0, 255)
        strip = rgb[: h // 2] if side == "top" else rgb[h - h // 2 :] if side == "bottom" else None
        if side in ("left", "right"):
            strip = rgb[:, : w // 2] if side == "left" else rgb[:, w - w // 2 :]
        differs = cv2.inRange(np.ascontiguousarray(strip), lower, upper) == 0
        share = differs.mean(axis=1 if side in ("top", "bottom") else 0)
        if side in ("bottom", "right"):
            share = share[::-1]
        picture = np.flatnonzero(share > BAR_CONTENT)
        cut[side] = int(picture[0]) if len(picture) else 0
    top, bottom, left, right = cut["top"], h - cut["bottom"], cut["left"], w - cut["right"]
    if bottom - top < h // 8 or right - left < w // 8:
        return 0, h, 0, w  # mostly flat: a title card or a fade, not a picture in bars
    return top, bottom, left, right


def _content_hash(rgb: np.ndarray) -> tuple[bytes | None, int]:
    """PDQ of the picture inside bars, when the frame has bars worth cutting; (None, 0) otherwise."""
    h, w = rgb.shape[:2]
    top, bottom, left, right = bars(rgb)
    if (h - (bottom - top)) < MIN_BAR * h and (w - (right - left)) < MIN_BAR * w:
        return None, 0
    return pdq_hash(np.ascontiguousarray(rgb[top:bottom, left:right]))


# --------------------------------------------------------------------------------------------------
# Matching: pure functions on per-frame hashes.


@dataclass(frozen=True)
class VideoMatch:
    """Why a query video matches a reference video, with the matching stretch in both."""

    kind: MatchKind  # same | query_in_reference (query is a clip of it) | reference_in_query | clip
    query_match_percent: float  # share of the query's frames that match some reference frame (vPDQ),
    # counting frames within COVER_SECONDS of a matching one (see _covered)
    reference_match_percent: float  # the same for the reference's frames
    query_range: tuple[float, float]  # seconds in the query where the reference was found
    reference_range: tuple[float, float]  # the corresponding seconds of the reference
    offset: float  # query time minus reference time along the aligned stretch
    matched_frames: int  # query frames in the stretch that match their aligned reference frame
    coverage: float  # matched_frames / query frames inside query_range
    best_distance: int  # smallest PDQ distance among the aligned frames
    median_distance: float


@dataclass(frozen=True)
class _Frames:
    times: np.ndarray  # (f,) timestamps of the frames, ascending
    words: np.ndarray  # (h, 4) uint64 hashes, grouped by frame
    starts: np.ndarray  # (f,) index of each frame's first hash in `words`


def _frames(
    hashes: VideoSignals | Sequence[FrameHash | tuple[float, bytes, int]], min_quality: int
) -> _Frames:
    rows = hashes.hashes() if isinstance(hashes, VideoSignals) else hashes
    kept = sorted((float(t), bytes(h)) for t, h, q in rows if q >= min_quality)
    if not kept:
        empty = np.zeros(0)
        return _Frames(empty, as_words([]), empty.astype(np.intp))
    all_times = np.array([t for t, _ in kept])
    times, starts = np.unique(all_times, return_index=True)
    return _Frames(times, as_words([h for _, h in kept]), starts)


def _frame_distances(query: _Frames, reference: _Frames) -> np.ndarray:
    """(query frames, reference frames) smallest Hamming distance between their hashes."""
    out = np.empty((len(query.words), len(reference.starts)), dtype=np.int32)
    chunk = max(1, 1_000_000 // max(1, len(reference.words)))  # bounds the temporary at ~32 MB
    for lo in range(0, len(query.words), chunk):
        block = np.bitwise_xor(query.words[lo : lo + chunk, None, :], reference.words[None, :, :])
        bits = np.bitwise_count(block).sum(axis=2, dtype=np.int32)
        out[lo : lo + chunk] = np.minimum.reduceat(bits, reference.starts, axis=1)
    return np.minimum.reduceat(out, query.starts, axis=0)


def _covered(times: np.ndarray, matched: np.ndarray, radius: float) -> np.ndarray:
    """Frames within `radius` seconds of a matched frame.

    vPDQ counts matched frames, which assumes both videos are sampled alike. A reference sampled every
    0.25 s against a query sampled every second has only about one frame in four matched even when the
    query holds all of it; counting the time around matched frames makes the percentages mean "share
    of the video's time" whatever the sampling density.
    """
    hit = times[matched]
    if not len(hit):
        return matched
    after = np.clip(np.searchsorted(hit, times), 0, len(hit) - 1)
    before = np.clip(after - 1, 0, len(hit) - 1)
    return (np.abs(hit[after] - times) <= radius) | (np.abs(times - hit[before]) <= radius)


def _best_offset(
    q_times: np.ndarray, r_times: np.ndarray, closeness: np.ndarray, tolerance: float
) -> tuple[float, float]:
    """(offset, bin width): the offset (query - reference time) where most query frames line up.

    Offsets are binned (0.25 s) into a (bins, query frames) grid of the best closeness, then a window
    of +-tolerance slides over it. Ties (a still scene matches at many offsets) go to the offset whose
    aligned pairs are closest. Hostile timestamps spread over hours only coarsen the bins: the grid
    stays under _GRID_CELLS.
    """
    qi, ri = np.nonzero(closeness)
    offsets = q_times[qi] - r_times[ri]
    low = float(offsets.min())
    span = float(offsets.max()) - low
    width = max(_BIN_SECONDS, span * len(q_times) / _GRID_CELLS)
    bins = np.floor((offsets - low) / width).astype(np.intp)
    grid = np.zeros((int(bins.max()) + 1, len(q_times)), dtype=np.int32)
    np.maximum.at(grid, (bins, qi), closeness[qi, ri])
    reach = int(np.ceil(tolerance / width))
    padded = np.pad(grid, ((reach, reach), (0, 0)))
    window = grid.copy()
    for k in range(2 * reach + 1):
        np.maximum(window, padded[k : k + len(grid)], out=window)
    score = (window > 0).sum(axis=1).astype(np.int64) * 10_000 + window.sum(axis=1)
    return low + (int(np.argmax(score)) + 0.5) * width, width


def match_video(
    query: VideoSignals | Sequence[FrameHash | tuple[float, bytes, int]],
    reference: VideoSignals | Sequence[FrameHash | tuple[float, bytes, int]],
    *,
    threshold: int = MATCH_THRESHOLD,
    min_quality: int = MIN_QUALITY,
    query_percent: float = QUERY_MATCH_PERCENT,
    reference_percent: float = REFERENCE_MATCH_PERCENT,
    tolerance: float = ALIGN_TOLERANCE_SECONDS,
) -> VideoMatch | None:
    """Decide whether `query` shows (part of) `reference`; None when it does not.

    A match is any of: vPDQ's whole-video rule (>= 80 % of the query's frames match, or >= 80 % of
    the reference's frames are matched), or an aligned stretch of >= 3 query frames over >= 2 s in
    which at least half the query frames match the reference frame at the same offset. Frames with
    PDQ quality under 50 are ignored on both sides (black fades, flat titles).
    """
    q = _frames(query, min_quality)
    r = _frames(reference, min_quality)
    if not len(q.times) or not len(r.times):
        return None
    dist = _frame_distances(q, r)
    closeness = np.where(dist <= threshold, threshold + 1 - dist, 0)
    if not closeness.any():
        return None
    q_percent = 100.0 * float(_covered(q.times, closeness.any(axis=1), COVER_SECONDS).mean())
    r_percent = 100.0 * float(_covered(r.times, closeness.any(axis=0), COVER_SECONDS).mean())

    offset, width = _best_offset(q.times, r.times, closeness, tolerance)
    # For each query frame, the best-matching reference frame within `tolerance` of the offset.
    misalign = np.abs(q.times[:, None] - r.times[None, :] - offset)
    near = (misalign <= tolerance + width / 2) & (closeness > 0)  # never empty: the best bin has a pair
    # The closest hash wins; among equals (a still scene), the frame nearest the aligned instant.
    preference = np.where(near, closeness * 100.0 - misalign, -np.inf)
    partner = preference.argmax(axis=1)
    hit = np.flatnonzero(near.any(axis=1))
    # Split the aligned query frames into stretches at long unmatched gaps; keep the longest.
    breaks = np.flatnonzero(np.diff(q.times[hit]) > MAX_GAP_SECONDS) + 1
    run = max(np.split(hit, breaks), key=len)
    q_start, q_end = float(q.times[run[0]]), float(q.times[run[-1]])
    in_range = int(((q.times >= q_start) & (q.times <= q_end)).sum())
    coverage = len(run) / in_range
    r_times = r.times[partner[run]]
    run_dist = dist[run, partner[run]]

    if q_percent >= query_percent and r_percent >= reference_percent:
        kind: MatchKind = "same"
    elif q_percent >= query_percent:
        kind = "query_in_reference"
    elif r_percent >= reference_percent:
        kind = "reference_in_query"
    elif (
        len(run) >= MIN_CLIP_FRAMES and q_end - q_start >= MIN_CLIP_SECONDS and coverage >= MIN_CLIP_COVERAGE
    ):
        kind = "clip"
    else:
        return None
    return VideoMatch(
        kind=kind,
        query_match_percent=round(q_percent, 1),
        reference_match_percent=round(r_percent, 1),
        query_range=(q_start, q_end),
        reference_range=(float(r_times.min()), float(r_times.max())),
        offset=round(float(np.median(q.times[run] - r_times)), 3),
        matched_frames=len(run),
        coverage=round(coverage, 3),
        best_distance=int(run_dist.min()),
        median_distance=float(np.median(run_dist)),
    )
