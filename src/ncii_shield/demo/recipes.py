"""The recipes of the demo media: what each file is made from and what a scan should conclude about it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageEnhance, ImageOps

from ncii_shield.demo.imagery import (
    TELEGRAM_JPEG_QUALITY,
    Blob,
    asset,
    asset_blob,
    composite,
    crop_fraction,
    face_sticker,
    fit,
    image_blob,
    mp4_blob,
    sticker,
    swap_onto_head,
    webp_blob,
    zoom_frames,
)

ENROLLED_ASSETS: tuple[str, ...] = ("obama.jpg", "obama2.jpg")


@dataclass(frozen=True)
class Recipe:
    """One distinct media file of the export: its Telegram kind, the expected verdict, how to make it."""

    key: str
    kind: str  # photo | file | sticker | animation | video_file
    label: str
    expect_hit: bool
    route: str | None
    source: str
    note: str
    make: Callable[[], Blob] = field(repr=False)


def _photo(
    key: str,
    label: str,
    route: str | None,
    source: str,
    note: str,
    image: Callable[[], Image.Image],
    quality: int = TELEGRAM_JPEG_QUALITY,
) -> Recipe:
    """A photo message: Telegram serves photos as JPEG, so every photo copy is re-encoded."""
    return Recipe(
        key, "photo", label, route is not None, route, source, note, lambda: image_blob(image(), quality)
    )


def recipes() -> list[Recipe]:
    """Every media file of the demo, with what a scan should conclude about it."""
    a, b = ENROLLED_ASSETS
    r: list[Recipe] = [
        # The person's own files, posted as documents: byte-identical, so a SHA-256 finds them.
        Recipe(
            "exact_a",
            "file",
            "exact",
            True,
            "exact",
            a,
            "the enrolled file, sent as a document",
            lambda: asset_blob(a),
        ),
        Recipe(
            "exact_b",
            "file",
            "exact",
            True,
            "exact",
            b,
            "the enrolled file, sent as a document",
            lambda: asset_blob(b),
        ),
        # Copies that a perceptual hash finds.
        _photo("recompressed_a", "recompressed", "pdq", a, "JPEG q65", lambda: asset(a), 65),
        _photo("recompressed_b", "recompressed", "pdq", b, "JPEG q72", lambda: asset(b), 72),
        _photo("mirrored_a", "mirrored", "pdq", a, "horizontal flip", lambda: ImageOps.mirror(asset(a))),
        _photo("mirrored_b", "mirrored", "pdq", b, "horizontal flip", lambda: ImageOps.mirror(asset(b))),
        # PDQ tolerates very little cropping on these portraits (3 % off one edge already costs 32-46
        # bits), so the PDQ-route crops are small and the larger ones are left to the face route.
        _photo(
            "cropped_a",
            "cropped",
            "pdq",
            a,
            "1.5 % off the right edge",
            lambda: crop_fraction(asset(a), 0, 0, 0.015, 0),
        ),
        _photo(
            "cropped_b",
            "cropped",
            "pdq",
            b,
            "1 % off the top and right edges",
            lambda: crop_fraction(asset(b), 0, 0.01, 0.01, 0),
        ),
        _photo(
            "cropped_a_6pct",
            "cropped",
            "face",
            a,
            "6 % off every edge: beyond PDQ, the face is whole",
            lambda: crop_fraction(asset(a), 0.06, 0.06, 0.06, 0.06),
        ),
        _photo(
            "partial_face",
            "cropped",
            "face",
            "obama_partial_face.jpg",
            "heavy crop of the original of obama.jpg (its left 54 %), half the face cut off",
            lambda: asset("obama_partial_face.jpg"),
        ),
        _photo(
            "brightness_a",
            "brightness",
            "pdq",
            a,
            "brightness +15 %",
            lambda: ImageEnhance.Brightness(asset(a)).enhance(1.15),
        ),
        _photo(
            "brightness_b",
            "brightness",
            "pdq",
            b,
            "brightness -15 %",
            lambda: ImageEnhance.Brightness(asset(b)).enhance(0.85),
        ),
        # Stickers are WebP with alpha; PDQ is measured on the sticker flattened onto white.
        Recipe(
            "sticker_a",
            "sticker",
            "sticker",
            True,
            "pdq",
            a,
            "512 px WebP, rounded corners",
            lambda: webp_blob(sticker(a)),
        ),
        Recipe(
            "sticker_b",
            "sticker",
            "sticker",
            True,
            "pdq",
            b,
            "512 px WebP, rounded corners, 0.5 % off the bottom",
            lambda: webp_blob(sticker(b, (0, 0, 0, 0.005))),
        ),
        Recipe(
            "sticker_face",
            "sticker",
            "sticker",
            True,
            "face",
            a,
            "512x512 WebP, circular cut-out of the face",
            lambda: webp_blob(face_sticker(a)),
        ),
        Recipe(
            "animation_b",
            "animation",
            "animation",
            True,
            "pdq",
            b,
            "10-frame MP4, first frame = photo at 480 px",
            lambda: mp4_blob(zoom_frames(b, 480, 10)),
        ),
        Recipe(
            "video_a",
            "video_file",
            "video",
            True,
            "pdq",
            a,
            "10-frame MP4, first frame = photo at 480 px",
            lambda: mp4_blob(zoom_frames(a, 480, 10)),
        ),
        _photo(
            "group_photo",
            "group_photo",
            "face",
            "obama_and_biden.jpg",
            "two people, one of them the person",
            lambda: asset("obama_and_biden.jpg"),
        ),
    ]
    for name, key in ((a, "a"), (b, "b")):
        for longest in (1280, 640, 320):
            how = "upscaled" if longest > max(asset(name).size) else "downscaled"
            resized = functools.partial(fit, asset(name), longest)
            note = f"{how} to {longest} px, JPEG q87"
            r.append(_photo(f"resized_{key}_{longest}", "resized", "pdq", name, note, resized))
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
                functools.partial(composite, face, base, width, centre),
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
                functools.partial(swap_onto_head, "obama3.jpg", body),
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
                functools.partial(asset, name),
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
                functools.partial(composite, face, base, width, centre),
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
                functools.partial(fit, asset(name), longest),
                quality,
            )
        )
    return r


def _stem(name: str) -> str:
    return name.removeprefix("mate-").removesuffix(".jpg").lower()
