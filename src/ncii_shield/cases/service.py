"""Cases and enrolment: the person under protection, their consent, and their references.

Enrolment keeps hashes and embeddings, not photos (unless --keep-originals), and is all-or-nothing:
one unreadable photo stops it before anything is stored, so a retry starts from a clean state.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ncii_shield.errors import MediaError, NciiError
from ncii_shield.index.local_features import LocalFeatures
from ncii_shield.index.local_features import extract as extract_features
from ncii_shield.media.decode import MAX_FILE_BYTES, decode_image
from ncii_shield.signals.faces import detect_faces, embedding_bytes, embedding_from_bytes
from ncii_shield.signals.pdq import MIN_QUALITY, pdq_dihedral
from ncii_shield.signals.video import REFERENCE_EVERY_SECONDS, video_signals
from ncii_shield.store import audit
from ncii_shield.store.crypto import case_scope, seal, unseal
from ncii_shield.store.db import Store
from ncii_shield.store.models import Case, FeatureCheck, Reference


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


VIDEO_PDQ_VARIANTS = 1000  # PDQ references of video frames are numbered from here (0-7: dihedral)


def pack_frame(timestamp: float, pdq: bytes) -> bytes:
    """A reference video frame: its time (seconds, big-endian double) then its 32-byte PDQ."""
    return struct.pack(">d", timestamp) + pdq


def unpack_frame(value: bytes) -> tuple[float, bytes]:
    return struct.unpack(">d", value[:8])[0], value[8:]


def _enrol_video_frames(session: Session, case_id: int, sha: str, label: str, data: bytes) -> str:
    """A video the person enrolled: its frames, sampled densely, for finding clips of it in other videos.

    Each frame is also a plain PDQ reference, so a screenshot or a GIF made from the video matches too.
    """
    frames = [
        f
        for f in video_signals(data, every_seconds=REFERENCE_EVERY_SECONDS, faces=False).frames
        if f.pdq_quality >= MIN_QUALITY
    ]
    for frame in frames:
        common = dict(case_id=case_id, photo_sha256=sha, photo_label=label, quality=frame.pdq_quality)
        session.add(
            Reference(
                kind="video_frame",
                variant=frame.index,
                value=pack_frame(frame.timestamp, frame.pdq),
                **common,
            )
        )
        session.add(
            Reference(kind="pdq", variant=VIDEO_PDQ_VARIANTS + frame.index, value=frame.pdq, **common)
        )
    return f"video: {len(frames)} frames enrolled (one every {REFERENCE_EVERY_SECONDS} s)"


def seal_embedding(case_key: bytes, case_id: int, embedding: np.ndarray) -> bytes:
    """A face reference is sealed with its case's key: purging the case shreds it."""
    return seal(case_key, embedding_bytes(embedding), f"reference:{case_id}".encode())


def open_features(case_key: bytes, case_id: int, sealed: bytes) -> LocalFeatures:
    return LocalFeatures.from_bytes(unseal(case_key, sealed, f"features:{case_id}".encode()))


def open_embedding(case_key: bytes, case_id: int, sealed: bytes) -> np.ndarray:
    return embedding_from_bytes(unseal(case_key, sealed, f"reference:{case_id}".encode()))


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NciiError(f"no case {case_id}", hint="list cases with `ncii-shield case list`")
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
    """Compute and store the references of each photo: SHA-256, 8 dihedral PDQ hashes, the face.

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
        data = _read_photo(path)
        try:
            decoded = decode_image(data)
        except MediaError as exc:
            raise NciiError(
                f"{path}: {exc.message}", hint="nothing was enrolled; remove or replace this photo"
            ) from exc
        prepared.append((path, data, decoded))

    results: list[EnrolledPhoto] = []
    for path, data, decoded in prepared:
        sha = hashlib.sha256(data).hexdigest()
        label = path.name
        existing = session.scalar(
            select(func.count())
            .select_from(Reference)
            .where(Reference.case_id == case.id, Reference.photo_sha256 == sha)
        )
        variants, quality = pdq_dihedral(decoded.rgb)
        faces = detect_faces(decoded.upright)
        report = EnrolledPhoto(label, sha, quality, len(faces), min(1, len(faces)))
        if existing:
            report.already_enrolled, report.faces_enrolled = True, 0
            report.warnings.append("already enrolled in this case; skipped")
            results.append(report)
            continue
        scope = case_scope(case.id)
        case_key = store.keyring.key(session, scope)
        blob_key = store.blobs.put(data, namespace="originals", scope=scope) if keep_originals else None
        session.add(
            Reference(
                case_id=case.id,
                kind="sha256",
                photo_sha256=sha,
                photo_label=label,
                value=bytes.fromhex(sha),
                blob_key=blob_key,
            )
        )
        if quality >= MIN_QUALITY:
            for index, value in enumerate(variants):
                session.add(
                    Reference(
                        case_id=case.id,
                        kind="pdq",
                        variant=index,
                        photo_sha256=sha,
                        photo_label=label,
                        value=value,
                        quality=quality,
                    )
                )
        else:
            report.warnings.append(
                f"PDQ quality {quality} < {MIN_QUALITY}: only exact copies and the face will match"
            )
        session.add(
            Reference(
                case_id=case.id,
                kind="features",
                photo_sha256=sha,
                photo_label=label,
                value=seal(
                    case_key, extract_features(decoded.rgb).to_bytes(), f"features:{case.id}".encode()
                ),
            )
        )
        if faces:
            session.add(
                Reference(
                    case_id=case.id,
                    kind="face",
                    variant=0,
                    photo_sha256=sha,
                    photo_label=label,
                    value=seal_embedding(case_key, case.id, faces[0].embedding),
                )
            )
            if len(faces) > 1:
                report.warnings.append(f"{len(faces)} faces found; only the largest was enrolled")
        else:
            report.warnings.append("no face found: this photo is matched by its hashes only")
        if decoded.format.startswith("video/"):
            report.warnings.append(_enrol_video_frames(session, case.id, sha, label, data))
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
