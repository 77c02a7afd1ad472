"""The HMA-compatible API's JSON shapes, as HMA's OpenMediaMatch sends them (web/hma.py serves them).

Kept apart from the routes so a client, a test or the OpenAPI description can read the shapes alone.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class ContentMetadata(BaseModel):
    """HMA's banked content metadata (only these keys; any other is a 400)."""

    content_id: str | None = Field(None, description="the platform's own id for the content")
    content_uri: str | None = Field(None, description="where the platform keeps it (never fetched here)")
    json_: dict[str, object] | None = Field(None, alias="json", description="anything else, as JSON")
    collab: dict[str, list[str]] | None = Field(None, description="exchange name -> fetch keys")


class BankContentOut(BaseModel):
    id: int
    disable_until_ts: int = Field(description="1 enabled, 0 disabled, else a unix time until which it is")
    original_media_uri: str | None = None
    bank: BankConfigOut
    signals: dict[str, str] | None = Field(None, description="with include_signals=true or signal_type=")
    metadata: ContentMetadata | None = Field(None, description="when there is some (include_metadata=false)")
    note: str | None = Field(None, description="when there is one (at most 255 characters)")


class BankContentUpdateIn(BaseModel):
    """HMA reads disable_until_ts (and note) and ignores other keys; here another key is a 400, so a
    misspelt field is not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    disable_until_ts: int | str | None = Field(None, description="1, 0, or a unix time <= 5 years ahead")
    note: str | None = Field(None, description="at most 255 characters; null or empty clears it")


class MessageOut(BaseModel):
    message: str


class DeletedOut(BaseModel):
    deleted: int
