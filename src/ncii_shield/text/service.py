"""The watchlist in the store: adding a case's identifiers (as keyed hashes) and finding messages naming them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.models import Case, Hit, Item, Progress, WatchTerm
from ncii_shield.text.cues import assess, fired_cues
from ncii_shield.text.redact import personal_spans
from ncii_shield.text.watchlist import digest, matched_fields, matched_spans, terms

WATCHLIST_SCOPE = "watchlist"  # the keyring scope whose data key is the HMAC secret
_BATCH = 2000


def watch_secret(store, session: Session) -> bytes:  # type: ignore[no-untyped-def]
    return store.keyring.key(session, WATCHLIST_SCOPE)


def add_terms(store, session: Session, case: Case, values: Iterable[tuple[str, str]]) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Store each identifier as HMAC only. Returns how many new terms per field."""
    if case.status != "open":
        raise NciiError(f"case {case.id} is {case.status}", hint="add identifiers to an open case")
    try:
        usable = terms(values)
    except ValueError as exc:
        raise NciiError(
            str(exc), hint="give the identifier as the person writes it, e.g. --name 김하린"
        ) from exc
    secret = watch_secret(store, session)
    existing = set(
        session.execute(select(WatchTerm.field, WatchTerm.digest).where(WatchTerm.case_id == case.id)).all()
    )
    added: Counter[str] = Counter()
    for field, key in usable:
        row = (field, digest(secret, field, key))
        if row not in existing:
            existing.add(row)
            session.add(WatchTerm(case_id=case.id, field=field, digest=row[1]))
            added[field] += 1
    if added:
        reset_progress(session, case.id)
    session.flush()
    audit.record(session, "case.watchlist", case_id=case.id, added=dict(added))  # counts only, never values
    return added


def match_text(store, session: Session, case_id: int) -> Counter[str]:  # type: ignore[no-untyped-def]
    """A `text` hit for every new message that names the person; the matched fields are the evidence.

    Only messages added since the last run are read (``progress`` row ``text:<case>``); adding watch
    terms resets it. Each hit keeps the classifier's score, label and cues, and the offsets a view
    needs to show the message around its cues with the identifiers masked: offsets only, never text.
    """
    watch = {
        d: f
        for f, d in session.execute(
            select(WatchTerm.field, WatchTerm.digest).where(WatchTerm.case_id == case_id)
        ).all()
    }
    if not watch:
        return Counter()
    secret = watch_secret(store, session)
    name = f"text:{case_id}"
    progress = session.get(Progress, name) or Progress(name=name, upto_item_id=0)
    session.add(progress)
    done = set(session.scalars(select(Hit.item_id).where(Hit.case_id == case_id, Hit.kind == "text")))
    new: Counter[str] = Counter()
    while True:
        rows = session.execute(
            select(Item.id, Item.text).where(Item.id > progress.upto_item_id).order_by(Item.id).limit(_BATCH)
        ).all()
        if not rows:
            break
        for item_id, text in rows:
            if item_id in done or not text:
                continue
            fields = matched_fields(secret, text, watch)
            if fields:
                session.add(
                    Hit(
                        case_id=case_id,
                        item_id=item_id,
                        kind="text",
                        details=_details(secret, text, watch, fields),
                    )
                )
                new["text"] += 1
        progress.upto_item_id = rows[-1][0]
        session.flush()
    return new


def _details(secret: bytes, text: str, watch: dict[bytes, str], fields: set[str]) -> dict[str, object]:
    result = assess(text)
    anchors = sorted({m.span() for cue in fired_cues(text) for m in cue.pattern.finditer(text)})
    named = matched_spans(secret, text, watch)
    masks = sorted(set(named) | set(personal_spans(text)))
    return {
        "fields": sorted(fields),
        "score": result.score,
        "label": result.label,
        # Rule cue names only: they are fixed strings. The model's reasons quote the message's own words
        # and must never reach this unsealed column.
        "cues": [c for c in result.cues if not c.startswith("model:")],
        "anchors": [list(a) for a in anchors] or [[s, e] for s, e, _ in named],
        "masks": [list(m) for m in masks],
    }


def reset_progress(session: Session, case_id: int) -> None:
    """Messages must be read again for this case (its watch terms changed)."""
    row = session.get(Progress, f"text:{case_id}")
    if row is not None:
        row.upto_item_id = 0
