"""Cases as the screens show them: the list with counts, one case in detail.

Every count of hits here is a :class:`~ncii_shield.read.hits.HitCounts` (messages, routes, strongest)
and every count of review decisions a :class:`DecisionCounts` over the same messages, so the case list,
the dashboard, the API and the CLI cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import NotFound
from ncii_shield.read.hits import HitCounts, count_hits
from ncii_shield.read.shape import Doc
from ncii_shield.store.models import Alert, Case, Decision, Hit, Notice, Reference, WatchTerm

NO_CASE_HINT = "list cases with `ncii-shield case list`"


@dataclass(frozen=True)
class CaseRef:
    """A case by what names it on a screen; what a route needs once permission and existence are checked."""

    id: int
    status: Annotated[str, Doc("open | closed | purged")]
    pseudonym: Annotated[str | None, Doc("how staff call the case (emptied when it is purged)")]
    minor: Annotated[bool, Doc("the person is a minor")]
    hash_only: Annotated[bool, Doc("keep no media of this case's hits")]
    created_at: Annotated[datetime, Doc("when the case was opened")]
    closed_at: Annotated[datetime | None, Doc("when the case was closed")]


@dataclass(frozen=True)
class DecisionCounts:
    """The latest review decision of each message with a hit (the three add up to ``messages``)."""

    confirmed: int
    rejected: int
    undecided: int


@dataclass(frozen=True)
class CaseSummary(CaseRef):
    """A case in the case list. ``items`` and ``hits`` are the API's first names for
    ``hit_counts.messages`` and ``hit_counts.routes``; they stay so that no client breaks."""

    items: Annotated[int, Doc("messages with at least one hit (= hit_counts.messages)")]
    hits: Annotated[
        dict[str, int],
        Doc("hits per route that found them; a message found two ways counts in both (= hit_counts.routes)"),
    ]
    references: Annotated[int, Doc("enrolled reference rows (per photo: its SHA-256, 8 PDQ hashes, a face)")]
    hit_counts: Annotated[HitCounts, Doc("messages, routes and strongest route: see HitCounts")]
    decisions: Annotated[DecisionCounts, Doc("the latest review decision of each message with a hit")]


@dataclass(frozen=True)
class ReferenceGroup:
    """Reference rows of one enrolled photo and kind (labels are sealed: counted after unsealing)."""

    photo: str | None
    kind: str
    count: int


@dataclass(frozen=True)
class CaseDetail(CaseSummary):
    """One case: its summary, consent record, what was enrolled, and its takedown in numbers."""

    purged_at: Annotated[datetime | None, Doc("when the case was purged")]
    consent_by: Annotated[str | None, Doc("who gave consent")]
    consent_at: Annotated[datetime | None, Doc("when consent was given")]
    consent_method: Annotated[str | None, Doc("how consent was given")]
    consent_note: Annotated[str | None, Doc("a note on the consent")]
    photos: Annotated[int, Doc("enrolled reference photos")]
    enrolled: Annotated[tuple[ReferenceGroup, ...], Doc("reference rows per enrolled photo and kind")]
    watch_terms: Annotated[int, Doc("identifiers on the watchlist (stored as HMACs)")]
    notices: Annotated[int, Doc("takedown notices drafted")]
    unseen_alerts: Annotated[int, Doc("re-upload alerts no one has seen yet")]


def find_case(session: Session, case_id: int) -> CaseRef | None:
    """The case, or None: for a caller that has already checked who may ask (web/deps.py)."""
    case = session.get(Case, case_id)
    return _ref(case) if case is not None else None


def get_case_ref(session: Session, case_id: int) -> CaseRef:
    """The case, or :class:`NotFound`."""
    found = find_case(session, case_id)
    if found is None:
        raise NotFound(f"no case {case_id}", hint=NO_CASE_HINT)
    return found


def hit_counts(session: Session, case_ids: Sequence[int]) -> dict[int, HitCounts]:
    """Per case: messages, routes and strongest route of its hits (every id given gets an entry)."""
    pairs: dict[int, list[tuple[int, str]]] = {i: [] for i in case_ids}
    for case_id, item_id, kind in session.execute(
        select(Hit.case_id, Hit.item_id, Hit.kind).where(Hit.case_id.in_(list(case_ids)))
    ):
        pairs[case_id].append((item_id, kind))
    return {i: count_hits(p) for i, p in pairs.items()}


def decision_counts(session: Session, case_ids: Sequence[int]) -> dict[int, DecisionCounts]:
    """Per case: the latest decision of each message with a hit, counted (undecided: no decision yet)."""
    hit_items: dict[int, set[int]] = {i: set() for i in case_ids}
    for case_id, item_id in session.execute(
        select(Hit.case_id, Hit.item_id).where(Hit.case_id.in_(list(case_ids))).distinct()
    ):
        hit_items[case_id].add(item_id)
    latest: dict[int, dict[int, str]] = {i: {} for i in case_ids}
    for case_id, item_id, decision in session.execute(
        select(Decision.case_id, Decision.item_id, Decision.decision)
        .where(Decision.case_id.in_(list(case_ids)))
        .order_by(Decision.id)
    ):
        latest[case_id][item_id] = decision
    out = {}
    for case_id, items in hit_items.items():
        counted = Counter(latest[case_id].get(i) for i in items)
        out[case_id] = DecisionCounts(counted["confirmed"], counted["rejected"], counted[None])
    return out


def list_cases(session: Session, case_ids: Sequence[int] | None = None) -> list[CaseSummary]:
    """The cases (those of ``case_ids``, or all), by id, each with its counts."""
    query = select(Case).order_by(Case.id)
    if case_ids is not None:
        query = query.where(Case.id.in_(list(case_ids)))
    cases = list(session.scalars(query))
    ids = [c.id for c in cases]
    if not ids:
        return []
    counts, decisions = hit_counts(session, ids), decision_counts(session, ids)
    references = dict(
        session.execute(  # type: ignore[arg-type]
            select(Reference.case_id, func.count())
            .where(Reference.case_id.in_(ids))
            .group_by(Reference.case_id)
        ).all()
    )
    return [_summary(c, counts[c.id], decisions[c.id], references.get(c.id, 0)) for c in cases]


def case_summary(session: Session, case_id: int) -> CaseSummary:
    """One case with its counts, or :class:`NotFound`."""
    found = list_cases(session, [case_id])
    if not found:
        raise NotFound(f"no case {case_id}", hint=NO_CASE_HINT)
    return found[0]


def case_detail(session: Session, case_id: int) -> CaseDetail:
    """One case in full, or :class:`NotFound`."""
    summary = case_summary(session, case_id)
    case = session.get(Case, case_id)
    assert case is not None
    enrolled: Counter[tuple[str | None, str]] = Counter()  # labels are sealed: counted here, not in SQL
    for label, kind in session.execute(
        select(Reference.photo_label, Reference.kind).where(Reference.case_id == case_id)
    ):
        enrolled[(label, kind)] += 1
    return CaseDetail(
        **summary.__dict__,
        purged_at=case.purged_at,
        consent_by=case.consent_by,
        consent_at=case.consent_at,
        consent_method=case.consent_method,
        consent_note=case.consent_note,
        photos=photo_count(session, case_id),
        enrolled=tuple(ReferenceGroup(p, k, n) for (p, k), n in enrolled.items()),
        watch_terms=_count(session, WatchTerm, WatchTerm.case_id == case_id),
        notices=_count(session, Notice, Notice.case_id == case_id),
        unseen_alerts=_count(session, Alert, Alert.case_id == case_id, Alert.seen.is_(False)),
    )


def photo_count(session: Session, case_id: int) -> int:
    """Enrolled photos of a case (reference rows grouped by the photo they came from)."""
    found = session.scalar(
        select(func.count(func.distinct(Reference.photo_sha256))).where(Reference.case_id == case_id)
    )
    return int(found or 0)


def _ref(case: Case) -> CaseRef:
    return CaseRef(
        id=case.id,
        status=case.status,
        pseudonym=case.pseudonym,
        minor=case.minor,
        hash_only=case.hash_only,
        created_at=case.created_at,
        closed_at=case.closed_at,
    )


def _summary(case: Case, counts: HitCounts, decisions: DecisionCounts, references: int) -> CaseSummary:
    return CaseSummary(
        **_ref(case).__dict__,
        items=counts.messages,
        hits=counts.routes,
        references=references,
        hit_counts=counts,
        decisions=decisions,
    )


def _count(session: Session, model: type[object], *where: object) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]
