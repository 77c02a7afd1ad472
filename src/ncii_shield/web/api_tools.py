"""/api/v1 beyond one case: scoring messages for solicitation and doxxing, and checking the audit chain."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field, StringConstraints

from ncii_shield.store.chain import verify_store
from ncii_shield.web.api_common import ErrorOut, Reader, api_router
from ncii_shield.web.deps import check, get_store

TEXT_MAX_MESSAGES = 1000
TEXT_MAX_CHARS = 10_000
# A message of 10,000 characters is at most 60,000 bytes of JSON (every character as a \uXXXX escape).
TEXT_MAX_BODY = TEXT_MAX_MESSAGES * TEXT_MAX_CHARS * 6 + 65_536

router = api_router(tags=["cases"])


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
    signed_through: int  # the highest entry a valid signed head covers
    unsigned: int  # entries after the last signed head (an error unless accepted on the CLI)
    witnessed: int  # signed heads also in the witness file outside the database
    unwitnessed: int  # valid checkpoints of the database not in the witness file
    expected_heads: int  # heads the operator kept, found in the log (none through the API)
    purged: int
    legacy: int
    problems: list[str]
    notes: list[str]
    public_keys: list[str]


@router.post(
    "/text/check",
    response_model=TextCheckOut,
    responses={413: {"model": ErrorOut}},
    openapi_extra={"x-max-body-bytes": TEXT_MAX_BODY},
    summary="Score messages for solicitation and doxxing: rule cues, the model's score, personal data",
)
def text_check(body: TextCheckIn, request: Request, who: Reader) -> dict[str, object]:
    from ncii_shield.text.cues import assess  # the model loads on first use, not at start-up

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
    store = get_store(request)
    with store.session() as s:
        check(s, who, "audit.view")
        result = verify_store(store, s)
    return result.summary()
