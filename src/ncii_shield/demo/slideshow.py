"""Benign synthetic videos for tests and benchmarks: slideshows with zooms and pans over the demo assets.

Public-domain portraits and nature photos only. Used to check video sampling, per-frame signals and clip
matching without any real footage.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parent / "assets"
Size = tuple[int, int]
Scene = tuple[str, float, str]  # asset, seconds, "zoom" | "pan" | "fit" (letterboxed portrait)

_photos: dict[str, Image.Image] = {}


def photo(name: str) -> Image.Image:
    if name not in _photos:
        _photos[name] = Image.open(ASSETS / name).convert("RGB")
    return _photos[name]


def render(name: str, t: float, seconds: float, size: Size, mode: str) -> Image.Image:
    """Frame `t` s into a scene: a 25 % zoom, a pan across, or a letterboxed 15 % zoom."""
    src = photo(name)
    sw, sh = src.size
    w, h = size
    p = t / seconds
    if mode == "fit":
        s = 1.0 - 0.15 * p
        cw, ch = sw * s, sh * s
        x0, y0 = (sw - cw) / 2, (sh - ch) * 0.3
        k = min(w / cw, h / ch)
        tw, th = max(2, round(cw * k)), max(2, round(ch * k))
        canvas = Image.new("RGB", size)
        part = src.resize((tw, th), Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
        canvas.paste(part, ((w - tw) // 2, (h - th) // 2))
        return canvas
    cw, ch = (sh * w / h, sh) if sw / sh > w / h else (sw, sw * h / w)
    s = 1.0 - 0.25 * p if mode == "zoom" else 0.8
    cw, ch = cw * s, ch * s
    x0 = (sw - cw) * p if mode == "pan" else (sw - cw) / 2
    y0 = (sh - ch) / 2
    return src.resize(size, Image.Resampling.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))


def timeline(scenes: list[Scene], size: Size, fps: int) -> Iterator[Image.Image]:
    for name, seconds, mode in scenes:
        for i in range(round(seconds * fps)):
            yield render(name, i / fps, seconds, size, mode)


def encode(
    frames: Iterable[Image.Image | np.ndarray], size: Size, fps: int, *, crf: int = 23, rotation: int = 0
) -> bytes:
    """H.264 in MP4 without audio, like Telegram's animations."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for im in frames:
            if isinstance(im, np.ndarray):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(im), format="rgb24")
            else:
                frame = av.VideoFrame.from_image(im)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def decoded(data: bytes) -> list[tuple[float, Image.Image]]:
    with av.open(io.BytesIO(data)) as container:
        return [(float(f.time), f.to_image()) for f in container.decode(video=0)]


def cut(
    frames: list[tuple[float, Image.Image]], start: float, seconds: float, size: Size, fps: int
) -> Iterator[Image.Image]:
    """A stretch of decoded frames, re-timed to `fps` and scaled to `size`: a re-upload."""
    times = np.array([t for t, _ in frames])
    for i in range(max(1, round(seconds * fps))):
        j = int(np.abs(times - (start + i / fps)).argmin())
        yield frames[j][1].resize(size, Image.Resampling.BILINEAR)
