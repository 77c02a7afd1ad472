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
import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ncii_shield.demo.chats import CHANNEL_LINK, CHATS, INVITE_LINK, PLACEHOLDER, VAULT_LINK, C, L, S
from ncii_shield.demo.imagery import ASSETS, FACE_BOXES
from ncii_shield.demo.messages import plan_chats, render
from ncii_shield.demo.recipes import ENROLLED_ASSETS
from ncii_shield.demo.recipes import recipes as all_recipes
from ncii_shield.errors import Conflict

__all__ = [
    "ASSETS",
    "DEMO_NAME",
    "ENROLLED_ASSETS",
    "FACE_BOXES",
    "LABELS",
    "PLACEHOLDER",
    "PSEUDONYM",
    "ROUTES",
    "DemoGroundTruth",
    "ExpectedMedia",
    "build_demo",
    "main",
    "read_ground_truth",
]

PSEUDONYM = "서윤 (demo)"
DEMO_NAME = "서윤"  # the fictional person's given name, as the rooms write it
GENERATOR = "ncii-shield demo"  # marks a folder as ours, so a rebuild may replace it

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


def _flat_text(text: str | list[Any]) -> str:
    return text if isinstance(text, str) else "".join(p if isinstance(p, str) else p["text"] for p in text)


def _norm(link: str) -> str:
    """The room graph's normalised form of a link: t.me/+CODE or t.me/name."""
    return link.removeprefix("https://").removeprefix("http://")


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
                raise Conflict(
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

    recipes = {r.key: r for r in all_recipes()}
    blobs = {key: recipes[key].make() for key in sorted(recipes)}
    messages, paths, placeholders, dox_ids = plan_chats(recipes, blobs, seed)

    export_dir.mkdir(parents=True)
    for key in sorted(paths):
        target = export_dir / paths[key]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blobs[key].data)
    (export_dir / "result.json").write_text(render(messages), encoding="utf-8", newline="\n")

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
        chats=tuple(c.name for c in CHATS),
        named_messages=tuple(
            (CHATS[i].name, m["id"])
            for i, msgs in enumerate(messages)
            for m in msgs
            if DEMO_NAME in _flat_text(m.get("text", ""))
        ),
        solicitation=(CHATS[S].name, dox_ids["dox_0"]),
        room_aliases=((str(CHATS[S].id), INVITE_LINK), (str(CHATS[L].id), CHANNEL_LINK)),
        room_links=(
            (CHATS[L].name, _norm(INVITE_LINK), CHATS[S].name),
            (CHATS[S].name, _norm(VAULT_LINK), None),
            (CHATS[L].name, _norm(VAULT_LINK), None),
            (CHATS[C].name, _norm(CHANNEL_LINK), CHATS[L].name),
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
