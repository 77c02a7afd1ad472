"""The HMA-compatible API's banked content: add (by upload or by hash), show, update, remove.

As OpenMediaMatch's curation blueprint: content carries a note (at most 255 characters), HMA's metadata
(content_id, content_uri, json, collab; any other key is a 400) and disable_until_ts (at most five years
ahead), and GET answers with each only when there is one. Where HMA reads metadata from a JSON body sent
beside ``?url=``, this server takes the upload itself (it never fetches a URL), so metadata and note come
as multipart form fields beside the file, or as query parameters with a raw body. The rules live in
banks/content.py; routes register on hma_http.curator (web/hma.py imports this module).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ncii_shield.banks.content import annotate, check_metadata, check_note, describe, paused, update_content
from ncii_shield.banks.service import add_signal, bank_content, parse_signal, partial_ratios, remove_signal
from ncii_shield.store.db import Store
from ncii_shield.store.models import Bank, BankSignal
from ncii_shield.web.api import attribute
from ncii_shield.web.auth import Principal
from ncii_shield.web.deps import get_store
from ncii_shield.web.hma_http import Hma, curator
from ncii_shield.web.hma_models import (
    BankContentOut,
    BankContentUpdateIn,
    ContentAddedOut,
    DeletedOut,
    HmaError,
)
from ncii_shield.web.hma_params import (
    SIGNAL_TYPES,
    UPLOAD_MAX_BYTES,
    bank_named,
    config,
    flag,
    hash_content,
    json_field,
    read_upload_fields,
    types_param,
)

# Signal types an HMA deployment has by default that nothing here banks: asking for one is not an error
# (HMA answers "signals": {} for content without it), asking for a type nobody knows is.
HMA_ONLY_TYPES = ("video_md5",)


def _add(
    request: Request,
    who: Principal,
    bank_name: str,
    hashes: dict[str, str],
    via: str,
    note: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bank each signal; the response's id is the first one's (the PDQ, for an upload). The bank index
    takes them in place as the transaction commits (banks/changes.py), so they match on return."""
    if not hashes:
        raise HTTPException(400, "No signals given")
    parsed = [parse_signal(kind, value) for kind, value in hashes.items()]
    with get_store(request).session() as s:
        bank = bank_named(s, bank_name)
        rows = [add_signal(s, bank, kind, value)[0] for kind, value in parsed]
        annotate(s, bank, rows, note=note, metadata=metadata)
        ids = [r.id for r in rows]
        attribute(s, who, via, bank=bank.name, signal_ids=ids)
    return {"id": ids[0], "signals": {kind: value.hex() for kind, value in parsed}}


@curator.post(
    "/c/bank/{bank_name}/content",
    response_model=ContentAddedOut,
    responses={404: {"model": HmaError}},
    openapi_extra={"x-max-body-bytes": UPLOAD_MAX_BYTES},
    summary="Hash an uploaded photo and add it to the bank (matchable as soon as this returns)",
    description="multipart/form-data with the file in 'photo', and optionally the form fields 'metadata' "
    "(HMA's JSON object: content_id, content_uri, json, collab) and 'note' (<= 255 characters); or the raw "
    "bytes as the body with ?metadata=&note=. ?url= is refused: upload the bytes.",
)
async def bank_add_content(
    bank_name: str,
    request: Request,
    who: Hma,
    types: Annotated[str | None, Query(description="e.g. pdq,sha256 (default pdq)")] = None,
) -> Any:
    wanted = types_param(types)

    def exists() -> None:
        with get_store(request).session() as s:
            bank_named(s, bank_name)

    await run_in_threadpool(exists)  # before reading a large upload for a bank that is not there
    data, fields = await read_upload_fields(request)
    metadata = check_metadata(json_field(fields, "metadata"))
    note = check_note(fields.get("note"))

    def work() -> dict[str, Any]:
        hashes, _ = hash_content(data, wanted, need_quality=True)
        return _add(request, who, bank_name, hashes, "hma.bank_add_content", note, metadata)

    return await run_in_threadpool(work)


@curator.post(
    "/c/bank/{bank_name}/signal",
    response_model=ContentAddedOut,
    responses={404: {"model": HmaError}},
    summary="Add signals to the bank directly: {signal_type: hash}, with an optional note and metadata",
)
def bank_add_signal(
    bank_name: str,
    body: Annotated[dict[str, Any], Body(examples=[{"pdq": "f8f8…", "note": "from partner X"}])],
    request: Request,
    who: Hma,
) -> Any:
    signals = dict(body)
    note = check_note(signals.pop("note", None))
    metadata = check_metadata(signals.pop("metadata", None))
    for kind, value in signals.items():
        if not isinstance(value, str):
            raise HTTPException(400, f"Invalid {kind} signal: a hash is a string")
    with get_store(request).session() as s:
        bank_named(s, bank_name)  # 404 before 400s about the signals, as HMA
    return _add(request, who, bank_name, signals, "hma.bank_add_signal", note, metadata)


def _shown(bank: Bank, row: BankSignal, signals: dict[str, str] | None, include_metadata: bool) -> Any:
    out: dict[str, Any] = dict(
        id=row.id, disable_until_ts=row.disable_until_ts, original_media_uri=None, bank=config(bank)
    )
    if signals is not None:
        out["signals"] = signals
    out.update(describe(row, include_metadata=include_metadata))
    return BankContentOut(**out)


@curator.get(
    "/c/bank/{bank_name}/content/{content_id}",
    response_model=BankContentOut,
    response_model_exclude_unset=True,
    responses={404: {"model": HmaError}},
    summary="One banked content (one signal), with its note and metadata when it has them",
)
def bank_get_content(
    bank_name: str,
    content_id: int,
    request: Request,
    include_signals: Annotated[str | None, Query(description="true: every signal")] = None,
    include_metadata: Annotated[str | None, Query(description="false: leave metadata out")] = None,
    signal_type: Annotated[str | None, Query(description="only this type's signal ({} if none)")] = None,
) -> Any:
    if signal_type is not None and signal_type not in SIGNAL_TYPES + HMA_ONLY_TYPES:
        raise HTTPException(400, f"No such signal type '{signal_type}'")
    everything = flag(include_signals, "include_signals")
    with_metadata = flag(include_metadata, "include_metadata", default=True)
    with get_store(request).session() as s:
        bank = bank_named(s, bank_name)
        row = bank_content(s, bank, content_id)
        signals = None
        if everything or signal_type is not None:  # as HMA: "signals" only when asked for
            held = {row.signal_type: row.value.hex()}
            signals = held if everything else {k: v for k, v in held.items() if k == signal_type}
        return _shown(bank, row, signals, with_metadata)


@curator.put(
    "/c/bank/{bank_name}/content/{content_id}",
    response_model=BankContentOut,
    response_model_exclude_unset=True,
    responses={404: {"model": HmaError}},
    summary="Update a banked content: disable_until_ts (<= 5 years ahead) and/or note",
)
def bank_update_content(
    bank_name: str, content_id: int, body: BankContentUpdateIn, request: Request, who: Hma
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    with get_store(request).session() as s:
        bank = bank_named(s, bank_name)
        row = update_content(s, bank, bank_content(s, bank, content_id), changes)
        attribute(
            s, who, "hma.bank_update_content", bank=bank.name, signal_id=row.id, changed=sorted(changes)
        )
        return _shown(bank, row, None, True)


@curator.delete(
    "/c/bank/{bank_name}/content/{content_id}",
    response_model=DeletedOut,
    responses={404: {"model": HmaError}},
    summary="Remove one banked content (it stops matching at once)",
)
def bank_delete_content(bank_name: str, content_id: int, request: Request, who: Hma) -> Any:
    with get_store(request).session() as s:
        bank = bank_named(s, bank_name)
        count = remove_signal(s, bank, content_id)
        if count:
            attribute(s, who, "hma.bank_delete_content", bank=bank.name, signal_id=content_id)
    return {"deleted": count}


def drop_paused(
    store: Store, found: dict[str, list[tuple[int, int]]], coinflip: float = 0.0
) -> dict[str, list[tuple[int, int]]]:
    """/m/lookup's answer as HMA gives it: without content whose disable_until_ts pauses it now, and
    without banks whose partial matching ratio (NCII_HMA_EXACT) is below this lookup's coin flip."""
    ids = [i for hits in found.values() for i, _ in hits]
    if not ids:
        return found
    with store.session() as s:
        off = paused(s, ids)
        ratios = partial_ratios(s, list(found))
    kept = {
        bank: [(i, d) for i, d in hits if i not in off]
        for bank, hits in found.items()
        if ratios.get(bank, 1.0) >= coinflip
    }
    return {bank: hits for bank, hits in kept.items() if hits}
