"""Untrusted media: each bad input is refused with a one-line reason, never a crash."""

from __future__ import annotations

import gzip
import io
import struct
import zlib

import av
import numpy as np
import pytest
from PIL import Image

from ncii_shield.errors import MediaError
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.analyse import analyse_bytes
from tests.conftest import ASSETS


def _png_with_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims a huge size: a decompression bomb."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def _one_line(exc: MediaError) -> str:
    assert "\n" not in exc.message
    return exc.message


def test_not_an_image() -> None:
    with pytest.raises(MediaError) as info:
        decode_image(b"hello, this is text named photo.jpg\n" * 10)
    assert "not an image" in _one_line(info.value)


def test_truncated_jpeg() -> None:
    data = (ASSETS / "obama.jpg").read_bytes()
    with pytest.raises(MediaError) as info:
        decode_image(data[: len(data) // 2])
    assert "truncated" in _one_line(info.value) or "corrupt" in info.value.message


def test_corrupt_bytes_inside_a_jpeg_header() -> None:
    data = bytearray((ASSETS / "obama.jpg").read_bytes())
    data[2:200] = b"\x00" * 198
    with pytest.raises(MediaError):
        decode_image(bytes(data))


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(MediaError) as info:
        decode_image(_png_with_size(100_000, 100_000))
    assert "decompression bomb" in _one_line(info.value)


def test_tgs_animated_sticker() -> None:
    with pytest.raises(MediaError, match="TGS"):
        decode_image(gzip.compress(b'{"v":"5.5.2","fr":60}'))


def test_transparent_sticker_is_flattened_on_white() -> None:
    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    img.paste((255, 0, 0, 255), (16, 16, 48, 48))
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True)
    decoded = decode_image(buf.getvalue())
    assert decoded.format == "webp"
    assert tuple(decoded.rgb[0, 0]) == (255, 255, 255)
    assert tuple(decoded.rgb[32, 32]) == (255, 0, 0)


def _video(frames: list[np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def test_video_first_frame() -> None:
    first = np.full((96, 128, 3), 200, np.uint8)
    first[:, :64] = 20
    other = np.zeros_like(first)
    decoded = decode_image(_video([first, other, other]))
    assert decoded.format.startswith("video/")
    assert (decoded.width, decoded.height) == (128, 96)
    assert decoded.rgb[:, :50].mean() < 60 and decoded.rgb[:, 80:].mean() > 150


def test_truncated_video() -> None:
    data = _video([np.full((96, 128, 3), 100, np.uint8)] * 5)
    with pytest.raises(MediaError):
        decode_image(data[:48])


def test_analysis_of_bad_bytes_records_the_reason() -> None:
    result = analyse_bytes(b"not an image")
    assert result.error is not None and "not an image" in result.error
    assert result.pdq is None and result.faces == []


def test_analysis_of_a_portrait() -> None:
    result = analyse_bytes((ASSETS / "obama.jpg").read_bytes())
    assert result.error is None
    assert result.pdq is not None and result.pdq_quality is not None and result.pdq_quality >= 50
    assert len(result.faces) == 1 and result.faces[0].embedding.shape == (128,)
    assert result.nudity is not None and 0.0 <= result.nudity < 0.5
    assert result.thumbnail is not None and Image.open(io.BytesIO(result.thumbnail)).size[0] <= 256
