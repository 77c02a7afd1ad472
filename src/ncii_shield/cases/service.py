"""Cases and enrolment: the person under protection, their consent, and their references.

Enrolment keeps hashes and embeddings, not photos (unless --keep-originals), and is all-or-nothing:
one unreadable photo stops it before anything is stored, so a retry starts from a clean state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import MediaError, NciiError, NotFound
from ncii_shield.media.decode import MAX_FILE_BYTES
from ncii_shield.signals.base import CaseKey, Sample
from ncii_shield.signals.kinds.video import VIDEO_PDQ_VARIANTS, pack_frame, unpack_frame
from ncii_shield.signals.registry import BY_NAME, KINDS
from ncii_shield.store import audit
from ncii_shield.store.crypto import case_scope
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, FeatureCheck, Reference

if TYPE_CHECKING:
    import numpy as np

    from ncii_shield.index.local_features import LocalFeatures

__all__ = [
    "VIDEO_PDQ_VARIANTS",
    "EnrolledPhoto",
    "enrol",
    "get_case",
    "open_case",
    "open_embedding",
    "open_features",
    "pack_frame",
    "seal_embedding",
    "unpack_frame",
]


def open_case(
    session: Session,
    pseudonym: str,
    *,
    consent_by: str,
    consent_method: str,
    consent_at: datetime | None = None,
    consent_note: str | None = None,
    minor: bool = False,
    hash_only: bool | None = None,
) -> Case:
    """Open a case. Consent is required: ncii-shield only searches for people who asked it to.

    A case concerning a minor is hash-only unless said otherwise: no image of its hits is ever kept.
    """
    if not pseudonym.strip():
        raise NciiError("the pseudonym is empty", hint="give --pseudonym, e.g. --pseudonym 'Case Kim-A'")
    if not consent_by.strip() or not consent_method.strip():
        raise NciiError("a consent record is required", hint="give --consent-by and --consent-method")
    case = Case(
        pseudonym=pseudonym.strip(),
        consent_by=consent_by.strip(),
        consent_method=consent_method.strip(),
        consent_at=consent_at or datetime.now(UTC),
        consent_note=consent_note,
        minor=minor,
        hash_only=minor if hash_only is None else hash_only,
    )
    session.add(case)
    session.flush()
    audit.record(session, "case.opened", case_id=case.id, minor=case.minor, hash_only=case.hash_only)
    return case


def seal_embedding(case_key: bytes, case_id: int, embedding: np.ndarray) -> bytes:
    """A face reference is sealed with its case's key: purging the case shreds it (kinds/face.py)."""
    return BY_NAME["face"].seal(case_key, case_id, embedding)  # type: ignore[no-any-return]


def open_embedding(case_key: bytes, case_id: int, sealed: bytes) -> np.ndarray:
    return BY_NAME["face"].open(case_key, case_id, sealed)  # type: ignore[no-any-return]


def open_features(case_key: bytes, case_id: int, sealed: bytes) -> LocalFeatures:
    return BY_NAME["partial"].open(case_key, case_id, sealed)  # type: ignore[no-any-return]


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", hint="list cases with `ncii-shield case list`")
    return case


@dataclass
class EnrolledPhoto:
    label: str
    sha256: str
    pdq_quality: int
    faces_found: int
    faces_enrolled: int
    already_enrolled: bool = False
    warnings: list[str] = field(default_factory=list)


def _read_photo(path: Path) -> bytes:
    if not path.is_file():
        raise NciiError(f"{path}: no such file", hint="check the path of the photo to enrol")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise NciiError(f"{path}: file too large to be a photo")
    return path.read_bytes()


def enrol(
    session: Session,
    store: Store,
    case: Case,
    photos: list[Path],
    *,
    keep_originals: bool = False,
) -> list[EnrolledPhoto]:
    """Compute and store the references of each photo, kind by kind (signals/registry.py): SHA-256,
    8 dihedral PDQ hashes, a video's frames, local features, the face.

    When a photo shows several faces only the largest is enrolled, with a warning: the others are
    most likely friends or bystanders who have not consented to being searched for.
    """
    if case.status != "open":
        raise NciiError(f"case {case.id} is {case.status}", hint="enrol into an open case")
    if keep_originals and case.hash_only:
        raise NciiError(
            f"case {case.id} is hash-only: photos are never kept", hint="enrol without --keep-originals"
        )
    prepared = []
    for path in photos:
        sample = Sample(_read_photo(path), label=path.name)
        try:
            sample.decoded  # noqa: B018 - decode every photo before storing anything
        except MediaError as exc:
            raise NciiError(
                f"{path}: {exc.message}", hint="nothing was enrolled; remove or replace this photo"
            ) from exc
        prepared.append(sample)

    scope = case_scope(case.id)
    key = CaseKey(case.id, lambda: store.keyring.key(session, scope))
    results: list[EnrolledPhoto] = []
    for sample in prepared:
        sha, label = sample.sha256, sample.label
        existing = session.scalar(
            select(func.count())
            .select_from(Reference)
            .where(Reference.case_id == case.id, Reference.photo_sha256 == sha)
        )
        facts = {"pdq_quality": 0, "faces_found": 0, "faces_enrolled": 0}
        for kind in KINDS:
            facts.update(kind.facts(sample))
        report = EnrolledPhoto(label, sha, **facts)
        if existing:
            report.already_enrolled, report.faces_enrolled = True, 0
            report.warnings.append("already enrolled in this case; skipped")
            results.append(report)
            continue
        key.key  # noqa: B018 - the case key exists before anything is sealed or kept under its scope
        blob_key = (
            store.blobs.put(sample.data, namespace="originals", scope=scope) if keep_originals else None
        )
        for kind in KINDS:
            enrolment = kind.enrol(sample, key)
            for ref in enrolment.references:
                session.add(
                    Reference(
                        case_id=case.id,
                        kind=ref.kind,
                        variant=ref.variant,
                        photo_sha256=sha,
                        photo_label=label,
                        value=ref.value,
                        quality=ref.quality,
                        blob_key=blob_key,
                    )
                )
                blob_key = None  # the photo's first reference (its SHA-256) names the kept original
            report.warnings += enrolment.warnings
        results.append(report)
    session.execute(delete(FeatureCheck).where(FeatureCheck.case_id == case.id))  # new photos: check again
    session.flush()
    audit.record(
        session,
        "case.enrolled",
        case_id=case.id,
        photos=len(photos),
        new=sum(1 for r in results if not r.already_enrolled),
        kept_originals=keep_originals,
    )
    return results
