"""/api/v1/cases: the cases a token's user may see, their hits, review decisions, rooms and takedown.

Every route loads its case with ``deps.load_case``: permission first, so another user's case is a 403
whether it exists or not, and a 404 only for admins. Responses are the read layer's dataclasses, checked
against the models derived from them (web/api_models.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field, StringConstraints, model_validator

from ncii_shield.read.cases import CaseDetail, CaseSummary, case_detail, list_cases
from ncii_shield.read.hits import HitRow, list_hits
from ncii_shield.read.rooms import RoomGraph, room_graph
from ncii_shield.read.takedown_clocks import TakedownWithClocks, takedown_with_clocks
from ncii_shield.read.transparency import Transparency, case_transparency, transparency
from ncii_shield.review.decisions import decide
from ncii_shield.web.api_common import ERRORS, ErrorOut, Reader, Writer, api_router, attribute
from ncii_shield.web.api_models import (
    CaseDetailOut,
    CaseSummaryOut,
    HitKind,
    HitOut,
    RoomsOut,
    TakedownOut,
    TransparencyOut,
)
from ncii_shield.web.auth import sees_every_case, visible_cases
from ncii_shield.web.deps import check, get_store, load_case

router = api_router(tags=["cases"])


class DecisionIn(BaseModel):
    item_ids: list[int] | None = Field(None, min_length=1, max_length=100_000)
    all: bool = Field(False, description="every hit of the case (optionally of one kind)")
    kind: HitKind | None = Field(None, description="with all: only hits found by this route")
    undecided_only: bool = Field(False, description="skip items that already have a decision")
    decision: Literal["confirmed", "rejected"]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]

    @model_validator(mode="after")
    def one_selection(self) -> DecisionIn:
        if bool(self.item_ids) == self.all:
            raise ValueError("give either item_ids or all: true")
        if self.kind is not None and not self.all:
            raise ValueError("kind selects hits only together with all: true")
        return self


class DecisionOut(BaseModel):
    case_id: int
    decision: str
    items: list[int] = Field(description="the items decided, in order")


@router.get("/cases", response_model=list[CaseSummaryOut], summary="The cases the caller may see")
def cases(request: Request, who: Reader) -> list[CaseSummary]:
    with get_store(request).session() as s:
        check(s, who, "case.list")
        ids = visible_cases(s, who)
        return list_cases(s, ids) if ids else []


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetailOut,
    responses=ERRORS,
    summary="One case: status, consent, counts",
)
def case(case_id: int, request: Request, who: Reader) -> CaseDetail:
    with get_store(request).session() as s:
        load_case(s, who, "case.view", case_id)
        return case_detail(s, case_id)


@router.get(
    "/cases/{case_id}/hits",
    response_model=list[HitOut],
    responses=ERRORS,
    summary="A case's hits: one row per message, every route that matched it, the latest decision",
)
def case_hits(
    case_id: int,
    request: Request,
    who: Reader,
    kind: Annotated[HitKind | None, Query(description="only messages this route found")] = None,
) -> list[HitRow]:
    with get_store(request).session() as s:
        load_case(s, who, "case.view", case_id)
        return list_hits(s, case_id, kind=kind)


@router.post(
    "/cases/{case_id}/decisions",
    response_model=DecisionOut,
    status_code=201,
    responses={400: {"model": ErrorOut}, **ERRORS},
    summary="Confirm or reject hits, by item or all at once, with a reason (appended, never edited)",
)
def case_decisions(case_id: int, body: DecisionIn, request: Request, who: Writer) -> DecisionOut:
    with get_store(request).session() as s:  # an error rolls back: nothing is written
        load_case(s, who, "hits.review", case_id)
        chosen = decide(
            s,
            case_id,
            body.decision,
            body.reason,
            item_ids=body.item_ids,
            kind=body.kind,
            undecided_only=body.undecided_only,
        )
        if chosen:
            attribute(s, who, "review", case_id=case_id, decision=body.decision, items=chosen)
    return DecisionOut(case_id=case_id, decision=body.decision, items=chosen)


@router.get(
    "/cases/{case_id}/rooms",
    response_model=RoomsOut,
    responses=ERRORS,
    summary="The room graph: chats with the case's hits and the invite/channel links between rooms",
)
def case_rooms(case_id: int, request: Request, who: Reader) -> RoomGraph:
    store = get_store(request)
    with store.session() as s:
        load_case(s, who, "case.view", case_id)
        return room_graph(store, s, case_id)


@router.get(
    "/cases/{case_id}/takedown",
    response_model=TakedownOut,
    responses=ERRORS,
    summary="Notices with their items' status and clocks (due_at, overdue, next_resend_at, escalated_at), "
    "time to removal per platform, re-upload alerts",
)
def case_takedown(case_id: int, request: Request, who: Reader) -> TakedownWithClocks:
    with get_store(request).session() as s:
        load_case(s, who, "case.view", case_id)
        return takedown_with_clocks(s, case_id)


@router.get(
    "/cases/{case_id}/transparency",
    response_model=TransparencyOut,
    responses=ERRORS,
    summary="One case's transparency statistics per platform (definitions: read/transparency.py)",
)
def case_transparency_stats(case_id: int, request: Request, who: Reader) -> Transparency:
    with get_store(request).session() as s:
        load_case(s, who, "case.view", case_id)
        return case_transparency(s, case_id)


@router.get(
    "/transparency",
    response_model=TransparencyOut,
    responses={403: {"model": ErrorOut}},
    summary="Transparency statistics per platform over every case the caller may see: notices sent, "
    "median and 90th-percentile hours to removal, share removed within 48 h, still up, re-upload rate",
)
def transparency_stats(request: Request, who: Reader) -> Transparency:
    with get_store(request).session() as s:
        check(s, who, "case.list")
        return transparency(s, None if sees_every_case(who) else visible_cases(s, who))  # admins: every case
