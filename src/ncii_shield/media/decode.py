"""Turning untrusted bytes into pixels, or a one-line reason why not.

Everything a scan meets is hostile until decoded: files named .jpg that are not images, truncated
JPEGs, decompression bombs, animated stickers. The format is taken from the content, never the name.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ncii_shield.errors import MediaError

MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_PIXELS = 40_000_000  # ~ 7300 x 5500; anything bigger is refused as a possible decompression bomb
VIDEO_SIGNATURES = (b"\x1aE\xdf\xa3",)  # Matroska/WebM; MP4/MOV are recognised by their 'ftyp' box

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Decoded:
    """First frame of a media file as RGB pixels, plus what was learned while decoding."""

    rgb: np.ndarray  # H x W x 3, uint8, no EXIF rotation applied (PDQ is computed on stored pixels)
    upright: np.ndarray  # the same with EXIF orientation applied, for face detection
    format: str
    width: int
    height: int


def _is_video(data: bytes) -> bool:
    return data[4:8] == b"ftyp" or data.startswith(VIDEO_SIGNATURES)


def _flatten(img: Image.Image) -> Image.Image:
    """RGB on a white background: stickers are transparent, and their shape is on white in chats."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")  # np.asarray copies anyway


_ORIENTATION = 0x0112  # the EXIF tag saying how the stored pixels are turned


def decode_image(data: bytes, *, min_side: int | None = None, upright: bool = True) -> Decoded:
    """Decode the first frame of an image. Raises MediaError with a one-line reason.

    ``upright=False`` skips the EXIF-rotated copy (``upright`` is then ``rgb``): hashing needs only the
    stored pixels, and reading the EXIF and copying cost ~0.5 ms of a ~4 ms reduced decode.

    With `min_side`, a large image may come back smaller, its shorter side still >= min_side: JPEGs are
    decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (libjpeg's draft mode), other formats are
    box-reduced. Hashing needs only that much: PDQ works on 64x64 luma. `width`/`height` stay the
    original size.
    """
    if len(data) > MAX_FILE_BYTES:
        raise MediaError(f"file too large ({len(data)} bytes > {MAX_FILE_BYTES})")
    if data[:2] == b"\x1f\x8b":
        raise MediaError("animated sticker (TGS, gzip Lottie) has no pixels to hash")
    if _is_video(data):
        return decode_video_first_frame(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise MediaError(
                    f"image too large ({width}x{height} pixels): refused as a possible decompression bomb"
                )
            if (
                min_side
                and img.format == "JPEG"
                and (scale := _reduction(width, height, min_side, limit=8)) > 1
            ):
                img.draft("RGB", (width // scale, height // scale))
            img.load()
            fmt = (img.format or "unknown").lower()  # reduce() returns an image without a format
            if min_side and fmt != "jpeg" and (factor := _reduction(*img.size, min_side, limit=16)) > 1:
                img = img.reduce(factor)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"refused as a decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise MediaError("not an image (content is not a format Pillow can read)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from exc
    rgb = np.asarray(_flatten(img))
    if not upright:
        return Decoded(rgb=rgb, upright=rgb, format=fmt, width=width, height=height)
    if img.getexif().get(_ORIENTATION, 1) in (0, 1):  # most files: exif_transpose would only copy
        return Decoded(rgb=rgb, upright=rgb, format=fmt, width=width, height=height)
    upright_img = ImageOps.exif_transpose(img) or img
    turned = rgb if upright_img is img else np.asarray(_flatten(upright_img))
    return Decoded(rgb=rgb, upright=turned, format=fmt, width=width, height=height)


def _reduction(width: int, height: int, min_side: int, *, limit: int) -> int:
    """The largest power of two (<= limit) that keeps the shorter side >= min_side."""
    scale = 1
    while scale < limit and min(width, height) // (scale * 2) >= min_side:
        scale *= 2
    return scale


def decode_video_first_frame(data: bytes) -> Decoded:
    """First decodable frame of a video or animation (Telegram turns GIFs into MP4)."""
    import av  # imported here: PyAV loads FFmpeg, which image-only runs never need

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise MediaError("media file has no video stream")
            # A stream whose codec FFmpeg does not know (damaged header) has no codec context at all.
            decodable = [s for s in container.streams.video if s.codec_context is not None]
            if not decodable:
                raise MediaError("video stream in an unknown codec (damaged or unsupported header)")
            stream = decodable[0]
            codec = stream.codec_context.name
            for frame in container.decode(stream):
                if frame.width * frame.height > MAX_PIXELS:
                    raise MediaError(f"video frame too large ({frame.width}x{frame.height})")
                rgb = frame.to_ndarray(format="rgb24")
                return Decoded(
                    rgb=rgb, upright=rgb, format=f"video/{codec}", width=frame.width, height=frame.height
                )
    except MediaError:
        raise
    except (av.FFmpegError, ValueError, OSError, IndexError) as exc:
        raise MediaError(f"corrupt or unreadable video: {str(exc)[:120]}") from exc
    raise MediaError("video has no decodable frame")
