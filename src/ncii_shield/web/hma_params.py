"""Reading an HMA request: query parameters, the uploaded file, hashing it, and shaping answers.

HMA's parameters have their own conventions (booleans as true/1, comma-separated lists, a file field
named after its content type); these functions read them the way HMA does and refuse anything else
with a 400 that says what was wrong, so web/hma.py holds only the routes.
"""

from __future__ import annotations

import hashlib
import json
import re

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from ncii_shield.banks.formats import SUPPORTED
from ncii_shield.banks.service import find_bank, parse_signal
from ncii_shield.errors import MediaError, NotFound
from ncii_shield.signals.pdq import MIN_QUALITY, pdq_from_bytes
from ncii_shield.store.models import Bank

UPLOAD_MAX_BYTES = 50 * 1024 * 1024  # one photo per request; HMA's own default for fetched files is 100 MB
CONTENT_TYPES = ("photo",)  # multipart field names, as in HMA (the field is named after the content type)
SIGNAL_TYPES = tuple(SUPPORTED)  # pdq, sha256
DEFAULT_TYPES = ("pdq",)  # what an upload is hashed into unless ?types= asks for more (HMA: photo -> pdq)
URL_REFUSED = (
    "fetching a URL is refused: this server hashes uploaded content only, because a server that fetches "
    "URLs it is given can be made to reach internal addresses (server-side request forgery). "
    "Upload the file instead: multipart/form-data with the field 'photo', or the raw bytes as the body"
)


def flag(value: str | None, name: str, default: bool = False) -> bool:
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise HTTPException(400, f"invalid boolean parameter {name} - prefer true/false")


def signal_param(signal_type: str | None, signal: str | None) -> tuple[str, bytes]:
    """The (type, value) of ?signal_type=&signal=; NciiError (a 400) naming what is wrong."""
    if signal is None or signal == "":
        raise HTTPException(400, "signal is required")
    if signal_type is None or signal_type == "":
        raise HTTPException(400, "signal_type is required")
    return parse_signal(signal_type, signal)


def types_param(types: str | None) -> tuple[str, ...]:
    if types is None:
        return DEFAULT_TYPES
    chosen = tuple(dict.fromkeys(t.strip().lower() for t in types.split(",") if t.strip()))
    for kind in chosen:
        if kind not in SIGNAL_TYPES:
            raise HTTPException(400, f"signal type '{kind}' doesn't exist or is disabled")
    if not chosen:
        raise HTTPException(400, "empty signal type selection")
    return chosen


def bank_names(banks: str | None) -> set[str] | None:
    """The banks named in ?banks=a,b (None: every bank)."""
    names = {b.strip() for b in (banks or "").split(",") if b.strip()}
    return names or None


def hash_content(
    data: bytes, types: tuple[str, ...], *, need_quality: bool
) -> tuple[dict[str, str], int | None]:
    """HMA's hash of an upload: {signal type: hex}. A PDQ too unreliable to match (quality < 50) is ""
    as in HMA, or, where the hash would be used (lookup, banking), a 400 saying why."""
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


async def read_upload(request: Request) -> bytes:
    """The one uploaded file (see read_upload_fields)."""
    return (await read_upload_fields(request))[0]


async def read_upload_fields(request: Request) -> tuple[bytes, dict[str, str]]:
    """The one uploaded file: a multipart field named after its content type (HMA's 'photo'), or the
    raw body; and the form's text fields (e.g. metadata and note), or the query's for a raw body. The
    size is capped as it arrives (HMARoute / BodyLimitRoute)."""
    if request.query_params.get("url"):
        raise HTTPException(400, URL_REFUSED)
    fields: dict[str, str] = {}
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form(max_files=2, max_fields=20)
        try:
            files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
            fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
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
        if request.headers.get("content-type", "").lower().startswith("application/json"):
            raise HTTPException(
                400,
                "a JSON body carries no content: upload the file (multipart/form-data with the field "
                "'photo', its metadata and note as form fields), as this server never fetches a url",
            )
        data = await request.body()
        fields = {k: v for k, v in request.query_params.items() if k in ("metadata", "note")}
    if not data:
        raise HTTPException(400, "Missing multipart/form-data file upload (or a raw image body)")
    return data, fields


def json_field(fields: dict[str, str], name: str) -> object:
    """A form field holding JSON (HMA sends metadata as a JSON object); None if absent."""
    text = fields.get(name)
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise HTTPException(400, f"{name} should be a json object") from None


BANK_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def check_bank_name(name: str) -> str:
    """HMA's bank name rule: upper case letters, digits and _, not starting with a digit (400 else)."""
    if not BANK_NAME.match(name) or len(name) > 100:
        raise HTTPException(
            400,
            f"invalid bank name {name!r}: a bank name must match {BANK_NAME.pattern} (upper case letters, "
            "digits and _, not starting with a digit) and be at most 100 characters",
        )
    return name


def bank_named(session: Session, name: str) -> Bank:
    """The bank named in the path; NotFound (404, HMA's words) if there is none."""
    bank = find_bank(session, name)
    if bank is None:
        raise NotFound(f"bank '{name}' not found")
    return bank


def config(bank: Bank) -> dict[str, object]:
    ratio = bank.matching_ratio if bank.matching_ratio is not None else 1.0 if bank.enabled else 0.0
    return {"name": bank.name, "matching_enabled_ratio": ratio}


def enabled_param(
    enabled_ratio: float | None, enabled: bool | None, exact: bool = False
) -> tuple[bool | None, float | None]:
    """(enabled, ratio) from HMA's enabled_ratio / enabled. A ratio between 0 and 1 only with
    NCII_HMA_EXACT (`exact`): by default a bank is matched or not, never on a coin flip."""
    if enabled_ratio is not None:
        if not 0.0 <= enabled_ratio <= 1.0:
            raise HTTPException(400, f"enabled_ratio {enabled_ratio} must be between 0.0 and 1.0")
        if enabled_ratio not in (0.0, 1.0) and not exact:
            raise HTTPException(
                400,
                f"enabled_ratio {enabled_ratio} is not supported: a bank here is matched (1.0) or not (0.0) "
                "(NCII_HMA_EXACT=1 allows HMA's partial ratios)",
            )
        return enabled_ratio > 0.0, enabled_ratio
    return enabled, None


def by_bank(found: dict[str, list[tuple[int, int]]]) -> dict[str, list[dict[str, object]]]:
    """HMA's /m/lookup answer for one signal: {bank: [{bank_content_id, distance}]}. Only enabled banks
    are searched for it, or every bank with bypass_coinflip (in HMA a bypassed coin flip is 0, which
    lets a bank with ratio 0.0 through)."""
    return {
        name: [{"bank_content_id": i, "distance": str(d)} for i, d in hits]
        for name, hits in sorted(found.items())
    }
