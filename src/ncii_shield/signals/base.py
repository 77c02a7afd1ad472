"""The contract every signal kind meets, and the plain data passed between a kind and the stages using it.

A kind is one route by which a hit is found (exact, pdq, video, partial, face, text). What is specific to
it lives in one module under `signals/kinds/`: computing it from decoded media, its stored and sealed
forms, its distance and threshold, what enrolment keeps of a photo, what a scan stores of a media file,
and how a case's references are matched against what is stored. Enrolment, matching and the evidence
writer loop over `signals/registry.py` instead of comparing kind names, so a new kind is one module plus
its tests, and `tests/test_signal_kinds.py` holds every registered kind to this contract.

Light to import: heavy libraries (dlib, onnxruntime, cv2, av) are imported inside the functions using them.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ncii_shield.store import crypto

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ncii_shield.media.decode import Decoded
    from ncii_shield.signals.analyse import Analysis
    from ncii_shield.store.db import Store
    from ncii_shield.store.models import Signal

V = TypeVar("V")


@dataclass(frozen=True)
class MediaMatch:
    """One stored media file matched by one route: what becomes a hit on every item carrying it."""

    media_id: int
    kind: str
    reference_id: int
    distance: float | None
    signal_id: int | None
    details: dict[str, object] | None = None


@dataclass(frozen=True)
class ReferenceRow:
    """A stored reference as matching reads it. `kind` is the stored form's name (Reference.kind)."""

    id: int
    kind: str
    variant: int
    photo_sha256: str
    value: bytes
    quality: int | None


@dataclass(frozen=True)
class NewReference:
    """A reference enrolment is about to store (Reference.kind, stored or sealed value)."""

    kind: str
    value: bytes
    variant: int = 0
    quality: int | None = None


@dataclass
class Enrolment:
    """What one kind keeps of one enrolled photo, and what the person enrolling it should know."""

    references: list[NewReference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Sample:
    """One input, decoded once: a photo being enrolled, a file, or a text. Kinds share work through `once`
    (the dihedral PDQ a report quotes is the one enrolment stores)."""

    def __init__(self, data: bytes = b"", *, label: str = "", text: str | None = None, key: bytes = b""):
        self.data = data
        self.label = label
        self.text = text  # for kinds computed from text
        self.key = key  # for keyed kinds (text: the watchlist secret)
        self._memo: dict[str, Any] = {}

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def decoded(self) -> Decoded:
        """The decoded image (first frame of a video). Raises MediaError."""
        from ncii_shield.media.decode import decode_image

        return decode_image(self.data)

    @property
    def is_video(self) -> bool:
        return self.decoded.format.startswith("video/")

    def once(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


class CaseKey:
    """A case's data key, fetched from the keyring only when a kind seals or opens something with it."""

    def __init__(self, case_id: int, fetch: Callable[[], bytes]):
        self.case_id = case_id
        self._fetch = fetch
        self._key: bytes | None = None

    @property
    def key(self) -> bytes:
        if self._key is None:
            self._key = self._fetch()
        return self._key


@dataclass
class MatchContext:
    """What a kind's matcher may use: the open session, the case, and the matches of the kinds before it
    in KIND_ORDER (a partial copy is verified only when no hash route found the media)."""

    session: Session
    case_id: int
    found: list[MediaMatch] = field(default_factory=list)


class SignalKind(ABC, Generic[V]):
    """One route to a hit. Value-level methods are pure; the stage hooks default to "nothing to do"."""

    name: ClassVar[str]  # the hit kind, one of KIND_ORDER
    threshold: ClassVar[float]  # `within(distance)`: at or under it is a match (see `within`)
    aad: ClassVar[str | None] = None  # sealed with the case key under this AAD ("reference:{case_id}")
    reference_kinds: ClassVar[tuple[str, ...]] = ()  # the Reference.kind values it stores
    signal_kinds: ClassVar[tuple[str, ...]] = ()  # the Signal.kind values it stores at scan time
    report_group: ClassVar[str | None] = None  # the report groups its hits under this, not an enrolled photo
    inputs: ClassVar[str] = "image"  # what `compute` reads from a Sample: "image", "video" or "text"
    exchange_type: ClassVar[str | None] = (
        None  # its signal type in threatexchange / HMA banks ("pdq", "sha256")
    )

    # ------------------------------------------------------------------------------ values

    @abstractmethod
    def compute(self, sample: Sample) -> V:
        """The value of a sample (deterministic). Raises MediaError when the sample cannot be read."""

    @abstractmethod
    def pack(self, value: V) -> bytes:
        """The stored form: bytes as they sit in the store (the same bytes as data already stored)."""

    @abstractmethod
    def unpack(self, data: bytes) -> V:
        """Parse the stored form; raises ValueError (or a subclass) for bytes that are not one."""

    @abstractmethod
    def distance(self, a: V, b: V) -> float:
        """0 for the same value; compare with `within`. `math.inf` when the two cannot match at all."""

    def within(self, distance: float) -> bool:
        return distance <= self.threshold

    def to_text(self, value: V) -> str:
        """The text form banks and APIs exchange (hex of the stored form unless a kind says otherwise)."""
        return self.pack(value).hex()

    def parse(self, text: str) -> V:
        """A value from its text form; raises ValueError with a clear reason."""
        return self.unpack(bytes.fromhex(text.strip()))

    def aad_for(self, case_id: int) -> bytes:
        if self.aad is None:
            raise ValueError(f"{self.name} values are stored in clear, not sealed")
        return self.aad.format(case_id=case_id).encode()

    def seal(self, case_key: bytes, case_id: int, value: V) -> bytes:
        """The form a reference is stored in: sealed with its case's key (purging the case shreds it) for
        kinds with an AAD, the stored form otherwise."""
        data = self.pack(value)
        return data if self.aad is None else crypto.seal(case_key, data, self.aad_for(case_id))

    def open(self, case_key: bytes, case_id: int, sealed: bytes) -> V:
        """The value of a sealed reference; raises KeyringError for another case's key or id."""
        if self.aad is None:
            return self.unpack(sealed)
        return self.unpack(crypto.unseal(case_key, sealed, self.aad_for(case_id)))

    # ------------------------------------------------------------------------------ enrolment

    def facts(self, sample: Sample) -> dict[str, int]:
        """What enrolment reports about a photo for this kind, enrolled before or not (e.g. pdq_quality)."""
        return {}

    def enrol(self, sample: Sample, key: CaseKey) -> Enrolment:
        """The references this kind keeps of a newly enrolled photo."""
        return Enrolment()

    # ------------------------------------------------------------------------------ scanning

    def stored_signals(self, analysis: Analysis) -> list[Signal]:
        """The Signal rows a scan stores for an analysed media file (sealed columns seal themselves)."""
        return []

    def describe_media(self, signals: Sequence[Signal]) -> dict[str, object]:
        """What the evidence bundle says about a media file's signals of this kind."""
        return {}

    # ------------------------------------------------------------------------------ matching

    def load(self, rows: Mapping[str, Sequence[ReferenceRow]], key: CaseKey) -> Any | None:
        """A case's references in the shape `match` wants; None when the case has none of this kind."""
        return None

    def match(self, ctx: MatchContext, refs: Any | None) -> list[MediaMatch]:
        """Every stored media file the references match by this route."""
        return []

    def match_items(self, store: Store, session: Session, case_id: int) -> Counter[str]:
        """Hits this kind writes itself, per item rather than per media file (text). New hits by kind."""
        return Counter()
