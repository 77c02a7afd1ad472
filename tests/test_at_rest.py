"""Nothing readable at rest: no photo, face embedding, media, thumbnail or identifier in any stored byte."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.config import load_settings
from ncii_shield.media.decode import decode_image
from ncii_shield.media.thumbs import thumbnail_jpeg
from ncii_shield.signals.faces import detect_faces
from ncii_shield.store.crypto import KeyringError, KeySource
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, Hit, Media
from tests.conftest import ASSETS, ON_POSTGRES, TEST_KEY, database_bytes, sqlite_only
from tests.exports import message, write_export
from tests.test_scan import _scan

SECRET_NAME = "Kim Seo-yeon-7431"
SECRET_SCHOOL = "Hanbit Girls High 7431"


def _windows(data: bytes, size: int = 48, count: int = 6) -> list[bytes]:
    """A few distinctive slices of `data`: if the bytes were stored anywhere in clear, these would be too."""
    step = max(1, (len(data) - size) // count)
    return [data[i : i + size] for i in range(64, len(data) - size, step)][:count]


def _all_stored_bytes(data_dir: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(data_dir.rglob("*")) if p.is_file()]


def _found(data_dir: Path, needles: dict[str, list[bytes]]) -> list[str]:
    hits = []
    for path, content in _all_stored_bytes(data_dir):
        for what, pieces in needles.items():
            if any(piece in content for piece in pieces):
                hits.append(f"{what} in {path.relative_to(data_dir)}")
    return hits


def _scenario(store: Store, tmp_path: Path) -> dict[str, list[bytes]]:
    photo = tmp_path / f"{SECRET_NAME}-insta.jpg"
    photo.write_bytes((ASSETS / "obama.jpg").read_bytes())
    with store.session() as s:
        case = open_case(
            s,
            SECRET_NAME,
            consent_by=f"{SECRET_NAME} (the person)",
            consent_method="signed form",
            consent_note=f"attends {SECRET_SCHOOL}",
        )
        enrol(s, store, case, [photo], keep_originals=True)
        case_id = case.id
    posted = (ASSETS / "obama2.jpg").read_bytes()
    nature = (ASSETS / "mate-Dune.jpg").read_bytes()
    export = write_export(
        tmp_path / "export",
        [
            message(1, photo="photos/a.jpg", text=f"{SECRET_NAME} {SECRET_SCHOOL} 아시는 분?"),
            message(
                2,
                photo="photos/b.jpg",
                text=[{"type": "text_link", "text": "link", "href": "https://t.me/+Secret7431"}],
            ),
        ],
        name=f"{SECRET_SCHOOL} room",
        files={"photos/a.jpg": posted, "photos/b.jpg": nature},
    )
    result = _scan(store, export, case_id)
    assert sum(result.new_hits.values()) >= 1, "the scenario must produce a hit"

    embedding = detect_faces(decode_image(photo.read_bytes()).upright)[0].embedding
    posted_embedding = detect_faces(decode_image(posted).upright)[0].embedding
    return {
        "enrolled photo bytes": _windows(photo.read_bytes()),
        "enrolled face embedding": [
            np.asarray(embedding, "<f4").tobytes()[:32],
            np.asarray(embedding, "<f4").tobytes()[200:232],
        ],
        "scanned face embedding": [np.asarray(posted_embedding, "<f4").tobytes()[:32]],
        "scanned media bytes": _windows(posted) + _windows(nature),
        "thumbnail bytes": _windows(thumbnail_jpeg(decode_image(posted).upright), 32),
        "identifiers": [s.encode() for s in (SECRET_NAME, SECRET_SCHOOL, "Secret7431")]
        + [SECRET_NAME.encode("utf-16-le")],
    }


@sqlite_only("reads ncii.db under the data directory (tests/test_postgres.py checks a PostgreSQL database)")
def test_nothing_readable_under_the_data_directory(store: Store, tmp_path: Path) -> None:
    needles = _scenario(store, tmp_path)
    with store.session() as s:  # the data really is there, and readable with the key
        media = s.scalars(select(Media).where(Media.blob_key.is_not(None))).all()
        assert {store.blobs.get(m.blob_key) for m in media} >= {(ASSETS / "obama2.jpg").read_bytes()}
        assert s.get(Case, 1).pseudonym == SECRET_NAME
    assert _found(store.settings.data_dir, needles) == [], "found while the store is open"
    store.close()
    assert _found(store.settings.data_dir, needles) == [], "found after closing"
    assert any(p.name == "ncii.db" for p, _ in _all_stored_bytes(store.settings.data_dir))


@pytest.mark.skipif(not ON_POSTGRES, reason="the PostgreSQL variant: the SQLite one is above")
def test_nothing_readable_in_the_postgresql_database_or_the_data_directory(
    store: Store, tmp_path: Path
) -> None:
    """The same scenario with the rows on PostgreSQL: every table's rows as COPY gives them (bytea as its
    bytes, text as UTF-8) and every file under the data directory hold no needle."""
    needles = _scenario(store, tmp_path)
    with store.session() as s:  # the data really is there, and readable with the key
        assert s.get(Case, 1).pseudonym == SECRET_NAME
    assert store.settings.database_url.startswith("postgresql")
    rows = database_bytes(store.settings.data_dir)
    assert len(rows) > 10_000 and b"case.open" in rows  # the rows really were read (here, the audit's)
    assert [what for what, pieces in needles.items() if any(p in rows for p in pieces)] == []
    assert _found(store.settings.data_dir, needles) == []
    store.close()


def test_the_search_would_find_clear_data(tmp_path: Path) -> None:
    """The search itself works: the same needles are found in the unencrypted inputs."""
    blob = (ASSETS / "obama2.jpg").read_bytes()
    (tmp_path / "plain.bin").write_bytes(b"xx" + blob + SECRET_NAME.encode())
    assert len(_found(tmp_path, {"media": _windows(blob), "name": [SECRET_NAME.encode()]})) == 2


def test_wrong_or_missing_key_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    store.close()
    settings = load_settings(store.settings.data_dir)
    with pytest.raises(KeyringError, match="does not open this data directory"):
        Store(settings, key=KeySource(key=bytes(32)))
    with pytest.raises(KeyringError, match="protected by a key") as info:
        Store(settings, key=KeySource())
    assert info.value.hint and "NCII_KEY_FILE" in info.value.hint
    with pytest.raises(KeyringError, match="no key yet"):
        Store(load_settings(tmp_path / "fresh"), key=KeySource(key=TEST_KEY))
    Store(settings, key=KeySource(key=TEST_KEY)).close()


def test_passphrase_and_rotation(tmp_path: Path) -> None:
    data = load_settings(tmp_path / "d")
    store = Store(data, create=KeySource(passphrase="correct horse battery staple"))
    with store.session() as s:
        case = open_case(s, SECRET_NAME, consent_by="p", consent_method="form")
        enrol(s, store, case, [ASSETS / "obama.jpg"], keep_originals=True)
    store.close()
    with pytest.raises(KeyringError, match="does not open"):
        Store(data, key=KeySource(passphrase="wrong"))
    with pytest.raises(KeyringError, match="passphrase"):
        Store(data, key=KeySource(key=TEST_KEY))

    store = Store(data, key=KeySource(passphrase="correct horse battery staple"))
    new_key = bytes(range(32))
    with store.session() as s:
        assert store.keyring.rotate(s, KeySource(key=new_key)) >= 2  # data key and the case key
    store.close()
    with pytest.raises(KeyringError, match="protected by a key"):
        Store(data, key=KeySource(passphrase="correct horse battery staple"))
    store = Store(data, key=KeySource(key=new_key))
    with store.session() as s:
        case = s.get(Case, 1)
        assert case is not None and case.pseudonym == SECRET_NAME
        from ncii_shield.store.models import Reference

        key = s.scalar(select(Reference.blob_key).where(Reference.blob_key.is_not(None)))
    assert store.blobs.get(key) == (ASSETS / "obama.jpg").read_bytes()
    store.close()


def test_hash_only_case_keeps_no_media(store: Store, tmp_path: Path) -> None:
    with store.session() as s:
        minor = open_case(s, "Case M", consent_by="guardian", consent_method="form", minor=True)
        assert minor.hash_only
        with pytest.raises(Exception, match="hash-only"):
            enrol(s, store, minor, [ASSETS / "obama.jpg"], keep_originals=True)
    with store.session() as s:
        enrol(s, store, s.get(Case, minor.id), [ASSETS / "obama.jpg"])
    export = write_export(
        tmp_path / "e",
        [message(1, photo="photos/a.jpg"), message(2, photo="photos/b.jpg")],
        files={
            "photos/a.jpg": (ASSETS / "obama.jpg").read_bytes(),
            "photos/b.jpg": (ASSETS / "mate-Dune.jpg").read_bytes(),
        },
    )
    result = _scan(store, export, minor.id)
    assert result.new_hits["exact"] == 1
    with store.session() as s:
        media = s.scalars(select(Media)).all()
        assert len(media) == 2 and all(m.blob_key is None for m in media)
        assert all(m.thumb_blurred and m.thumb_key for m in media)
        thumbs = [Image.open(io.BytesIO(store.blobs.get(m.thumb_key))) for m in media]
    assert all(max(t.size) <= 160 for t in thumbs)
    assert not any(p.parts[-3] == "media" for p, _ in _all_stored_bytes(store.settings.blob_dir))


def test_media_kept_earlier_are_dropped_when_a_hash_only_case_matches_them(
    store: Store, tmp_path: Path
) -> None:
    export = write_export(
        tmp_path / "e",
        [message(1, photo="photos/a.jpg")],
        files={"photos/a.jpg": (ASSETS / "obama.jpg").read_bytes()},
    )
    _scan(store, export, None)
    with store.session() as s:
        (media,) = s.scalars(select(Media)).all()
        assert media.blob_key is not None and not media.thumb_blurred
        kept = store.blobs._path(media.blob_key)
        assert kept.exists()
    with store.session() as s:
        minor = open_case(s, "Case M", consent_by="guardian", consent_method="form", minor=True)
        enrol(s, store, minor, [ASSETS / "obama2.jpg"])
        from ncii_shield.scan.match import match_case

        assert match_case(store, s, minor.id)["face"] == 1
    with store.session() as s:
        (media,) = s.scalars(select(Media)).all()
        assert media.blob_key is None and media.thumb_blurred
        assert s.scalar(select(Hit.kind)) == "face"
    assert not kept.exists()
