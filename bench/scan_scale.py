"""Scan cost at scale: a real full scan of 100, 1,000 and 5,000 distinct photos, cost per photo and peak RSS.

Usage: PYTHONPATH=src .venv/bin/python bench/scan_scale.py [--sizes 100,1000,5000] [--workers 2]
                                                          [--rescan 1000] [--cache DIR]

1. Generates the largest N distinct benign 1280-px photos once (`scan_throughput.generate`: crops, mirrors and
   colour gains of the demo's bundled photos, JPEG q87; the first n of N are the n-photo set), cached in
   `--cache` between runs.
2. For each N, in a fresh process (so CPU and peak RSS are that run's alone): packs the first N as a Telegram
   Desktop JSON export of a whole account (result.json + photos/, 3 chats, one text message after every
   third photo), creates a fresh data directory (SQLite), opens a case enrolled from 3 bundled photos
   (obama.jpg, mate-Storm.jpg, biden.jpg: a sixth of the generated photos are crops of them, so hits are
   written too) and a hash bank (10,000 random PDQ hashes and the SHA-256 of every 50th photo), and runs
   `scan_path` — what `ncii-shield scan CASE PATH --workers 2` runs.
3. Prints per N: wall time, photos/s, CPU ms per photo (this process + the workers), where the scanning
   process's time went (waiting for the workers' analyses, hashing files, the dedup look-ups, storing media
   and signals, other SQL, commits, matching and its parts), SQL statements per photo, peak RSS of the
   scanning process (reset after enrolment) and of each worker, and each cost per photo over N=100's.
4. `--rescan N`: N photos scanned, then a re-export of the same chats (a new folder and result.json: the same
   messages and 10 new ones per chat, the same photos) and the same export again: both must be near-free.
5. `--messages N,...`: the same for text-only exports of N messages over `--chats` chats (no media, so only the
   per-message path is measured: dedup against earlier exports, chat counts, room links), each re-exported
   (the same messages under a new folder and result.json) and scanned again.

Each number is one run on a shared 2-core machine: ratios of the same run matter, not the absolute values.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from scan_probe import measure_scan  # noqa: E402
from scan_throughput import ASSETS, generate  # noqa: E402

ENROLLED = ("obama.jpg", "mate-Storm.jpg", "biden.jpg")
CHATS = (
    ("Scale group", "private_supergroup", 7100000001),
    ("Scale channel", "public_channel", 7100000002),
    ("Scale chat", "private_group", 7100000003),
)
START = datetime(2024, 8, 1, 9, 0, tzinfo=UTC)
BANK_SIZE = 10_000


# ---------------------------------------------------------------- the photos and the export


def cached_photos(cache: Path, n: int) -> list[Path]:
    """The first n generated photos, generating (all of them, deterministically) if the cache has fewer."""
    manifest = cache / "count"
    have = int(manifest.read_text()) if manifest.exists() else 0
    if have < n:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        start = time.perf_counter()
        generate(n, cache)
        manifest.write_text(str(n))
        print(f"generated {n} photos in {time.perf_counter() - start:.0f} s into {cache}", flush=True)
    return [cache / f"photo{i:05d}.jpg" for i in range(n)]


def _place(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def chat_list(count: int) -> list[tuple[str, str, int]]:
    """The 3 chats of the photo runs, or `count` chats for the messages-only run."""
    if count <= len(CHATS):
        return list(CHATS[:count])
    return [(f"Scale room {i}", "private_supergroup", 7300000000 + i) for i in range(count)]


def write_export(
    parent: Path,
    photos: list[Path],
    *,
    day: str = "2024-08-24",
    more: int = 0,
    texts: int = 0,
    chats: int = len(CHATS),
) -> Path:
    """A Telegram Desktop whole-account JSON export: photo messages round-robin over the chats, a text
    after every third photo, `texts` text messages (chat after chat, as an account export lists them),
    then `more` new text messages per chat (what a later re-export adds)."""
    from PIL import Image

    rooms = chat_list(chats)
    export = parent / f"ChatExport_{day}"
    (export / "photos").mkdir(parents=True)
    messages: list[list[dict[str, Any]]] = [[] for _ in rooms]
    clock = START
    ids = [1] * len(rooms)

    def message(chat: int, **fields: Any) -> None:
        nonlocal clock
        clock += timedelta(seconds=37)
        sender = f"user{7200000000 + ids[chat] % 5}"
        messages[chat].append(
            {
                "id": ids[chat],
                "type": "message",
                "date": clock.strftime("%Y-%m-%dT%H:%M:%S"),
                "date_unixtime": str(int(clock.timestamp())),
                "from": f"Member {ids[chat] % 5}",
                "from_id": sender,
                "text": "",
                "text_entities": [],
                **fields,
            }
        )
        ids[chat] += 1

    for i, photo in enumerate(photos):
        chat = i % len(rooms)
        name = f"photos/photo_{i + 1}@{clock.strftime('%d-%m-%Y_%H-%M-%S')}.jpg"
        _place(photo, export / name)
        with Image.open(photo) as img:
            width, height = img.size
        message(chat, photo=name, photo_file_size=photo.stat().st_size, width=width, height=height)
        if i % 3 == 2:
            text = f"message {i}: see t.me/scale_room_{i % 7} later"
            message(chat, text=text, text_entities=[{"type": "plain", "text": text}])
    per_chat = -(-texts // len(rooms)) if texts else 0
    for i in range(texts):
        text = f"message {i} about nothing in particular, t.me/joinchat/scale{i % 97}"
        message(i // per_chat, text=text, text_entities=[{"type": "plain", "text": text}])
    for chat in range(len(rooms)):
        for j in range(more):
            message(chat, text=f"new since the last export {j}", text_entities=[])
    doc = {
        "about": f"Here is the data you requested. (generated by bench/scan_scale.py, exported {day})",
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                {"name": name, "type": kind, "id": chat_id, "messages": msgs}
                for (name, kind, chat_id), msgs in zip(rooms, messages, strict=True)
            ],
        },
    }
    (export / "result.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return export


# ---------------------------------------------------------------- the child process: one data directory


def add_bank(session: Any, photos: list[Path]) -> None:
    """A hash bank, so every scan also matches banks: BANK_SIZE random PDQ hashes (they match nothing) and the
    SHA-256 of every 50th photo (an exact bank hit each)."""
    import hashlib

    import numpy as np

    from ncii_shield.banks.formats import BankEntry, Parsed
    from ncii_shield.banks.service import get_bank, import_entries

    rng = np.random.default_rng(5)
    entries = [BankEntry("pdq", bytes(v)) for v in rng.integers(0, 256, size=(BANK_SIZE, 32), dtype=np.uint8)]
    entries += [BankEntry("sha256", hashlib.sha256(p.read_bytes()).digest()) for p in photos[::50]]
    import_entries(session, get_bank(session, "scale", create=True), Parsed(entries))


def child(args: argparse.Namespace) -> None:
    """One data directory, one case, one scan of N photos (and, with --rescan, the two re-scans)."""
    from ncii_shield.cases.service import enrol, open_case
    from ncii_shield.config import load_settings
    from ncii_shield.store.crypto import KeySource
    from ncii_shield.store.db import Store

    texts = args.child if args.messages_only else 0
    photos = [] if texts else cached_photos(Path(args.cache), args.child)
    shape = {"texts": texts, "chats": args.chats}
    with tempfile.TemporaryDirectory(prefix="ncii-scale-") as tmp:
        root = Path(tmp)
        export = write_export(root / "exports", photos, **shape)
        store = Store(load_settings(root / "data", environ={}), create=KeySource(key=os.urandom(32)))
        with store.session() as session:
            case = open_case(session, "scale", consent_by="bench", consent_method="bench")
            enrol(session, store, case, [ASSETS / name for name in ENROLLED])
            case_id = case.id
            add_bank(session, photos)
        out: dict[str, Any] = {"n": args.child, "first": measure_scan(store, export, case_id, args.workers)}
        if args.again:
            more = 10 if args.chats <= len(CHATS) else 0  # text-only: the same messages, nothing new
            again = write_export(root / "reexport", photos, day="2024-08-31", more=more, **shape)
            out["reexport"] = measure_scan(store, again, case_id, args.workers)
            out["same export again"] = measure_scan(store, export, case_id, args.workers)
        store.close()
    Path(args.out).write_text(json.dumps(out))


# ---------------------------------------------------------------- the parent: one process per N, the tables


def run_child(
    n: int, cache: Path, workers: int, again: bool, *, chats: int = len(CHATS), messages_only: bool = False
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--child", str(n), "--cache", str(cache), "--chats", str(chats)]
        command += ["--workers", str(workers), "--out", out.name] + (["--again"] if again else [])
        command += ["--messages-only"] if messages_only else []
        subprocess.run(
            command, check=True, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        )
        return json.loads(Path(out.name).read_text())  # type: ignore[no-any-return]


PARTS = (
    "waiting for analyses",
    "dedup: sha256 of files",
    "dedup: earlier exports",
    "read new files",
    "store media + signals",
    "chat counting",
    "commits",
    "match: case",
    "match: banks",
    "match: room links",
    "match: chat summaries",
)


def per_photo(run: dict[str, Any], n: int) -> dict[str, float]:
    """Milliseconds per photo of each measured quantity."""
    row = {
        "wall": run["wall"],
        "cpu": run["cpu_main"] + run["cpu_workers"],
        "cpu_main": run["cpu_main"],
        "cpu_workers": run["cpu_workers"],
        "reading (wall)": run["reading_wall"],
        "matching (wall)": run["matching_wall"],
        "matching (CPU)": run["matching_cpu"],
    }
    row.update({part: run["parts"].get(part, 0.0) for part in PARTS})
    row["SQL in reading"] = sum(v for k, v in run["sql_wall"].items() if k.startswith("reading:"))
    row["SQL in matching"] = sum(v for k, v in run["sql_wall"].items() if k.startswith("matching:"))
    return {k: 1000 * v / n for k, v in row.items()}


def _ratio(value: float, base: float, digits: int = 2) -> str:
    return f"{value / base:.{digits}f}x" if base > 1e-9 else "-"


def report(results: list[dict[str, Any]], unit: str) -> None:
    base_n = results[0]["n"]
    base = per_photo(results[0]["first"], base_n)
    print(
        f"\n| N {unit}s | wall | {unit}s/s | CPU ms/{unit} (all) | ratio vs N={base_n} | scanning process CPU "
        f"ms/{unit} | ratio | workers CPU ms/{unit} | ratio | peak RSS scanning process | peak RSS per worker "
        "| hits |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        n, run = res["n"], res["first"]
        row = per_photo(run, n)
        hits = ", ".join(f"{k} {v}" for k, v in run["new_hits"].items())
        hits += "".join(f", bank {v}" for v in run.get("bank_hits", {}).values())
        workers_rss = " / ".join(f"{v:.0f}" for v in run["rss_workers"]) + " MB"
        print(
            f"| {n:,} | {run['wall']:.1f} s | {n / run['wall']:.2f} | {row['cpu']:.0f} | {_ratio(row['cpu'], base['cpu'])} "
            f"| {row['cpu_main']:.1f} | {_ratio(row['cpu_main'], base['cpu_main'])} | {row['cpu_workers']:.0f} "
            f"| {_ratio(row['cpu_workers'], base['cpu_workers'])} | {run['rss_main_peak']:.0f} MB "
            f"| {workers_rss} | {hits} |"
        )
    print(f"\nWhere the scanning process's time went, wall ms per {unit} (ratio vs N={base_n}):\n")
    print("| part | " + " | ".join(f"N={r['n']:,}" for r in results) + " |")
    print("|---|" + "---|" * len(results))
    names = [
        "reading (wall)",
        *PARTS[:7],
        "SQL in reading",
        "matching (wall)",
        "matching (CPU)",
        *PARTS[7:],
        "SQL in matching",
    ]
    for name in names:
        cells = []
        for res in results:
            value = per_photo(res["first"], res["n"])[name]
            ratio = f" ({value / base[name]:.2f}x)" if base[name] > 0.05 and res["n"] != base_n else ""
            cells.append(f"{value:.2f}{ratio}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\nSQL statements per {unit} (executemany rows counted one by one):\n")
    keys = sorted({k for r in results for k in r["first"]["sql"]})
    print("| statement | " + " | ".join(f"N={r['n']:,}" for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for key in keys:
        print(
            f"| {key} | "
            + " | ".join(f"{r['first']['sql'].get(key, 0) / r['n']:.2f}" for r in results)
            + " |"
        )


def report_again(res: dict[str, Any], unit: str = "photo") -> None:
    n, first = res["n"], res["first"]
    print(f"\nThe same {n:,} {unit}s scanned again:\n")
    print(
        f"| scan | items new / repeated | media new | wall | CPU ms/{unit} (all) | vs first | matching wall | hits new |"
    )
    print("|---|---|---|---|---|---|---|---|")
    cost = (first["cpu_main"] + first["cpu_workers"]) / n
    for name in ("first", "reexport", "same export again"):
        run = res[name]
        mine = (run["cpu_main"] + run["cpu_workers"]) / n
        print(
            f"| {name} | {run['items_new']} / {run['items_repeated']} | {run['media_new']} | {run['wall']:.2f} s "
            f"| {1000 * mine:.1f} | {_ratio(mine, cost, 3)} | {run['matching_wall']:.2f} s "
            f"| {sum(run['new_hits'].values())} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,1000,5000", help="photo counts, comma-separated, smallest first"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rescan", type=int, default=1000, help="photos for the scanned-twice run (0: none)")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "ncii-scan-scale-photos"))
    parser.add_argument("--json", help="also write every measurement here")
    parser.add_argument(
        "--messages",
        default="",
        help="also (or, with --sizes '', only) text-only exports of these many messages, comma-separated",
    )
    parser.add_argument("--chats", type=int, default=1000, help="chats of the text-only exports")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--messages-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--again", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(v) for v in args.sizes.split(",") if v]
    cache = Path(args.cache)
    if sizes or args.rescan:
        cached_photos(cache, max([*sizes, args.rescan]))
    results, again = [], None
    for n in sizes:
        start = time.perf_counter()
        results.append(run_child(n, cache, args.workers, again=n == args.rescan))
        run = results[-1]["first"]
        print(
            f"N={n}: {run['wall']:.1f} s wall, {n / run['wall']:.2f} photos/s "
            f"({time.perf_counter() - start:.0f} s with set-up)",
            flush=True,
        )
        if n == args.rescan:
            again = results[-1]
    if args.rescan and again is None:
        again = run_child(args.rescan, cache, args.workers, again=True)
    if results:
        report(results, "photo")
    if again is not None:
        report_again(again)
    texts = []
    for n in [int(v) for v in args.messages.split(",") if v]:
        texts.append(run_child(n, cache, args.workers, again=True, chats=args.chats, messages_only=True))
        print(f"{n} messages: {texts[-1]['first']['wall']:.1f} s wall", flush=True)
    if texts:
        print(f"\nText-only exports, {args.chats} chats (no media: what the per-message path costs)")
        report(texts, "message")
        for res in texts:
            report_again(res, "message")
    if args.json:
        Path(args.json).write_text(json.dumps({"sizes": results, "rescan": again, "texts": texts}, indent=1))
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (2 cores, shared)")


if __name__ == "__main__":
    main()
