"""The remembered hit rows (read/memo.py) are never stale: a new hit, a newly enrolled photo, a decision, a purge
and another store with the same shape each show at once; entries expire; a purge forgets the opened rows."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ncii_shield.cases.retention import purge_case
from ncii_shield.cases.service import open_case
from ncii_shield.read import memo
from ncii_shield.read.families import case_families
from ncii_shield.read.hits import list_hits
from ncii_shield.review.decisions import decide
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Item, Reference, Source
from tests.conftest import new_store


def _case(store: Store, messages: int, label: str = "photo_1.jpg") -> int:
    with store.session() as s:
        case = open_case(s, "Memo", consent_by="test", consent_method="test: stand-in data")
        ref = Reference(
            case_id=case.id,
            kind="pdq",
            variant=0,
            photo_sha256=hashlib.sha256(label.encode()).hexdigest(),
            photo_label=label,
            value=b"\0" * 32,
        )
        source = Source(kind="telegram", location="/memo", name="memo export", fingerprint=label)
        s.add_all([ref, source])
        s.flush()
        for n in range(messages):
            _add_hit(s, case.id, source.id, ref.id, n)
        return case.id


def _add_hit(s: object, case_id: int, source_id: int, ref_id: int, n: int, chat: str = "room") -> int:
    item = Item(
        source_id=source_id,
        external_id=f"m{n}",
        kind="message",
        chat_id="-1001",
        chat_title=chat,
        message_id=n,
        date=datetime(2024, 6, 1 + n % 20, tzinfo=UTC),
        text="",
    )
    s.add(item)  # type: ignore[attr-defined]
    s.flush()  # type: ignore[attr-defined]
    s.add(Hit(case_id=case_id, item_id=item.id, kind="pdq", distance=4.0, reference_id=ref_id))  # type: ignore[attr-defined]
    s.flush()  # type: ignore[attr-defined]
    return item.id


def test_rows_are_read_once_then_remembered_until_a_scan_adds_a_hit(store: Store) -> None:
    case_id = _case(store, 3)
    with store.session() as s:
        first = list_hits(s, case_id)
        assert list_hits(s, case_id) == first  # the same rows …
        assert memo.remembered(s, case_id, ("hit rows", False), lambda: pytest.fail("read again")) is not None
    with store.session() as s:  # a scan adds a hit in another session (or another process)
        source_id = s.query(Source.id).scalar()
        ref_id = s.query(Reference.id).scalar()
        new = _add_hit(s, case_id, source_id, ref_id, 99, chat="new room")
    with store.session() as s:
        rows = list_hits(s, case_id)
        assert [r.item_id for r in rows if r.chat == "new room"] == [new]
        assert len(rows) == 4
        assert sum(len(f.copies) for f in case_families(s, case_id)) == 4


def test_a_decision_shows_at_once_and_does_not_drop_the_rows(store: Store) -> None:
    case_id = _case(store, 3)
    with store.session() as s:
        target = list_hits(s, case_id)[1].item_id
    with store.session() as s:
        decide(s, case_id, "confirmed", "looked", item_ids=[target])
    with store.session() as s:
        rows = {r.item_id: r.decision for r in list_hits(s, case_id)}
        assert rows[target] == "confirmed" and list(rows.values()).count(None) == 2
        assert memo.remembered(s, case_id, ("hit rows", False), lambda: pytest.fail("read again"))
    with store.session() as s:
        decide(s, case_id, "rejected", "on second look", item_ids=[target])
    with store.session() as s:
        assert {r.item_id: r.decision for r in list_hits(s, case_id)}[target] == "rejected"
        assert [f.undecided for f in case_families(s, case_id)] == [2]


def test_a_newly_enrolled_photo_is_a_new_version(store: Store) -> None:
    case_id = _case(store, 2)
    with store.session() as s:
        before = memo.case_version(s, case_id)
        list_hits(s, case_id)
        s.add(
            Reference(
                case_id=case_id,
                kind="pdq",
                variant=0,
                photo_sha256="ab" * 32,
                photo_label="b",
                value=b"\0" * 32,
            )
        )
        s.flush()
        assert memo.case_version(s, case_id) != before


def test_another_store_with_the_same_shape_never_gets_these_rows(tmp_path: Path) -> None:
    one, two = new_store(tmp_path / "one"), new_store(tmp_path / "two")
    try:
        a, b = _case(one, 3, "one.jpg"), _case(two, 3, "two.jpg")
        assert a == b  # the same case id and the same counts and ids: only the engine tells them apart
        with one.session() as s:
            assert {r.reference for r in list_hits(s, a)} == {"one.jpg"}
        with two.session() as s:
            assert {r.reference for r in list_hits(s, b)} == {"two.jpg"}
    finally:
        one.close()
        two.close()


def test_entries_expire(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = _case(store, 2)
    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    calls = []
    with store.session() as s:
        memo.remembered(s, case_id, "x", lambda: calls.append(1))
        memo.remembered(s, case_id, "x", lambda: calls.append(1))
        clock[0] += memo.TTL + 1
        memo.remembered(s, case_id, "x", lambda: calls.append(1))
    assert len(calls) == 2


def test_a_purge_forgets_the_opened_rows(store: Store) -> None:
    case_id = _case(store, 2)
    with store.session() as s:
        list_hits(s, case_id)
        engine = s.get_bind()
        assert any(k[0] == case_id for k in memo._by_engine[engine])
    with store.session() as s:
        purge_case(store, s, case_id)
        assert not any(k[0] == case_id for k in memo._by_engine.get(engine, {}))


def test_warm_reads_what_the_first_pages_need(store: Store) -> None:
    from ncii_shield.read.families import warm

    case_id = _case(store, 2)
    with store.session() as s:
        warm(s, case_id)
        for light in (True, False):
            assert memo.remembered(s, case_id, ("hit rows", light), lambda: pytest.fail("not warmed"))
        assert memo.remembered(s, case_id, "photo of items", lambda: pytest.fail("not warmed"))


def test_a_cold_page_warms_the_other_pages_rows_off_the_request(store: Store) -> None:
    import threading

    from ncii_shield.read.families import warm_in_background

    case_id = _case(store, 3)
    with store.session() as s:
        list_hits(s, case_id, light=True)  # the review queue read the case cold
        assert memo.has(s, case_id, ("hit rows", True)) and not memo.has(s, case_id, ("hit rows", False))
    warm_in_background(store.session, case_id)
    warm_in_background(store.session, case_id)  # at most one at a time per store and case
    warming = [t for t in threading.enumerate() if t.name == f"warm-case-{case_id}"]
    assert len(warming) <= 1
    for thread in warming:
        thread.join(30)
    with store.session() as s:
        assert memo.has(s, case_id, ("hit rows", False)) and memo.has(s, case_id, "photo of items")
        assert memo.remembered(s, case_id, ("hit rows", False), lambda: pytest.fail("read again"))


def test_the_pages_warm_the_other_pages_rows_only_after_they_have_answered(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold spread view (or queue) hands the other page's rows to a task that runs once its response is
    sent (web/deps.warm_after): not while the page is made, which that work would slow."""
    import re
    import threading

    from fastapi.testclient import TestClient

    from ncii_shield.web import deps, pages_spread
    from ncii_shield.web.app import create_app
    from ncii_shield.web.auth import create_user

    case_id = _case(store, 3)
    with store.session() as s:
        create_user(s, "admin", "a long enough passphrase", "admin", language="en")
    started: list[bool] = []
    original = deps.warm_after

    def spy(response, request, case_id):  # type: ignore[no-untyped-def]
        started.append(response.body is not None)  # the page is made before the warming is attached
        return original(response, request, case_id)

    monkeypatch.setattr(pages_spread, "warm_after", spy)
    client = TestClient(create_app(store, secure_cookies=False))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
    client.post(
        "/login", data={"username": "admin", "password": "a long enough passphrase", "csrf_token": token}
    )
    assert client.get(f"/cases/{case_id}/spread").status_code == 200
    for thread in [t for t in threading.enumerate() if t.name == f"warm-case-{case_id}"]:
        thread.join(30)
    with store.session() as s:  # the queue's rows were read off the request
        assert memo.has(s, case_id, ("hit rows", True))
    assert started == [True]
