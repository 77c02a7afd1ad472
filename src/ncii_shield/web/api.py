"""/api/v1: the cases a token's user may see, their hits, review decisions, rooms and takedown, as JSON.

Every route needs a bearer token with a scope (``cases:read`` to read, ``cases:write`` to decide) and
then the same per-case rule as the pages (web/auth.py): a user reaches only the cases assigned to them,
admins every case; another user's case is a 403, whether it exists or not, so ids cannot be probed.
Responses are Pydantic models, so /api/v1/openapi.json describes exactly what is sent. Errors are
``{"detail": ...}``; a refused review also carries the ``hint`` the CLI would print.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import Message

from ncii_shield.errors import NciiError
from ncii_shield.kinds import KIND_ORDER
from ncii_shield.store import audit
from ncii_shield.store.models import Alert, Case, Hit, Notice, Reference, WatchTerm
from ncii_shield.web.auth import Principal, visible_cases
from ncii_shield.web.deps import check, get_store, token_principal

DEFAULT_MAX_BODY = 1024 * 1024  # bytes; a route may allow more with openapi_extra={"x-max-body-bytes": n}
TEXT_MAX_MESSAGES = 1000
TEXT_MAX_CHARS = 10_000
# A message of 10,000 characters is at most 60,000 bytes of JSON (every character as a \uXXXX escape).
TEXT_MAX_BODY = TEXT_MAX_MESSAGES * TEXT_MAX_CHARS * 6 + 65_536


class BodyLimitRoute(APIRoute):
    """A route that refuses a request body over its limit with 413 while it is being received.

    FastAPI reads a whole body before it runs any dependency, token checks included, so without this an
    anonymous caller could make the server hold a body of any size. The declared Content-Length is
    checked first; a chunked body is counted as it arrives.
    """

    def body_limit(self) -> int:
        return int((self.openapi_extra or {}).get("x-max-body-bytes", DEFAULT_MAX_BODY))

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.body_limit()

        async def limited(request: Request) -> Response:
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
            received = 0
            receive = request.receive

            async def counted() -> Message:
                nonlocal received
                message = await receive()
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"the request body is over the limit of {limit} bytes")
                return message

            return await handler(Request(request.scope, counted))

        return limited


READ = token_principal("cases:read")
WRITE = token_principal("cases:write")
Reader = Annotated[Principal, Depends(READ)]
Writer = Annotated[Principal, Depends(WRITE)]

router = APIRouter(
    prefix="/api/v1",
    tags=["cases"],
    route_class=BodyLimitRoute,
    # Only for the OpenAPI document (the token itself is checked by READ / WRITE, with its scope).
    dependencies=[Depends(HTTPBearer(auto_error=False, description="An API token (ncii-shield token add)"))],
)

HitKind = Literal["exact", "pdq", "video", "partial", "face", "text"]
assert set(get_args(HitKind)) == set(KIND_ORDER), "HitKind must list every kind of kinds.KIND_ORDER"


# ------------------------------------------------------------------------------------------ models


class ErrorOut(BaseModel):
    detail: str
    hint: str | None = None


class CaseSummary(BaseModel):
    id: int
    status: str = Field(description="open | closed | purged")
    pseudonym: str | None
    minor: bool
    hash_only: bool
    created_at: datetime
    closed_at: datetime | None
    items: int = Field(description="messages with at least one hit")
    hits: dict[str, int] = Field(description="messages per route that found them (exact, pdq, face, text…)")


class DecisionCounts(BaseModel):
    confirmed: int
    rejected: int
    undecided: int


class CaseDetail(CaseSummary):
    consent_at: datetime | None
    consent_method: str | None
    photos: int = Field(description="enrolled reference photos")
    watch_terms: int = Field(description="identifiers on the watchlist (stored as HMACs)")
    decisions: DecisionCounts
    notices: int
    unseen_alerts: int


class HitOut(BaseModel):
    item_id: int
    kind: str = Field(
        description="the strongest route that matched: exact > pdq > video > partial > face > text"
    )
    kinds: list[str]
    distances: dict[str, float | None]
    reference: str | None = Field(description="label of the enrolled photo the strongest route matched")
    source: str
    media_path: str | None
    media_sha256: str | None
    chat: str | None
    chat_id: str | None
    message_id: int | None
    sender: str | None
    sender_id: str | None
    date: datetime | None
    forwarded_from: str | None
    reply_to: int | None
    nudity: float | None
    details: dict[str, Any] | None
    excerpt: str | None = Field(description="text hits: the message around its cues, identifiers masked")
    decision: Literal["confirmed", "rejected"] | None = Field(description="the latest review decision")


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


class ChatOut(BaseModel):
    chat_id: str
    title: str | None
    type: str | None
    messages: int
    hits: dict[str, int]
    links_in: list[str]


class EdgeOut(BaseModel):
    from_chat: str | None
    target: str
    kind: str
    to_chat: str | None = Field(description="the collected chat the link leads to, if known")
    messages: int
    posters: int
    first_seen: datetime | None
    last_seen: datetime | None
    message_ids: list[int]


class RoomsOut(BaseModel):
    chats: list[ChatOut]
    edges: list[EdgeOut]


class NoticeOut(BaseModel):
    notice_id: int
    platform_id: str
    language: str
    channel: str
    to: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    items: dict[str, int] = Field(description="reported items per status")


class PlatformOut(BaseModel):
    platform_id: str
    notices: int
    items: int
    removed: int
    median_hours_to_removal: float | None
    max_hours_to_removal: float | None


class AlertOut(BaseModel):
    id: int
    item_id: int
    kind: str
    notice_item_id: int | None
    at: datetime
    seen: bool


class TakedownOut(BaseModel):
    notices: list[NoticeOut]
    platforms: list[PlatformOut]
    alerts: list[AlertOut]


class TextCheckIn(BaseModel):
    messages: list[Annotated[str, StringConstraints(max_length=TEXT_MAX_CHARS)]] = Field(
        description=f"at most {TEXT_MAX_MESSAGES} messages of at most {TEXT_MAX_CHARS} characters"
    )


class SpanOut(BaseModel):
    kind: str
    text: str
    start: int
    end: int
    value: str


class TextResult(BaseModel):
    score: float = Field(description="the model's probability that the message solicits or doxxes someone")
    label: Literal["solicitation", "suspicious", "ordinary"]
    cues: list[str]
    spans: list[SpanOut]
    rule_score: float


class TextCheckOut(BaseModel):
    results: list[TextResult]


class AuditOut(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    witnessed: int  # signed heads also in the witness file outside the database
    unsigned: int  # entries after the last signed head (an error unless accepted on the CLI)
    purged: int
    legacy: int
    problems: list[str]
    notes: list[str]
    public_keys: list[str]


# ------------------------------------------------------------------------------------------ helpers


def attribute(session: Session, who: Principal, request: str, **details: object) -> None:
    """Record which API request made a change, beside the change's own entry (whose actor is the web
    user: deps.check names them for the request)."""
    audit.record(session, "web.request", user=who.username, role=who.role, request=request, **details)


def _case(session: Session, who: Principal, action: str, case_id: int) -> Case:
    check(session, who, action, case_id)  # before existence: an unassigned id is 403 either way
    case = session.get(Case, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id}")
    return case


def _hit_counts(session: Session, case_ids: list[int]) -> dict[int, tuple[int, dict[str, int]]]:
    """Per case: messages with a hit, and messages per route (a message found two ways counts in both)."""
    by_kind: dict[int, dict[str, int]] = {}
    for case_id, kind, n in session.execute(
        select(Hit.case_id, Hit.kind, func.count(func.distinct(Hit.item_id)))
        .where(Hit.case_id.in_(case_ids))
        .group_by(Hit.case_id, Hit.kind)
    ):
        by_kind.setdefault(case_id, {})[kind] = n
    items = dict(
        session.execute(  # type: ignore[arg-type]
            select(Hit.case_id, func.count(func.distinct(Hit.item_id)))
            .where(Hit.case_id.in_(case_ids))
            .group_by(Hit.case_id)
        ).all()
    )
    return {
        i: (
            items.get(i, 0),
            dict(sorted(by_kind.get(i, {}).items(), key=lambda kv: KIND_ORDER.index(kv[0]))),
        )
        for i in case_ids
    }


def _summary(case: Case, counts: tuple[int, dict[str, int]]) -> dict[str, Any]:
    return dict(
        id=case.id,
        status=case.status,
        pseudonym=case.pseudonym,
        minor=case.minor,
        hash_only=case.hash_only,
        created_at=case.created_at,
        closed_at=case.closed_at,
        items=counts[0],
        hits=counts[1],
    )


def _count(session: Session, model: type[Any], *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# ------------------------------------------------------------------------------------------ routes


@router.get("/cases", response_model=list[CaseSummary], summary="The cases the caller may see")
def list_cases(request: Request, who: Reader) -> list[dict[str, Any]]:
    with get_store(request).session() as s:
        check(s, who, "case.list")
        ids = visible_cases(s, who)
        if not ids:
            return []
        counts = _hit_counts(s, ids)
        cases = s.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.id)).all()
        return [_summary(c, counts[c.id]) for c in cases]


@router.get(
    "/cases/{case_id}",
    response_model=CaseDetail,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="One case: status, consent, counts",
)
def case_detail(case_id: int, request: Request, who: Reader) -> dict[str, Any]:
    from ncii_shield.review.decisions import current

    with get_store(request).session() as s:
        case = _case(s, who, "case.view", case_id)
        counts = _hit_counts(s, [case_id])[case_id]
        decided = Counter(d.decision for d in current(s, case_id).values())
        photos = s.scalar(
            select(func.count(func.distinct(Reference.photo_sha256))).where(Reference.case_id == case_id)
        )
        return dict(
            _summary(case, counts),
            consent_at=case.consent_at,
            consent_method=case.consent_method,
            photos=int(photos or 0),
            watch_terms=_count(s, WatchTerm, WatchTerm.case_id == case_id),
            decisions=DecisionCounts(
                confirmed=decided["confirmed"],
                rejected=decided["rejected"],
                undecided=max(0, counts[0] - decided["confirmed"] - decided["rejected"]),
            ),
            notices=_count(s, Notice, Notice.case_id == case_id),
            unseen_alerts=_count(s, Alert, Alert.case_id == case_id, Alert.seen.is_(False)),
        )


@router.get(
    "/cases/{case_id}/hits",
    response_model=list[HitOut],
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="A case's hits: one row per message, every route that matched it, the latest decision",
)
def case_hits(
    case_id: int,
    request: Request,
    who: Reader,
    kind: Annotated[HitKind | None, Query(description="only messages this route found")] = None,
) -> list[dict[str, object]]:
    from ncii_shield.review.hits import list_hits

    with get_store(request).session() as s:
        _case(s, who, "case.view", case_id)
        return [r.to_json() for r in list_hits(s, case_id, kind=kind)]


@router.post(
    "/cases/{case_id}/decisions",
    response_model=DecisionOut,
    status_code=201,
    responses={400: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="Confirm or reject hits, by item or all at once, with a reason (appended, never edited)",
)
def case_decisions(case_id: int, body: DecisionIn, request: Request, who: Writer) -> Any:
    from ncii_shield.review.decisions import decide

    try:
        with get_store(request).session() as s:
            _case(s, who, "hits.review", case_id)
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
    except NciiError as exc:  # nothing was written: the session rolled back
        return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=400)
    return DecisionOut(case_id=case_id, decision=body.decision, items=chosen)


@router.get(
    "/cases/{case_id}/rooms",
    response_model=RoomsOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="The room graph: chats with the case's hits and the invite/channel links between rooms",
)
def case_rooms(case_id: int, request: Request, who: Reader) -> dict[str, object]:
    from ncii_shield.text.rooms import room_graph

    store = get_store(request)
    with store.session() as s:
        _case(s, who, "case.view", case_id)
        return room_graph(store, s, case_id).to_json()


@router.get(
    "/cases/{case_id}/takedown",
    response_model=TakedownOut,
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="Notices and their items' status, time to removal per platform, re-upload alerts",
)
def case_takedown(case_id: int, request: Request, who: Reader) -> dict[str, object]:
    from ncii_shield.takedown.service import status

    with get_store(request).session() as s:
        _case(s, who, "case.view", case_id)
        notices, platforms, alerts = status(s, case_id)
        return dict(
            notices=[n.__dict__ for n in notices],
            platforms=[p.__dict__ for p in platforms],
            alerts=[
                dict(
                    id=a.id,
                    item_id=a.item_id,
                    kind=a.kind,
                    notice_item_id=a.notice_item_id,
                    at=a.at,
                    seen=a.seen,
                )
                for a in alerts
            ],
        )


@router.post(
    "/text/check",
    response_model=TextCheckOut,
    responses={413: {"model": ErrorOut}},
    openapi_extra={"x-max-body-bytes": TEXT_MAX_BODY},
    summary="Score messages for solicitation and doxxing: rule cues, the model's score, personal data",
)
def text_check(body: TextCheckIn, request: Request, who: Reader) -> dict[str, object]:
    from ncii_shield.text.cues import assess

    if len(body.messages) > TEXT_MAX_MESSAGES:
        raise HTTPException(
            413,
            f"{len(body.messages)} messages; at most {TEXT_MAX_MESSAGES} per request, send the rest after",
        )
    with get_store(request).session() as s:
        check(s, who, "case.view")  # staff who work on cases; auditors read the log only
    results = []
    for message in body.messages:
        a = assess(message)
        results.append(
            dict(
                score=a.score,
                label=a.label,
                cues=list(a.cues),
                spans=[
                    dict(kind=x.kind, text=x.text, start=x.start, end=x.end, value=x.value) for x in a.spans
                ],
                rule_score=a.rule_score,
            )
        )
    return dict(results=results)


@router.get(
    "/audit/verify",
    response_model=AuditOut,
    responses={403: {"model": ErrorOut}},
    tags=["audit"],
    summary="Check the whole audit chain and its signed checkpoints (admins and auditors)",
)
def audit_verify(request: Request, who: Reader) -> dict[str, object]:
    from ncii_shield.store.chain import verify_store

    store = get_store(request)
    with store.session() as s:
        check(s, who, "audit.view")
        result = verify_store(store, s)
    return dict(
        ok=result.ok,
        entries=result.entries,
        checkpoints=result.checkpoints,
        witnessed=result.witnessed,
        unsigned=result.unsigned,
        purged=result.purged,
        legacy=result.legacy,
        problems=result.problems,
        notes=result.notes,
        public_keys=sorted(result.public_keys),
    )
