"""The HMA-compatible API's plumbing: its error shape, its token check, and the shared bank index.

Kept apart from web/hma.py, which holds only the routes: these decide how every route answers (errors as
HMA sends them, error kinds to statuses through ncii_shield.errors) and who may call it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException

from ncii_shield.banks.index import BankIndexes, UnknownBank, bank_index
from ncii_shield.errors import NciiError
from ncii_shield.store.audit import act_as
from ncii_shield.web.api import BodyLimitRoute
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import bearer, get_store, token_principal
from ncii_shield.web.hma_models import HmaError

log = logging.getLogger(__name__)

SAVE_EVERY = 10.0  # seconds: banks changed through the API are written to disk at most this often
LOAD_WAIT = 5.0  # seconds /status waits for a first load before answering INDEX-NOT-LOADED
STALE_AFTER = 30.0  # seconds without a successful look at the store before /status says INDEX-STALE


def bank_indexes_of(app: FastAPI) -> BankIndexes:
    """The store's one bank index (banks/index.py), which scans in this server share; kept on the app
    too, so a lookup finds it without taking the registry's lock."""
    found: BankIndexes | None = getattr(app.state, "hma_indexes", None)
    if found is None:
        found = app.state.hma_indexes = bank_index(app.state.store, save_every=SAVE_EVERY)
    return found


def bank_indexes(request: Request) -> BankIndexes:
    return bank_indexes_of(request.app)


def readiness(indexes: BankIndexes) -> str | None:
    """None when the index can answer lookups, else HMA's word for why not (INDEX-NOT-LOADED,
    INDEX-STALE). Starts the first load if needed and waits LOAD_WAIT for it; later, looks at the store
    (no one waits for it while another request is looking). Called from a worker thread."""
    if not indexes.loaded:
        indexes.load_in_background().join(LOAD_WAIT)
    else:
        try:
            indexes.ensure_fresh()
            if indexes.readiness(STALE_AFTER) is not None:  # a last try before saying so
                indexes.refresh(wait=False)
        except Exception:  # e.g. the database is unreachable: the index ages into INDEX-STALE
            log.warning("the bank index cannot look at the store", exc_info=True)
    return indexes.readiness(STALE_AFTER)


def readiness_headers(indexes: BankIndexes, word: str | None) -> dict[str, str]:
    age = indexes.checked_age()
    return {"X-Index-Status": word or "READY", "X-Index-Checked-Age": "-1" if age is None else f"{age:.1f}"}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": message}, status_code=status, headers=headers)


class HMARoute(BodyLimitRoute):
    """Errors as HMA sends them ({"message": ...}, here with "detail" too): an HTTPException with its
    status, an NciiError with its kind's status, and request validation errors as 400 with the first
    problem spelled out, as HMA's handlers answer bad input."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def hma_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return error(exc.status_code, str(exc.detail), exc.headers)
            except NciiError as exc:
                return error(exc.http_status, str(exc))
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ())[1:])
                return error(
                    400, f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
                )

        return hma_errors


HMA_TOKEN = token_principal("hma")
TOKEN_TTL = 2.0  # seconds a checked token is trusted without asking the store again


async def hma_principal(request: Request) -> Principal:
    """The caller, by a bearer token with scope hma, checked by deps.token_principal and then trusted
    for TOKEN_TTL seconds: a platform's matcher sends hundreds of lookups a second, and checking each
    would be a database write (the token's last use) per lookup. So a revoked token or a disabled user
    stops working within TOKEN_TTL seconds, and last_used_at is at most that old. Refusals are not
    remembered: every request with a bad token is checked, and answered 401 / 403."""
    token = bearer(request)
    if token is None:
        raise HTTPException(401, "a bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
    key = hashlib.sha256(token.encode()).digest()
    cache: dict[bytes, tuple[Principal, float]] | None = getattr(request.app.state, "hma_tokens", None)
    if cache is None:  # on the event loop: no other thread touches it
        cache = request.app.state.hma_tokens = {}
    hit = cache.get(key)
    if hit is not None and hit[1] > time.monotonic():
        who = hit[0]
    else:
        who = await run_in_threadpool(HMA_TOKEN, request)
        cache[key] = (who, time.monotonic() + TOKEN_TTL)
    # On the request's own task: the endpoint and its thread-pool calls run in copies of this context,
    # so what they audit names this token, and no other request sees it.
    act_as(who.actor)
    return who


Hma = Annotated[Principal, Depends(hma_principal)]


def _role_router() -> APIRouter:
    """One HMA role's routes: HMA's error shape, and a bearer token with scope hma on every route."""
    return APIRouter(
        tags=["hma"],
        route_class=HMARoute,
        dependencies=[
            Depends(hma_principal),  # every route; the same dependency as Hma, so it runs once a request
            Depends(HTTPBearer(auto_error=False, description="An API token with scope hma")),
        ],
        responses={code: {"model": HmaError} for code in (400, 401, 403)},
    )


# HMA's roles, one router each (OpenMediaMatch's blueprints), so `serve --roles` can run them apart:
hasher = _role_router()  # /h: hash uploaded content
matcher = _role_router()  # /m: look hashes up in the bank index
curator = _role_router()  # /c: banks and their content
ROLE_ROUTERS = {"hasher": hasher, "matcher": matcher, "curator": curator}
# Liveness for load balancers: no token, and nothing in the answer but I-AM-ALIVE.
liveness = APIRouter(tags=["hma"])


def _within(
    found: dict[str, list[tuple[int, int]]], names: set[str] | None
) -> dict[str, list[tuple[int, int]]]:
    return found if names is None else {bank: hits for bank, hits in found.items() if bank in names}


def search(
    indexes: BankIndexes,
    kind: str,
    value: bytes,
    names: set[str] | None,
    enabled_only: bool,
    exact: bool = False,
) -> dict[str, list[tuple[int, int]]]:
    """A lookup from a worker thread (it may wait for the index and read the store). An unknown bank
    is a 404 (UnknownBank is NotFound), not an empty answer: a typo in ?banks= must not read as "no
    match". With NCII_HMA_EXACT (`exact`) it is ignored, as HMA does."""
    indexes.ensure_fresh()
    if exact:
        return _within(indexes.lookup(kind, value, enabled_only=enabled_only), names)
    try:
        return indexes.lookup(kind, value, banks=names, enabled_only=enabled_only)
    except UnknownBank:
        indexes.refresh(wait=True)  # perhaps created a moment ago, elsewhere
    return indexes.lookup(kind, value, banks=names, enabled_only=enabled_only)


async def search_async(
    request: Request, kind: str, value: bytes, names: set[str] | None, enabled_only: bool
) -> dict[str, list[tuple[int, int]]]:
    """The lookup on the event loop when it can be answered at once, else from a worker thread."""
    indexes = bank_indexes(request)
    exact = get_store(request).settings.hma_exact
    try:
        found = indexes.lookup_nowait(kind, value, banks=None if exact else names, enabled_only=enabled_only)
    except UnknownBank:
        found = None
    if found is None:
        found = await run_in_threadpool(search, indexes, kind, value, names, enabled_only, exact)
    return _within(found, names) if exact else found
