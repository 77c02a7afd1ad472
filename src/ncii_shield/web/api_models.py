"""The API's response models, derived from the read layer's dataclasses: one shape, not two.

``model_of(Row, "RowOut")`` makes a Pydantic model with the dataclass's fields, types and descriptions
(``Annotated[..., Doc(...)]``), under the name /api/v1/openapi.json has always used. Dataclasses inside
(a case's ``hit_counts``, a status's ``notices``) become the models derived before them, so nested shapes
are derived too. Fields a screen needs but the API does not send (a consent note) are left out by name.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.read.cases import CaseDetail, CaseSummary, DecisionCounts
from ncii_shield.read.hits import HitCounts, HitRow
from ncii_shield.read.rooms import Chat, Edge, RoomGraph
from ncii_shield.read.shape import Doc
from ncii_shield.read.takedown import AlertRow, PlatformStats
from ncii_shield.read.takedown_clocks import NoticeWithClock, TakedownWithClocks
from ncii_shield.read.transparency import PlatformTransparency, Transparency

_DERIVED: dict[type, type[BaseModel]] = {}


def model_of(cls: type, name: str, *, exclude: frozenset[str] = frozenset()) -> type[BaseModel]:
    """A Pydantic model of the dataclass ``cls`` (validated from its instances' attributes)."""
    hints = get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in exclude:
            continue
        annotation, description = _unwrap(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else ...
        fields[f.name] = (_convert(annotation), Field(default, description=description))
    model = create_model(  # type: ignore[call-overload]
        name,
        __config__=ConfigDict(from_attributes=True),
        __doc__=(cls.__doc__ or "").strip() or None,
        **fields,
    )
    _DERIVED[cls] = model
    return model  # type: ignore[no-any-return]


def _unwrap(annotation: Any) -> tuple[Any, str | None]:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        return base, next((e.text for e in extras if isinstance(e, Doc)), None)
    return annotation, None


def _convert(annotation: Any) -> Any:
    """The annotation with every dataclass already derived replaced by its model (tuples become lists)."""
    if annotation in _DERIVED:
        return _DERIVED[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal or not args:
        return annotation
    if origin in (Union, types.UnionType):
        return Union[tuple(_convert(a) for a in args)]  # noqa: UP007 (built from a tuple)
    if origin is tuple:
        return list[_convert(args[0])]  # type: ignore[misc]
    if origin is list:
        return list[_convert(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[_convert(args[0]), _convert(args[1])]  # type: ignore[misc]
    return annotation


HitKind = Literal["exact", "pdq", "video", "partial", "face", "text"]
assert set(get_args(HitKind)) == set(KIND_ORDER), "HitKind must list every kind of kinds.KIND_ORDER"

HitCountsOut = model_of(HitCounts, "HitCounts")
DecisionCountsOut = model_of(DecisionCounts, "DecisionCounts")
CaseSummaryOut = model_of(CaseSummary, "CaseSummary")
CaseDetailOut = model_of(
    CaseDetail, "CaseDetail", exclude=frozenset({"consent_by", "consent_note", "enrolled", "purged_at"})
)
HitOut = model_of(HitRow, "HitOut")
ChatOut = model_of(Chat, "ChatOut")
EdgeOut = model_of(Edge, "EdgeOut")
RoomsOut = model_of(RoomGraph, "RoomsOut")
# Each notice with its clocks (due_at, overdue, next_resend_at, escalated_at…), as `takedown status --json`.
NoticeOut = model_of(NoticeWithClock, "NoticeOut")
PlatformOut = model_of(PlatformStats, "PlatformOut")
AlertOut = model_of(AlertRow, "AlertOut")
TakedownOut = model_of(TakedownWithClocks, "TakedownOut")
PlatformTransparencyOut = model_of(PlatformTransparency, "PlatformTransparency")
TransparencyOut = model_of(Transparency, "TransparencyOut")

__all__ = [
    "CaseDetailOut",
    "CaseSummaryOut",
    "HitKind",
    "HitOut",
    "RoomsOut",
    "TakedownOut",
    "TransparencyOut",
    "model_of",
]
