"""The HMA-compatible API: Meta's hasher-matcher-actioner REST routes, so an HMA client can point here.

Routes, parameters and JSON shapes follow HMA's OpenMediaMatch blueprints (``/h`` hashing, ``/m``
matching, ``/c`` curation, and ``/status``). Where this server differs, it is on purpose:

- every route needs a bearer token with scope ``hma`` (HMA has no authentication of its own), except
  the liveness checks ``/status`` and ``/status/live``, which load balancers call without one and which
  answer nothing but I-AM-ALIVE (or, from /status, HMA's 503 INDEX-NOT-LOADED / INDEX-STALE); every
  audited change names the token (``token:<name>``);
- content is only uploaded. HMA's ``url=`` makes the server fetch a URL the caller chose, which can be
  aimed at the internal network (server-side request forgery), so it is refused with a 400 that says so;
- a bank is enabled or disabled (``matching_enabled_ratio`` 1.0 or 0.0); partial ratios are refused, and
  a bank named in ``?banks=`` that is not there is a 404, unless NCII_HMA_EXACT asks for HMA's answers;
- banked content is one signal: ``bank_content_id`` is the id of that hash in its bank (its note,
  metadata and disable_until_ts: web/hma_content.py);
- the match index follows every change at once and incrementally (banks/index.py, shared with scans
  and persisted under the data directory): HMA rebuilds its whole index on a timer, so a hash added to a
  bank is not matched for a minute or more;
- errors are ``{"message": ..., "detail": ...}``: HMA's key and this project's, with the same text.

Routes that take uploads are ``async``: they read the body as it arrives (capped), then do their hashing
and store work in one worker-thread call, so a session still lives within one thread (see deps.py).
Lookups are answered on the event loop when the index can answer at once (BankIndexes.lookup_nowait).

This module holds the routes of banks, hashing and matching (banked content's are in hma_content.py):
JSON shapes are in hma_models.py, parameter parsing and hashing in hma_params.py, the error shape, token
check, readiness and index access in hma_http.py. docs/hma-compatibility.md lists every difference.
"""

from __future__ import annotations

import random
from typing import Annotated, Any

from fastapi import Body, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException

from ncii_shield.banks.service import (
    all_banks,
    create_bank,
    delete_bank,
    find_bank,
    parse_signal,
    update_bank,
)
from ncii_shield.errors import Conflict, NciiError
from ncii_shield.signals.registry import by_exchange_type
from ncii_shield.web.api import attribute
from ncii_shield.web.deps import get_store
from ncii_shield.web.hma_content import drop_paused  # and its routes join the router
from ncii_shield.web.hma_http import (
    LOAD_WAIT,
    STALE_AFTER,
    Hma,
    bank_indexes,
    curator,
    hasher,
    liveness,
    matcher,
    readiness,
    readiness_headers,
    search,
    search_async,
)
from ncii_shield.web.hma_http import TOKEN_TTL as TOKEN_TTL  # tests and clients read it here
from ncii_shield.web.hma_models import (
    BankConfigOut,
    BankCreateIn,
    BankUpdateIn,
    HmaError,
    IndexStatusOut,
    MatchWithDistance,
    MessageOut,
    RawLookupOut,
)
from ncii_shield.web.hma_params import (
    UPLOAD_MAX_BYTES,
    URL_REFUSED,
    bank_named,
    bank_names,
    by_bank,
    check_bank_name,
    config,
    enabled_param,
    flag,
    hash_content,
    read_upload,
    signal_param,
    types_param,
)

# ------------------------------------------------------------------------------------------ core


@liveness.get(
    "/status",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"example": "I-AM-ALIVE"}}},
        503: {"content": {"text/plain": {"example": "INDEX-NOT-LOADED"}}},
    },
    summary="Readiness, without a token: I-AM-ALIVE, or 503 INDEX-NOT-LOADED / INDEX-STALE",
    description="As HMA's matcher: 503 INDEX-NOT-LOADED while the match index is still loading (a small "
    f"index loads within this call, up to {LOAD_WAIT:g} s), 503 INDEX-STALE when it has not been able to "
    f"look at the store for {STALE_AFTER:g} s (so it may miss banks changed elsewhere). A load balancer "
    "sends lookups elsewhere on a 503. A server without the matcher role (`serve --roles`) is always "
    "I-AM-ALIVE.",
)
def status(request: Request) -> PlainTextResponse:
    if "matcher" not in request.app.state.roles:  # as HMA: only a matcher has an index to be ready
        return PlainTextResponse("I-AM-ALIVE")
    word = readiness(bank_indexes(request))
    if word is not None:
        return PlainTextResponse(word, status_code=503)
    return PlainTextResponse("I-AM-ALIVE")


@liveness.get(
    "/status/live",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": "I-AM-ALIVE"}}}},
    summary="Liveness, without a token: I-AM-ALIVE while the server answers (touches nothing)",
)
def status_live() -> PlainTextResponse:
    return PlainTextResponse("I-AM-ALIVE")


# ------------------------------------------------------------------------------------------ /h hashing


@hasher.get("/h/hash", summary="Refused: hashing content fetched from a URL (upload it with POST instead)")
def hash_url(request: Request) -> None:
    raise HTTPException(400, URL_REFUSED)


@hasher.post(
    "/h/hash",
    response_model=dict[str, str],
    openapi_extra={"x-max-body-bytes": UPLOAD_MAX_BYTES},
    summary="Hash an uploaded photo into {signal_type: hash}",
    description="multipart/form-data with the file in the field 'photo' (as HMA), or the raw bytes as the "
    'body. ?types=pdq,sha256 picks the signal types (default pdq). A PDQ of quality < 50 is "" as in '
    "HMA; the X-PDQ-Quality header gives the quality.",
)
async def hash_upload(
    request: Request, types: Annotated[str | None, Query(description="e.g. pdq,sha256")] = None
) -> Response:
    wanted = types_param(types)
    data = await read_upload(request)
    hashes, quality = await run_in_threadpool(hash_content, data, wanted, need_quality=False)
    headers = {"X-PDQ-Quality": str(quality)} if quality is not None else None
    return JSONResponse(hashes, headers=headers)


# ------------------------------------------------------------------------------------------ /m matching


def coinflip(bypass: bool, seed: str | None) -> float:
    """HMA's coin flip for a lookup: banks whose matching ratio is below it are skipped (0 with
    bypass_coinflip; the same seed, the same flip). Only partial ratios (NCII_HMA_EXACT) feel it."""
    if bypass:
        return 0.0
    return random.random() if seed is None else random.Random(seed).random()  # no reseeding per lookup


@matcher.get(
    "/m/raw_lookup",
    response_model=RawLookupOut,
    summary="Look a hash up in every bank (enabled or not), or in ?banks=",
)
async def raw_lookup(
    request: Request,
    signal_type: Annotated[str | None, Query(description="pdq or sha256")] = None,
    signal: Annotated[str | None, Query(description="the hash, in hex")] = None,
    banks: Annotated[str | None, Query(description="comma-separated bank names")] = None,
    include_distance: Annotated[str | None, Query(description="true: {bank_content_id, distance}")] = None,
) -> JSONResponse:
    kind, value = signal_param(signal_type, signal)
    with_distance = flag(include_distance, "include_distance")
    found = await search_async(request, kind, value, bank_names(banks), enabled_only=False)
    matches = sorted((d, i) for hits in found.values() for i, d in hits)
    if with_distance:
        return JSONResponse({"matches": [{"bank_content_id": i, "distance": str(d)} for d, i in matches]})
    return JSONResponse({"matches": [i for _, i in matches]})


@matcher.get(
    "/m/lookup",
    response_model=dict[str, list[MatchWithDistance]],
    summary="Look a signal up in the enabled banks: {bank: [{bank_content_id, distance}]}",
)
async def lookup_signal(
    request: Request,
    signal_type: str | None = None,
    signal: str | None = None,
    banks: Annotated[str | None, Query(description="comma-separated bank names")] = None,
    bypass_coinflip: Annotated[str | None, Query(description="true: disabled banks too")] = None,
    url: Annotated[str | None, Query(description="refused: upload with POST instead")] = None,
    seed: Annotated[str | None, Query(description="the coin flip's seed (for partial ratios)")] = None,
) -> Any:
    if url:
        raise HTTPException(400, URL_REFUSED)
    if not signal or not signal_type:
        raise HTTPException(400, "both signal and signal_type are required (url is not accepted here)")
    kind, value = signal_param(signal_type, signal)
    bypass = flag(bypass_coinflip, "bypass_coinflip")
    found = await search_async(request, kind, value, bank_names(banks), enabled_only=not bypass)
    if found:  # paused content and coin flips, as in HMA (one read, only on a match)
        found = await run_in_threadpool(drop_paused, get_store(request), found, coinflip(bypass, seed))
    return JSONResponse(by_bank(found))  # the shape is by_bank's: no second validation per lookup


@matcher.post(
    "/m/lookup",
    response_model=dict[str, dict[str, list[MatchWithDistance]]],
    openapi_extra={"x-max-body-bytes": UPLOAD_MAX_BYTES},
    summary="Hash an uploaded photo and look it up: {signal_type: {bank: [{bank_content_id, distance}]}}",
)
async def lookup_upload(
    request: Request,
    banks: Annotated[str | None, Query(description="comma-separated bank names")] = None,
    bypass_coinflip: Annotated[str | None, Query(description="true: disabled banks too")] = None,
    types: Annotated[str | None, Query(description="e.g. pdq,sha256 (default pdq)")] = None,
    seed: Annotated[str | None, Query(description="the coin flip's seed (for partial ratios)")] = None,
) -> Any:
    wanted = types_param(types)
    bypass = flag(bypass_coinflip, "bypass_coinflip")
    data = await read_upload(request)

    def work() -> dict[str, Any]:
        hashes, _ = hash_content(data, wanted, need_quality=True)
        indexes, names, store = bank_indexes(request), bank_names(banks), get_store(request)
        exact, flip = store.settings.hma_exact, coinflip(bypass, seed)
        return {
            kind: by_bank(
                drop_paused(
                    store, search(indexes, *parse_signal(kind, value), names, not bypass, exact), flip
                )
            )
            for kind, value in hashes.items()
        }

    return await run_in_threadpool(work)


@matcher.get(
    "/m/index/status",
    response_model=dict[str, IndexStatusOut],
    summary="The match index per signal type: present, built_to, size",
    description="As HMA, and with headers a load balancer can act on: X-Index-Status (READY, "
    "INDEX-NOT-LOADED or INDEX-STALE, as /status answers) and X-Index-Checked-Age (seconds since the "
    "index last looked at the store; -1 before it is loaded).",
)
def index_status(request: Request, signal_type: str | None = None) -> Any:
    indexes = bank_indexes(request)
    word = readiness(indexes)
    found = indexes.status()
    if signal_type is not None:
        if signal_type not in found:
            raise HTTPException(400, f"No such signal type '{signal_type}'")
        found = {signal_type: found[signal_type]}
    return JSONResponse(found, headers=readiness_headers(indexes, word))


@matcher.post(
    "/m/compare",
    response_model=dict[str, tuple[bool, dict[str, int]]],
    summary="Compare pairs of hashes: {signal_type: [match, {distance}]}",
)
def compare(body: Annotated[dict[str, list[str]], Body(examples=[{"pdq": ["f8f8…", "f8f9…"]}])]) -> Any:
    results: dict[str, tuple[bool, dict[str, int]]] = {}
    for kind, pair in body.items():
        if len(pair) != 2:
            raise HTTPException(400, "Comparison hash list length must be exactly 2")
        try:
            kind_, left = parse_signal(kind, pair[0])
            _, right = parse_signal(kind, pair[1])
        except NciiError as exc:
            raise HTTPException(400, f"Invalid {kind} hash: {exc}") from None
        signal = by_exchange_type(kind_)  # the kind owns its distance and threshold
        if kind_ == "pdq" and signal is not None:
            distance = int(signal.distance(left, right))
            results[kind] = (signal.within(distance), {"distance": distance})
        else:
            results[kind] = (left == right, {})
    return results


# ------------------------------------------------------------------------------------------ /c curation


@curator.get("/c/banks", response_model=list[BankConfigOut], summary="Every bank")
def banks_index(request: Request) -> Any:
    with get_store(request).session() as s:
        return [config(b) for b in all_banks(s)]


@curator.post(
    "/c/banks",
    response_model=BankConfigOut,
    status_code=201,
    responses={403: {"model": HmaError, "description": "Bank already exists"}},
    summary="Create a bank",
)
def bank_create(body: BankCreateIn, request: Request, who: Hma) -> Any:
    store = get_store(request)
    enabled, ratio = enabled_param(body.enabled_ratio, body.enabled, store.settings.hma_exact)
    check_bank_name(body.name)
    with store.session() as s:
        try:
            bank = create_bank(s, body.name, enabled=True if enabled is None else enabled, ratio=ratio)
        except Conflict:
            raise HTTPException(403, "Bank already exists") from None  # HMA's status and words
        attribute(s, who, "hma.bank_create", bank=bank.name)
        return config(bank)


@curator.get(
    "/c/bank/{bank_name}",
    response_model=BankConfigOut,
    responses={404: {"model": HmaError}},
    summary="One bank",
)
def bank_show(bank_name: str, request: Request) -> Any:
    with get_store(request).session() as s:
        return config(bank_named(s, bank_name))


@curator.put(
    "/c/bank/{bank_name}",
    response_model=BankConfigOut,
    responses={404: {"model": HmaError}},
    summary="Rename, enable or disable a bank",
)
def bank_update(bank_name: str, body: BankUpdateIn, request: Request, who: Hma) -> Any:
    store = get_store(request)
    enabled, ratio = enabled_param(body.enabled_ratio, body.enabled, store.settings.hma_exact)
    if body.name is not None and body.name != bank_name:
        check_bank_name(body.name)
    with store.session() as s:
        bank = bank_named(s, bank_name)
        try:
            update_bank(s, bank, name=body.name, enabled=enabled, ratio=ratio)
        except Conflict:
            raise HTTPException(403, "Bank name already exists") from None  # HMA's status and words
        attribute(s, who, "hma.bank_update", bank=bank.name)
        return config(bank)


@curator.delete(
    "/c/bank/{bank_name}",
    response_model=MessageOut,
    responses={404: {"model": HmaError}},
    summary="Delete a bank, its hashes and the hits they made (a bank not there: Done too, as HMA)",
)
def bank_delete(bank_name: str, request: Request, who: Hma) -> Any:
    with get_store(request).session() as s:
        bank = find_bank(s, bank_name)
        if bank is not None:  # deleting is idempotent in HMA: a retried delete is not an error
            attribute(s, who, "hma.bank_delete", bank=bank_name)
            delete_bank(s, bank)
    return {"message": "Done"}
