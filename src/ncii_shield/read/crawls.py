"""A case's web crawls, as the audit log recorded them (`crawl` writes no table of its own: the audit
entries carry the WARC's name and SHA-256, what was fetched, refused and disallowed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.read.shape import Doc
from ncii_shield.store.models import AuditEvent

_ACTIONS = ("crawl.started", "crawl.finished", "crawl.robots_ignored", "crawl.warc_deleted")


@dataclass(frozen=True)
class CrawlRow:
    """One finished crawl of a case."""

    finished_at: datetime
    warc: Annotated[str, Doc("the WARC file's name")]
    warc_sha256: str
    seeds: int
    responses: int
    bytes: int
    refused: Annotated[int, Doc("fetches refused: internal addresses, the host lists")]
    robots_blocked: Annotated[int, Doc("URLs robots.txt disallowed (not fetched)")]
    robots_ignored: Annotated[bool, Doc("robots.txt was overridden for this crawl, with a reason")]
    stopped: Annotated[str | None, Doc("the limit that ended it early, if one did")]
    warc_deleted: Annotated[bool, Doc("a hash-only case's WARC, deleted once scanned")]


def case_crawls(session: Session, case_id: int, limit: int = 20) -> list[CrawlRow]:
    """The case's latest finished crawls, latest first."""
    latest = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.action.in_(_ACTIONS))
        .order_by(AuditEvent.seq.desc())
        .limit(4 * limit + 4)  # at most four entries a crawl: only the latest are read (and unsealed)
    ).all()
    events = list(reversed(latest))
    started: dict[str, dict[str, object]] = {}
    ignored: set[str] = set()
    deleted: set[str] = set()
    last_started = ""
    rows: list[CrawlRow] = []
    for event in events:
        details = dict(event.details or {})
        warc = str(details.get("warc", ""))
        if event.action == "crawl.started":
            started[warc], last_started = details, warc
        elif event.action == "crawl.robots_ignored":
            ignored.add(last_started)  # recorded right after its crawl.started
        elif event.action == "crawl.warc_deleted":
            deleted.add(warc)
        else:
            begun = started.get(warc, {})
            seeds = begun.get("seeds")
            rows.append(
                CrawlRow(
                    finished_at=event.at,
                    warc=warc,
                    warc_sha256=str(details.get("warc_sha256", "")),
                    seeds=len(seeds) if isinstance(seeds, list) else 0,
                    responses=_int(details.get("responses")),
                    bytes=_int(details.get("bytes")),
                    refused=_int(details.get("refused")),
                    robots_blocked=_int(details.get("robots_blocked")),
                    robots_ignored=warc in ignored,
                    stopped=str(details["stopped"]) if details.get("stopped") else None,
                    warc_deleted=False,
                )
            )
    rows = [CrawlRow(**{**row.__dict__, "warc_deleted": row.warc in deleted}) for row in reversed(rows)]
    return rows[:limit]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
