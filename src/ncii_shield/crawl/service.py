"""`crawl` for a case: the limits and the host lists from the settings, the audit trail, the WARC's place.

Every crawl is recorded in the audit log with its seeds, limits and result, and the WARC's SHA-256, so the
file a scan later reads can be tied to the crawl that wrote it. Ignoring robots.txt is the operator's
decision for one case, with a reason, and is recorded as such before anything is fetched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ncii_shield import __version__
from ncii_shield.cases.service import get_case
from ncii_shield.crawl.crawler import DEFAULT_LIMITS, USER_AGENT, Crawler, CrawlSummary, Limits, Progress
from ncii_shield.errors import Conflict, NciiError
from ncii_shield.store import audit
from ncii_shield.store.db import Store

if TYPE_CHECKING:
    from ncii_shield.scan.results import Progress as ScanProgress

WARC_SUFFIXES = (".warc", ".warc.gz")


def default_output(store: Store, case_id: int) -> Path:
    """<data dir>/crawls/case-N/<UTC time>.warc.gz: one file per crawl, never overwritten."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return store.settings.data_dir / "crawls" / f"case-{case_id}" / f"{stamp}.warc.gz"


def run_crawl(
    store: Store,
    seeds: Sequence[str],
    *,
    case_id: int,
    out: Path | None = None,
    limits: Limits = DEFAULT_LIMITS,
    robots_override: str | None = None,
    progress: Progress | None = None,
    scan: bool = False,
    scan_progress: Callable[[int, int, str], ScanProgress] | None = None,
) -> CrawlSummary:
    """Crawl `seeds` for an open case into a new WARC, and scan it for the case if `scan`.
    `robots_override` is the operator's reason for ignoring robots.txt in this crawl (None: obeyed).

    A hash-only case keeps no image in clear, so its crawl must be scanned at once, and the WARC is
    deleted after the scan (its SHA-256 stays in the audit log)."""
    from ncii_shield.crawl.warc_out import WarcOut
    from ncii_shield.takedown.safe_fetch import HostPolicy, crawl_client

    settings = store.settings
    if not seeds:
        raise NciiError("nothing to crawl", hint="give one or more URLs, or --from-file with one URL a line")
    if robots_override is not None and not robots_override.strip():
        raise NciiError("ignoring robots.txt needs a reason", hint='give it: --ignore-robots "REASON"')
    path = Path(out) if out is not None else default_output(store, case_id)
    if not path.name.endswith(WARC_SUFFIXES):
        raise NciiError(f"{path.name} is not a WARC file name", hint="end it in .warc.gz (or .warc)")
    if path.exists():
        raise Conflict(f"{path} exists already", hint="a crawl never overwrites a WARC: choose a new name")
    limits = Limits(**{**asdict(limits), "obey_robots": robots_override is None})
    with store.session() as session:
        case = get_case(session, case_id)
        if case.status != "open":
            raise NciiError(f"case {case_id} is not open", hint="crawl for an open case")
        hash_only = bool(case.hash_only)
        if hash_only and not scan:
            raise NciiError(
                f"case {case_id} keeps hashes only, and a WARC keeps what it fetched in clear",
                hint="crawl it with --scan: the WARC is scanned, then deleted",
            )
        audit.record(
            session,
            "crawl.started",
            case_id=case_id,
            seeds=list(seeds)[:100],
            warc=path.name,
            limits=asdict(limits),
        )
        if robots_override is not None:
            audit.record(session, "crawl.robots_ignored", case_id=case_id, reason=robots_override.strip())
    policy = HostPolicy.of(settings.crawl_hosts, settings.crawl_deny)
    info = {
        "software": f"ncii-shield/{__version__}",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "http-header-user-agent": USER_AGENT,
        "robots": "obey" if limits.obey_robots else "ignore",
        "description": f"depth {limits.depth}, {'same site' if limits.same_site else 'any site'}, "
        f"{limits.rate:g} requests/s per host, at most {limits.max_bytes:,} bytes a response",
    }
    writer = WarcOut(path, info)
    client = crawl_client(settings.crawl_allow, policy)
    try:
        summary = Crawler(writer, client, limits, policy, progress=progress).run(seeds)
    finally:
        client.close()
        writer.close()
    digest = summary.warc_sha256 = _sha256(path)
    with store.session() as session:
        audit.record(
            session,
            "crawl.finished",
            case_id=case_id,
            warc=path.name,
            warc_sha256=digest,
            responses=summary.responses,
            bytes=summary.bytes,
            refused=len(summary.refused),
            robots_blocked=len(summary.robots_blocked),
            stopped=summary.stopped,
        )
    if scan:
        _scan(store, summary, case_id, hash_only, scan_progress)
    return summary


def _scan(
    store: Store,
    summary: CrawlSummary,
    case_id: int,
    hash_only: bool,
    progress: Callable[[int, int, str], ScanProgress] | None,
) -> None:
    from ncii_shield.scan.service import scan_path

    path = Path(summary.warc)
    done = scan_path(store, path, case_id=case_id, progress=progress)
    summary.scans = [
        {
            "scan_id": r.scan_id,
            "status": r.status,
            "items_new": r.items_new,
            "new_hits": dict(r.new_hits),
            "error": r.error,
        }
        for r in done.results
    ]
    if hash_only:
        path.unlink()
        summary.warc_deleted = True
        with store.session() as session:
            audit.record(
                session, "crawl.warc_deleted", case_id=case_id, warc=path.name, reason="hash-only case"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
