"""How far each matching route gets on the edits abusers make: recall per transformation, false matches.

Usage: .venv/bin/python bench/robustness.py [--no-timing]

Every bundled photograph (10 nature photos, 8 portraits) is turned into one copy per transformation
(Telegram recompression, JPEG q50, half size, mirror, rotation, brightness, crops, caption band, stickers,
a 2x2 collage tile, a phone screenshot). Each copy is then matched against every original by:

(a) plain PDQ: one hash per original, Hamming distance <= 31;
(b) dihedral PDQ: the 8 rotations/mirrors of each original's hash;
(c) the project's matcher: dihedral PDQ, or multi-crop PDQ (sub-windows of the copy), or local features
    with geometric verification (`ncii_shield.index.local_features`); the table also shows these two alone.

Recall is the fraction of copies matched to their own original; false matches count every (copy, other
original) pair a route accepts. Deterministic: every random choice comes from a seeded generator.
Collage fillers are Meta's PDQ test photos in tests/data (unrelated to the originals).
"""

from __future__ import annotations

import io
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ncii_shield.index import local_features, multicrop
from ncii_shield.media.decode import decode_image
from ncii_shield.signals.kinds.partial import mirrored_features
from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY, as_words, distances, pdq_dihedral, pdq_hash

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "ncii_shield" / "demo" / "assets"
PDQ_DATA = ROOT / "tests" / "data" / "pdq-reference"
FILLERS = [
    *sorted((PDQ_DATA / "reg-test-input" / "labelme-subset").glob("*.jpg")),
    PDQ_DATA / "bridge-mods" / "aaa-orig.jpg",
]
# obama_partial_face.jpg is a crop of the same photograph as obama.jpg: the pair is a true match, not a negative.
RELATED = {frozenset({"obama.jpg", "obama_partial_face.jpg"})}

Transform = Callable[[Image.Image, np.random.Generator], bytes]


def originals() -> list[Path]:
    """The nature photographs first, then the portraits."""
    photos = sorted(ASSETS.glob("mate-*.jpg"))
    portraits = sorted(p for p in ASSETS.glob("*.jpg") if not p.name.startswith("mate-"))
    return photos + portraits


def _jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _fit(img: Image.Image, longest: int) -> Image.Image:
    """Scale down (never up) so the longer side is at most `longest`, as Telegram does."""
    scale = longest / max(img.size)
    if scale >= 1:
        return img
    return img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)


def _cover(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop to fill `size`, as collage apps fill their cells."""
    w, h = size
    scale = max(w / img.width, h / img.height)
    scaled = img.resize(
        (max(w, round(img.width * scale)), max(h, round(img.height * scale))), Image.Resampling.LANCZOS
    )
    left, top = (scaled.width - w) // 2, (scaled.height - h) // 2
    return scaled.crop((left, top, left + w, top + h))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def telegram(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(_fit(img, 1280), 80)


def jpeg50(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img, 50)


def half(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS))


def mirror(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def rotate90(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img.transpose(Image.Transpose.ROTATE_90))


def _brightness(factor: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> bytes:
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) * factor
        return _jpeg(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))

    return apply


CROP_PLACES = ("left", "right", "top", "bottom", "centre", "top-left", "bottom-right")


def _crop(fraction: float) -> Transform:
    """Cut away `fraction` of the area: from one side, around the centre, or towards a corner."""

    def apply(img: Image.Image, rng: np.random.Generator) -> bytes:
        w, h = img.size
        place = CROP_PLACES[int(rng.integers(len(CROP_PLACES)))]
        keep = 1 - fraction
        if place in ("left", "right"):  # keep the other side: cut `fraction` of the width
            cw = round(w * keep)
            box = (w - cw, 0, w, h) if place == "left" else (0, 0, cw, h)
        elif place in ("top", "bottom"):
            ch = round(h * keep)
            box = (0, h - ch, w, h) if place == "top" else (0, 0, w, ch)
        else:
            cw, ch = round(w * keep**0.5), round(h * keep**0.5)
            if place == "centre":
                box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
            elif place == "top-left":
                box = (0, 0, cw, ch)
            else:
                box = (w - cw, h - ch, w, h)
        return _jpeg(img.crop(box))

    return apply


CAPTIONS = ("who is this lol", "you know her?", "found this one", "guess who lol", "saved from her story")


def caption(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A black or white band with text over the top or bottom 15 % of the picture."""
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    band = round(h * 0.15)
    dark = bool(rng.integers(2))
    top = bool(rng.integers(2))
    y0 = 0 if top else h - band
    draw.rectangle((0, y0, w, y0 + band), fill=(0, 0, 0) if dark else (255, 255, 255))
    font = _font(max(12, round(band * 0.55)))
    text = CAPTIONS[int(rng.integers(len(CAPTIONS)))]
    draw.text(
        (w // 2, y0 + band // 2), text, fill=(255, 255, 255) if dark else (0, 0, 0), font=font, anchor="mm"
    )
    return _jpeg(out)


def _emoji(draw: ImageDraw.ImageDraw, cx: int, cy: int, r: int, rng: np.random.Generator) -> None:
    """An opaque emoji-like sticker: a smiley, a heart or a star, with a white outline like Telegram's."""
    kind = int(rng.integers(3))
    outline = max(2, r // 10)
    if kind == 0:
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0), outline=(255, 255, 255), width=outline
        )
        e = r // 5
        for dx in (-r // 3, r // 3):
            draw.ellipse((cx + dx - e, cy - r // 3 - e, cx + dx + e, cy - r // 3 + e), fill=(60, 40, 0))
        draw.arc(
            (cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2),
            20,
            160,
            fill=(60, 40, 0),
            width=max(2, r // 8),
        )
    elif kind == 1:
        draw.ellipse((cx - r, cy - r, cx, cy), fill=(230, 20, 60))
        draw.ellipse((cx, cy - r, cx + r, cy), fill=(230, 20, 60))
        draw.polygon([(cx - r, cy - r // 2), (cx + r, cy - r // 2), (cx, cy + r)], fill=(230, 20, 60))
    else:
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            ang = -np.pi / 2 + i * np.pi / 5
            pts.append((cx + rad * np.cos(ang), cy + rad * np.sin(ang)))
        draw.polygon(pts, fill=(255, 160, 0), outline=(255, 255, 255))


def stickers(img: Image.Image, rng: np.random.Generator) -> bytes:
    """One to three opaque stickers covering 15-25 % of the picture in all (their bounding boxes)."""
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    count = int(rng.integers(1, 4))
    total = rng.uniform(0.15, 0.25) * w * h
    for _ in range(count):
        side = (total / count) ** 0.5  # each sticker's bounding square
        r = round(side / 2)
        cx = int(rng.integers(r, w - r))
        cy = int(rng.integers(r, h - r))
        _emoji(draw, cx, cy, r, rng)
    return _jpeg(out)


def collage(img: Image.Image, rng: np.random.Generator) -> bytes:
    """The photo as one cell of a 2x2 grid (1280 px wide, white gutters), the other three unrelated photos."""
    tile_w = 634
    tile_h = round(tile_w * img.height / img.width)
    gutter = 6
    canvas = Image.new("RGB", (2 * tile_w + 3 * gutter, 2 * tile_h + 3 * gutter), (255, 255, 255))
    cell = int(rng.integers(4))
    fillers = rng.choice(len(FILLERS), size=3, replace=False)
    others = iter(Image.open(FILLERS[i]).convert("RGB") for i in fillers)
    for i in range(4):
        x = gutter + (i % 2) * (tile_w + gutter)
        y = gutter + (i // 2) * (tile_h + gutter)
        tile = (
            img.resize((tile_w, tile_h), Image.Resampling.LANCZOS)
            if i == cell
            else _cover(next(others), (tile_w, tile_h))
        )
        canvas.paste(tile, (x, y))
    return _jpeg(canvas)


def mirror_crop(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Mirrored, then a third of the area cut away (from a side, the centre or a corner)."""
    return _crop(0.33)(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), rng)


def collage3(img: Image.Image, rng: np.random.Generator) -> bytes:
    """The photo as one cell of a 3x3 grid (1280 px wide, white gutters), the other eight unrelated photos."""
    gutter = 6
    tile_w = (1280 - 4 * gutter) // 3
    tile_h = round(tile_w * img.height / img.width)
    canvas = Image.new("RGB", (3 * tile_w + 4 * gutter, 3 * tile_h + 4 * gutter), (255, 255, 255))
    cell = int(rng.integers(9))
    fillers = rng.choice(len(FILLERS), size=8, replace=len(FILLERS) < 8)
    others = iter(Image.open(FILLERS[i]).convert("RGB") for i in fillers)
    for i in range(9):
        x = gutter + (i % 3) * (tile_w + gutter)
        y = gutter + (i // 3) * (tile_h + gutter)
        tile = (
            img.resize((tile_w, tile_h), Image.Resampling.LANCZOS)
            if i == cell
            else _cover(next(others), (tile_w, tile_h))
        )
        canvas.paste(tile, (x, y))
    return _jpeg(canvas)


def _animation(fmt: str) -> Transform:
    """A 5-frame animation (longest side 480 px, 300 ms a frame) whose 3rd frame is the photo; the other
    frames are unrelated photos. GIFs are quantised to 256 colours per frame."""

    def apply(img: Image.Image, rng: np.random.Generator) -> bytes:
        photo = _fit(img.convert("RGB"), 480)
        fillers = rng.choice(len(FILLERS), size=4, replace=False)
        frames = [_cover(Image.open(FILLERS[i]).convert("RGB"), photo.size) for i in fillers]
        frames.insert(2, photo)
        buf = io.BytesIO()
        options = {"quality": 75} if fmt == "WEBP" else {}
        frames[0].save(
            buf, format=fmt, save_all=True, append_images=frames[1:], duration=300, loop=0, **options
        )
        return buf.getvalue()

    return apply


def thumb160(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(_fit(img, 160))


def jpeg8(img: Image.Image, rng: np.random.Generator) -> bytes:
    return _jpeg(img, 8)


def slideshow(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A 13-s MP4 slideshow (640x360, 10 fps, H.264 as Telegram sends animations): two unrelated photos for
    2.5 s each, the photo for 3 s shown whole (black bars where its shape differs from 16:9), two more
    unrelated photos. Unrelated photos fill the frame."""
    from ncii_shield.demo.slideshow import encode

    size, fps = (640, 360), 10
    fillers = [Image.open(FILLERS[i]).convert("RGB") for i in rng.choice(len(FILLERS), size=4, replace=False)]
    photo = img.convert("RGB")
    scale = min(size[0] / photo.width, size[1] / photo.height)
    shown = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    boxed = Image.new("RGB", size)
    boxed.paste(shown, ((size[0] - shown.width) // 2, (size[1] - shown.height) // 2))
    scenes = [(_cover(f, size), 2.5) for f in fillers[:2]] + [(boxed, 3.0)]
    scenes += [(_cover(f, size), 2.5) for f in fillers[2:]]
    frames = [picture for picture, seconds in scenes for _ in range(round(seconds * fps))]
    return encode(frames, size, fps)


def screenshot(img: Image.Image, rng: np.random.Generator) -> bytes:
    """A 1080x2340 phone screenshot of a chat showing the photo, then sent on through Telegram (1280 px, q80)."""
    dark = bool(rng.integers(2))
    bg, fg = ((17, 24, 33), (230, 230, 230)) if dark else ((230, 235, 240), (20, 20, 20))
    bubble_in, bubble_out = ((33, 48, 64), (43, 82, 120)) if dark else ((255, 255, 255), (220, 248, 198))
    canvas = Image.new("RGB", (1080, 2340), bg)
    draw = ImageDraw.Draw(canvas)
    small, body = _font(34), _font(40)
    # status bar and chat header
    draw.rectangle((0, 0, 1080, 90), fill=bg)
    draw.text(
        (40, 45),
        f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
        fill=fg,
        font=small,
        anchor="lm",
    )
    draw.rectangle((960, 30, 1020, 60), outline=fg, width=3)
    draw.rectangle((964, 34, 964 + int(rng.integers(10, 52)), 56), fill=fg)
    header = (36, 48, 60) if dark else (82, 136, 193)
    draw.rectangle((0, 90, 1080, 250), fill=header)
    draw.ellipse((110, 115, 220, 225), fill=(200, 120, 80))
    draw.text((250, 145), "group chat", fill=(255, 255, 255), font=body, anchor="lm")
    draw.text(
        (250, 200), f"{int(rng.integers(100, 3000))} members", fill=(220, 220, 220), font=small, anchor="lm"
    )
    # chat bubbles above the photo
    y = 290
    for text in ("anyone know her?", "send more"):
        draw.rounded_rectangle((40, y, 40 + 30 * len(text), y + 110), radius=30, fill=bubble_in)
        draw.text((70, y + 55), text, fill=fg, font=body, anchor="lm")
        y += 140
    # the photo in an outgoing bubble, scaled to fit
    max_w, max_h = 900, 1250
    scale = min(max_w / img.width, max_h / img.height)
    pw, ph = round(img.width * scale), round(img.height * scale)
    x0 = 1080 - 40 - pw - 16
    draw.rounded_rectangle((x0 - 12, y - 12, x0 + pw + 12, y + ph + 70), radius=30, fill=bubble_out)
    canvas.paste(img.convert("RGB").resize((pw, ph), Image.Resampling.LANCZOS), (x0, y))
    draw.text((x0 + pw - 10, y + ph + 35), "21:03 ✓✓", fill=fg, font=small, anchor="rm")
    y += ph + 110
    if y < 2340 - 360:
        draw.rounded_rectangle((40, y, 560, y + 110), radius=30, fill=bubble_in)
        draw.text((70, y + 55), "lol saved", fill=fg, font=body, anchor="lm")
    # input bar and navigation bar
    draw.rectangle((0, 2340 - 230, 1080, 2340), fill=bg)
    draw.rounded_rectangle((30, 2340 - 210, 900, 2340 - 110), radius=50, fill=bubble_in)
    draw.text((80, 2340 - 160), "Message", fill=(140, 140, 140), font=body, anchor="lm")
    draw.ellipse((930, 2340 - 210, 1030, 2340 - 110), fill=header)
    draw.rectangle((440, 2340 - 40, 640, 2340 - 30), fill=fg)
    png = io.BytesIO()
    canvas.save(png, format="PNG")  # a screenshot is a PNG on the phone ...
    return _jpeg(_fit(Image.open(png), 1280), 80)  # ... and Telegram recompresses it when it is sent on


TRANSFORMS: dict[str, Transform] = {
    "telegram 1280 q80": telegram,
    "jpeg q50": jpeg50,
    "half size": half,
    "mirror": mirror,
    "rotate 90": rotate90,
    "brightness +30 %": _brightness(1.3),
    "brightness -30 %": _brightness(0.7),
    "crop 10 %": _crop(0.10),
    "crop 25 %": _crop(0.25),
    "crop 40 %": _crop(0.40),
    "caption band 15 %": caption,
    "stickers <= 25 %": stickers,
    "2x2 collage tile": collage,
    "screenshot": screenshot,
    # The harder set (issue 14): edits that escaped the matcher.
    "mirror + crop 33 %": mirror_crop,
    "3x3 collage tile": collage3,
    "GIF, 3rd frame": _animation("GIF"),
    "animated WebP, 3rd frame": _animation("WEBP"),
    "thumbnail 160 px": thumb160,
    "jpeg q8": jpeg8,
    # Issue 14, second part: the last edits of the table.
    "crop 60 %": _crop(0.60),
    "MP4 slideshow, 3 s of 13 s": slideshow,
}


@dataclass(frozen=True)
class Copy:
    original: int  # index into originals()
    transform: str
    rgb: np.ndarray
    frames: tuple[bytes, ...] = ()  # an animation's PDQ per sampled frame, as a scan stores them


def _frame_hashes(data: bytes) -> tuple[bytes, ...]:
    """What a scan stores per frame of a non-JPEG copy (animations): nothing beyond the first frame
    unless the scan samples frames."""
    if data.startswith(b"\xff\xd8"):
        return ()
    from ncii_shield.signals.analyse import analyse_bytes

    hashes = []
    for f in analyse_bytes(data, with_nudity=False).frames:
        hashes += [f.pdq] if f.pdq_quality >= MIN_QUALITY else []
        # the picture inside letterbox bars, stored as a second hash of the frame (kinds/pdq.py)
        hashes += [f.content_pdq] if f.content_pdq is not None and f.content_quality >= MIN_QUALITY else []
    return tuple(hashes)


def make_copies(paths: list[Path]) -> list[Copy]:
    """Every transformation of every original, decoded through the project's decoder as a scan would."""
    copies = []
    for t_index, (name, fn) in enumerate(TRANSFORMS.items()):
        for o_index, path in enumerate(paths):
            rng = np.random.default_rng([t_index, o_index])
            data = fn(Image.open(path).convert("RGB"), rng)
            copies.append(Copy(o_index, name, decode_image(data).rgb, _frame_hashes(data)))
    return copies


ROUTES = ("plain PDQ", "dihedral PDQ", "multi-crop PDQ", "local features", "matcher")
TIMING_REPEAT = 3  # best of 3 per image: other processes on a 2-core machine make single runs noisy


@dataclass(frozen=True)
class Signals:
    """What the routes need of one image (an enrolled original or a scanned copy)."""

    pdq: bytes
    quality: int
    features: local_features.LocalFeatures
    dihedral: list[bytes]  # originals only
    windows: list[multicrop.WindowHash]  # copies only
    frames: tuple[bytes, ...] = ()  # copies only: per-frame PDQ of an animation
    extra_features: tuple[local_features.LocalFeatures, ...] = ()  # originals only: e.g. the mirrored photo


def reference_signals(rgb: np.ndarray) -> Signals:
    """An enrolled photo: one PDQ, its 8 dihedral variants, and local features of it and of its mirror."""
    pdq, quality = pdq_hash(rgb)
    features = local_features.extract(rgb)
    return Signals(pdq, quality, features, pdq_dihedral(rgb)[0], [], extra_features=(mirrored_features(rgb),))


def copy_signals(copy: Copy) -> Signals:
    """A scanned copy: one PDQ, the multi-crop window hashes, local features, and per-frame PDQs."""
    rgb = copy.rgb
    pdq, quality = pdq_hash(rgb)
    return Signals(pdq, quality, local_features.extract(rgb), [], multicrop.window_hashes(rgb), copy.frames)


def _distance(a: bytes, refs: list[bytes]) -> int:
    return int(distances(as_words(refs), as_words([a])[0]).min())


def match_pair(copy: Signals, ref: Signals) -> tuple[dict[str, bool], int]:
    """Every route's decision for one (copy, original) pair, and the local-features inlier count.

    Local features are verified with the rule's threshold lowered to 2 so the inlier count of unrelated
    pairs is visible; the route then accepts at MIN_INLIERS exactly as `verify()` does by default.
    """
    usable = copy.quality >= MIN_QUALITY and ref.quality >= MIN_QUALITY
    dihedral = usable and _distance(copy.pdq, ref.dihedral) <= MATCH_THRESHOLD
    if ref.quality >= MIN_QUALITY and copy.frames:  # a frame of an animation, as the pdq route sees it
        dihedral = dihedral or any(_distance(f, ref.dihedral) <= MATCH_THRESHOLD for f in copy.frames)
    windows = ref.quality >= MIN_QUALITY and multicrop.best_window(copy.windows, ref.dihedral) is not None
    inliers = 0
    for reference in (ref.features, *ref.extra_features):
        found = local_features.verify(copy.features, reference, min_inliers=2)
        inliers = max(inliers, found.inliers if found else 0)
    local = inliers >= local_features.MIN_INLIERS
    accepted = {
        "plain PDQ": usable and _distance(copy.pdq, [ref.pdq]) <= MATCH_THRESHOLD,
        "dihedral PDQ": dihedral,
        "multi-crop PDQ": windows,
        "local features": local,
        "matcher": dihedral or windows or local,
    }
    return accepted, inliers


def _pct(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.0f} %)" if total else "-"


def _best_ms(fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(TIMING_REPEAT):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def timing(
    originals_rgb: list[np.ndarray], copies: list[Copy], refs: list[Signals], signals: list[Signals]
) -> None:
    """Per-image and per-pair cost of each route (best of TIMING_REPEAT, median over images)."""

    def summary(values: list[float]) -> str:
        return f"{float(np.median(values)):.1f} ms (p95 {float(np.percentile(values, 95)):.1f})"

    pairs = [
        (signals[i].features, refs[j].features) for i in range(0, len(copies), 4) for j in range(len(refs))
    ]
    rows = [
        (
            "PDQ hash of a copy (plain and dihedral routes)",
            [_best_ms(lambda c=c: pdq_hash(c.rgb)) for c in copies],
        ),
        (
            "dihedral PDQ of an enrolled photo (8 hashes)",
            [_best_ms(lambda o=o: pdq_dihedral(o)) for o in originals_rgb],
        ),
        (
            f"multi-crop PDQ of a copy ({len(multicrop.WINDOWS)} windows)",
            [_best_ms(lambda c=c: multicrop.window_hashes(c.rgb)) for c in copies],
        ),
        (
            "multi-crop PDQ of a copy (the first 5 windows only, as before the 3x3 grid)",
            [_best_ms(lambda c=c: multicrop.window_hashes(c.rgb, multicrop.WINDOWS[:5])) for c in copies],
        ),
        (
            "local features: extract, copy",
            [_best_ms(lambda c=c: local_features.extract(c.rgb)) for c in copies],
        ),
        (
            "local features: extract, enrolled photo",
            [_best_ms(lambda o=o: local_features.extract(o)) for o in originals_rgb],
        ),
        (
            "local features: extract, enrolled photo and its mirror (what enrolment stores)",
            [_best_ms(lambda o=o: (local_features.extract(o), mirrored_features(o))) for o in originals_rgb],
        ),
        (
            "local features: verify one (copy, reference) pair",
            [_best_ms(lambda p=p: local_features.verify(*p)) for p in pairs],
        ),
    ]
    print(
        f"Timing: best of {TIMING_REPEAT} per image or pair, median (p95) over {len(copies)} copies, "
        f"{len(originals_rgb)} originals, {len(pairs)} pairs; one OpenCV thread:"
    )
    for label, values in rows:
        print(f"- {label}: {summary(values)}")
    sizes = [len(s.features.to_bytes()) for s in signals + refs]
    print(
        f"- feature blob: median {int(np.median(sizes))} bytes, max {max(sizes)} bytes "
        f"(keypoints per image: median {int(np.median([len(s.features) for s in signals + refs]))})"
    )


def main() -> None:
    started = time.perf_counter()
    cv2.setNumThreads(1)  # a scan runs one worker process per core; time one image on one core
    paths = originals()
    names = [p.name for p in paths]
    originals_rgb = [decode_image(p.read_bytes()).rgb for p in paths]
    refs = [reference_signals(rgb) for rgb in originals_rgb]
    copies = make_copies(paths)
    signals = [copy_signals(c) for c in copies]

    recall = {t: dict.fromkeys(ROUTES, 0) for t in TRANSFORMS}
    false = {t: dict.fromkeys(ROUTES, 0) for t in TRANSFORMS}
    total = dict.fromkeys(TRANSFORMS, 0)
    negatives = dict.fromkeys(TRANSFORMS, 0)
    weakest = dict.fromkeys(TRANSFORMS, 10**9)  # fewest local-feature inliers of a true pair
    strongest = (0, "")  # most local-feature inliers of an unrelated pair
    related_found = related_total = 0
    for copy, sig in zip(copies, signals, strict=True):
        for index, ref in enumerate(refs):
            accepted, inliers = match_pair(sig, ref)
            if index == copy.original:
                total[copy.transform] += 1
                weakest[copy.transform] = min(weakest[copy.transform], inliers)
                for route, ok in accepted.items():
                    recall[copy.transform][route] += ok
            elif frozenset({names[index], names[copy.original]}) in RELATED:
                related_total += 1
                related_found += accepted["matcher"]
            else:
                negatives[copy.transform] += 1
                for route, ok in accepted.items():
                    false[copy.transform][route] += ok
                if inliers > strongest[0]:
                    strongest = (inliers, f"{copy.transform} of {names[copy.original]} vs {names[index]}")

    photos = sum(n.startswith("mate-") for n in names)
    all_negatives = sum(negatives.values())
    print(
        f"{len(paths)} originals ({photos} photographs, {len(paths) - photos} portraits), {len(copies)} copies, "
        f"{all_negatives} non-matching (copy, original) pairs; Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}\n"
    )
    print(
        "| transformation | plain PDQ | dihedral PDQ | multi-crop PDQ | local features | **matcher** "
        "| false matches (matcher) | fewest inliers, true pair |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in TRANSFORMS:
        cells = [_pct(recall[name][r], total[name]) for r in ROUTES]
        print(
            f"| {name} | {' | '.join(cells[:-1])} | **{cells[-1]}** | {false[name]['matcher']}/{negatives[name]} "
            f"| {weakest[name]} |"
        )
    cells = [_pct(sum(recall[t][r] for t in TRANSFORMS), sum(total.values())) for r in ROUTES]
    print(
        f"| **all** | {' | '.join(cells[:-1])} | **{cells[-1]}** "
        f"| {sum(false[t]['matcher'] for t in TRANSFORMS)}/{all_negatives} | |"
    )
    print()
    counts = ", ".join(f"{r} {sum(false[t][r] for t in TRANSFORMS)}" for r in ROUTES)
    print(f"False matches over all {all_negatives} non-matching pairs: {counts}.")
    print(
        f"Local features accept at >= {local_features.MIN_INLIERS} distinct inliers: the strongest unrelated pair "
        f"had {strongest[0]} ({strongest[1]}), the weakest true pair in rows the route finds in full "
        f"{min(v for k, v in weakest.items() if recall[k]['local features'] == total[k])}."
    )
    print(
        "obama_partial_face.jpg is a crop of the photograph obama.jpg comes from, so that pair is left out of the "
        f"negatives: the matcher links {related_found}/{related_total} of their copies across.\n"
    )
    if "--no-timing" not in sys.argv:
        timing(originals_rgb, copies, refs, signals)
    print(f"\nTotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
