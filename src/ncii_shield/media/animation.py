"""Animated GIF, WebP and PNG (APNG) read frame by frame, like a video (media/video.py).

A still decode reads only the first frame, so a photo shown as a later frame of an animation escaped
every route. `AnimationReader` has the interface of `VideoReader` (`info`, `frames()`, and afterwards
`capped`, `damaged`, `decoded_frames`, `duration`), so `signals.video.video_signals` hashes animations
exactly as it hashes videos and a scan stores one PDQ per sampled frame.

Sampling differs from video in one way: every frame that changes the picture (a "scene", same measure
and threshold as video) is kept, with no minimum gap, because animations are short slideshows whose
frames often last a fraction of a second; between changes, one frame per `every_seconds` as for video.
At most MAX_ANIMATION_FRAMES frames are kept, and MAX_ANIMATION_DECODED frames or MAX_ANIMATION_PIXELS
pixels decoded, so a hostile file (a million tiny frames, or each frame a new picture) costs bounded work.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from types import TracebackType

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import MAX_FILE_BYTES, MAX_PIXELS
from ncii_shield.media.video import (
    SAMPLE_EVERY_SECONDS,
    SCENE_THRESHOLD,
    THUMB_SIDE,
    Frame,
    Reason,
    VideoInfo,
)

log = logging.getLogger(__name__)

MAX_ANIMATION_FRAMES = 100  # sampled frames kept (PDQ on each, faces on some): a few seconds of work at most
MAX_ANIMATION_PIXELS = 400_000_000  # decoded pixels over all frames (~400 frames of 1 MP, 3000 of 360x360)
MAX_ANIMATION_DECODED = 10_000  # frames decoded at most: tiny frames by the million stay cheap to refuse
DEFAULT_FRAME_MS = 100  # browsers show frames declared at 0 ms (or without a duration) for ~100 ms
_CODECS = {"GIF": "gif", "WEBP": "webp", "PNG": "apng"}
_ERRORS = (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError, Image.DecompressionBombError)


def _maybe_animated(data: bytes) -> bool:
    """A cheap look at the bytes: only GIF, WebP with an ANIM chunk and PNG with an acTL chunk qualify."""
    if data.startswith((b"GIF87a", b"GIF89a")):
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return b"ANIM" in data[12:64]
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        idat = data.find(b"IDAT")
        return b"acTL" in data[: idat if idat > 0 else 4096]
    return False


def is_animation(data: bytes) -> bool:
    """True for an animated GIF, WebP or APNG with more than one frame (a still one decodes as a photo)."""
    if not _maybe_animated(data):
        return False
    try:
        with Image.open(io.BytesIO(data)) as img:
            return bool(getattr(img, "is_animated", False))
    except _ERRORS:
        return False


def _rgb(frame: Image.Image) -> np.ndarray:
    """RGB on white, as media/decode.py flattens a still image (so frame 0 hashes like the still decode)."""
    if frame.mode in ("RGBA", "LA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(frame.convert("RGB"))


class AnimationReader:
    """An open animation with VideoReader's interface. Raises MediaError with a one-line reason."""

    def __init__(self, data: bytes) -> None:
        if not data:
            raise MediaError("empty file (zero bytes)")
        if len(data) > MAX_FILE_BYTES:
            raise MediaError(f"file too large ({len(data)} bytes > {MAX_FILE_BYTES})")
        try:
            self._img = Image.open(io.BytesIO(data))
        except _ERRORS as exc:
            raise MediaError(f"corrupt or unreadable animation ({str(exc)[:120]})") from exc
        width, height = self._img.size
        if width * height > MAX_PIXELS:
            self._img.close()
            raise MediaError(f"animation frame too large ({width}x{height})")
        codec = _CODECS.get(self._img.format or "", (self._img.format or "unknown").lower())
        self.info = VideoInfo(codec, width, height, 0, None, None)
        self.capped = False
        self.damaged: str | None = None
        self.decoded_frames = 0
        self.duration = 0.0

    def __enter__(self) -> AnimationReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._img.close()

    def _decoded(self) -> Iterator[tuple[float, np.ndarray]]:
        """(timestamp, RGB) of every frame, until the end, the pixel budget or damaged data."""
        pixels = 0
        t = 0.0
        try:
            for frame in ImageSequence.Iterator(self._img):
                rgb = _rgb(frame)
                pixels += rgb.shape[0] * rgb.shape[1]
                if pixels > MAX_ANIMATION_PIXELS or self.decoded_frames >= MAX_ANIMATION_DECODED:
                    self.capped = True
                    log.info("animation capped at %d decoded frames", self.decoded_frames)
                    return
                shown = frame.info.get("duration") or DEFAULT_FRAME_MS
                self.decoded_frames += 1
                self.duration = t + shown / 1000
                yield t, rgb
                t = self.duration
        except _ERRORS as exc:
            reason = f"corrupt or unreadable animation ({str(exc)[:120]})"
            if self.decoded_frames == 0:
                raise MediaError(reason) from exc
            self.damaged = f"{reason} after frame {self.decoded_frames}"

    def frames(
        self,
        *,
        every_seconds: float = SAMPLE_EVERY_SECONDS,
        scene_threshold: float = SCENE_THRESHOLD,
        max_frames: int = MAX_ANIMATION_FRAMES,
        max_side: int | None = None,
    ) -> Iterator[Frame]:
        """The first frame, every change of picture, and one frame per `every_seconds` in between."""
        if every_seconds <= 0 or max_frames < 1:
            raise ValueError("every_seconds must be > 0 and max_frames >= 1")
        import cv2

        max_frames = min(max_frames, MAX_ANIMATION_FRAMES)
        previous: np.ndarray | None = None
        due = 0.0
        count = 0
        for t, rgb in self._decoded():
            gray = cv2.resize(
                cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA
            ).astype(np.int16)
            score = 0.0 if previous is None else float(np.abs(gray - previous).mean())
            previous = gray
            reason: Reason | None = None
            if count == 0:
                reason = "first"
            elif score >= scene_threshold:
                reason = "scene"
            elif t >= due - 1e-3:
                reason = "interval"
            if reason is None:
                continue
            if count >= max_frames:
                self.capped = True
                log.info("animation capped at %d sampled frames", max_frames)
                return
            if max_side is not None and max(rgb.shape[:2]) > max_side:
                scale = max_side / max(rgb.shape[:2])
                size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            yield Frame(count, round(t, 6), rgb, reason, round(score, 3), self.decoded_frames - 1)
            count += 1
            due = t + every_seconds
