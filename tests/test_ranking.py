"""Nudity scores are taken after matching, for the media with a hit only, from their stored thumbnails."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.scan.pipeline import run_scan
from ncii_shield.scan.ranking import score_hit_media
from ncii_shield.signals.analyse import analyse_bytes
from ncii_shield.sources import open_source
from ncii_shield.store.db import Store
from ncii_shield.store.models import Hit, Media, Signal
from tests.conftest import ASSETS
from tests.exports import message, write_export


def _scan_two(store: Store, tmp_path: Path, *, hash_only: bool = False) -> dict[str, int]:
    with store.session() as s:
        case = open_case(
            s, "Case A", consent_by="the person", consent_method="signed form", hash_only=hash_only
        )
        enrol(s, store, case, [ASSETS / "obama.jpg"])
        case_id = case.id
    export = write_export(
        tmp_path / "export",
        [message(1, photo="photos/copy.jpg"), message(2, photo="photos/other.jpg")],
        files={
            "photos/copy.jpg": (ASSETS / "obama.jpg").read_bytes(),
            "photos/other.jpg": (ASSETS / "mate-Garden.jpg").read_bytes(),
        },
    )
    run_scan(store, open_source(export), location=export, case_id=case_id, workers=1)
    with store.session() as s:
        names = {m.sha256: m.id for m in s.scalars(select(Media))}
    from hashlib import sha256

    return {
        "copy": names[sha256((ASSETS / "obama.jpg").read_bytes()).hexdigest()],
        "other": names[sha256((ASSETS / "mate-Garden.jpg").read_bytes()).hexdigest()],
    }


def _nudity(store: Store) -> dict[int, float]:
    with store.session() as s:
        return {
            m: v for m, v in s.execute(select(Signal.media_id, Signal.score).where(Signal.kind == "nudity"))
        }


def test_only_media_with_a_hit_get_a_score(store: Store, tmp_path: Path) -> None:
    ids = _scan_two(store, tmp_path)
    with store.session() as s:
        assert s.scalars(select(Hit.media_id)).all()  # the copy was found
    scores = _nudity(store)
    assert set(scores) == {ids["copy"]}
    assert 0.0 <= scores[ids["copy"]] < 0.5  # a portrait
    # the thumbnail gives the model what the full image gives it
    full = analyse_bytes((ASSETS / "obama.jpg").read_bytes()).nudity
    assert full is not None and abs(full - scores[ids["copy"]]) < 0.05


def test_scoring_again_adds_nothing(store: Store, tmp_path: Path) -> None:
    _scan_two(store, tmp_path)
    before = _nudity(store)
    with store.session() as s:
        assert score_hit_media(store, s) == 0
    assert _nudity(store) == before


def test_a_hash_only_case_is_scored_during_the_scan(store: Store, tmp_path: Path) -> None:
    """Its thumbnails are blurred, so the score comes from the full image, for every file."""
    ids = _scan_two(store, tmp_path, hash_only=True)
    assert set(_nudity(store)) == set(ids.values())


def test_an_unreadable_thumbnail_leaves_the_file_unscored(store: Store, tmp_path: Path) -> None:
    ids = _scan_two(store, tmp_path)
    with store.session() as s:
        s.query(Signal).filter(Signal.kind == "nudity").delete()
        media = s.get(Media, ids["copy"])
        assert media is not None
        media.thumb_key = "media/does-not-exist"
    with store.session() as s:
        assert score_hit_media(store, s) == 0
    assert _nudity(store) == {}


def test_matching_later_scores_too(store: Store, tmp_path: Path) -> None:
    """An export scanned with no case, matched afterwards (`case match`): the new hit is scored then."""
    from ncii_shield.scan.match import match_case

    export = write_export(
        tmp_path / "export",
        [message(1, photo="photos/copy.jpg")],
        files={"photos/copy.jpg": (ASSETS / "obama.jpg").read_bytes()},
    )
    run_scan(store, open_source(export), location=export, case_id=None, workers=1)
    assert _nudity(store) == {}
    with store.session() as s:
        case = open_case(s, "Case A", consent_by="the person", consent_method="signed form")
        enrol(s, store, case, [ASSETS / "obama.jpg"])
        assert match_case(store, s, case.id)
    assert len(_nudity(store)) == 1
