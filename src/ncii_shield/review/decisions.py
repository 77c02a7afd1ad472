"""Review decisions: a person confirms or rejects a case's hits, singly or in bulk, with a reason.

A decision never changes the evidence: hits stay as found, and each decision is a new row (the latest
one per item counts) plus an entry in the audit chain. Confirmed hits are what takedown notices and
evidence bundles are built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.errors import NciiError
from ncii_shield.store import audit
from ncii_shield.store.models import Case, Decision, Hit

DECISIONS = ("confirmed", "rejected")


@dataclass(frozen=True)
class Current:
    decision: str
    reason: str
    actor: str
    at: datetime


def current(session: Session, case_id: int) -> dict[int, Current]:
    """The latest decision per item of the case."""
    out: dict[int, Current] = {}
    for d in session.scalars(select(Decision).where(Decision.case_id == case_id).order_by(Decision.id)):
        out[d.item_id] = Current(d.decision, d.reason, d.actor, d.at)
    return out


def latest(session: Session, case_id: int) -> dict[int, str]:
    """The latest decision per item, and only that (no sealed reason to open): what a listing of hits shows."""
    return dict(
        session.execute(
            select(Decision.item_id, Decision.decision)
            .where(Decision.case_id == case_id)
            .order_by(Decision.id)
        ).all()
    )


def decide(
    session: Session,
    case_id: int,
    decision: str,
    reason: str,
    *,
    item_ids: list[int] | None = None,
    kind: str | None = None,
    undecided_only: bool = False,
) -> list[int]:
    """Record ``decision`` for the given items (or every hit of the case, optionally of one kind).

    All or nothing: an item that is not a hit of the case refuses the whole call. Returns the items decided.
    """
    if decision not in DECISIONS:
        raise NciiError(f"unknown decision {decision!r}", hint="use confirmed or rejected")
    if not reason.strip():
        raise NciiError(
            "a decision needs a reason", hint='add --reason "…" (it is kept sealed, for the record)'
        )
    case = session.get(Case, case_id)
    if case is None or case.status == "purged":
        raise NciiError(f"no case {case_id}" if case is None else f"case {case_id} is purged")
    hits: dict[int, set[str]] = {}
    for item_id, hit_kind in session.execute(
        select(Hit.item_id, Hit.kind).where(Hit.case_id == case_id)
    ).all():
        hits.setdefault(item_id, set()).add(hit_kind)
    if item_ids:
        unknown = sorted(set(item_ids) - set(hits))
        if unknown:
            shown = ", ".join(map(str, unknown[:5])) + (" …" if len(unknown) > 5 else "")
            raise NciiError(
                f"not hits of case {case_id}: item {shown}",
                hint=f"see the item ids with: ncii-shield hits {case_id}",
            )
        chosen = list(dict.fromkeys(item_ids))
    else:
        chosen = sorted(i for i, kinds in hits.items() if kind is None or kind in kinds)
    if undecided_only:
        decided = current(session, case_id)
        chosen = [i for i in chosen if i not in decided]
    actor = audit.current_actor(session)
    for item_id in chosen:
        session.add(Decision(case_id=case_id, item_id=item_id, decision=decision, reason=reason, actor=actor))
    if chosen:
        audit.record(session, f"review.{decision}", case_id=case_id, items=chosen, reason=reason)
    session.flush()
    return chosen
