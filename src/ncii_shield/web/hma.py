"""The HMA-compatible API: Meta's hasher-matcher-actioner REST routes, so an HMA client can point here.

Routes, parameters and JSON shapes follow HMA's OpenMediaMatch blueprints (``/h`` hashing, ``/m``
matching, ``/c`` curation, and ``/status``). Where this server differs, it is on purpose:

- every route needs a bearer token with scope ``hma`` (HMA has no authentication of its own), except
  the liveness checks ``/status`` and ``/status/live``, which load balancers call without one and which
  answer nothing but I-AM-ALIVE; every audited change names the token (``token:<name>``);
- content is only uploaded. HMA's ``url=`` makes the server fetch a URL the caller chose, which can be
  aimed at the internal network (server-side request forgery), so it is refused with a 400 that says so;
- a bank is enabled or disabled (``matching_enabled_ratio`` 1.0 or 0.0); partial ratios are refused;
- banked content is one signal: ``bank_content_id`` is the id of that hash in its bank;
- the match index follows every change at once and incrementally (:class:`BankIndexes`): HMA rebuilds
  its whole index on a timer, so a hash added to a bank is not matched for a minute or more;
- errors are ``{"message": ..., "detail": ...}``: HMA's key and this project's, with the same text.

Routes that take uploads are ``async``: they read the body as it arrives (capped), then do their hashing
and store work in one worker-thread call, so a session still lives within one thread (see deps.py).
Lookups are answered on the event loop when the index can answer at once (BankIndexes.lookup_nowait).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ncii_shield.banks.formats import SUPPORTED
from ncii_shield.banks.service import (
    BANK_ACTIONS,
    add_signal,
    create_bank,
    delete_bank,
    parse_signal,
    remove_signal,
    signal_counts,
    signal_rows,
    update_bank,
)
from ncii_shield.errors import MediaError, NciiError
from ncii_shield.index.pdq_index import PDQIndex
from ncii_shield.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY
from ncii_shield.store.audit import act_as
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Bank, BankSignal
from ncii_shield.web.api import BodyLimitRoute, attribute
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import bearer, get_store, token_principal

UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # one photo per request; HMA's own default for fetched files is 100 MB
CONTENT_TYPES = ("photo",)  # multipart field names, as in HMA (the field is named after the content type)
SIGNAL_TYPES = tuple(SUPPORTED)  # pdq, sha256
DEFAULT_TYPES = ("pdq",)  # what an upload is hashed into unless ?types= asks for more (HMA: photo -> pdq)
URL_REFUSED = (
    "fetching a URL is refused: this server hashes uploaded content only, because a server that fetches "
    "URLs it is given can be made to reach internal addresses (server-side request forgery). "
    "Upload the file instead: multipart/form-data with the field 'photo', or the raw bytes as the body"
)


# ------------------------------------------------------------------------------------------ the index


class _RWLock:
    """Many readers or one writer. Searches run in parallel (the PDQ kernel releases the GIL);
    PDQIndex must not be searched while it is being changed. Waiting writers go first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._waiting = 0

    def try_read(self) -> bool:
        """Start reading if no writer is active or waiting; never waits (for the event loop)."""
        with self._cond:
            if self._writing or self._waiting:
                return False
            self._readers += 1
            return True

    def done_reading(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            self.done_reading()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._writing or self._readers:
                self._cond.wait()
            self._waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@dataclass
class _Bank:
    """One bank in memory: its PDQ hashes in a PDQIndex, its SHA-256s in a dict; ids are bank signal ids."""

    id: int
    name: str
    enabled: bool
    pdq: PDQIndex = field(default_factory=PDQIndex)
    sha256: dict[bytes, set[int]] = field(default_factory=dict)
    sha_ids: dict[int, bytes] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.pdq) + len(self.sha_ids)

    def add(self, rows: list[tuple[int, str, bytes]]) -> None:
        """Add (id, type, value) rows; adding an id again is harmless (PDQIndex replaces it)."""
        pdq = [(i, v) for i, t, v in rows if t == "pdq"]
        if pdq:
            ids = np.array([i for i, _ in pdq], dtype=np.int64)
            self.pdq.add(ids, np.frombuffer(b"".join(v for _, v in pdq), dtype=np.uint8).reshape(-1, 32))
        for i, t, v in rows:
            if t == "sha256":
                self.sha_ids[i] = v
                self.sha256.setdefault(v, set()).add(i)

    def remove(self, ids: list[int]) -> None:
        self.pdq.remove(np.array(ids, dtype=np.int64))
        for i in ids:
            value = self.sha_ids.pop(i, None)
            if value is not None:
                same = self.sha256[value]
                same.discard(i)
                if not same:
                    del self.sha256[value]

    def search(self, kind: str, value: bytes) -> list[tuple[int, int]]:
        """(id, distance) nearest first; SHA-256 matches are exact (distance 0)."""
        if kind == "pdq":
            if not len(self.pdq):
                return []
            query = np.frombuffer(value, dtype=np.uint8).reshape(1, 32)
            return self.pdq.search(query, threshold=MATCH_THRESHOLD)[0]
        return [(i, 0) for i in sorted(self.sha256.get(value, ()))]


def _add_chunk(banks: dict[int, _Bank], chunk: list[tuple[int, int, str, bytes]]) -> None:
    by_bank: dict[int, list[tuple[int, str, bytes]]] = {}
    for signal_id, bank_id, kind, value in chunk:
        by_bank.setdefault(bank_id, []).append((signal_id, kind, value))
    for bank_id, rows in by_bank.items():
        if bank_id in banks:
            banks[bank_id].add(rows)


class UnknownBank(LookupError):
    """A lookup named a bank that does not exist (its name is args[0])."""


INLINE_MAX = 2_000_000


class BankIndexes:
    """Every bank's hashes in memory, searched per request and kept current without rebuilding.

    Changes made through this API are applied right after they commit (:meth:`added`, :meth:`removed`,
    :meth:`bank_set`, :meth:`bank_dropped`). Changes made elsewhere (``ncii-shield bank import`` while
    the server runs) are noticed within ``check_every`` seconds: every bank change writes an audit
    event, so one indexed query (the newest audit id) says whether anything may have changed; then only
    signals added since are read, and a bank whose size no longer matches the store is reloaded alone.

    Known limit: on PostgreSQL, ids can commit out of order, so a change made elsewhere at the same
    moment as another may wait for the next bank change to be picked up.
    """

    def __init__(self, store: Store, *, check_every: float = 1.0) -> None:
        self.store = store
        self.check_every = check_every
        self._rw = _RWLock()
        self._writer = threading.Lock()  # one writer at a time: refreshes and applied changes
        self._banks: dict[int, _Bank] = {}
        self._loaded = False
        self._seen = 0  # audit events up to this id are reflected
        self._max_id = 0  # bank signals up to this id have been read by a refresh
        self._checked = 0.0  # time.monotonic() of the last look at the store
        self._changed = 0.0  # time.time() of the last change to the index
        self._size = 0  # hashes in every bank

    # -------------------------------------------------------------------------------- reading

    def ensure_fresh(self) -> None:
        """Load on first use (callers wait); later, look for outside changes at most every check_every
        seconds, without making anyone wait for it while another request is already looking."""
        if not self._loaded:
            self.refresh(wait=True)
        elif time.monotonic() - self._checked >= self.check_every:
            self.refresh(wait=False)

    def lookup(
        self, kind: str, value: bytes, *, banks: set[str] | None = None, enabled_only: bool = False
    ) -> dict[str, list[tuple[int, int]]]:
        """Bank name -> [(bank_content_id, distance)], nearest first, for the banks with a match.
        Raises UnknownBank if ``banks`` names a bank that is not there."""
        with self._rw.read():
            return self._lookup(kind, value, banks, enabled_only)

    def lookup_nowait(
        self, kind: str, value: bytes, *, banks: set[str] | None = None, enabled_only: bool = False
    ) -> dict[str, list[tuple[int, int]]] | None:
        """The lookup if it can be answered at once, on the event loop: loaded, looked at recently, no
        writer at work, and small enough that a search (< 0.1 ms below INLINE_MAX hashes) costs less
        than handing it to a worker thread. Otherwise None: then call ensure_fresh and lookup in a thread."""
        if (
            not self._loaded
            or self._size > INLINE_MAX
            or time.monotonic() - self._checked >= self.check_every
        ):
            return None
        if not self._rw.try_read():
            return None
        try:
            return self._lookup(kind, value, banks, enabled_only)
        finally:
            self._rw.done_reading()

    def _lookup(
        self, kind: str, value: bytes, banks: set[str] | None, enabled_only: bool
    ) -> dict[str, list[tuple[int, int]]]:
        if banks is not None:
            unknown = banks - {b.name for b in self._banks.values()}
            if unknown:
                raise UnknownBank(sorted(unknown)[0])
        found: dict[str, list[tuple[int, int]]] = {}
        for bank in self._banks.values():
            if (banks is not None and bank.name not in banks) or (enabled_only and not bank.enabled):
                continue
            hits = bank.search(kind, value)
            if hits:
                found[bank.name] = hits
        return found

    def status(self) -> dict[str, dict[str, Any]]:
        """Per signal type, HMA's index status: present, built_to (unix time of the last change), size."""
        with self._rw.read():
            sizes = {
                "pdq": sum(len(b.pdq) for b in self._banks.values()),
                "sha256": sum(len(b.sha_ids) for b in self._banks.values()),
            }
        built_to = int(self._changed) if self._loaded else -1
        return {k: {"present": self._loaded, "built_to": built_to, "size": n} for k, n in sizes.items()}

    # -------------------------------------------------------------------------------- writing
    # Called after the change has committed: the store is the truth and the index follows it.

    def _apply(self, change: Callable[[], None]) -> None:
        with self._writer:
            if not self._loaded:
                return  # the first load reads the store, change included
            with self._rw.write():
                change()
                self._size = sum(b.size for b in self._banks.values())
            self._changed = time.time()

    def bank_set(self, bank_id: int, name: str, enabled: bool) -> None:
        def change() -> None:
            bank = self._banks.setdefault(bank_id, _Bank(bank_id, name, enabled))
            bank.name, bank.enabled = name, enabled

        self._apply(change)

    def bank_dropped(self, bank_id: int) -> None:
        def change() -> None:
            self._banks.pop(bank_id, None)

        self._apply(change)

    def added(self, bank_id: int, name: str, enabled: bool, rows: list[tuple[int, str, bytes]]) -> None:
        def change() -> None:
            self._banks.setdefault(bank_id, _Bank(bank_id, name, enabled)).add(rows)

        self._apply(change)

    def removed(self, bank_id: int, ids: list[int]) -> None:
        def change() -> None:
            if bank_id in self._banks:
                self._banks[bank_id].remove(ids)

        self._apply(change)

    # -------------------------------------------------------------------------------- syncing

    def refresh(self, *, wait: bool = True) -> None:
        if not self._writer.acquire(blocking=wait):
            return
        try:
            with self.store.session() as session:
                self._refresh(session)
        finally:
            self._writer.release()

    def _refresh(self, session: Session) -> None:
        head = session.scalar(select(func.max(AuditEvent.id))) or 0
        if self._loaded and head == self._seen:
            self._checked = time.monotonic()
            return
        if self._loaded:
            changed = session.scalar(
                select(AuditEvent.id)
                .where(AuditEvent.id > self._seen, AuditEvent.action.in_(BANK_ACTIONS))
                .limit(1)
            )
            if changed is None:
                self._seen, self._checked = head, time.monotonic()
                return
        meta = {
            i: (name, enabled)
            for i, name, enabled in session.execute(select(Bank.id, Bank.name, Bank.enabled))
        }
        if not self._loaded:
            banks = {i: _Bank(i, name, enabled) for i, (name, enabled) in meta.items()}
            max_id = 0
            for chunk in signal_rows(session):
                _add_chunk(banks, chunk)
                max_id = chunk[-1][0]
            with self._rw.write():
                self._banks, self._max_id, self._loaded = banks, max_id, True
        else:
            new = list(signal_rows(session, after_id=self._max_id))
            counts = signal_counts(session)
            with self._rw.write():
                for gone in set(self._banks) - set(meta):
                    del self._banks[gone]
                for i, (name, enabled) in meta.items():
                    bank = self._banks.setdefault(i, _Bank(i, name, enabled))
                    bank.name, bank.enabled = name, enabled
                for chunk in new:
                    _add_chunk(self._banks, chunk)
                    self._max_id = max(self._max_id, chunk[-1][0])
                stale = [i for i, b in self._banks.items() if b.size != counts.get(i, 0)]
            for i in stale:  # something was removed elsewhere: reload that bank only, off the lock
                fresh = _Bank(i, *meta[i])
                for chunk in signal_rows(session, bank_id=i):
                    _add_chunk({i: fresh}, chunk)
                with self._rw.write():
                    self._banks[i] = fresh
        self._size = sum(b.size for b in self._banks.values())
        self._seen, self._checked, self._changed = head, time.monotonic(), time.time()


_create_lock = threading.Lock()


def bank_indexes(request: Request) -> BankIndexes:
    """The app's one BankIndexes (app.state.hma_indexes), made on first use."""
    state = request.app.state
    indexes = getattr(state, "hma_indexes", None)
    if indexes is None:
        with _create_lock:
            indexes = getattr(state, "hma_indexes", None)
            if indexes is None:
                indexes = state.hma_indexes = BankIndexes(get_store(request))
    return indexes  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ routing


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": message}, status_code=status, headers=headers)


class HMARoute(BodyLimitRoute):
    """Errors as HMA sends them ({"message": ...}, here with "detail" too), and request validation
    errors as 400 with the first problem spelled out, as HMA's handlers answer bad input."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def hma_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return _error(exc.status_code, str(exc.detail), exc.headers)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ())[1:])
                return _error(
                    400, f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
                )

        return hma_errors


class HmaError(BaseModel):
    message: str = Field(description="what went wrong (HMA's key)")
    detail: str = Field(description="the same text (this project's key)")


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

router = APIRouter(
    tags=["hma"],
    route_class=HMARoute,
    dependencies=[
        Depends(hma_principal),  # every route; the same dependency as Hma, so it runs once a request
        Depends(HTTPBearer(auto_error=False, description="An API token with scope hma")),
    ],
    responses={code: {"model": HmaError} for code in (400, 401, 403)},
)
# Liveness for load balancers: no token, and nothing in the answer but I-AM-ALIVE.
liveness = APIRouter(tags=["hma"])


class MatchWithDistance(BaseModel):
    bank_content_id: int
    distance: str = Field(description="Hamming distance for pdq (as HMA sends it, a string); 0 for sha256")


class RawLookupOut(BaseModel):
    matches: list[int | MatchWithDistance] = Field(description="ids, or with include_distance, objects")


class IndexStatusOut(BaseModel):
    present: bool
    built_to: int = Field(description="unix time of the index's last change; -1 before it is loaded")
    size: int


class BankConfigOut(BaseModel):
    name: str
    matching_enabled_ratio: float = Field(description="1.0 enabled, 0.0 disabled")


class BankCreateIn(BaseModel):
    name: str
    enabled_ratio: float | None = Field(None, description="1.0 or 0.0 (partial ratios are not supported)")
    enabled: bool | None = None


class BankUpdateIn(BaseModel):
    name: str | None = None
    enabled_ratio: float | None = None
    enabled: bool | None = None


class ContentAddedOut(BaseModel):
    id: int = Field(description="bank_content_id: what lookups return for this content")
    signals: dict[str, str]


class BankContentOut(BaseModel):
    id: int
    disable_until_ts: int = Field(description="1: enabled (per-content disabling is not supported)")
    original_media_uri: str | None = None
    bank: BankConfigOut
    signals: dict[str, str] | None = None


class MessageOut(BaseModel):
    message: str


class DeletedOut(BaseModel):
    deleted: int


# ------------------------------------------------------------------------------------------ helpers


def _bool(value: str | None, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise HTTPException(400, f"invalid boolean parameter {name} - prefer true/false")


def _signal(signal_type: str | None, signal: str | None) -> tuple[str, bytes]:
    if signal is None or signal == "":
        raise HTTPException(400, "signal is required")
    if signal_type is None or signal_type == "":
        raise HTTPException(400, "signal_type is required")
    try:
        return parse_signal(signal_type, signal)
    except NciiError as exc:
        raise HTTPException(400, str(exc)) from None


def _types(types: str | None) -> tuple[str, ...]:
    if types is None:
        return DEFAULT_TYPES
    chosen = tuple(dict.fromkeys(t.strip().lower() for t in types.split(",") if t.strip()))
    for kind in chosen:
        if kind not in SIGNAL_TYPES:
            raise HTTPException(400, f"signal type '{kind}' doesn't exist or is disabled")
    if not chosen:
        raise HTTPException(400, "empty signal type selection")
    return chosen


def _names(banks: str | None) -> set[str] | None:
    """The banks named in ?banks=a,b (None: every bank)."""
    names = {b.strip() for b in (banks or "").split(",") if b.strip()}
    return names or None


def _search(
    indexes: BankIndexes, kind: str, value: bytes, names: set[str] | None, enabled_only: bool
) -> dict[str, list[tuple[int, int]]]:
    """A lookup from a worker thread (it may wait for the index and read the store). An unknown bank
    is a 404, not an empty answer: a typo in ?banks= must not read as "no match"."""
    indexes.ensure_fresh()
    try:
        return indexes.lookup(kind, value, banks=names, enabled_only=enabled_only)
    except UnknownBank:
        indexes.refresh(wait=True)  # perhaps created a moment ago, elsewhere
    try:
        return indexes.lookup(kind, value, banks=names, enabled_only=enabled_only)
    except UnknownBank as exc:
        raise HTTPException(404, f"bank '{exc.args[0]}' not found") from None


async def _search_async(
    request: Request, kind: str, value: bytes, names: set[str] | None, enabled_only: bool
) -> dict[str, list[tuple[int, int]]]:
    """The lookup on the event loop when it can be answered at once, else from a worker thread."""
    indexes = bank_indexes(request)
    try:
        found = indexes.lookup_nowait(kind, value, banks=names, enabled_only=enabled_only)
    except UnknownBank:
        found = None
    if found is None:
        found = await run_in_threadpool(_search, indexes, kind, value, names, enabled_only)
    return found


def _hash(data: bytes, types: tuple[str, ...], *, need_quality: bool) -> tuple[dict[str, str], int | None]:
    """HMA's hash of an upload: {signal type: hex}. A PDQ too unreliable to match (quality < 50) is ""
    as in HMA, or, where the hash would be used (lookup, banking), a 400 saying why."""
    from ncii_shield.signals.pdq import pdq_from_bytes

    out: dict[str, str] = {}
    quality = None
    if "pdq" in types:
        try:
            value, quality = pdq_from_bytes(data, fast=False)  # the full decode: the same hash HMA makes
        except MediaError as exc:
            raise HTTPException(400, f"cannot hash the upload: {exc.message}") from None
        if quality < MIN_QUALITY and need_quality:
            raise HTTPException(
                400,
                f"the image's PDQ quality is {quality} (< {MIN_QUALITY}): too flat or small to match "
                "reliably, so it is not used",
            )
        out["pdq"] = value.hex() if quality >= MIN_QUALITY else ""
    if "sha256" in types:
        out["sha256"] = hashlib.sha256(data).hexdigest()
    return out, quality


async def _upload(request: Request) -> bytes:
    """The one uploaded file: a multipart field named after its content type (HMA's 'photo'), or the
    raw body. The size is capped as it arrives (HMARoute / BodyLimitRoute)."""
    if request.query_params.get("url"):
        raise HTTPException(400, URL_REFUSED)
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=20)
        try:
            files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
            if not files:
                raise HTTPException(400, "Missing multipart/form-data file upload")
            if len(files) > 1:
                raise HTTPException(400, "Only one file allowed per request")
            name, upload = files[0]
            if name not in CONTENT_TYPES:
                raise HTTPException(
                    400, f"no such content_type: '{name}' (name the file field {' or '.join(CONTENT_TYPES)})"
                )
            data = await upload.read()
        finally:
            await form.close()
    else:
        data = await request.body()
    if not data:
        raise HTTPException(400, "Missing multipart/form-data file upload (or a raw image body)")
    return data


def _bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise HTTPException(404, f"bank '{name}' not found")
    return bank


def _config(bank: Bank) -> dict[str, object]:
    return {"name": bank.name, "matching_enabled_ratio": 1.0 if bank.enabled else 0.0}


def _enabled(enabled_ratio: float | None, enabled: bool | None) -> bool | None:
    if enabled_ratio is not None:
        if enabled_ratio not in (0.0, 1.0):
            raise HTTPException(
                400,
                f"enabled_ratio {enabled_ratio} is not supported: a bank here is matched (1.0) or not (0.0)",
            )
        return enabled_ratio == 1.0
    return enabled


def _by_bank(found: dict[str, list[tuple[int, int]]]) -> dict[str, list[dict[str, object]]]:
    """HMA's /m/lookup answer for one signal: {bank: [{bank_content_id, distance}]}. Only enabled banks
    are searched for it, or every bank with bypass_coinflip (in HMA a bypassed coin flip is 0, which
    lets a bank with ratio 0.0 through)."""
    return {
        name: [{"bank_content_id": i, "distance": str(d)} for i, d in hits]
        for name, hits in sorted(found.items())
    }


# ------------------------------------------------------------------------------------------ core


@liveness.get(
    "/status",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": "I-AM-ALIVE"}}}},
    summary="Readiness, without a token: I-AM-ALIVE once the match index is loaded",
)
def status(request: Request) -> PlainTextResponse:
    bank_indexes(request).ensure_fresh()  # looks at the store at most every check_every seconds
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


@router.get("/h/hash", summary="Refused: hashing content fetched from a URL (upload it with POST instead)")
def hash_url(request: Request) -> None:
    raise HTTPException(400, URL_REFUSED)


@router.post(
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
    wanted = _types(types)
    data = await _upload(request)
    hashes, quality = await run_in_threadpool(_hash, data, wanted, need_quality=False)
    headers = {"X-PDQ-Quality": str(quality)} if quality is not None else None
    return JSONResponse(hashes, headers=headers)


# ------------------------------------------------------------------------------------------ /m matching


@router.get(
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
    kind, value = _signal(signal_type, signal)
    with_distance = _bool(include_distance, "include_distance")
    found = await _search_async(request, kind, value, _names(banks), enabled_only=False)
    matches = sorted((d, i) for hits in found.values() for i, d in hits)
    if with_distance:
        return JSONResponse({"matches": [{"bank_content_id": i, "distance": str(d)} for d, i in matches]})
    return JSONResponse({"matches": [i for _, i in matches]})


@router.get(
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
    seed: Annotated[str | None, Query(description="accepted; unused, ratios are 0 or 1")] = None,
) -> Any:
    if url:
        raise HTTPException(400, URL_REFUSED)
    if not signal or not signal_type:
        raise HTTPException(400, "both signal and signal_type are required (url is not accepted here)")
    kind, value = _signal(signal_type, signal)
    bypass = _bool(bypass_coinflip, "bypass_coinflip")
    return _by_bank(await _search_async(request, kind, value, _names(banks), enabled_only=not bypass))


@router.post(
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
    seed: Annotated[str | None, Query(description="accepted; unused")] = None,
) -> Any:
    wanted = _types(types)
    bypass = _bool(bypass_coinflip, "bypass_coinflip")
    data = await _upload(request)

    def work() -> dict[str, Any]:
        hashes, _ = _hash(data, wanted, need_quality=True)
        indexes, names = bank_indexes(request), _names(banks)
        return {
            kind: _by_bank(_search(indexes, *parse_signal(kind, value), names, not bypass))
            for kind, value in hashes.items()
        }

    return await run_in_threadpool(work)


@router.get(
    "/m/index/status",
    response_model=dict[str, IndexStatusOut],
    summary="The match index per signal type: present, built_to, size",
)
def index_status(request: Request, signal_type: str | None = None) -> Any:
    indexes = bank_indexes(request)
    indexes.ensure_fresh()
    found = indexes.status()
    if signal_type is not None:
        if signal_type not in found:
            raise HTTPException(400, f"No such signal type '{signal_type}'")
        return {signal_type: found[signal_type]}
    return found


@router.post(
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
        if kind_ == "pdq":
            distance = (int.from_bytes(left) ^ int.from_bytes(right)).bit_count()
            results[kind] = (distance <= MATCH_THRESHOLD, {"distance": distance})
        else:
            results[kind] = (left == right, {})
    return results


# ------------------------------------------------------------------------------------------ /c curation


@router.get("/c/banks", response_model=list[BankConfigOut], summary="Every bank")
def banks_index(request: Request) -> Any:
    with get_store(request).session() as s:
        return [_config(b) for b in s.scalars(select(Bank).order_by(Bank.name))]


@router.post(
    "/c/banks",
    response_model=BankConfigOut,
    status_code=201,
    responses={403: {"model": HmaError, "description": "Bank already exists"}},
    summary="Create a bank",
)
def bank_create(body: BankCreateIn, request: Request, who: Hma) -> Any:
    enabled = _enabled(body.enabled_ratio, body.enabled)
    with get_store(request).session() as s:
        if s.scalar(select(Bank.id).where(Bank.name == body.name)) is not None:
            raise HTTPException(403, "Bank already exists")
        try:
            bank = create_bank(s, body.name, enabled=True if enabled is None else enabled)
        except NciiError as exc:
            raise HTTPException(400, str(exc)) from None
        attribute(s, who, "hma.bank_create", bank=bank.name)
        done = (bank.id, bank.name, bank.enabled, _config(bank))
    bank_indexes(request).bank_set(*done[:3])
    return done[3]


@router.get(
    "/c/bank/{bank_name}",
    response_model=BankConfigOut,
    responses={404: {"model": HmaError}},
    summary="One bank",
)
def bank_show(bank_name: str, request: Request) -> Any:
    with get_store(request).session() as s:
        return _config(_bank(s, bank_name))


@router.put(
    "/c/bank/{bank_name}",
    response_model=BankConfigOut,
    responses={404: {"model": HmaError}},
    summary="Rename, enable or disable a bank",
)
def bank_update(bank_name: str, body: BankUpdateIn, request: Request, who: Hma) -> Any:
    enabled = _enabled(body.enabled_ratio, body.enabled)
    with get_store(request).session() as s:
        bank = _bank(s, bank_name)
        renamed = body.name is not None and body.name != bank.name
        if renamed and s.scalar(select(Bank.id).where(Bank.name == body.name)) is not None:
            raise HTTPException(403, "Bank name already exists")
        try:
            update_bank(s, bank, name=body.name, enabled=enabled)
        except NciiError as exc:
            raise HTTPException(400, str(exc)) from None
        attribute(s, who, "hma.bank_update", bank=bank.name)
        done = (bank.id, bank.name, bank.enabled, _config(bank))
    bank_indexes(request).bank_set(*done[:3])
    return done[3]


@router.delete(
    "/c/bank/{bank_name}",
    response_model=MessageOut,
    responses={404: {"model": HmaError}},
    summary="Delete a bank, its hashes and the hits they made",
)
def bank_delete(bank_name: str, request: Request, who: Hma) -> Any:
    with get_store(request).session() as s:
        bank = _bank(s, bank_name)
        bank_id = bank.id
        attribute(s, who, "hma.bank_delete", bank=bank_name)
        delete_bank(s, bank)
    bank_indexes(request).bank_dropped(bank_id)
    return {"message": "Done"}


def _add(
    request: Request, who: Principal, bank_name: str, hashes: dict[str, str], via: str
) -> dict[str, Any]:
    """Bank each signal; the response's id is the first one's (the PDQ, for an upload)."""
    if not hashes:
        raise HTTPException(400, "No signals given")
    parsed = []
    for kind, value in hashes.items():
        try:
            parsed.append(parse_signal(kind, value))
        except NciiError as exc:
            raise HTTPException(400, str(exc)) from None
    with get_store(request).session() as s:
        bank = _bank(s, bank_name)
        rows = [(add_signal(s, bank, kind, value)[0].id, kind, value) for kind, value in parsed]
        attribute(s, who, via, bank=bank.name, signal_ids=[r[0] for r in rows])
        target = (bank.id, bank.name, bank.enabled)
    bank_indexes(request).added(*target, rows)
    return {"id": rows[0][0], "signals": {kind: value.hex() for _, kind, value in rows}}


@router.post(
    "/c/bank/{bank_name}/content",
    response_model=ContentAddedOut,
    responses={404: {"model": HmaError}},
    openapi_extra={"x-max-body-bytes": UPLOAD_MAX_BYTES},
    summary="Hash an uploaded photo and add it to the bank (matchable as soon as this returns)",
)
async def bank_add_content(
    bank_name: str,
    request: Request,
    who: Hma,
    types: Annotated[str | None, Query(description="e.g. pdq,sha256 (default pdq)")] = None,
) -> Any:
    wanted = _types(types)

    def exists() -> None:
        with get_store(request).session() as s:
            _bank(s, bank_name)

    await run_in_threadpool(exists)  # before reading a large upload for a bank that is not there
    data = await _upload(request)

    def work() -> dict[str, Any]:
        hashes, _ = _hash(data, wanted, need_quality=True)
        return _add(request, who, bank_name, hashes, "hma.bank_add_content")

    return await run_in_threadpool(work)


@router.post(
    "/c/bank/{bank_name}/signal",
    response_model=ContentAddedOut,
    responses={404: {"model": HmaError}},
    summary="Add signals to the bank directly: {signal_type: hash}",
)
def bank_add_signal(
    bank_name: str,
    body: Annotated[dict[str, str], Body(examples=[{"pdq": "f8f8…"}])],
    request: Request,
    who: Hma,
) -> Any:
    return _add(request, who, bank_name, body, "hma.bank_add_signal")


@router.get(
    "/c/bank/{bank_name}/content/{content_id}",
    response_model=BankContentOut,
    response_model_exclude_unset=True,
    responses={404: {"model": HmaError}},
    summary="One banked content (one signal)",
)
def bank_get_content(
    bank_name: str,
    content_id: int,
    request: Request,
    include_signals: str | None = None,
) -> Any:
    with get_store(request).session() as s:
        bank = _bank(s, bank_name)
        row = s.get(BankSignal, content_id)
        if row is None or row.bank_id != bank.id:
            raise HTTPException(404, f"content '{content_id}' not found")
        out: dict[str, Any] = dict(id=row.id, disable_until_ts=1, original_media_uri=None, bank=_config(bank))
        if _bool(include_signals, "include_signals"):  # as HMA: "signals" only when asked for
            out["signals"] = {row.signal_type: row.value.hex()}
        return BankContentOut(**out)


@router.delete(
    "/c/bank/{bank_name}/content/{content_id}",
    response_model=DeletedOut,
    responses={404: {"model": HmaError}},
    summary="Remove one banked content (it stops matching at once)",
)
def bank_delete_content(bank_name: str, content_id: int, request: Request, who: Hma) -> Any:
    with get_store(request).session() as s:
        bank = _bank(s, bank_name)
        count = remove_signal(s, bank, content_id)
        if count:
            attribute(s, who, "hma.bank_delete_content", bank=bank.name, signal_id=content_id)
        bank_id = bank.id
    if count:
        bank_indexes(request).removed(bank_id, [content_id])
    return {"deleted": count}
