"""Build the demo case: a Telegram Desktop export in which one consenting person's photos were spread.

The export imitates what a support-centre worker receives: three chats with everyday chatter, and in
between, copies of the person's own photos (exact files, recompressed, resized, mirrored, cropped,
brightened, turned into stickers and short videos) and simulated face-swaps (the person's face pasted onto
other photos). Every image is a benign stand-in built from public-domain portraits and nature photographs
in `assets/` (see `assets/LICENSES.md`); every chat line is fictional.

The ground truth says, for each media file, whether a scan should find it and by which route (exact hash,
PDQ, face). Those claims were measured, and `tests/test_demo_build.py` re-measures them, so the demo
doubles as an end-to-end test fixture.

Output is byte-for-byte deterministic: fixed dates, a seeded RNG for the chatter, no timestamps taken
from the clock. Media content does not depend on the seed (only message order, text and dates do), so
the measured facts hold for every seed.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from ncii_shield.errors import NciiError

ASSETS = Path(__file__).resolve().parent / "assets"

ENROLLED_ASSETS: tuple[str, ...] = ("obama.jpg", "obama2.jpg")
PSEUDONYM = "서윤 (demo)"
DEMO_NAME = "서윤"  # the fictional person's given name, as the rooms write it
GENERATOR = "ncii-shield demo"  # marks a folder as ours, so a rebuild may replace it
PLACEHOLDER = "(File not included. Change data exporting settings to download.)"

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

LABELS = (
    "exact",
    "recompressed",
    "resized",
    "mirrored",
    "cropped",
    "brightness",
    "sticker",
    "animation",
    "video",
    "composite",
    "group_photo",
    "other_face",
    "other_face_composite",
    "unrelated",
)
ROUTES = ("exact", "pdq", "partial", "face")

TELEGRAM_JPEG_QUALITY = 87  # what Telegram's own recompression of photos is close to
KST = timezone(timedelta(hours=9))  # the export's local time: `date` has no offset, `date_unixtime` is UTC
START = datetime(2024, 8, 20, 19, 30, 0)


@dataclass(frozen=True)
class ExpectedMedia:
    """What a scan should conclude about one media file of the export."""

    path: str  # media path relative to the export folder, as in result.json
    label: str  # one of LABELS
    expect_hit: bool
    route: str | None  # "exact" | "pdq" | "face" | None: the cheapest route expected to find it
    source_asset: str  # the asset it was made from (for composites: the pasted face's asset)
    note: str = ""  # how it was made, for people reading the demo


@dataclass(frozen=True)
class DemoGroundTruth:
    """Where the demo was written and what a correct scan of it finds."""

    export_dir: Path
    enrol_photos: tuple[Path, ...]  # the person's own photos, written OUTSIDE the export folder
    pseudonym: str
    media: tuple[ExpectedMedia, ...]  # one entry per distinct media file in the export
    missing_placeholders: int  # messages whose media is a "(File not included...)" placeholder
    chats: tuple[str, ...]
    # Text: (chat, message id) of every message naming the person, the solicitation among them first.
    named_messages: tuple[tuple[str, int], ...] = ()
    solicitation: tuple[str, int] | None = None
    # Room links a monitor knows (chat id, link it was joined by) and the links expected between rooms:
    # (from chat, normalised link, to chat or None when the room was not collected).
    room_aliases: tuple[tuple[str, str], ...] = ()
    room_links: tuple[tuple[str, str, str | None], ...] = ()


# --------------------------------------------------------------------------------------------------
# Images: every transform is a pure function of the assets, so the media never depend on the seed.


@functools.cache
def _asset(name: str) -> Image.Image:
    """Decode an asset once; callers must copy before changing it."""
    with Image.open(ASSETS / name) as im:
        return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int = TELEGRAM_JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _fit(im: Image.Image, longest: int) -> Image.Image:
    """Resize so the longer side is `longest` (up or down), like Telegram's photo pipeline does."""
    w, h = im.size
    scale = longest / max(w, h)
    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


def _crop_fraction(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def _face_cutout(name: str, face_width: int) -> tuple[Image.Image, Image.Image, float, float]:
    """Cut the face of asset `name` with a feathered ellipse, scaled so its face box is `face_width` wide.

    Returns the patch, its alpha mask and the face centre inside the patch. A soft edge is what makes a
    pasted face look like a crude face-swap rather than a sticker, and keeps HOG seeing a face.
    """
    im = _asset(name)
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


def _composite(face_asset: str, base_asset: str, face_width: int, centre: tuple[float, float]) -> Image.Image:
    """Paste a face onto another photo at `centre` (base pixels): the benign stand-in for a face-swap."""
    base = _asset(base_asset).copy()
    patch, mask, fx, fy = _face_cutout(face_asset, face_width)
    base.paste(patch, (round(centre[0] - fx), round(centre[1] - fy)), mask)
    return base


def _swap_onto_head(face_asset: str, body_asset: str) -> Image.Image:
    """Replace the face of another portrait, matching its face box: the classic face-swap layout."""
    x0, y0, x1, y1 = FACE_BOXES[body_asset]
    centre = ((x0 + x1) / 2, (y0 + y1) / 2 - 0.06 * (y1 - y0))
    return _composite(face_asset, body_asset, x1 - x0, centre)


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


def _sticker(name: str, crop: tuple[float, float, float, float] = (0, 0, 0, 0)) -> Image.Image:
    """A 512-px sticker of a whole photo (optionally mildly cropped) with rounded corners.

    The corner radius stays small: flattened onto white, a 64-px radius alone costs PDQ 22-30 bits here.
    """
    return _rounded(_fit(_crop_fraction(_asset(name), *crop), 512), radius=24)


def _face_sticker(name: str) -> Image.Image:
    """A 512x512 circular cut-out around the face: the sticker packs made from someone's selfie."""
    x0, y0, x1, y1 = FACE_BOXES[name]
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, 0.85 * (x1 - x0)
    square = _asset(name).crop((round(cx - r), round(cy - r), round(cx + r), round(cy + r)))
    square = square.resize((512, 512), Image.Resampling.LANCZOS)
    mask = Image.new("L", (512, 512), 0)
    ImageDraw.Draw(mask).ellipse((4, 4, 507, 507), fill=255)
    out = square.convert("RGBA")
    out.putalpha(mask.filter(ImageFilter.GaussianBlur(2)))
    return out


def _even(n: float) -> int:
    return max(2, round(n / 2) * 2)


def _zoom_frames(name: str, longest: int, count: int) -> list[Image.Image]:
    """`count` frames of a slow zoom into the photo; the first frame is the whole photo, resized."""
    src = _asset(name)
    w, h = src.size
    scale = longest / max(w, h)
    size = (_even(w * scale), _even(h * scale))
    frames = []
    for i in range(count):
        f = 0.012 * i
        frames.append(_crop_fraction(src, f, f, f, f).resize(size, Image.Resampling.LANCZOS))
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


# --------------------------------------------------------------------------------------------------
# Recipes: one per distinct media file.


@dataclass(frozen=True)
class _Blob:
    data: bytes
    width: int
    height: int


def _image_blob(im: Image.Image, quality: int = TELEGRAM_JPEG_QUALITY) -> _Blob:
    return _Blob(_jpeg(im, quality), im.width, im.height)


def _webp_blob(im: Image.Image) -> _Blob:
    return _Blob(_webp(im), im.width, im.height)


def _mp4_blob(frames: Sequence[Image.Image]) -> _Blob:
    return _Blob(_mp4(frames), frames[0].width, frames[0].height)


def _asset_blob(name: str) -> _Blob:
    data = (ASSETS / name).read_bytes()
    w, h = _asset(name).size
    return _Blob(data, w, h)


@dataclass(frozen=True)
class _Recipe:
    key: str
    kind: str  # photo | file | sticker | animation | video_file
    label: str
    expect_hit: bool
    route: str | None
    source: str
    note: str
    make: Callable[[], _Blob] = field(repr=False)


def _photo(
    key: str,
    label: str,
    route: str | None,
    source: str,
    note: str,
    image: Callable[[], Image.Image],
    quality: int = TELEGRAM_JPEG_QUALITY,
) -> _Recipe:
    """A photo message: Telegram serves photos as JPEG, so every photo copy is re-encoded."""
    return _Recipe(
        key, "photo", label, route is not None, route, source, note, lambda: _image_blob(image(), quality)
    )


def _recipes() -> list[_Recipe]:
    """Every media file of the demo, with what a scan should conclude about it."""
    a, b = ENROLLED_ASSETS
    r: list[_Recipe] = [
        # The person's own files, posted as documents: byte-identical, so a SHA-256 finds them.
        _Recipe(
            "exact_a",
            "file",
            "exact",
            True,
            "exact",
            a,
            "the enrolled file, sent as a document",
            lambda: _asset_blob(a),
        ),
        _Recipe(
            "exact_b",
            "file",
            "exact",
            True,
            "exact",
            b,
            "the enrolled file, sent as a document",
            lambda: _asset_blob(b),
        ),
        # Copies that a perceptual hash finds.
        _photo("recompressed_a", "recompressed", "pdq", a, "JPEG q65", lambda: _asset(a), 65),
        _photo("recompressed_b", "recompressed", "pdq", b, "JPEG q72", lambda: _asset(b), 72),
        _photo("mirrored_a", "mirrored", "pdq", a, "horizontal flip", lambda: ImageOps.mirror(_asset(a))),
        _photo("mirrored_b", "mirrored", "pdq", b, "horizontal flip", lambda: ImageOps.mirror(_asset(b))),
        # PDQ tolerates very little cropping on these portraits (3 % off one edge already costs 32-46
        # bits), so the PDQ-route crops are small and the larger ones are left to the face route.
        _photo(
            "cropped_a",
            "cropped",
            "pdq",
            a,
            "1.5 % off the right edge",
            lambda: _crop_fraction(_asset(a), 0, 0, 0.015, 0),
        ),
        _photo(
            "cropped_b",
            "cropped",
            "pdq",
            b,
            "1 % off the top and right edges",
            lambda: _crop_fraction(_asset(b), 0, 0.01, 0.01, 0),
        ),
        _photo(
            "cropped_a_6pct",
            "cropped",
            "face",
            a,
            "6 % off every edge: beyond PDQ, the face is whole",
            lambda: _crop_fraction(_asset(a), 0.06, 0.06, 0.06, 0.06),
        ),
        _photo(
            "partial_face",
            "cropped",
            "face",
            "obama_partial_face.jpg",
            "heavy crop of the original of obama.jpg (its left 54 %), half the face cut off",
            lambda: _asset("obama_partial_face.jpg"),
        ),
        _photo(
            "brightness_a",
            "brightness",
            "pdq",
            a,
            "brightness +15 %",
            lambda: ImageEnhance.Brightness(_asset(a)).enhance(1.15),
        ),
        _photo(
            "brightness_b",
            "brightness",
            "pdq",
            b,
            "brightness -15 %",
            lambda: ImageEnhance.Brightness(_asset(b)).enhance(0.85),
        ),
        # Stickers are WebP with alpha; PDQ is measured on the sticker flattened onto white.
        _Recipe(
            "sticker_a",
            "sticker",
            "sticker",
            True,
            "pdq",
            a,
            "512 px WebP, rounded corners",
            lambda: _webp_blob(_sticker(a)),
        ),
        _Recipe(
            "sticker_b",
            "sticker",
            "sticker",
            True,
            "pdq",
            b,
            "512 px WebP, rounded corners, 0.5 % off the bottom",
            lambda: _webp_blob(_sticker(b, (0, 0, 0, 0.005))),
        ),
        _Recipe(
            "sticker_face",
            "sticker",
            "sticker",
            True,
            "face",
            a,
            "512x512 WebP, circular cut-out of the face",
            lambda: _webp_blob(_face_sticker(a)),
        ),
        _Recipe(
            "animation_b",
            "animation",
            "animation",
            True,
            "pdq",
            b,
            "10-frame MP4, first frame = photo at 480 px",
            lambda: _mp4_blob(_zoom_frames(b, 480, 10)),
        ),
        _Recipe(
            "video_a",
            "video_file",
            "video",
            True,
            "pdq",
            a,
            "10-frame MP4, first frame = photo at 480 px",
            lambda: _mp4_blob(_zoom_frames(a, 480, 10)),
        ),
        _photo(
            "group_photo",
            "group_photo",
            "face",
            "obama_and_biden.jpg",
            "two people, one of them the person",
            lambda: _asset("obama_and_biden.jpg"),
        ),
    ]
    for name, key in ((a, "a"), (b, "b")):
        for longest in (1280, 640, 320):
            how = "upscaled" if longest > max(_asset(name).size) else "downscaled"
            fit = functools.partial(_fit, _asset(name), longest)
            note = f"{how} to {longest} px, JPEG q87"
            r.append(_photo(f"resized_{key}_{longest}", "resized", "pdq", name, note, fit))
    # Simulated face-swaps: only the face route can find them. (face, base, face box width, centre)
    for face, base, width, centre in (
        ("obama3.jpg", "mate-Elephants.jpg", 120, (420, 300)),
        ("obama3.jpg", "mate-GreenMeadow.jpg", 180, (800, 500)),
        ("obama3.jpg", "mate-Dune.jpg", 250, (640, 380)),
        ("obama3.jpg", "mate-YellowFlower.jpg", 90, (1000, 200)),
        (a, "mate-Garden.jpg", 100, (300, 400)),
        (b, "mate-LadyBird.jpg", 150, (900, 300)),
    ):
        r.append(
            _photo(
                f"composite_{_stem(base)}",
                "composite",
                "face",
                face,
                f"face of {face} pasted on {base}, face box {width} px",
                functools.partial(_composite, face, base, width, centre),
            )
        )
    for body in ("biden.jpg", "astronaut.jpg"):
        r.append(
            _photo(
                f"composite_on_{_stem(body)}",
                "composite",
                "face",
                "obama3.jpg",
                f"face of obama3.jpg pasted over the face in {body}",
                functools.partial(_swap_onto_head, "obama3.jpg", body),
            )
        )
    # Other people: must not be reported.
    for name in ("biden.jpg", "biden2.jpg", "astronaut.jpg"):
        r.append(
            _photo(
                f"other_{_stem(name)}",
                "other_face",
                None,
                name,
                "someone else's portrait",
                functools.partial(_asset, name),
            )
        )
    for face, base, width, centre in (
        ("biden2.jpg", "mate-Aqua.jpg", 160, (700, 400)),
        ("astronaut.jpg", "mate-FreshFlower.jpg", 130, (400, 500)),
        ("biden.jpg", "mate-Blinds.jpg", 110, (600, 350)),
    ):
        r.append(
            _photo(
                f"other_composite_{_stem(base)}",
                "other_face_composite",
                None,
                face,
                f"face of {face} (someone else) pasted on {base}",
                functools.partial(_composite, face, base, width, centre),
            )
        )
    for name, longest, quality in (
        ("mate-Aqua.jpg", 1280, 87),
        ("mate-Blinds.jpg", 960, 80),
        ("mate-Dune.jpg", 1280, 75),
        ("mate-Elephants.jpg", 800, 87),
        ("mate-FreshFlower.jpg", 1280, 80),
        ("mate-Garden.jpg", 960, 87),
        ("mate-GreenMeadow.jpg", 1280, 87),
        ("mate-LadyBird.jpg", 800, 75),
        ("mate-Storm.jpg", 1280, 87),
        ("mate-YellowFlower.jpg", 960, 80),
    ):
        r.append(
            _photo(
                f"unrelated_{_stem(name)}",
                "unrelated",
                None,
                name,
                f"{longest} px, JPEG q{quality}",
                functools.partial(_fit, _asset(name), longest),
                quality,
            )
        )
    return r


def _stem(name: str) -> str:
    return name.removeprefix("mate-").removesuffix(".jpg").lower()


# --------------------------------------------------------------------------------------------------
# Chats. The posting plan is hand-written so the demo tells a readable story: first postings in the
# school room, then the spread (forwards to the channel and the chat room, reposts of the same file).

_S, _L, _C = 0, 1, 2  # school supergroup, link channel, chat group


@dataclass(frozen=True)
class _Chat:
    name: str
    type: str
    id: int
    members: tuple[tuple[str, str], ...]  # (name, from_id)


_CHATS = (
    _Chat(
        "○○고 겹지인방 (demo)",
        "private_supergroup",
        1801234567,
        (
            ("민준", "user5012345671"),
            ("지호", "user5012345672"),
            ("하린", "user5012345673"),
            ("도윤", "user5012345674"),
            ("Alex K.", "user5012345675"),
        ),
    ),
    _Chat("링크공유 (demo)", "public_channel", 1809876543, (("링크공유 (demo)", "channel1809876543"),)),
    _Chat(
        "잡담방 (demo)",
        "private_group",
        4512345678,
        (
            ("지호", "user5012345672"),
            ("서진", "user5012345676"),
            ("예린", "user5012345677"),
            ("Jamie (demo)", "user5012345678"),
        ),
    ),
)
_JOINERS = (("서진", "user5012345676"), ("Jamie (demo)", "user5012345678"))
_DELETED_ID = "user5099999999"

# One posting per line: chat (S school room, L link channel, C chat room), mode, recipe key. Modes: post
# (first appearance), forward (forwarded_from set), repost (the same file sent again, no forward header),
# placeholder (the export left the file out).
_POSTINGS_TABLE = """
S post        unrelated_storm
S post        exact_a
C post        unrelated_dune
S post        recompressed_a
S post        sticker_a
L post        unrelated_aqua
S post        resized_a_640
S post        composite_elephants
C forward     exact_a
S placeholder
S post        mirrored_a
L post        composite_greenmeadow
S post        other_biden
S post        resized_b_1280
C forward     composite_greenmeadow
S post        unrelated_garden
S post        exact_b
S post        brightness_a
S post        sticker_face
L forward     resized_a_640
S post        composite_garden
S post        cropped_a
C post        unrelated_ladybird
S post        animation_b
S post        recompressed_b
L post        composite_dune
S post        group_photo
C forward     group_photo
S post        resized_a_1280
S placeholder
S post        partial_face
S post        other_astronaut
L post        unrelated_freshflower
S post        composite_on_biden
S post        resized_b_640
C repost      sticker_a
S post        video_a
S post        cropped_b
L forward     composite_elephants
S post        other_composite_aqua
S post        mirrored_b
C forward     video_a
S post        brightness_b
S post        composite_ladybird
S post        unrelated_yellowflower
L forward     exact_b
S post        resized_a_320
S post        cropped_a_6pct
C post        other_composite_freshflower
S post        composite_on_astronaut
S post        sticker_b
L post        composite_yellowflower
S post        resized_b_320
C forward     composite_garden
S post        other_biden2
S post        unrelated_elephants
C forward     recompressed_a
L post        unrelated_blinds
S post        other_composite_blinds
S placeholder
C forward     composite_dune
S repost      composite_elephants
C repost      animation_b
L forward     mirrored_a
C post        unrelated_greenmeadow
S repost      recompressed_a
C forward     composite_yellowflower
L forward     composite_on_astronaut
C repost      sticker_face
C forward     resized_b_640
C forward     partial_face
S forward     composite_greenmeadow
C forward     composite_on_biden
L forward     video_a
"""
_POSTINGS: tuple[tuple[int, str, str], ...] = tuple(
    ({"S": _S, "L": _L, "C": _C}[row[0]], row[2] if len(row) > 2 else "", row[1])
    for row in (line.split() for line in _POSTINGS_TABLE.strip().splitlines())
)

_GROUP_LINES = (
    "오늘 급식 뭐였지?",
    "내일 체육복 챙겨야 함",
    "ㅋㅋㅋㅋ",
    "ㅇㅇ",
    "헐 진짜?",
    "수행평가 언제까지야",
    "나 지금 버스",
    "비 온대 우산 챙겨",
    "주말에 뭐해?",
    "축제 준비 다 했어?",
    "떡볶이 먹으러 갈 사람",
    "끝나고 뭐 먹고 갈래? 거기 진짜 최고임",
    "딥페이크 처벌법 뉴스 봤어? 이제 보기만 해도 처벌이래",
    "동아리 사진 단톡에 올려줘",
    "3반 시간표 바뀐 거 아는 사람?",
    "ㄱㄱ",
    "숙제 몇 쪽까지였어?",
    "모의고사 망함",
    "담임쌤 오늘 기분 좋으시던데",
    "동아리 모임 6시",
    "노래방 가자",
    "오늘 날씨 진짜 덥다",
    "자습실 자리 있음?",
    "잘 자",
    "굿굿",
    "아 배고파",
    "영어 단어 시험 범위 알려줄 사람",
    "그거 이미 봤어",
    "나중에 얘기하자",
    "확인!",
    "ㅋㅋ 웃기다",
    "see you tomorrow",
    "lol",
    "anyone up for basketball after school?",
    "brb",
    "that's wild",
    "did you finish the reading?",
    "ok sounds good",
    "thanks!",
    "haha same",
    "동창회 연락처는 010-0000-0000 (demo)",
    "사진 잘 나왔네",
    "이거 어디서 찍은 거야?",
    "저장함",
    "원본 있어?",
)
_CHANNEL_LINES = (
    "오늘의 모음 📌",
    "공지: 채널 규칙을 확인해 주세요",
    "새 글 올라갔습니다",
    "내일 또 올라옵니다",
    "Daily roundup",
    "구독자 100명 감사합니다",
    "링크는 고정 메시지 참고",
    "Mirror link in the pinned post",
)
_CAPTIONS = ("", "", "", "ㅋㅋ", "이거 봐", "new one", "또 있음", "퍼옴", "저장 ㄱ", "원본")
_EMOJI = ("😂", "👍", "😎", "🔥", "🙂")

_TOTAL_MESSAGES = 300


def _rich(*parts: str | dict[str, str]) -> tuple[list[Any], list[dict[str, str]]]:
    """Build `text` (strings and entity objects) and `text_entities` the way Telegram writes them."""
    text: list[Any] = []
    entities: list[dict[str, str]] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
            entities.append({"type": "plain", "text": part})
        else:
            text.append(dict(part))
            entities.append(dict(part))
    return text, entities


def _plain(s: str) -> tuple[str, list[dict[str, str]]]:
    return s, ([{"type": "plain", "text": s}] if s else [])


INVITE_LINK = "https://t.me/+AbCdEf123"  # leads to the school room (its pinned rules post it)
CHANNEL_LINK = "t.me/demo_linkshare"  # the link-sharing channel's public address
VAULT_LINK = "https://t.me/+DeMoVaUlT42"  # a room the monitor has not collected
# Doxxing and solicitation posts (fictional people, benign wording). The first names the demo person.
DOX_POSTS = (
    "○○고 07년생 서윤 아시는 분? 갠텔 주세요",
    "한빛여고 2학년 지민이 인스타 아는 사람? 사진 있으면 교환함",
)

# Special messages placed at fixed points among the postings: (after posting #, chat, tag).
_SPECIALS: tuple[tuple[int, int, str], ...] = (
    (0, _L, "channel_invite"),
    (2, _S, "pinned_rules"),
    (3, _S, "pin"),
    (6, _S, "join_1"),
    (12, _S, "deleted_account"),
    (20, _C, "invite_members"),
    (27, _C, "bell"),
    (33, _S, "join_2"),
    (40, _L, "channel_pin_target"),
    (41, _L, "channel_pin"),
    (50, _C, "mention"),
    (9, _S, "dox_0"),
    (15, _S, "vault_link"),
    (24, _S, "dox_1"),
    (30, _C, "channel_ad"),
    (36, _L, "vault_link"),
    (18, _C, "reunion"),
)


class _Writer:
    """Renders the event sequence into Telegram message dicts, keeping per-chat ids and the clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = START
        self.next_id = [1, 1, 1]
        self.messages: list[list[dict[str, Any]]] = [[], [], []]
        self.tags: dict[str, int] = {}
        self.members: list[list[tuple[str, str]]] = [list(c.members) for c in _CHATS]

    def _stamp(self, chat: int) -> dict[str, Any]:
        self.clock += timedelta(seconds=self.rng.randint(25, 1500))
        mid = self.next_id[chat]
        self.next_id[chat] += self.rng.choice((1, 1, 1, 1, 2))  # a gap now and then: deleted messages
        return {
            "id": mid,
            "type": "message",
            "date": self.clock.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(self.clock.replace(tzinfo=KST).timestamp())),
        }

    def sender(self, chat: int) -> tuple[str, str]:
        return self.rng.choice(self.members[chat])

    def message(
        self, chat: int, sender: tuple[str | None, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        msg = self._stamp(chat)
        name, from_id = sender if sender is not None else self.sender(chat)
        msg["from"] = name
        msg["from_id"] = from_id
        msg.update(fields)
        if "text" not in msg:
            msg["text"], msg["text_entities"] = _plain("")
        self.messages[chat].append(msg)
        return msg

    def service(self, chat: int, actor: tuple[str, str], action: str, **fields: Any) -> dict[str, Any]:
        msg = self._stamp(chat)
        msg["type"] = "service"
        msg["actor"], msg["actor_id"] = actor
        msg["action"] = action
        msg.update(fields)
        msg["text"], msg["text_entities"] = _plain("")
        self.messages[chat].append(msg)
        return msg

    def chatter(self, chat: int) -> None:
        lines = _CHANNEL_LINES if chat == _L else _GROUP_LINES
        fields: dict[str, Any] = {}
        recent = [m["id"] for m in self.messages[chat][-8:] if m["type"] == "message"]
        if chat != _L and recent and self.rng.random() < 0.15:
            fields["reply_to_message_id"] = self.rng.choice(recent)
        msg = self.message(chat, **fields)
        msg["text"], msg["text_entities"] = _plain(self.rng.choice(lines))
        if self.rng.random() < 0.03:
            edited = datetime.strptime(msg["date"], "%Y-%m-%dT%H:%M:%S") + timedelta(seconds=90)
            msg["edited"] = edited.strftime("%Y-%m-%dT%H:%M:%S")
            msg["edited_unixtime"] = str(int(edited.replace(tzinfo=KST).timestamp()))


def _media_fields(recipe: _Recipe, path: str, blob: _Blob, rng: random.Random) -> dict[str, Any]:
    """The fields Telegram Desktop writes for each kind of media."""
    if recipe.kind == "photo":
        return {"photo": path, "photo_file_size": len(blob.data), "width": blob.width, "height": blob.height}
    fields: dict[str, Any] = {"file": path, "file_name": path.rsplit("/", 1)[1], "file_size": len(blob.data)}
    if recipe.kind == "file":
        fields["mime_type"] = "image/jpeg"
    elif recipe.kind == "sticker":
        fields.pop("file_name")
        fields.update(
            media_type="sticker",
            sticker_emoji=rng.choice(_EMOJI),
            mime_type="image/webp",
            width=blob.width,
            height=blob.height,
        )
    else:
        fields.update(
            media_type=recipe.kind,
            mime_type="video/mp4",
            duration_seconds=1,
            width=blob.width,
            height=blob.height,
        )
    return fields


def _path_for(recipe: _Recipe, counters: dict[str, int], when: datetime) -> str:
    """A media path in Telegram Desktop's naming style for this kind of media."""
    n = counters[recipe.kind] = counters.get(recipe.kind, 0) + 1
    if recipe.kind == "photo":
        return f"photos/photo_{n}@{when.strftime('%d-%m-%Y_%H-%M-%S')}.jpg"
    if recipe.kind == "file":
        return f"files/IMG_{2030 + n}.jpg"
    if recipe.kind == "sticker":
        return "stickers/sticker.webp" if n == 1 else f"stickers/sticker ({n - 1}).webp"
    if recipe.kind == "animation":
        return f"animations/IMG_{5510 + n}.gif.mp4"
    return f"video_files/IMG_{5520 + n}.mp4"


def _special(w: _Writer, chat: int, tag: str) -> None:
    """Messages that exercise parser corner cases: entities, service actions, null sender, \\x07."""
    channel = _CHATS[_L].members[0]
    owner = _CHATS[_S].members[0]
    if tag == "channel_invite":
        text, ents = _rich(
            "새 방 열었어요 👉 ",
            {"type": "text_link", "text": "여기로 들어오세요", "href": INVITE_LINK},
            " (demo)",
        )
        w.tags[tag] = w.message(chat, channel, text=text, text_entities=ents)["id"]
    elif tag == "pinned_rules":
        text, ents = _rich(
            {"type": "bold", "text": "공지"},
            ": 새로 온 사람은 ",
            {"type": "text_link", "text": "이 링크", "href": INVITE_LINK},
            " 로 들어오세요. 문의 ",
            {"type": "mention", "text": "@demo_minjun"},
            " / ",
            {"type": "link", "text": "https://example.org/demo"},
        )
        w.tags[tag] = w.message(chat, owner, text=text, text_entities=ents)["id"]
    elif tag == "pin":
        w.service(chat, owner, "pin_message", message_id=w.tags["pinned_rules"])
    elif tag in ("join_1", "join_2"):
        joiner = _JOINERS[0 if tag == "join_1" else 1]
        w.service(chat, joiner, "join_group_by_link", inviter="Group")
        w.members[chat].append(joiner)
    elif tag == "deleted_account":
        w.message(
            chat,
            (None, _DELETED_ID),
            text="hello, anyone here?",
            text_entities=[{"type": "plain", "text": "hello, anyone here?"}],
        )
    elif tag == "invite_members":
        w.service(chat, w.members[chat][0], "invite_members", members=["하린"])
        w.members[chat].append(("하린", "user5012345673"))
    elif tag == "bell":
        # A BEL control character: Telegram writes it as the invalid JSON escape \x07 (see _render).
        w.message(
            chat,
            text="알림음 테스트\x07 됐다",
            text_entities=[{"type": "plain", "text": "알림음 테스트\x07 됐다"}],
        )
    elif tag == "channel_pin_target":
        text, ents = _rich(
            "백업 채널: ",
            {"type": "text_link", "text": "클릭", "href": INVITE_LINK},
            " ",
            {"type": "hashtag", "text": "#demo"},
        )
        w.tags[tag] = w.message(chat, channel, text=text, text_entities=ents)["id"]
    elif tag == "channel_pin":
        w.service(chat, channel, "pin_message", message_id=w.tags["channel_pin_target"])
    elif tag == "mention":
        text, ents = _rich({"type": "mention", "text": "@demo_jiho"}, " 어제 그거 봤어?")
        w.message(chat, text=text, text_entities=ents)
    elif tag.startswith("dox_"):
        text = DOX_POSTS[int(tag[4:])]
        w.tags[tag] = w.message(chat, text=text, text_entities=_plain(text)[1])["id"]
    elif tag == "reunion":  # names the person, innocently: a hit, but not a solicitation
        text = "서윤이 ○○고 07년생이었나? 동창회 명단에 있던데"
        w.message(chat, text=text, text_entities=_plain(text)[1])
    elif tag == "vault_link":
        text, ents = _rich("저장본은 여기로 👉 ", {"type": "link", "text": VAULT_LINK}, " (demo)")
        w.message(chat, text=text, text_entities=ents)
    elif tag == "channel_ad":
        text, ents = _rich(
            "링크공유 채널 구독 ㄱ ", {"type": "text_link", "text": "여기", "href": "https://" + CHANNEL_LINK}
        )
        w.message(chat, text=text, text_entities=ents)


def _plan_chats(
    recipes: dict[str, _Recipe], blobs: dict[str, _Blob], seed: int
) -> tuple[list[list[dict[str, Any]]], dict[str, str], int, dict[str, int]]:
    """Lay out all messages on one clock, so forwards always come after what they forward."""
    rng = random.Random(seed)
    w = _Writer(rng)
    owner_s, owner_c = _CHATS[_S].members[0], _CHATS[_C].members[0]
    channel = _CHATS[_L].members[0]
    w.service(
        _S, owner_s, "create_group", title=_CHATS[_S].name, members=[m[0] for m in _CHATS[_S].members[:4]]
    )
    w.service(_S, owner_s, "invite_members", members=[_CHATS[_S].members[4][0]])
    w.service(_L, channel, "create_channel", title=_CHATS[_L].name)
    w.service(_C, owner_c, "create_group", title=_CHATS[_C].name, members=[m[0] for m in _CHATS[_C].members])

    events: list[tuple[str, int, str, str]] = []  # (what, chat, key, mode)
    specials = {i: [(c, t) for j, c, t in _SPECIALS if j == i] for i in range(len(_POSTINGS) + 1)}
    for i, (chat, key, mode) in enumerate(_POSTINGS):
        events.extend(("special", c, t, "") for c, t in specials[i])
        events.append(("media", chat, key, mode))
    fixed = len(events) + 4
    chatter_count = _TOTAL_MESSAGES - fixed
    slots = sorted(rng.sample(range(chatter_count + len(events)), len(events)))
    chatter_chats = rng.choices((_S, _L, _C), weights=(50, 12, 38), k=chatter_count)

    paths: dict[str, str] = {}
    first_sender: dict[str, tuple[str, str]] = {}
    counters: dict[str, int] = {}
    placeholders = 0
    ev = iter(events)
    chat_iter = iter(chatter_chats)
    slot_set = set(slots)
    for pos in range(chatter_count + len(events)):
        if pos not in slot_set:
            w.chatter(next(chat_iter))
            continue
        what, chat, key, mode = next(ev)
        if what == "special":
            _special(w, chat, key)
            continue
        sender = w.sender(chat)
        caption = rng.choice(_CAPTIONS)
        if mode == "placeholder":
            msg = w.message(chat, sender, photo=PLACEHOLDER, width=1280, height=960)
            placeholders += 1
        else:
            recipe = recipes[key]
            if mode == "post":
                if key in paths:
                    raise AssertionError(f"{key} posted twice: use 'repost' or 'forward'")
                paths[key] = _path_for(recipe, counters, w.clock)
                first_sender[key] = sender
            elif key not in paths:
                raise AssertionError(f"{key} is {mode}ed before it was posted")
            fields = _media_fields(recipe, paths[key], blobs[key], rng)
            if mode == "forward":
                fields = {"forwarded_from": first_sender[key][0], **fields}
            msg = w.message(chat, sender, **fields)
        msg["text"], msg["text_entities"] = _plain(caption)
        if rng.random() < 0.1:
            msg["reactions"] = [{"type": "emoji", "count": rng.randint(1, 4), "emoji": "👍"}]
    missing = sorted(set(recipes) - set(paths))
    if missing:
        raise AssertionError(f"recipes never posted: {missing}")
    return w.messages, paths, placeholders, {k: v for k, v in w.tags.items() if k.startswith("dox_")}


def _flat_text(text: str | list[Any]) -> str:
    return text if isinstance(text, str) else "".join(p if isinstance(p, str) else p["text"] for p in text)


def _norm(link: str) -> str:
    """The room graph's normalised form of a link: t.me/+CODE or t.me/name."""
    return link.removeprefix("https://").removeprefix("http://")


def _render(messages: list[list[dict[str, Any]]]) -> str:
    """result.json as Telegram Desktop writes it, including its invalid `\\x07` escape."""
    doc = {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't use your data "
        "for ad targeting and doesn't sell it to others. (demo export, fictional content)",
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                {"name": c.name, "type": c.type, "id": c.id, "messages": msgs}
                for c, msgs in zip(_CHATS, messages, strict=True)
            ],
        },
    }
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    # json.dumps escapes BEL as \u0007 in both `text` and `text_entities`; Telegram writes \x07.
    if text.count("\\u0007") != 2:
        raise AssertionError("expected exactly one message carrying a BEL character")
    return text.replace("\\u0007", "\\x07") + "\n"


def _ground_truth_json(gt: DemoGroundTruth, out_dir: Path, seed: int) -> str:
    """Paths relative to `out_dir`, so two builds in different folders give the same bytes."""
    doc = {
        "generator": GENERATOR,
        "pseudonym": gt.pseudonym,
        "seed": seed,
        "export_dir": gt.export_dir.relative_to(out_dir).as_posix(),
        "enrol_photos": [p.relative_to(out_dir).as_posix() for p in gt.enrol_photos],
        "chats": list(gt.chats),
        "missing_placeholders": gt.missing_placeholders,
        "media": [asdict(m) for m in gt.media],
        "named_messages": [list(m) for m in gt.named_messages],
        "solicitation": list(gt.solicitation) if gt.solicitation else None,
        "room_aliases": [list(a) for a in gt.room_aliases],
        "room_links": [list(link) for link in gt.room_links],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def read_ground_truth(out_dir: Path) -> DemoGroundTruth:
    """Load `out_dir/ground-truth.json` written by `build_demo`, with paths made absolute again."""
    doc = json.loads((out_dir / "ground-truth.json").read_text(encoding="utf-8"))
    return DemoGroundTruth(
        export_dir=out_dir / doc["export_dir"],
        enrol_photos=tuple(out_dir / p for p in doc["enrol_photos"]),
        pseudonym=doc["pseudonym"],
        media=tuple(ExpectedMedia(**m) for m in doc["media"]),
        missing_placeholders=doc["missing_placeholders"],
        chats=tuple(doc["chats"]),
        named_messages=tuple((c, int(m)) for c, m in doc.get("named_messages", [])),
        solicitation=tuple(doc["solicitation"]) if doc.get("solicitation") else None,  # type: ignore[arg-type]
        room_aliases=tuple((c, link) for c, link in doc.get("room_aliases", [])),
        room_links=tuple((a, b, c) for a, b, c in doc.get("room_links", [])),
    )


def _clear_previous_demo(out_dir: Path) -> None:
    """Remove an earlier demo build in `out_dir`, and refuse to touch anything that is not one."""
    export_dir, enrol_dir, gt_path = out_dir / "export", out_dir / "enrol", out_dir / "ground-truth.json"
    ours = False
    if gt_path.is_file():
        try:
            ours = json.loads(gt_path.read_text(encoding="utf-8")).get("generator") == GENERATOR
        except (ValueError, UnicodeDecodeError, AttributeError):
            ours = False
    if not ours:
        for p in (export_dir, enrol_dir, gt_path):
            if p.exists():
                raise NciiError(
                    f"{p} already exists and is not an earlier demo build",
                    hint="build the demo into a new or empty folder",
                )
        return
    for d in (export_dir, enrol_dir):
        if d.is_symlink() or d.is_file():
            d.unlink()
        elif d.exists():
            shutil.rmtree(d)
    gt_path.unlink()


def build_demo(out_dir: Path, *, seed: int = 7) -> DemoGroundTruth:
    """Write the demo export, the enrolment photos and the ground truth under `out_dir`.

    An earlier demo build in `out_dir` is replaced (so `ncii demo` can be re-run); anything else already
    at `export/`, `enrol/` or `ground-truth.json` makes it refuse rather than mix or delete foreign files.
    """
    out_dir = Path(out_dir)
    export_dir, enrol_dir, gt_path = out_dir / "export", out_dir / "enrol", out_dir / "ground-truth.json"
    _clear_previous_demo(out_dir)

    recipes = {r.key: r for r in _recipes()}
    blobs = {key: recipes[key].make() for key in sorted(recipes)}
    messages, paths, placeholders, dox_ids = _plan_chats(recipes, blobs, seed)

    export_dir.mkdir(parents=True)
    for key in sorted(paths):
        target = export_dir / paths[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blobs[key].data)
    (export_dir / "result.json").write_text(_render(messages), encoding="utf-8", newline="\n")

    enrol_dir.mkdir(parents=True)
    enrolled = []
    for name in ENROLLED_ASSETS:
        shutil.copyfile(ASSETS / name, enrol_dir / name)
        enrolled.append(enrol_dir / name)

    media = tuple(
        ExpectedMedia(paths[r.key], r.label, r.expect_hit, r.route, r.source, r.note)
        for r in sorted(recipes.values(), key=lambda r: paths[r.key])
    )
    gt = DemoGroundTruth(
        export_dir=export_dir,
        enrol_photos=tuple(enrolled),
        pseudonym=PSEUDONYM,
        media=media,
        missing_placeholders=placeholders,
        chats=tuple(c.name for c in _CHATS),
        named_messages=tuple(
            (_CHATS[i].name, m["id"])
            for i, msgs in enumerate(messages)
            for m in msgs
            if DEMO_NAME in _flat_text(m.get("text", ""))
        ),
        solicitation=(_CHATS[_S].name, dox_ids["dox_0"]),
        room_aliases=((str(_CHATS[_S].id), INVITE_LINK), (str(_CHATS[_L].id), CHANNEL_LINK)),
        room_links=(
            (_CHATS[_L].name, _norm(INVITE_LINK), _CHATS[_S].name),
            (_CHATS[_S].name, _norm(VAULT_LINK), None),
            (_CHATS[_L].name, _norm(VAULT_LINK), None),
            (_CHATS[_C].name, _norm(CHANNEL_LINK), _CHATS[_L].name),
        ),
    )
    gt_path.write_text(_ground_truth_json(gt, out_dir, seed), encoding="utf-8", newline="\n")
    return gt


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m ncii_shield.demo.build OUT_DIR`: build the demo without the CLI."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    gt = build_demo(args.out_dir, seed=args.seed)
    enrol = ", ".join(map(str, gt.enrol_photos))
    print(f"demo export: {gt.export_dir} ({len(gt.media)} media files); enrol: {enrol}")


if __name__ == "__main__":
    main()
