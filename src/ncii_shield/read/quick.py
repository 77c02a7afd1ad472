"""Quick listings for the CLI: the same numbers as read/cases.py, read with sqlite3 instead of the ORM.

`ncii-shield case list` used to spend ~300 ms importing SQLAlchemy, its ORM and the models to run three
small queries. Where store/lite.py can open the store (SQLite at head, a key rather than a passphrase),
these read it directly; otherwise they return None and the caller uses read/cases.py on a full Store.
Each field has the name and meaning of the same field of :class:`~ncii_shield.read.cases.CaseSummary`,
and tests/test_read_quick.py compares the two on the same store, field by field.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from ncii_shield.config import Settings
from ncii_shield.errors import NciiError
from ncii_shield.read.shape import Doc
from ncii_shield.store.lite import LiteStore, open_lite, utc


@dataclass(frozen=True)
class CaseLine:
    """A case in `case list`: the fields of CaseSummary that the list prints, under the same names."""

    id: int
    status: Annotated[str, Doc("open | closed | purged")]
    pseudonym: Annotated[str | None, Doc("how staff call the case (emptied when it is purged)")]
    created_at: Annotated[datetime, Doc("when the case was opened")]
    references: Annotated[int, Doc("enrolled reference rows (per photo: its SHA-256, 8 PDQ hashes, a face)")]
    items: Annotated[int, Doc("messages with at least one hit (= hit_counts.messages)")]


def quick_case_lines(settings: Settings) -> list[CaseLine] | None:
    """Every case by id with its counts, or None when this store needs the full Store to be read."""
    store = open_lite(settings)
    if store is None:
        return None
    try:
        return case_lines(store)
    except (sqlite3.Error, ValueError, NciiError):  # a row it cannot read: the full Store says why
        return None
    finally:
        store.close()


def case_lines(store: LiteStore) -> list[CaseLine]:
    references = dict(store.rows('SELECT case_id, COUNT(*) FROM "references" GROUP BY case_id'))
    messages = dict(store.rows("SELECT case_id, COUNT(DISTINCT item_id) FROM hits GROUP BY case_id"))
    return [
        CaseLine(
            id=case_id,
            status=status,
            pseudonym=store.text(pseudonym, "cases.pseudonym"),
            created_at=utc(created_at),
            references=references.get(case_id, 0),
            items=messages.get(case_id, 0),
        )
        for case_id, status, pseudonym, created_at in store.rows(
            "SELECT id, status, pseudonym, created_at FROM cases ORDER BY id"
        )
    ]
