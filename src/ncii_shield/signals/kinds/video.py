"""The video route: a clip of an enrolled video inside a scanned one (vPDQ-style; see signals/video.py).

An enrolled video keeps its frames, sampled 4x as densely as scans, each as a `video_frame` reference
(time and PDQ, `pack_frame`) and as a plain `pdq` reference, so a screenshot or a GIF made from it matches
too. Matching reads the per-frame PDQ a scan stored for every video: nothing is decoded again.
"""

from __future__ import annotations

import math
import struct
from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import select

from ncii_shield.signals.base import (
    CaseKey,
    Enrolment,
    MatchContext,
    MediaMatch,
    NewReference,
    ReferenceRow,
    Sample,
    SignalKind,
)
from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY
from ncii_shield.signals.video import REFERENCE_EVERY_SECONDS, FrameSignals, match_video, video_signals
from ncii_shield.store.models import Signal

VIDEO_PDQ_VARIANTS = 1000  # PDQ references of video frames are numbered from here (0-7: dihedral)
_FRAME = struct.Struct(">d32s")  # a frame's time (seconds, big-endian double) then its 32-byte PDQ

Frames = tuple[tuple[float, bytes], ...]  # (timestamp, pdq) of each usable frame, in time order
VideoReferences = tuple[tuple[int, list[tuple[float, bytes, int]]], ...]  # (reference id, frames) per video


def pack_frame(timestamp: float, pdq: bytes) -> bytes:
    """A reference video frame: its time (seconds, big-endian double) then its 32-byte PDQ."""
    return struct.pack(">d", timestamp) + pdq


def unpack_frame(value: bytes) -> tuple[float, bytes]:
    return struct.unpack(">d", value[:8])[0], value[8:]


def reference_frames(sample: Sample) -> list[FrameSignals]:
    """The frames of an enrolled video worth matching (PDQ quality >= MIN_QUALITY), sampled densely."""

    def sample_frames() -> list[FrameSignals]:
        frames = video_signals(sample.data, every_seconds=REFERENCE_EVERY_SECONDS, faces=False).frames
        return [f for f in frames if f.pdq_quality >= MIN_QUALITY]

    return sample.once("video_frames", sample_frames)  # type: ignore[no-any-return]


class VideoKind(SignalKind[Frames]):
    """Values are a video's usable frames; the stored form is one `pack_frame` record per frame (a
    `video_frame` reference holds one). The distance is the best aligned frame distance of a match."""

    name = "video"
    threshold = MATCH_THRESHOLD
    reference_kinds = ("video_frame",)
    inputs = "video"

    def compute(self, sample: Sample) -> Frames:
        return tuple((f.timestamp, f.pdq) for f in reference_frames(sample))

    def pack(self, value: Frames) -> bytes:
        return b"".join(pack_frame(t, p) for t, p in value)

    def unpack(self, data: bytes) -> Frames:
        if not data or len(data) % _FRAME.size:
            raise ValueError(f"video frames are {_FRAME.size}-byte records, got {len(data)} bytes")
        return tuple(unpack_frame(data[i : i + _FRAME.size]) for i in range(0, len(data), _FRAME.size))

    def distance(self, a: Frames, b: Frames) -> float:
        found = match_video([(t, p, 100) for t, p in a], [(t, p, 100) for t, p in b])
        return math.inf if found is None else float(found.best_distance)

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        if not sample.is_video:
            return Enrolment()
        frames = reference_frames(sample)
        references = []
        for frame in frames:
            value = pack_frame(frame.timestamp, frame.pdq)
            references.append(NewReference("video_frame", value, frame.index, frame.pdq_quality))
            variant = VIDEO_PDQ_VARIANTS + frame.index
            references.append(NewReference("pdq", frame.pdq, variant, frame.pdq_quality))
        warning = f"video: {len(frames)} frames enrolled (one every {REFERENCE_EVERY_SECONDS} s)"
        return Enrolment(references, [warning])

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> VideoReferences | None:
        """Per enrolled video: the id of its first frame reference, and its frames in time order."""
        videos: dict[str, list[tuple[int, float, bytes, int]]] = defaultdict(list)
        for row in rows.get("video_frame", ()):
            timestamp, frame_hash = unpack_frame(row.value)
            videos[row.photo_sha256].append((row.id, timestamp, frame_hash, row.quality or 0))
        return (
            tuple(
                (frames[0][0], [(t, p, q) for _, t, p, q in sorted(frames, key=lambda f: f[1])])
                for frames in videos.values()
            )
            or None
        )

    def match(self, ctx: MatchContext, refs: VideoReferences | None) -> list[MediaMatch]:
        """A stored video holding a clip of an enrolled video (or held in it), over its sampled frames."""
        if not refs:
            return []
        videos = select(Signal.media_id).where(Signal.kind == "pdq", Signal.frame > 0)
        rows = ctx.session.execute(
            select(Signal.media_id, Signal.score, Signal.value, Signal.quality)
            .where(Signal.kind == "pdq", Signal.media_id.in_(videos))
            .order_by(Signal.media_id, Signal.frame)
        ).all()
        by_media: dict[int, list[tuple[float, bytes, int]]] = defaultdict(list)
        for media_id, timestamp, value, quality in rows:
            by_media[media_id].append((timestamp or 0.0, value, quality or 0))
        found = []
        for media_id, frames in by_media.items():
            for reference_id, reference in refs:
                match = match_video(frames, reference)
                if match is None:
                    continue
                details: dict[str, object] = {
                    "match": match.kind,
                    "query_range": list(match.query_range),
                    "reference_range": list(match.reference_range),
                    "query_percent": round(match.query_match_percent, 1),
                    "reference_percent": round(match.reference_match_percent, 1),
                }
                found.append(
                    MediaMatch(media_id, self.name, reference_id, float(match.best_distance), None, details)
                )
        return found
