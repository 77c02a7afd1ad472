"""`crawl`: fetch pages and their images for a case into a WARC, within limits (crawl/), then scan it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ncii_shield.cli.common import JsonFlag, counts, state
from ncii_shield.cli.output import console, print_json

MIB = 1024 * 1024


def _seeds(urls: list[str] | None, from_file: Path | None) -> list[str]:
    from ncii_shield.errors import NciiError

    seeds = list(urls or [])
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise NciiError(f"cannot read {from_file}: {exc}", hint="one URL a line, UTF-8") from None
        seeds += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return seeds


def size(text: str) -> int:
    """Bytes from "20M", "1G", "512K" or a plain number (binary units)."""
    from ncii_shield.errors import NciiError

    raw = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": MIB, "G": 1024 * MIB}.get(raw[-1:], 1)
    try:
        value = float(raw[:-1] if scale > 1 else raw) * scale
    except ValueError:
        value = 0
    if value < 1:
        raise NciiError(f"{text!r} is not a size", hint="e.g. 20M, 1G or 500000")
    return int(value)


def crawl(
    case_id: Annotated[int, typer.Option("--case", help="The case the crawl is for (audited with it).")],
    urls: Annotated[list[str] | None, typer.Argument(help="Pages to start from (http or https).")] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="A file of start URLs, one a line (# comments).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The WARC to write, .warc.gz (default: under the data directory, crawls/case-N/)."),
    ] = None,
    depth: Annotated[int, typer.Option(help="Links to follow from a start page (0: its images only).")] = 1,
    any_site: Annotated[
        bool, typer.Option("--any-site", help="Follow page links to other sites too (images always are).")
    ] = False,
    rate: Annotated[
        float, typer.Option(help="Requests per second to one host (Crawl-delay if longer).")
    ] = 1.0,
    max_bytes: Annotated[str, typer.Option(help="Most kept of one response (20M, 1G…).")] = "20M",
    max_total_bytes: Annotated[str, typer.Option(help="Most fetched in the whole crawl.")] = "1G",
    max_pages: Annotated[int, typer.Option(help="Most pages fetched.")] = 500,
    max_images: Annotated[int, typer.Option(help="Most images fetched.")] = 5000,
    timeout: Annotated[float, typer.Option(help="Seconds for one request (connect, reads, body).")] = 20.0,
    max_minutes: Annotated[float | None, typer.Option(help="Stop the crawl after this long.")] = None,
    ignore_robots: Annotated[
        str | None,
        typer.Option(
            "--ignore-robots",
            metavar="REASON",
            help="Fetch what robots.txt disallows, for this case; the reason is recorded in the audit log.",
        ),
    ] = None,
    then_scan: Annotated[bool, typer.Option("--scan", help="Scan the WARC for the case afterwards.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Fetch pages and the images they show into a WARC: same site and one link deep by default, robots.txt
    obeyed, one request a second per host, responses capped; internal addresses are never reached."""
    from ncii_shield.cli.progress import RichProgress, progress_bar
    from ncii_shield.crawl.crawler import Limits
    from ncii_shield.crawl.service import run_crawl
    from ncii_shield.errors import NciiError

    if min(rate, timeout) <= 0 or depth < 0 or min(max_pages, max_images) < 1:
        raise NciiError("limits must be positive", hint="e.g. --rate 0.5 --max-mb 20 --depth 1")
    limits = Limits(
        depth=depth,
        same_site=not any_site,
        rate=rate,
        max_bytes=size(max_bytes),
        max_total_bytes=size(max_total_bytes),
        max_pages=max_pages,
        max_images=max_images,
        timeout=timeout,
        max_seconds=max_minutes * 60 if max_minutes else None,
    )
    seeds = _seeds(urls, from_file)
    with progress_bar() as bar:
        task = bar.add_task("fetched", total=None)

        def progress(done: int, queued: int, url: str) -> None:
            bar.update(task, completed=done, total=done + queued, description=f"fetched {escape(url[-60:])}")

        summary = run_crawl(
            state.store,
            seeds,
            case_id=case_id,
            out=out,
            limits=limits,
            robots_override=ignore_robots,
            progress=progress,
            scan=then_scan,
            scan_progress=lambda i, n, name: RichProgress(bar, "scan"),
        )
    data: dict[str, object] = summary.to_json()
    if as_json:
        print_json(data)
        return
    console.print(
        f"crawl: {summary.pages} pages, {summary.images} images, {summary.responses} responses, "
        f"{summary.bytes:,} bytes → [bold]{escape(summary.warc)}[/]"
    )
    for what, rows in (("refused", summary.refused), ("failed", summary.errors)):
        for row in rows[:20]:
            console.print(
                f"  {what}: {escape(row['url'])}: {escape(row.get('reason') or row.get('error') or '')}"
            )
    if summary.robots_blocked:
        console.print(f"  {len(summary.robots_blocked)} URLs disallowed by robots.txt were not fetched")
    if summary.truncated:
        console.print(f"  {len(summary.truncated)} responses cut at the size or time cap (WARC-Truncated)")
    if summary.off_site:
        console.print(f"  {summary.off_site} links to other sites not followed (--any-site follows them)")
    if summary.stopped:
        console.print(f"[yellow]stopped early:[/] {escape(summary.stopped)}")
    for scan in data.get("scan", []):  # type: ignore[union-attr]
        console.print(
            f"scan {scan['scan_id']} {scan['status']}: new hits by route: {counts(scan['new_hits'])}"
        )
