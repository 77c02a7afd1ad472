"""What HMA keeps per banked content besides its hash: a note, the platform's metadata, and a pause.

HMA's clients send these with the content they bank and read them back (OpenMediaMatch's curation API);
web/hma_content.py serves them. Here a banked content is one signal (a ``bank_signals`` row), so each is
kept per row. The rules are HMA's, checked here so every caller gets the same answer:

- a note is at most NOTE_MAX characters;
- metadata has only HMA's keys (content_id, content_uri, json, collab), each of HMA's type;
- disable_until_ts is 1 (enabled), 0 (disabled) or a unix time at most five years ahead, until which
  /m/lookup skips the content (raw lookups and scans do not look at it, as in HMA).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.models import Bank, BankSignal

NOTE_MAX = 255  # characters, as HMA's note column
METADATA_MAX = 16 * 1024  # bytes of JSON: metadata describes content, it is not a place to store it
METADATA_KEYS = ("content_id", "content_uri", "json", "collab")
ENABLED, DISABLED = 1, 0  # HMA's special disable_until_ts values


def check_note(note: object) -> str | None:
    """The note as stored: None or "" clears it; NciiError (a 400) if it is not text or too long."""
    if note is None or note == "":
        return None
    if not isinstance(note, str):
        raise NciiError("note must be a string")
    if len(note) > NOTE_MAX:
        raise NciiError(f"note must be at most {NOTE_MAX} characters, got {len(note)}")
    return note


def check_metadata(metadata: object) -> dict[str, Any] | None:
    """HMA's banked content metadata, validated as HMA does (unknown keys refused): None if absent."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise NciiError("metadata should be a json object")
    unknown = sorted(set(metadata) - set(METADATA_KEYS))
    if unknown:
        raise NciiError(f"Invalid metadata: unknown key '{unknown[0]}' (allowed: {', '.join(METADATA_KEYS)})")
    for key in ("content_id", "content_uri"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            raise NciiError(f"Invalid metadata: {key} must be a string")
    if metadata.get("json") is not None and not isinstance(metadata["json"], dict):
        raise NciiError("Invalid metadata: json must be an object")
    collab = metadata.get("collab")
    if collab is not None and not (
        isinstance(collab, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in collab.values())
    ):
        raise NciiError("Invalid metadata: collab must map exchange names to lists of strings")
    kept = {k: v for k, v in metadata.items() if v is not None}
    if len(json.dumps(kept, ensure_ascii=False).encode()) > METADATA_MAX:
        raise NciiError(f"Invalid metadata: more than {METADATA_MAX} bytes of JSON")
    return kept or None


def five_years_from_now() -> int:
    """HMA's upper bound for disable_until_ts: now plus 5 x 365 days, in local time as HMA counts it."""
    return int(time.mktime((datetime.now() + timedelta(days=365 * 5)).timetuple()))


def check_disable_until(value: object) -> int:
    """A disable_until_ts as HMA accepts it: an integer (or its text), 0 or more, at most five years on."""
    if isinstance(value, bool):
        raise NciiError("disable_until_ts must be an integer")
    try:
        ts = int(value) if isinstance(value, int | str) else int("x")
    except ValueError:
        raise NciiError("disable_until_ts must be an integer") from None
    if ts < 0:
        raise NciiError("disable_until_ts must be a non-negative integer")
    if ts > five_years_from_now():
        raise NciiError("disable_until_ts must be less than 5 years in the future")
    return ts


def is_enabled(disable_until_ts: int, now: float | None = None) -> bool:
    if disable_until_ts == ENABLED:
        return True
    if disable_until_ts == DISABLED:
        return False
    return disable_until_ts <= (time.time() if now is None else now)


def describe(
    row: BankSignal,
    *,
    include_metadata: bool = True,
) -> dict[str, Any]:
    """The note and metadata of a banked content, for HMA's answers: each only when there is one."""
    out: dict[str, Any] = {}
    if include_metadata and row.hma_metadata:
        out["metadata"] = row.hma_metadata
    if row.note:
        out["note"] = row.note
    return out


def annotate(
    session: Session,
    bank: Bank,
    rows: list[BankSignal],
    *,
    note: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Give content just banked (or banked again) its note and metadata; nothing given changes nothing."""
    if note is None and metadata is None:
        return
    for row in rows:
        if note is not None:
            row.note = note
        if metadata is not None:
            row.hma_metadata = metadata
    audit.record(
        session,
        "bank.content_annotated",
        bank=bank.name,
        signal_ids=[r.id for r in rows],
        note=note is not None,
        metadata=metadata is not None,
    )
    session.flush()


def update_content(session: Session, bank: Bank, row: BankSignal, changes: dict[str, Any]) -> BankSignal:
    """HMA's content update: disable_until_ts and/or note (validated); other keys are refused."""
    unknown = sorted(set(changes) - {"disable_until_ts", "note"})
    if unknown:
        raise NciiError(f"cannot update '{unknown[0]}' (only disable_until_ts and note)")
    done: dict[str, object] = {}
    if "disable_until_ts" in changes:
        row.disable_until_ts = done["disable_until_ts"] = check_disable_until(changes["disable_until_ts"])
    if "note" in changes:
        row.note = check_note(changes["note"])
        done["note"] = row.note is not None
    if done:
        audit.record(session, "bank.content_updated", bank=bank.name, signal_id=row.id, **done)
        session.flush()
    return row


def paused(session: Session, ids: list[int], now: float | None = None) -> set[int]:
    """Which of these banked content ids are disabled now (HMA's /m/lookup skips them)."""
    if not ids:
        return set()
    query = select(BankSignal.id, BankSignal.disable_until_ts).where(
        BankSignal.id.in_(ids), BankSignal.disable_until_ts != ENABLED
    )
    return {int(i) for i, ts in session.execute(query) if not is_enabled(int(ts), now)}
