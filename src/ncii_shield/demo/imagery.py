"""Pixels of the demo media: crops, face-swap composites, stickers and short videos made from the assets.

Every transform is a pure function of the assets, so the media never depend on the seed.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFilter

ASSETS = Path(__file__).resolve().parent / "assets"

# Face boxes (left, top, right, bottom) in asset pixels, measured once with dlib's HOG detector at
# upsample 1. Hard-coded so building needs no face detector and stays fast; the tests re-measure them.
FACE_BOXES: dict[str, tuple[int, int, int, int]] = {
    "obama.jpg": (340, 142, 563, 365),
    "obama2.jpg": (142, 266, 365, 489),
    "obama3.jpg": (282, 125, 411, 254),
    "biden.jpg": (201, 98, 356, 253),
    "biden2.jpg": (375, 247, 760, 632),
    "astronaut.jpg": (175, 76, 265, 166),
}

TELEGRAM_JPEG_QUALITY = 87  # what Telegram's own recompression of photos is close to


@functools.cache
def asset(name: str) -> Image.Image:
    """Decode an asset once; callers must copy before changing it."""
    with Image.open(ASSETS / name) as im:
        return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int = TELEGRAM_JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def fit(im: Image.Image, longest: int) -> Image.Image:
    """Resize so the longer side is `longest` (up or down), like Telegram's photo pipeline does."""
    w, h = im.size
    scale = longest / max(w, h)
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def crop_fraction(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _face_cutout(name: str, face_width: int) -> tuple[Image.Image, Image.Image, float, float]:
    """Cut the face of asset `name` with a feathered ellipse, scaled so its face box is `face_width` wide.

    Returns the patch, its alpha mask and the face centre inside the patch. A soft edge is what makes a
    pasted face look like a crude face-swap rather than a sticker, and keeps HOG seeing a face.
    """
    im = asset(name)
    x0, y0, x1, y1 = FACE_BOXES[name]
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 0.06 * h
    ax, ay, feather = 0.62 * w, 0.82 * h, 0.07 * w
    pad = 2 * feather
    left, top = round(cx - ax - pad), round(cy - ay - pad)
    right, bottom = round(cx + ax + pad), round(cy + ay + pad)
    patch = im.crop((left, top, right, bottom))
    mask = Image.new("L", patch.size, 0)
    ImageDraw.Draw(mask).ellipse((cx - ax - left, cy - ay - top, cx + ax - left, cy + ay - top), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(feather))
    scale = face_width / w
    size = (round(patch.width * scale), round(patch.height * scale))
    return (
        patch.resize(size, Image.Resampling.LANCZOS),
        mask.resize(size, Image.Resampling.LANCZOS),
        (cx - left) * scale,
        (cy - top) * scale,
    )


def composite(face_asset: str, base_asset: str, face_width: int, centre: tuple[float, float]) -> Image.Image:
    """Paste a face onto another photo at `centre` (base pixels): the benign stand-in for a face-swap."""
    base = asset(base_asset).copy()
    patch, mask, fx, fy = _face_cutout(face_asset, face_width)
    base.paste(patch, (round(centre[0] - fx), round(centre[1] - fy)), mask)
    return base


def swap_onto_head(face_asset: str, body_asset: str) -> Image.Image:
    """Replace the face of another portrait, matching its face box: the classic face-swap layout."""
    x0, y0, x1, y1 = FACE_BOXES[body_asset]
    centre = ((x0 + x1) / 2, (y0 + y1) / 2 - 0.06 * (y1 - y0))
    return composite(face_asset, body_asset, x1 - x0, centre)


def _rounded(im: Image.Image, radius: int) -> Image.Image:
    """RGBA with rounded transparent corners, as sticker makers produce."""
    mask = Image.new("L", im.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, im.width - 1, im.height - 1), radius=radius, fill=255)
    out = im.convert("RGBA")
    out.putalpha(mask)
    return out


def _webp(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=80, method=4)
    return buf.getvalue()


def sticker(name: str, crop: tuple[float, float, float, float] = (0, 0, 0, 0)) -> Image.Image:
    """A 512-px sticker of a whole photo (optionally mildly cropped) with rounded corners.

    The corner radius stays small: flattened onto white, a 64-px radius alone costs PDQ 22-30 bits here.
    """
    return _rounded(fit(crop_fraction(asset(name), *crop), 512), radius=24)


def face_sticker(name: str) -> Image.Image:
    """A 512x512 circular cut-out around the face: the sticker packs made from someone's selfie."""
    x0, y0, x1, y1 = FACE_BOXES[name]
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, 0.85 * (x1 - x0)
    square = asset(name).crop((round(cx - r), round(cy - r), round(cx + r), round(cy + r)))
    square = square.resize((512, 512), Image.Resampling.LANCZOS)
    mask = Image.new("L", (512, 512), 0)
    ImageDraw.Draw(mask).ellipse((4, 4, 507, 507), fill=255)
    out = square.convert("RGBA")
    out.putalpha(mask.filter(ImageFilter.GaussianBlur(2)))
    return out


def _even(n: float) -> int:
    return max(2, round(n / 2) * 2)


def zoom_frames(name: str, longest: int, count: int) -> list[Image.Image]:
    """`count` frames of a slow zoom into the photo; the first frame is the whole photo, resized."""
    src = asset(name)
    w, h = src.size
    scale = longest / max(w, h)
    size = (_even(w * scale), _even(h * scale))
    frames = []
    for i in range(count):
        f = 0.012 * i
        frames.append(crop_fraction(src, f, f, f, f).resize(size, Image.Resampling.LANCZOS))
    return frames


def _mp4(frames: Sequence[Image.Image], fps: int = 10) -> bytes:
    """Encode frames as H.264 (MPEG-4 part 2 if libx264 is missing), single-threaded for stable bytes."""
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        if codec == "libx264":
            stream.codec_context.options = {"crf": "20", "preset": "medium", "threads": "1"}
        else:
            stream.codec_context.options = {"qscale": "3"}
        for im in frames:
            for packet in stream.encode(av.VideoFrame.from_image(im.convert("RGB"))):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


@dataclass(frozen=True)
class Blob:
    """An encoded media file and its pixel size, as result.json reports it."""

    data: bytes
    width: int
    height: int


def image_blob(im: Image.Image, quality: int = TELEGRAM_JPEG_QUALITY) -> Blob:
    return Blob(_jpeg(im, quality), im.width, im.height)


def webp_blob(im: Image.Image) -> Blob:
    return Blob(_webp(im), im.width, im.height)


def mp4_blob(frames: Sequence[Image.Image]) -> Blob:
    return Blob(_mp4(frames), frames[0].width, frames[0].height)


def asset_blob(name: str) -> Blob:
    data = (ASSETS / name).read_bytes()
    w, h = asset(name).size
    return Blob(data, w, h)
