"""Sampling a video or animation: about one frame a second, plus every scene change.

Telegram turns GIFs into MP4 "animations"; users post video files and round video messages. All of
them are decoded here as a stream, one frame at a time, so memory stays at a few frames whatever the
length. Which frames are kept (the vPDQ idea, with cuts added):

- the first decodable frame, always;
- a frame whenever `every_seconds` have passed since the last kept frame (by timestamp, so variable
  frame rate needs nothing special);
- the first frame of a new scene: the mean absolute difference between 64x64 grayscale thumbnails of
  consecutive decoded frames (0-255) reaches `scene_threshold`. Cuts are kept at least
  MIN_SCENE_GAP_SECONDS apart (a later cut waits), and a cut restarts the one-second clock, so two
  copies of the same footage are sampled at the same instants after each cut whatever their frame
  rate or trim point.

SCENE_THRESHOLD = 18 is measured (bench/video.py, docs/matching.md): consecutive frames inside pans
and zooms differ by at most 5.9 at 25 fps and 14.9 at 10 fps, while cuts between two different photos
of the bundled assets differ by at least 22.2 (median ~64). Only a fast pan at 5 fps crosses it
(26.1): a missed cut costs timing (the one-second rule still samples the scene), a false one costs
one more hash, so the threshold sits just under the closest cut.

Frames are returned upright (display rotation applied): a re-encode (ffmpeg, Telegram) bakes the
rotation into the pixels, so hashing upright frames is what makes the original and its copies agree.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Literal

import numpy as np

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import MAX_FILE_BYTES, MAX_PIXELS

log = logging.getLogger(__name__)

SAMPLE_EVERY_SECONDS = 1.0
SCENE_THRESHOLD = 18.0  # mean abs difference of 64x64 gray thumbnails, 0-255; see the module docstring
MIN_SCENE_GAP_SECONDS = 0.5  # strobing or shaky footage cannot push sampling above 2 frames/s
MAX_SAMPLED_FRAMES = 600  # 10 minutes at one frame a second; later frames are not looked at
MAX_DECODED_FRAMES = 100_000  # ~55 min at 30 fps: bounds the work a hostile high-frame-rate file can cause
THUMB_SIDE = 64
_EPSILON = 1e-3  # seconds: 25 frames of 0.04 s must reach 1.0 s despite float rounding

Reason = Literal["first", "interval", "scene"]


@dataclass(frozen=True)
class Frame:
    """One sampled frame."""

    index: int  # position among the sampled frames, from 0 (the `frame` of a stored signal)
    timestamp: float  # seconds from the start of the video
    rgb: np.ndarray  # H x W x 3 uint8, upright (display rotation applied)
    reason: Reason
    scene_score: float  # difference to the previous decoded frame (0 for the first)
    decoded_index: int  # position among all decoded frames


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its video stream, before decoding."""

    codec: str
    width: int  # as displayed, after rotation
    height: int
    rotation: int  # degrees counter-clockwise applied to the stored pixels (0, 90, 180, 270)
    fps: float | None  # average frame rate declared by the container
    declared_duration: float | None  # seconds, from the container (may be missing or wrong)


def _why(exc: BaseException) -> str:
    """FFmpeg's own words for a failure, without errno numbers or file names."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:120]


def _rotation_steps(degrees: float) -> int:
    """Quarter turns counter-clockwise (np.rot90's k) for a display-matrix angle."""
    return round(degrees / 90) % 4


class VideoReader:
    """An open video, read as a stream. Use as a context manager; raises MediaError with a reason.

    After `frames()` is exhausted, `capped`, `damaged`, `decoded_frames` and `duration` describe what
    was read, so a caller can say "first 10 minutes only" or "file damaged after 12 s".
    """

    def __init__(self, data: bytes) -> None:
        import av  # FFmpeg is only loaded when a video is met

        if not data:
            raise MediaError("empty file (zero bytes)")
        if len(data) > MAX_FILE_BYTES:
            raise MediaError(f"file too large ({len(data)} bytes > {MAX_FILE_BYTES})")
        self._av = av
        try:
            self._container = av.open(io.BytesIO(data), mode="r")
        except (av.FFmpegError, ValueError, OSError, IndexError) as exc:
            raise MediaError(f"corrupt or unreadable video ({_why(exc)})") from exc
        try:
            self._stream = self._pick_stream()
            self.info = self._read_info()
        except BaseException:
            self._container.close()
            raise
        # Reused reformatters keep their scaling context: a fresh one per frame costs 2 ms, 20x the work.
        self._thumbs = av.video.reformatter.VideoReformatter()
        self._pixels = av.video.reformatter.VideoReformatter()
        self.capped = False
        self.damaged: str | None = None
        self.decoded_frames = 0
        self.duration = 0.0

    def _pick_stream(self):  # type: ignore[no-untyped-def]
        streams = list(self._container.streams.video)
        if not streams:
            raise MediaError("media file has no video stream")
        # A stream whose codec FFmpeg does not know (damaged header) has no codec context at all.
        decodable = [s for s in streams if s.codec_context is not None]
        if not decodable:
            raise MediaError("video stream in an unknown codec (damaged or unsupported header)")
        # Prefer real video over cover art (an audio file's attached picture is also a 'video' stream).
        moving = [s for s in decodable if not (s.disposition & self._av.stream.Disposition.attached_pic)]
        stream = (moving or decodable)[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > MAX_PIXELS:
            raise MediaError(f"video frame too large ({width}x{height})")
        stream.codec_context.thread_type = "AUTO"  # frame threads: decoding is most of the cost
        return stream

    def _read_info(self) -> VideoInfo:
        stream = self._stream
        rate = stream.average_rate or stream.guessed_rate
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        return VideoInfo(
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            rotation=0,  # known once the first frame is decoded (the display matrix rides on frames)
            fps=float(rate) if rate else None,
            declared_duration=duration,
        )

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def _decoded(self) -> Iterator[tuple[float, object]]:
        """(timestamp, av.VideoFrame) for every decoded frame, timestamps from 0 and never decreasing."""
        av = self._av
        stream = self._stream
        start: float | None = None
        if stream.start_time is not None and stream.time_base is not None:
            start = float(stream.start_time * stream.time_base)
        step = 1.0 / self.info.fps if self.info.fps else 0.04
        last = -step
        try:
            for frame in self._container.decode(stream):
                if frame.width * frame.height > MAX_PIXELS:
                    raise MediaError(f"video frame too large ({frame.width}x{frame.height})")
                if frame.time is None:
                    t = last + step  # no timestamps (raw streams): assume the declared rate
                else:
                    if start is None:
                        start = frame.time
                    t = frame.time - start
                t = max(t, last, 0.0)  # broken or reordered timestamps must not run the clock backwards
                last = t
                self.decoded_frames += 1
                shown = (
                    float(frame.duration * frame.time_base) if frame.duration and frame.time_base else step
                )
                self.duration = t + shown
                yield t, frame
                if self.decoded_frames >= MAX_DECODED_FRAMES:
                    self.capped = True
                    log.info("video capped at %d decoded frames", MAX_DECODED_FRAMES)
                    return
        except MediaError:
            raise
        except (av.FFmpegError, ValueError, OSError, IndexError, MemoryError) as exc:
            reason = f"corrupt or unreadable video ({_why(exc)})"
            if self.decoded_frames == 0:
                raise MediaError(reason) from exc
            self.damaged = f"{reason} after {self.duration:.1f} s"  # what decoded before is still evidence
            return
        declared = self.info.declared_duration
        if declared and self.decoded_frames and self.duration < declared - max(1.0, 0.05 * declared):
            # A cut-off download with its index up front (faststart) decodes without any error.
            self.damaged = (
                f"video ends after {self.duration:.1f} s of a declared {declared:.1f} s (truncated file)"
            )

    def frames(
        self,
        *,
        every_seconds: float = SAMPLE_EVERY_SECONDS,
        scene_threshold: float = SCENE_THRESHOLD,
        max_frames: int = MAX_SAMPLED_FRAMES,
        max_side: int | None = None,
    ) -> Iterator[Frame]:
        """The sampled frames, one at a time. `max_side` scales frames down (keeps memory small)."""
        if every_seconds <= 0 or max_frames < 1:
            raise ValueError("every_seconds must be > 0 and max_frames >= 1")
        previous: np.ndarray | None = None
        due = last_cut = 0.0  # next time on the sampling grid; the first frame starts the first scene
        pending_cut = False
        count = 0
        for t, frame in self._decoded():
            thumb = self._thumbs.reformat(frame, THUMB_SIDE, THUMB_SIDE, format="gray", interpolation="AREA")
            gray = thumb.to_ndarray().astype(np.int16)
            score = 0.0 if previous is None else float(np.abs(gray - previous).mean())
            previous = gray
            reason: Reason | None = None
            if count == 0:
                reason = "first"
            else:
                pending_cut = pending_cut or score >= scene_threshold
                if pending_cut and t - last_cut >= MIN_SCENE_GAP_SECONDS - _EPSILON:
                    reason = "scene"
                elif t >= due - _EPSILON:
                    reason = "interval"
            if reason is None:
                continue
            if count >= max_frames:
                self.capped = True
                log.info("video capped at %d sampled frames (%.1f s)", max_frames, t)
                return
            if count == 0:
                self._set_rotation(frame.rotation or 0)  # type: ignore[attr-defined]
            yield Frame(
                index=count,
                timestamp=round(t, 6),
                rgb=self._to_rgb(frame, max_side),
                reason=reason,
                scene_score=round(score, 3),
                decoded_index=self.decoded_frames - 1,
            )
            count += 1
            if reason == "interval" and t - due <= every_seconds / 2:
                due += every_seconds  # stay on the grid (0.52, 1.0, 1.52 s at 25 fps, every 0.5 s)
            elif reason == "interval":
                due = t + every_seconds  # a long frame (variable frame rate) jumped slots: restart
            else:  # the first frame or a cut restarts the grid
                pending_cut = False
                last_cut, due = t, t + every_seconds

    def _set_rotation(self, degrees: float) -> None:
        """Record the display rotation (it rides on decoded frames, not on the stream header)."""
        steps = _rotation_steps(degrees)
        if steps:
            info = self.info
            width, height = (info.height, info.width) if steps % 2 else (info.width, info.height)
            self.info = replace(info, width=width, height=height, rotation=steps * 90)

    def _to_rgb(self, frame, max_side: int | None) -> np.ndarray:  # type: ignore[no-untyped-def]
        width, height = frame.width, frame.height
        if max_side is not None and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
            rgb = self._pixels.reformat(
                frame, width, height, format="rgb24", interpolation="AREA"
            ).to_ndarray()
        else:
            rgb = self._pixels.reformat(frame, format="rgb24").to_ndarray()
        steps = self.info.rotation // 90
        if steps:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=steps))
        return rgb


def sample_frames(
    data: bytes,
    *,
    every_seconds: float = SAMPLE_EVERY_SECONDS,
    scene_threshold: float = SCENE_THRESHOLD,
    max_frames: int = MAX_SAMPLED_FRAMES,
    max_side: int | None = None,
) -> list[Frame]:
    """All sampled frames of a video as a list (see the module docstring for which frames).

    Holds every kept frame in memory: for long videos iterate `VideoReader.frames()` instead, which
    also tells whether the video was capped at `max_frames` or damaged part-way.
    """
    with VideoReader(data) as reader:
        frames = list(
            reader.frames(
                every_seconds=every_seconds,
                scene_threshold=scene_threshold,
                max_frames=max_frames,
                max_side=max_side,
            )
        )
    if not frames:
        raise MediaError("video has no decodable frame")
    return frames
