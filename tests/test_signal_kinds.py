"""The contract every signal kind meets (signals/base.py), run against every registered kind.

In the style of python-threatexchange's shared SignalType tests: a kind registered in signals/registry.py
is held to all of this without a line added here, and a kind whose input this file cannot build fails
rather than being skipped.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from ncii_shield.kinds import KIND_ORDER
from ncii_shield.signals.base import CaseKey, Sample, SignalKind
from ncii_shield.signals.registry import BY_NAME, KINDS
from ncii_shield.store import crypto
from ncii_shield.store.crypto import KeyringError
from tests.conftest import ASSETS

HEAVY = ("dlib", "onnxruntime", "cv2", "av")

# Data already stored must still open: the AAD of every kind that sealed references before the registry.
STORED_AAD = {"face": "reference:{case_id}", "partial": "features:{case_id}"}

CASE_ID = 7
WATCH_KEY = os.urandom(32)


def _clip(photo: str, frames: int = 24) -> bytes:
    """A 3-second benign video: a slow pan across a demo photo (10 fps)."""
    image = np.asarray(Image.open(ASSETS / photo).convert("RGB").resize((360, 240)))
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height = 320, 240
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = np.ascontiguousarray(image[:, i : i + 320])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buf.getvalue()


def _samples(inputs: str) -> tuple[Sample, Sample, Sample]:
    """(a sample, the same input again, a clearly different benign input) for a kind's input type."""
    if inputs == "image":
        same = (ASSETS / "obama.jpg").read_bytes()
        return Sample(same), Sample(same), Sample((ASSETS / "biden.jpg").read_bytes())
    if inputs == "video":
        same = _clip("obama.jpg")
        return Sample(same), Sample(same), Sample(_clip("mate-Aqua.jpg"))
    if inputs == "text":
        text = "김하린 한빛여고 07년생 아시는 분?"
        other = "오늘 점심 메뉴 추천 부탁드려요"
        return (
            Sample(text=text, key=WATCH_KEY),
            Sample(text=text, key=WATCH_KEY),
            Sample(text=other, key=WATCH_KEY),
        )
    raise AssertionError(
        f"no benign {inputs!r} input to test a kind with: add one to tests/test_signal_kinds.py"
    )


_VALUES: dict[str, tuple[Any, Any, Any]] = {}


def _values(kind: SignalKind[Any]) -> tuple[Any, Any, Any]:
    """The kind's value of each sample, computed once per test session."""
    if kind.name not in _VALUES:
        first, again, other = _samples(kind.inputs)
        _VALUES[kind.name] = (kind.compute(first), kind.compute(again), kind.compute(other))
    return _VALUES[kind.name]


kinds = pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])


def test_the_registry_is_kind_order() -> None:
    assert tuple(k.name for k in KINDS) == KIND_ORDER
    assert all(BY_NAME[name].name == name for name in KIND_ORDER)
    types = [k.exchange_type for k in KINDS if k.exchange_type]
    assert len(types) == len(set(types)) and {"pdq", "sha256"} <= set(types)


def test_bank_hashes_parse_and_compare_through_their_kind() -> None:
    """What a bank matcher needs from a kind: hex text in, a distance, the threshold."""
    from ncii_shield.signals.registry import by_exchange_type

    pdq = by_exchange_type("pdq")
    assert pdq is not None and by_exchange_type("md5") is None
    a = pdq.parse("f" * 64)
    b = pdq.parse("f" * 56 + "0" * 8)
    assert pdq.distance(a, b) == 32 and not pdq.within(32) and pdq.within(pdq.threshold)
    exact = by_exchange_type("sha256")
    assert exact is not None and exact.within(exact.distance(exact.parse("AB" * 32), exact.parse("ab" * 32)))
    with pytest.raises(ValueError):
        pdq.parse("abc")


@kinds
def test_kind_declares_what_it_is(kind: SignalKind[Any]) -> None:
    assert isinstance(kind, SignalKind)
    assert kind.name in KIND_ORDER
    assert isinstance(kind.threshold, int | float) and kind.threshold >= 0
    assert kind.inputs in ("image", "video", "text")
    if kind.aad is not None:
        assert kind.aad.format(case_id=CASE_ID) != kind.aad.format(case_id=CASE_ID + 1), "AAD names its case"


@kinds
def test_computing_is_deterministic(kind: SignalKind[Any]) -> None:
    first, again, _ = _values(kind)
    assert kind.pack(first) == kind.pack(again)


@kinds
def test_stored_form_round_trips(kind: SignalKind[Any]) -> None:
    value, _, _ = _values(kind)
    stored = kind.pack(value)
    assert isinstance(stored, bytes) and stored
    back = kind.unpack(stored)
    assert kind.pack(back) == stored
    assert kind.distance(back, value) == 0


@kinds
def test_text_form_round_trips(kind: SignalKind[Any]) -> None:
    value, _, _ = _values(kind)
    text = kind.to_text(value)
    assert isinstance(text, str)
    assert kind.pack(kind.parse(text)) == kind.pack(value)
    assert kind.pack(kind.parse(f"  {text.upper()}\n")) == kind.pack(value), "hex text is read leniently"


@kinds
def test_a_stored_form_that_is_not_one_is_refused(kind: SignalKind[Any]) -> None:
    with pytest.raises(ValueError):
        kind.unpack(b"")
    with pytest.raises(ValueError):
        kind.unpack(b"\x00\x01\x02")


@kinds
def test_sealed_form_opens_only_with_its_case_key_and_id(kind: SignalKind[Any]) -> None:
    value, _, _ = _values(kind)
    key, other_key = os.urandom(32), os.urandom(32)
    sealed = kind.seal(key, CASE_ID, value)
    assert kind.pack(kind.open(key, CASE_ID, sealed)) == kind.pack(value)
    if kind.aad is None:
        assert sealed == kind.pack(value), "a kind without an AAD is stored in clear"
        assert kind.name not in STORED_AAD
        return
    assert kind.pack(value) not in sealed
    assert kind.aad == STORED_AAD.get(kind.name, kind.aad), "stored references must keep opening"
    assert crypto.unseal(key, sealed, kind.aad.format(case_id=CASE_ID).encode()) == kind.pack(value)
    with pytest.raises(KeyringError):
        kind.open(key, CASE_ID + 1, sealed)
    with pytest.raises(KeyringError):
        kind.open(other_key, CASE_ID, sealed)


@kinds
def test_distance_to_itself_is_zero_and_within_threshold(kind: SignalKind[Any]) -> None:
    first, again, _ = _values(kind)
    assert kind.distance(first, first) == 0
    assert kind.distance(first, again) == 0
    assert kind.within(0)


@kinds
def test_a_clearly_different_input_is_beyond_the_threshold(kind: SignalKind[Any]) -> None:
    first, _, other = _values(kind)
    distance = kind.distance(other, first)
    assert distance > 0 and not kind.within(distance), distance
    assert math.isinf(distance) or distance > kind.threshold


@kinds
def test_enrolment_stores_only_forms_a_kind_loads(kind: SignalKind[Any]) -> None:
    """What a kind stores at enrolment is read back by a registered kind's `load` (nothing is orphaned)."""
    if kind.inputs == "text":
        return  # watch terms are added by text/service.add_terms, not from enrolled photos
    sample, _, _ = _samples(kind.inputs)
    key = CaseKey(CASE_ID, lambda: b"k" * 32)
    loaded = {k for kk in KINDS for k in kk.reference_kinds}
    for reference in kind.enrol(sample, key).references:
        assert reference.kind in loaded, reference.kind
        assert isinstance(reference.value, bytes) and reference.value


@kinds
def test_reports_explain_the_kind_in_every_language(kind: SignalKind[Any]) -> None:
    from ncii_shield.evidence.i18n import LANGUAGES, strings

    for language in LANGUAGES:
        assert f"kind_{kind.name}" in strings(language), (kind.name, language)


def test_importing_the_registry_loads_no_heavy_library() -> None:
    """The CLI starts fast: kinds import dlib, onnxruntime, cv2 and av only where they are used."""
    code = (
        "import sys, ncii_shield.signals.registry, ncii_shield.kinds; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


def test_legacy_helpers_read_and_write_the_kinds_forms() -> None:
    """Names other modules import keep working over the kinds (cases/service.py re-exports them)."""
    from ncii_shield.cases.service import (
        open_embedding,
        open_features,
        pack_frame,
        seal_embedding,
        unpack_frame,
    )

    key = os.urandom(32)
    face = np.arange(128, dtype=np.float32) / 128
    assert np.array_equal(BY_NAME["face"].open(key, 3, seal_embedding(key, 3, face)), face)
    assert np.array_equal(open_embedding(key, 3, BY_NAME["face"].seal(key, 3, face)), face)
    features = BY_NAME["partial"].compute(Sample((ASSETS / "obama.jpg").read_bytes()))
    sealed = BY_NAME["partial"].seal(key, 3, features)
    assert open_features(key, 3, sealed).to_bytes() == features.to_bytes()
    pdq = bytes(range(32))
    assert pack_frame(1.5, pdq) == BY_NAME["video"].pack(((1.5, pdq),))
    assert unpack_frame(pack_frame(1.5, pdq)) == (1.5, pdq)
