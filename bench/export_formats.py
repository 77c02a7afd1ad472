"""The same chats as JSON, HTML, zipped, or an old app's HTML: does a scan find the same hits in each?

Usage: .venv/bin/python bench/export_formats.py [--quick] [--per-page N] [--keep DIR]

Exports: the real public JSON exports in bench/data/telegram-real (copied to a temporary folder as
result.json) and the demo export. Their media binaries are not in the repository, so every media file
a JSON export references and does not hold is written as a benign stand-in at its path: photos are
JPEGs made from the bundled demo assets (every third one, counted in order of first reference, an
altered copy of obama.jpg: resized, recompressed or cropped by 10 %; the others are landscapes or
other portraits), stickers WEBP, animations and videos a one-second MP4, voice and audio a silent
Ogg Opus clip; other files (PDFs...) stay missing and "(File not included…)" placeholders stay as
they are. The demo export holds all its media already.

Variants of each export: the JSON folder; the HTML export written from it (write_html_export, a few
messages per page so that every chat of more than 10 messages has several pages); that HTML zipped
under ChatExport_…/; the JSON folder zipped flat (result.json at the zip's root); the HTML an old app
version writes (dates without a UTC offset). Each variant is scanned (workers=1) into a fresh data
directory with a case that enrolled obama.jpg, and its hits are compared with the JSON variant's as a
set of (chat title, message id, kind). Exit status 1 if any variant differs, fails, reads a message
as invalid, or stores fewer messages than it read.

Then the real HTML exports are scanned as they are (folder and zipped; their media are missing).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image
from sqlalchemy import func, select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.config import load_settings
from ncii_shield.demo.build import build_demo
from ncii_shield.demo.html_export import write_html_export, zip_export
from ncii_shield.errors import NciiError
from ncii_shield.review.hits import list_hits
from ncii_shield.scan.service import scan_path
from ncii_shield.sources.paths import safe_relative_path
from ncii_shield.sources.telegram import ControlEscapeFilter
from ncii_shield.store.crypto import KeySource
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "bench" / "data" / "telegram-real"
ASSETS = ROOT / "src" / "ncii_shield" / "demo" / "assets"
ENROLLED = ASSETS / "obama.jpg"
KEY = bytes(range(32))  # throwaway data directories: a fixed key is fine
OTHER_ASSETS = (  # stand-ins that are not the enrolled person
    "mate-Aqua.jpg",
    "biden.jpg",
    "mate-Dune.jpg",
    "mate-Elephants.jpg",
    "astronaut.jpg",
    "mate-GreenMeadow.jpg",
    "mate-LadyBird.jpg",
    "biden2.jpg",
    "mate-Storm.jpg",
)
VARIANTS = ("json", "html", "html.zip", "json.zip", "html-old")
QUICK = ("tg2md-test-channel", "innerdvations-saved-messages")
Hit = tuple[str | None, int | None, str]


# --------------------------------------------------------------------------------------------------
# Benign stand-ins for the media the real exports reference.


def _asset(name: str) -> Image.Image:
    with Image.open(ASSETS / name) as im:
        return im.convert("RGB")


def _fit(im: Image.Image, longest: int) -> Image.Image:
    scale = longest / max(im.size)
    return im.resize((max(2, round(im.width * scale)) // 2 * 2, max(2, round(im.height * scale)) // 2 * 2))


def _jpeg(im: Image.Image, quality: int = 87) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _altered_obama(n: int) -> tuple[bytes, str]:
    """The n-th altered copy of the enrolled photo: resized, recompressed, or 10 % of its area cut away."""
    im = _asset("obama.jpg")
    how = n % 3
    if how == 0:
        return _jpeg(_fit(im, 640), 85), "obama.jpg resized to 640 px"
    if how == 1:
        return _jpeg(im, 55), "obama.jpg recompressed q55"
    w, h = im.size  # keep 90 % of the area: trim the right and bottom edges by ~5 % each
    return _jpeg(im.crop((0, 0, round(w * 0.949), round(h * 0.949)))), "obama.jpg cropped 10 %"


def _mp4(name: str) -> bytes:
    """One second (10 frames) of a slow zoom into an asset, H.264."""
    src = _fit(_asset(name), 320)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=10)
        stream.width, stream.height = src.size
        stream.pix_fmt = "yuv420p"
        for i in range(10):
            d = 2 * i
            frame = src.crop((d, d, src.width - d, src.height - d)).resize(src.size)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def _ogg() -> bytes:
    """One second of silence, Opus in Ogg (what Telegram's voice messages are)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        for start in range(0, 48000, 960):
            samples = np.zeros((1, 960), dtype=np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def _messages(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every message of a single-chat or full-account JSON export."""
    chats = [doc] if "messages" in doc else []
    for key in ("chats", "left_chats"):
        chats += [c for c in (doc.get(key) or {}).get("list") or [] if isinstance(c, dict)]
    for chat in chats:
        yield from (m for m in chat.get("messages") or [] if isinstance(m, dict))


def _chat_sizes(doc: dict[str, Any]) -> list[int]:
    chats = [doc] if "messages" in doc else []
    for key in ("chats", "left_chats"):
        chats += [c for c in (doc.get(key) or {}).get("list") or [] if isinstance(c, dict)]
    return [len(chat.get("messages") or []) for chat in chats]


def _load(json_dir: Path) -> dict[str, Any]:
    with (json_dir / "result.json").open("rb") as handle:
        return json.loads(ControlEscapeFilter(handle).read())


def add_stand_ins(json_dir: Path) -> list[str]:
    """Write a benign file at every media path the export references and lacks; one line per file."""
    written: list[str] = []
    photos = others = 0
    for msg in _messages(_load(json_dir)):
        refs = [("photo", msg.get("photo")), (str(msg.get("media_type") or "file"), msg.get("file"))]
        refs.append(("thumbnail", msg.get("thumbnail")))
        for kind, raw in refs:
            if not isinstance(raw, str) or (raw.startswith("(") and raw.endswith(")")):
                continue  # absent, or a "(File not included…)" placeholder: left as it is
            rel = safe_relative_path(raw)
            if rel is None or (json_dir / rel).exists():
                continue
            suffix = Path(rel).suffix.lower()
            other = OTHER_ASSETS[others % len(OTHER_ASSETS)]
            if kind == "photo":
                if photos % 3 == 0:
                    data, what = _altered_obama(photos // 3)
                else:
                    data, what = _jpeg(_fit(_asset(other), 1280)), f"{other} (not the person)"
                    others += 1
                photos += 1
            elif suffix in (".jpg", ".jpeg"):
                data, what = _jpeg(_fit(_asset(other), 320)), f"{other} thumbnail"
                others += 1
            elif suffix == ".webp":
                buf = io.BytesIO()
                _fit(_asset(other), 512).save(buf, "WEBP", quality=80)
                data, what = buf.getvalue(), f"{other} as a WEBP sticker"
                others += 1
            elif suffix == ".mp4":
                data, what = _mp4(other), f"{other} as a 1 s MP4"
                others += 1
            elif suffix == ".ogg":
                data, what = _ogg(), "1 s of silence, Ogg Opus"
            else:
                written.append(f"{rel}: left missing ({kind})")
                continue
            (json_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (json_dir / rel).write_bytes(data)
            written.append(f"{rel}: {what}")
    return written


# --------------------------------------------------------------------------------------------------
# Scanning one variant into a fresh data directory.


@dataclass
class Outcome:
    messages: int = 0
    stored: int = 0
    skipped: int = 0
    exports: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    skip_reasons: Counter[str] = field(default_factory=Counter)
    hits: set[Hit] = field(default_factory=set)


def scan_variant(path: Path, data_dir: Path, *, enrolled: bool = True) -> Outcome:
    out = Outcome()
    store = Store(load_settings(data_dir), create=KeySource(key=KEY))
    try:
        case_id = None
        if enrolled:
            with store.session() as session:
                case = open_case(session, "bench", consent_by="bench", consent_method="bench")
                enrol(session, store, case, [ENROLLED])
                case_id = case.id
        start = time.perf_counter()
        try:
            scanned = scan_path(store, path, case_id=case_id, workers=1, timezone="Asia/Seoul")
        except NciiError as exc:
            out.seconds = time.perf_counter() - start
            out.errors.append(f"refused: {exc}")
            return out
        out.seconds = time.perf_counter() - start
        out.exports = len(scanned.results)
        for result in scanned.results:
            out.messages += result.items_seen
            out.stored += result.items_new
            out.skipped += result.items_skipped
            out.skip_reasons.update(result.skip_reasons)
            if result.error or result.status != "done":
                out.errors.append(f"{result.status}: {result.error}")
        with store.session() as session:
            invalid = session.scalar(select(func.count()).select_from(Item).where(Item.kind == "invalid"))
            if invalid:
                reasons = session.scalars(select(Item.extra).where(Item.kind == "invalid")).all()
                out.errors += [f"invalid item: {(r or {}).get('error')}" for r in reasons]
            if case_id is not None:
                for row in list_hits(session, case_id):
                    out.hits |= {(row.chat, row.message_id, kind) for kind in row.kinds}
    finally:
        store.close()
    return out


def make_variants(json_dir: Path, work: Path, per_page: int) -> dict[str, Path]:
    html = write_html_export(json_dir, work / "html", messages_per_page=per_page)
    old = write_html_export(json_dir, work / "html-old", messages_per_page=per_page, with_offset=False)
    return {
        "json": json_dir,
        "html": html,
        "html.zip": zip_export(html, work / "zips" / "html.zip"),  # under ChatExport_2024-08-24/
        "json.zip": zip_export(json_dir, work / "zips" / "json.zip", top=None),  # result.json at the root
        "html-old": old,
    }


def _pages(html_dir: Path) -> int:
    return sum(1 for _ in html_dir.rglob("messages*.html"))


def _untitled(hits: set[Hit]) -> set[tuple[int | None, str]]:
    return {(message_id, kind) for _, message_id, kind in hits}


def _hits_line(hits: set[Hit]) -> str:
    kinds = Counter(kind for _, _, kind in hits)
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"


def run_export(name: str, json_dir: Path, work: Path, per_page: int, totals: dict[str, float]) -> bool:
    doc = _load(json_dir)
    sizes = _chat_sizes(doc)
    variants = make_variants(json_dir, work, per_page)
    print(
        f"\n## {name}: {len(sizes)} chat(s), {sum(sizes)} messages; HTML: {_pages(variants['html'])} page(s) "
        f"of ≤ {per_page}"
    )
    outcomes = {v: scan_variant(p, work / f"data-{v.replace('.', '-')}") for v, p in variants.items()}
    reference = outcomes["json"]
    ok = True
    print(
        f"{'variant':<10} {'read':>5} {'stored':>6} {'skipped':>7} {'errors':>6} {'hits':>5} "
        f"{'same as JSON':>12} {'scan':>7}"
    )
    for variant, out in outcomes.items():
        same = "yes" if out.hits == reference.hits else "NO"
        if same == "NO" and _untitled(out.hits) == _untitled(reference.hits):
            same = "NO (title)"  # the same messages and kinds, under another chat title
        ok = ok and same == "yes" and not out.errors and out.exports == 1 and out.stored == out.messages
        totals[variant] = totals.get(variant, 0.0) + out.seconds
        print(
            f"{variant:<10} {out.messages:>5} {out.stored:>6} {out.skipped:>7} {len(out.errors):>6} "
            f"{len(out.hits):>5} {same:>12} {out.seconds:>6.2f}s"
        )
        if out.messages != reference.messages:
            print(f"  note: {out.messages} messages read, the JSON {reference.messages}")
        if out.stored != out.messages:
            print(
                f"  dropped: {out.messages - out.stored} message(s) read but not stored, with no skip reason"
            )
        for error in out.errors:
            print(f"  error: {error}")
        if out.exports != 1:
            print(f"  error: {out.exports} exports found, expected 1")
        if not same:
            for hit in sorted(reference.hits - out.hits, key=str):
                print(f"  only in json: {hit}")
            for hit in sorted(out.hits - reference.hits, key=str):
                print(f"  only in {variant}: {hit}")
    reasons = ", ".join(f"{n} {r}" for r, n in reference.skip_reasons.items()) or "none"
    print(f"hits (json): {_hits_line(reference.hits)}; skipped (json): {reasons}")
    return ok


def real_json_exports() -> list[tuple[str, Path]]:
    return sorted((p.parent.name, p) for p in REAL.glob("*/*.json"))


def real_html_exports() -> list[tuple[str, Path]]:
    return sorted(
        (d.name, d)
        for d in REAL.iterdir()
        if d.is_dir() and not any(d.glob("*.json")) and any(d.glob("*.html"))
    )


def scan_real_html(work: Path) -> bool:
    print("\n## Real HTML exports as they are (media binaries missing)")
    print(f"{'export':<30} {'variant':<8} {'messages':>8} {'skipped':>7} {'errors':>6} {'scan':>7}")
    ok = True
    for name, folder in real_html_exports():
        copy = shutil.copytree(folder, work / name / "ChatExport")
        paths = {"folder": copy, "zip": zip_export(copy, work / name / "export.zip")}
        skeleton = not any(folder.rglob("messages*.html"))  # navigation pages only: nothing to read
        for variant, path in paths.items():
            out = scan_variant(path, work / name / f"data-{variant}", enrolled=False)
            print(
                f"{name:<30} {variant:<8} {out.messages:>8} {out.skipped:>7} {len(out.errors):>6} "
                f"{out.seconds:>6.2f}s"
            )
            for error in out.errors:
                print(f"  {'expected, no chat pages: ' if skeleton else 'error: '}{error}")
            if out.skip_reasons:
                print("  skipped: " + ", ".join(f"{n} {r}" for r, n in out.skip_reasons.items()))
            refused_cleanly = skeleton and len(out.errors) == 1 and out.errors[0].startswith("refused:")
            ok = ok and (refused_cleanly if skeleton else not out.errors and out.exports == 1)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"only {' and '.join(QUICK)}")
    parser.add_argument("--per-page", type=int, default=7, help="messages per HTML page (default 7)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp dir)")
    args = parser.parse_args()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        exports: list[tuple[str, Path]] = []
        for name, source in real_json_exports():
            if args.quick and name not in QUICK:
                continue
            json_dir = work / name / "json"
            json_dir.mkdir(parents=True)
            shutil.copyfile(source, json_dir / "result.json")  # saved.json, public_channel.json too
            stand_ins = add_stand_ins(json_dir)
            print(f"{name} ({source.name}): {len(stand_ins)} stand-in(s)")
            for line in stand_ins:
                print(f"  {line}")
            exports.append((name, json_dir))
        if not args.quick:
            truth = build_demo(work / "demo-build")
            json_dir = shutil.copytree(truth.export_dir, work / "demo" / "json")
            print(f"demo: {len(truth.media)} media of its own, {len(add_stand_ins(json_dir))} stand-ins")
            exports.append(("demo", json_dir))

        totals: dict[str, float] = {}
        ok = all([run_export(name, d, d.parent, args.per_page, totals) for name, d in exports])
        print("\n## Scan wall time per variant, all exports above")
        for variant in VARIANTS:
            print(f"{variant:<10} {totals.get(variant, 0.0):7.2f}s")
        html_ok = scan_real_html(work / "real-html")
    print(f"\ntotal {time.perf_counter() - began:.0f}s")
    if not (ok and html_ok):
        print("FAILED: a variant differs from its JSON, or a scan reported an error")
        sys.exit(1)
    print("every variant gave the JSON's hits; no errors")


if __name__ == "__main__":
    main()
