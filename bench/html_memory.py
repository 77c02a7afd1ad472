"""Memory and speed of the HTML export parser on a big chat, against the JSON parser on the same chat.

Usage: .venv/bin/python bench/html_memory.py [--messages 200000] [--repeat 1]

Writes a synthetic one-chat JSON export of N text messages (no media; every 5th message carries a
visible link, every 7th a hidden one; every 20th is sent by the previous message's sender a minute
later, which the HTML draws as a "joined" message without a sender line), converts it with
write_html_export (1,000 messages a page, as the app does) and reads every item of it in a fresh
Python process, so the peak RSS reported (ru_maxrss) is that reader's alone: the HTML source at N and
at N / 10 (memory should not grow with the export), and the JSON source at N as the reference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
SENDERS = [("Kim Harin", "user1001"), ("Lee Minjun", "user1002"), ("Park Seoyeon", "user1003")]
SENDERS += [("Choi Jiho", "user1004"), ("Jung Yuna", "user1005"), ("Alex Morgan", "user1006")]
WORDS = [
    "오늘",
    "수업",
    "끝나고",
    "도서관",
    "갈",
    "사람",
    "meeting",
    "notes",
    "the",
    "bus",
    "was",
    "late",
    "again",
    "저녁",
    "뭐",
    "먹지",
    "homework",
]


def _message(i: int, previous: tuple[int, int]) -> tuple[dict[str, Any], tuple[int, int]]:
    """Message i (ids from 1) and (its time, its sender index) for the next one."""
    if i % 20 == 0:  # same sender a minute after the previous message: drawn joined
        at, sender = previous[0] + 60, previous[1]
    else:
        at, sender = T0 + 1000 * i, (i * 5 + i // 7) % len(SENDERS)
    words = " ".join(WORDS[(i * k) % len(WORDS)] for k in range(1, 4 + i % 9))
    entities: list[dict[str, str]] = [{"type": "plain", "text": f"{words} #{i} "}]
    if i % 5 == 0:
        entities.append({"type": "link", "text": f"https://example.com/notes/{i}"})
    if i % 7 == 0:
        entities += [{"type": "plain", "text": " see "}]
        entities.append({"type": "text_link", "text": "this", "href": f"https://t.me/examplechat/{i}"})
    text: Any = (
        entities[0]["text"]
        if len(entities) == 1
        else [e if e["type"] != "plain" else e["text"] for e in entities]
    )
    name, from_id = SENDERS[sender]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at + 9 * 3600))  # the exporting machine: KST
    msg = {"id": i, "type": "message", "date": stamp, "date_unixtime": str(at), "from": name}
    msg |= {"from_id": from_id, "text": text, "text_entities": entities}
    return msg, (at, sender)


def write_json_export(folder: Path, count: int) -> int:
    """result.json of one chat with `count` messages, written as a stream; returns its size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = (T0, 0)
    with (folder / "result.json").open("w", encoding="utf-8") as out:
        out.write('{\n "name": "Synthetic room",\n "type": "private_supergroup",\n "id": 1987654321,\n')
        out.write(' "messages": [\n')
        for i in range(1, count + 1):
            msg, previous = _message(i, previous)
            out.write(("  " if i == 1 else ",\n  ") + json.dumps(msg, ensure_ascii=False))
        out.write("\n ]\n}\n")
    return (folder / "result.json").stat().st_size


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: now, VmHWM: its peak), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(path: str) -> None:
    """In a fresh process: read every item of the export at `path`, print what it took as JSON."""
    from zoneinfo import ZoneInfo

    from ncii_shield.sources import open_sources

    before = _status_kb("VmRSS")
    start = time.perf_counter()
    items = with_sender = links = 0
    with open_sources(Path(path), assumed_timezone=ZoneInfo("Asia/Seoul")) as opened:
        (source,) = opened.sources
        for item in source.iter_items():
            items += 1
            links += bool(item.links)
            with_sender += item.sender_name is not None
            if item.kind == "invalid":
                raise SystemExit(f"invalid item: {item.extra}")
    seconds = time.perf_counter() - start
    result = {
        "kind": source.kind,
        "items": items,
        "seconds": seconds,
        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "hwm_kb": _status_kb("VmHWM"),
        "rss_before_kb": before,
        "with_sender": with_sender,
        "with_links": links,
    }
    print(json.dumps(result))


def _run_self(*args: str) -> str:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def measure(path: Path) -> dict[str, Any]:
    return json.loads(_run_self("--child", str(path)))


def build(root: Path, count: int) -> dict[str, Any]:
    """Write the JSON export and its HTML (in this process: run it as a child, it loads all of it)."""
    from ncii_shield.demo.html_export import write_html_export

    json_dir, html_dir = root / f"json-{count}", root / f"html-{count}"
    start = time.perf_counter()
    size = write_json_export(json_dir, count)
    made = time.perf_counter() - start
    start = time.perf_counter()
    write_html_export(json_dir, html_dir, messages_per_page=1000)
    converted = time.perf_counter() - start
    pages = sorted(html_dir.glob("messages*.html"))
    joined = sum(p.read_bytes().count(b'class="message default clearfix joined"') for p in pages)
    return {
        "json": str(json_dir),
        "html": str(html_dir),
        "json_mb": size / 2**20,
        "html_mb": sum(p.stat().st_size for p in pages) / 2**20,
        "pages": len(pages),
        "joined": joined,
        "made": made,
        "converted": converted,
    }


def _built(root: Path, count: int) -> tuple[Path, Path]:
    info = json.loads(_run_self("--build", str(root), str(count)))
    print(
        f"{count:,} messages: result.json {info['json_mb']:.1f} MB ({info['made']:.1f} s); HTML "
        f"{info['pages']} pages, {info['html_mb']:.1f} MB ({info['converted']:.1f} s), "
        f"{info['joined']:,} joined messages"
    )
    return Path(info["json"]), Path(info["html"])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return sorted(r[key] for r in runs)[len(runs) // 2]


def _row(label: str, runs: list[dict[str, Any]]) -> dict[str, float]:
    seconds, items = _median(runs, "seconds"), runs[0]["items"]
    rss, hwm = _median(runs, "rss_kb") / 1024, _median(runs, "hwm_kb") / 1024
    before = _median(runs, "rss_before_kb") / 1024
    each = ", ".join(f"{r['seconds']:.2f} s / {r['rss_kb'] / 1024:.1f} MB" for r in runs)
    print(
        f"{label:<16} {items:>9,} {seconds:>8.2f} {items / seconds:>11,.0f} {rss:>9.1f} {hwm:>9.1f} "
        f"{before:>9.1f} {rss - before:>7.1f}" + (f"   (runs: {each})" if len(runs) > 1 else "")
    )
    return {"seconds": seconds, "rss": rss, "items": items, "growth": rss - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="size of the big export")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each reader (median reported)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.build:
        print(json.dumps(build(Path(args.build[0]), int(args.build[1]))))
        return
    big, small = args.messages, max(1, args.messages // 10)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        big_json, big_html = _built(Path(tmp), big)
        _, small_html = _built(Path(tmp), small)
        runs: dict[str, list[dict[str, Any]]] = {"html_big": [], "html_small": [], "json_big": []}
        for _ in range(args.repeat):
            runs["html_big"].append(measure(big_html))
            runs["html_small"].append(measure(small_html))
            runs["json_big"].append(measure(big_json))
    for name, got in runs.items():
        expected = big if name.endswith("big") else small
        if any(r["items"] != expected or r["with_sender"] != expected for r in got):
            raise SystemExit(f"{name}: read {got}, expected {expected} messages, each with a sender")
    if runs["html_big"][0]["with_links"] != runs["json_big"][0]["with_links"]:
        raise SystemExit("the HTML and the JSON disagree on which messages carry links")
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nreaders run in fresh processes (this one peaked at {parent:.1f} MB, below theirs)")
    print(
        f"{'reader':<16} {'messages':>9} {'seconds':>8} {'messages/s':>11} {'peak RSS':>9} {'VmHWM':>9} "
        f"{'imports':>9} {'growth':>7}   (MB)"
    )
    html_big = _row(f"HTML, {big:,}", runs["html_big"])
    html_small = _row(f"HTML, {small:,}", runs["html_small"])
    json_big = _row(f"JSON, {big:,}", runs["json_big"])
    print(
        f"\nHTML peak RSS at {big:,} / at {small:,}: {html_big['rss'] / html_small['rss']:.2f}x "
        f"({html_big['rss'] - html_small['rss']:+.1f} MB for {big // small}x the messages); "
        f"{runs['html_big'][0]['with_links']:,} messages with links in both formats"
    )
    print(
        f"HTML / JSON at {big:,}: time {html_big['seconds'] / json_big['seconds']:.2f}x, "
        f"peak RSS {html_big['rss'] / json_big['rss']:.2f}x"
    )
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
