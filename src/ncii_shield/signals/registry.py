"""Every signal kind, strongest evidence first: the one list enrolment, matching and reports loop over.

Adding a kind: write its module under signals/kinds/ (the contract is signals/base.py), add its name to
KIND_ORDER in kinds.py and an instance here; tests/test_signal_kinds.py then holds it to the contract.
Importing this module loads no heavy library (dlib, onnxruntime, cv2, av): kinds import them where used.
"""

from __future__ import annotations

from typing import Any

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.signals.base import SignalKind
from ncii_shield.signals.kinds.exact import ExactKind
from ncii_shield.signals.kinds.face import FaceKind
from ncii_shield.signals.kinds.partial import PartialKind
from ncii_shield.signals.kinds.pdq import PdqKind
from ncii_shield.signals.kinds.text import TextKind
from ncii_shield.signals.kinds.video import VideoKind

KINDS: tuple[SignalKind[Any], ...] = (
    ExactKind(),
    PdqKind(),
    VideoKind(),
    PartialKind(),
    FaceKind(),
    TextKind(),
)
BY_NAME: dict[str, SignalKind[Any]] = {k.name: k for k in KINDS}
BY_EXCHANGE_TYPE: dict[str, SignalKind[Any]] = {k.exchange_type: k for k in KINDS if k.exchange_type}

if tuple(BY_NAME) != KIND_ORDER:  # one order everywhere: reports, hit rows and matching use it
    raise RuntimeError(f"registered kinds {tuple(BY_NAME)} differ from KIND_ORDER {KIND_ORDER}")


def kind(name: str) -> SignalKind[Any]:
    """The kind called `name`; raises KeyError for a name no kind has."""
    return BY_NAME[name]


def by_exchange_type(signal_type: str) -> SignalKind[Any] | None:
    """The kind a bank's signal type ("pdq", "sha256") is matched as; None for a type no kind reads."""
    return BY_EXCHANGE_TYPE.get(signal_type)


def report_groups() -> tuple[str, ...]:
    """Titles of the report groups that are not an enrolled photo, in KIND_ORDER."""
    return tuple(k.report_group for k in KINDS if k.report_group)
