"""Purging a case leaves its data unrecoverable and every other case intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.cases.retention import close_case, compact, purge_case
from ncii_shield.cases.service import enrol, open_case
from ncii_shield.errors import NciiError
from ncii_shield.review.hits import list_hits
from ncii_shield.scan.match import match_case
from ncii_shield.store.crypto import KeyringError, case_scope, source_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, DataKey, Hit, Item, Media, Reference, Source
from tests.conftest import ASSETS
from tests.exports import message, write_export
from tests.test_scan import _scan

A_NAME, B_NAME = "Purged Person 5521", "Kept Person 8812"


def _read(path: Path) -> bytes:
    return (ASSETS / path).read_bytes() if not isinstance(path, Path) else path.read_bytes()


def _world(store: Store, tmp_path: Path) -> tuple[int, int]:
    """Case A (obama) and case B (biden); three sources:
    s1 scanned for A holds A's photos, B's photo and the group photo (B hits it too);
    s2 scanned for A holds an unrelated photo that s3 also holds;
    s3 scanned for B holds B's photo and that unrelated photo."""
    with store.session() as s:
        a = open_case(s, A_NAME, consent_by=A_NAME, consent_method="form")
        enrol(s, store, a, [ASSETS / "obama.jpg"], keep_originals=True)
        b = open_case(s, B_NAME, consent_by=B_NAME, consent_method="form")
        enrol(s, store, b, [ASSETS / "biden.jpg"], keep_originals=True)
        a_id, b_id = a.id, b.id
    assets = {
        n: (ASSETS / n).read_bytes()
        for n in ("obama.jpg", "obama2.jpg", "biden2.jpg", "obama_and_biden.jpg", "mate-Dune.jpg")
    }
    s1 = write_export(
        tmp_path / "s1",
        [
            message(i + 1, photo=f"photos/{n}", text=f"about {A_NAME}")
            for i, n in enumerate(["obama.jpg", "obama2.jpg", "biden2.jpg", "obama_and_biden.jpg"])
        ],
        chat_id=1,
        files={f"photos/{n}": assets[n] for n in assets if n != "mate-Dune.jpg"},
    )
    s2 = write_export(
        tmp_path / "s2",
        [message(1, photo="photos/dune.jpg")],
        chat_id=2,
        files={"photos/dune.jpg": assets["mate-Dune.jpg"]},
    )
    s3 = write_export(
        tmp_path / "s3",
        [message(1, photo="photos/b.jpg"), message(2, photo="photos/dune.jpg")],
        chat_id=3,
        files={"photos/b.jpg": assets["biden2.jpg"], "photos/dune.jpg": assets["mate-Dune.jpg"]},
    )
    _scan(store, s1, a_id)
    _scan(store, s2, a_id)
    _scan(store, s3, b_id)
    with store.session() as s:
        match_case(store, s, b_id)
    return a_id, b_id


def _b_state(store: Store, b_id: int) -> tuple[list, list, list]:
    with store.session() as s:
        hits = sorted((r.chat_id, r.message_id, r.kinds) for r in list_hits(s, b_id))
        refs = sorted(
            (r.kind, r.variant, r.value)
            for r in s.scalars(select(Reference).where(Reference.case_id == b_id))
        )
        media = s.scalars(
            select(Media).where(Media.id.in_(select(Hit.media_id).where(Hit.case_id == b_id)))
        ).all()
        blobs = sorted(store.blobs.get(k) for m in media for k in (m.blob_key, m.thumb_key) if k)
    return hits, refs, blobs


def test_purge_shreds_the_case_and_keeps_the_others(store: Store, tmp_path: Path) -> None:
    a_id, b_id = _world(store, tmp_path)
    before_b = _b_state(store, b_id)
    assert [h[:2] for h in before_b[0]] == [("1", 3), ("1", 4), ("3", 1)], (
        "B hits its photo in s1 and s3, and the group photo"
    )
    with store.session() as s:
        a_sealed = [
            r.value
            for r in s.scalars(select(Reference).where(Reference.case_id == a_id, Reference.kind == "face"))
        ]
        a_wrapped = s.scalar(select(DataKey.wrapped).where(DataKey.scope == case_scope(a_id)))
        a_original = s.scalar(
            select(Reference.blob_key).where(Reference.case_id == a_id, Reference.blob_key.is_not(None))
        )
        s2_id = s.scalar(select(Item.source_id).where(Item.chat_id == "2"))
        dune = s.scalar(
            select(Media).where(
                Media.id == select(Item.media_id).where(Item.chat_id == "2").scalar_subquery()
            )
        )
        assert store.blobs.scope_of(dune.blob_key) == source_scope(s2_id), "first stored under s2's key"
        dune_bytes = store.blobs.get(dune.blob_key)
    assert a_sealed and a_wrapped and a_original

    with store.session() as s:
        result = purge_case(store, s, a_id)
    compact(store)
    assert result.references == 11 and result.sources == 1 and result.kept_items == 2

    with store.session() as s:
        case = s.get(Case, a_id)
        assert case.status == "purged" and case.pseudonym is None and case.consent_by is None
        assert s.scalar(select(func.count()).select_from(Reference).where(Reference.case_id == a_id)) == 0
        assert s.scalar(select(func.count()).select_from(Hit).where(Hit.case_id == a_id)) == 0
        assert s.get(Source, s2_id) is None
        # s1's items that only A cared about are gone; those B hits stay.
        assert sorted(s.scalars(select(Item.message_id).where(Item.chat_id == "1"))) == [3, 4]
        with pytest.raises(KeyringError, match="destroyed"):
            store.keyring.key(s, case_scope(a_id), create=False)
        with pytest.raises(KeyringError, match="destroyed"):
            store.keyring.key(s, source_scope(s2_id), create=False)
        dune = s.scalar(
            select(Media).where(
                Media.id
                == select(Item.media_id).where(Item.chat_id == "3", Item.message_id == 2).scalar_subquery()
            )
        )
        assert store.blobs.get(dune.blob_key) == dune_bytes, (
            "the media s3 still holds was re-sealed, not lost"
        )
        assert store.blobs.scope_of(dune.blob_key) != source_scope(s2_id)
    assert not store.blobs.exists(a_original)
    assert _b_state(store, b_id) == before_b

    everything = b"".join(p.read_bytes() for p in store.settings.data_dir.rglob("*") if p.is_file())
    for piece in [*a_sealed, a_wrapped, A_NAME.encode()]:
        assert piece[:24] not in everything, "a purged ciphertext survived on disk"


def test_purge_twice_and_closed_cases(store: Store, tmp_path: Path) -> None:
    a_id, b_id = _world(store, tmp_path)
    with store.session() as s:
        close_case(s, b_id)
    with store.session() as s:
        assert match_case(store, s, b_id) == {}, "a closed case no longer matches"
        with pytest.raises(NciiError, match="already closed"):
            close_case(s, b_id)
    with store.session() as s:
        purge_case(store, s, a_id)
    with pytest.raises(NciiError, match="already purged"), store.session() as s:
        purge_case(store, s, a_id)
    with store.session() as s:
        purge_case(store, s, b_id)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
        assert s.scalar(select(func.count()).select_from(Media)) == 0
        assert set(s.scalars(select(DataKey.scope))) == {
            "__deployment__",
            "chats",
            "data",
            "rooms",
            "signing:ed25519",
        }  # deployment-wide
    assert not any(p.is_file() for p in store.settings.blob_dir.rglob("*"))
