"""The watchlist in the store: adding a case's identifiers (as keyed hashes) and finding messages naming them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.models import Case, Hit, Item, WatchTerm
from ncii_shield.text.watchlist import digest, matched_fields, terms

WATCHLIST_SCOPE = "watchlist"  # the keyring scope whose data key is the HMAC secret


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
    session.flush()
    audit.record(session, "case.watchlist", case_id=case.id, added=dict(added))  # counts only, never values
    return added


def match_text(store, session: Session, case_id: int) -> Counter[str]:  # type: ignore[no-untyped-def]
    """A `text` hit for every message that names the person; the matched fields are the evidence."""
    watch = {
        d: f
        for f, d in session.execute(
            select(WatchTerm.field, WatchTerm.digest).where(WatchTerm.case_id == case_id)
        ).all()
    }
    if not watch:
        return Counter()
    secret = watch_secret(store, session)
    done = set(session.scalars(select(Hit.item_id).where(Hit.case_id == case_id, Hit.kind == "text")))
    new: Counter[str] = Counter()
    for item_id, text in session.execute(select(Item.id, Item.text)):
        if item_id in done or not text:
            continue
        fields = matched_fields(secret, text, watch)
        if fields:
            session.add(
                Hit(case_id=case_id, item_id=item_id, kind="text", details={"fields": sorted(fields)})
            )
            new["text"] += 1
    session.flush()
    return new
