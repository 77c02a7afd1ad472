"""The HMA-compatible API's JSON shapes, as HMA's OpenMediaMatch sends them (web/hma.py serves them).

Kept apart from the routes so a client, a test or the OpenAPI description can read the shapes alone.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class HmaError(BaseModel):
    message: str = Field(description="what went wrong (HMA's key)")
    detail: str = Field(description="the same text (this project's key)")


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
