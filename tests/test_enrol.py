"""Cases and enrolment: consent is recorded, references computed, nothing kept that need not be."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ncii_shield.cases.service import enrol, open_case
from ncii_shield.errors import NciiError
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditEvent, Case, Reference
from tests.conftest import ASSETS


def _case(store: Store) -> int:
    with store.session() as s:
        return open_case(s, "Case A", consent_by="the person", consent_method="signed form").id


def _refs(store: Store, case_id: int) -> dict[str, int]:
    with store.session() as s:
        return dict(
            s.execute(
                select(Reference.kind, func.count())
                .where(Reference.case_id == case_id)
                .group_by(Reference.kind)
            ).all()
        )


def test_open_case_records_consent_and_audit(store: Store) -> None:
    case_id = _case(store)
    with store.session() as s:
        case = s.get(Case, case_id)
        assert (
            case is not None and case.consent_method == "signed form" and case.consent_at.tzinfo is not None
        )
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.case_id == case_id)) == "case.opened"


@pytest.mark.parametrize(("by", "method"), [("", "form"), ("x", " ")])
def test_consent_is_required(store: Store, by: str, method: str) -> None:
    with pytest.raises(NciiError, match="consent"), store.session() as s:
        open_case(s, "Case A", consent_by=by, consent_method=method)


def test_enrol_computes_sha_pdq_dihedral_and_face(store: Store) -> None:
    case_id = _case(store)
    with store.session() as s:
        results = enrol(s, store, s.get(Case, case_id), [ASSETS / "obama.jpg", ASSETS / "obama2.jpg"])
    assert [r.faces_enrolled for r in results] == [1, 1]
    assert _refs(store, case_id) == {"sha256": 2, "pdq": 16, "face": 2, "features": 2}
    assert not (store.settings.blob_dir / "originals").exists(), "photos must not be kept by default"


def test_enrol_twice_adds_nothing(store: Store) -> None:
    case_id = _case(store)
    for _ in range(2):
        with store.session() as s:
            results = enrol(s, store, s.get(Case, case_id), [ASSETS / "obama.jpg"])
    assert results[0].already_enrolled
    assert _refs(store, case_id) == {"sha256": 1, "pdq": 8, "face": 1, "features": 1}


def test_keep_originals_stores_the_photo(store: Store) -> None:
    case_id = _case(store)
    with store.session() as s:
        enrol(s, store, s.get(Case, case_id), [ASSETS / "obama.jpg"], keep_originals=True)
        key = s.scalar(select(Reference.blob_key).where(Reference.kind == "sha256"))
    assert key is not None and store.blobs.get(key) == (ASSETS / "obama.jpg").read_bytes()


def test_group_photo_enrols_only_the_largest_face(store: Store) -> None:
    case_id = _case(store)
    with store.session() as s:
        (result,) = enrol(s, store, s.get(Case, case_id), [ASSETS / "obama_and_biden.jpg"])
    assert result.faces_found >= 2 and result.faces_enrolled == 1
    assert any("only the largest" in w for w in result.warnings)
    assert _refs(store, case_id)["face"] == 1


def test_bad_photo_enrols_nothing(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    with pytest.raises(NciiError, match=r"broken\.jpg: not an image"), store.session() as s:
        enrol(s, store, s.get(Case, case_id), [ASSETS / "obama.jpg", bad])
    assert _refs(store, case_id) == {}


def test_missing_photo(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    with pytest.raises(NciiError, match="no such file"), store.session() as s:
        enrol(s, store, s.get(Case, case_id), [tmp_path / "nope.jpg"])
