"""Evidence bundles: one signed zip an investigator, a court or a platform can check without us.

``bundle.zip`` holds ``manifest.json`` (the case's hits with their items' provenance, the signals of each
copy, the review decisions, the audit slice, and the SHA-256 of every other file), the readable reports
(HTML and PDF, Korean and English), optionally the media (blurred thumbnails, or the originals encrypted
under a passphrase that travels separately), the deployment's public key, and ``manifest.sig``: a
detached Ed25519 signature over the manifest's exact bytes.

:func:`verify_bundle` needs nothing but the zip (and, to pin who signed it, the public key or its
fingerprint, published by the deployment): it checks the signature, every file's hash, that no file
was added or removed, that no member name appears twice, that the manifest has the expected shape,
and that the audit slice links up to a head signed by the same key (evidence/bundle_check.py).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.cases.service import get_case
from ncii_shield.errors import NciiError
from ncii_shield.evidence.assemble import build_report_data
from ncii_shield.evidence.bundle_check import (
    FORMAT,
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    VERSION,
    BundleCheck,
    _sha256,
    signature_path,
    verify_bundle,
)
from ncii_shield.evidence.pdf import render_pdf
from ncii_shield.evidence.report import render_report
from ncii_shield.media.thumbs import blur_thumbnail
from ncii_shield.read.families import case_families, family_json
from ncii_shield.read.hits import list_hits
from ncii_shield.review.decisions import current
from ncii_shield.signals.registry import KINDS
from ncii_shield.store import audit
from ncii_shield.store.chain import (
    Entry,
    checkpoint,
    fingerprint,
    public_key_bytes,
    signing_key,
    stored_entries,
)
from ncii_shield.store.files import atomic_write
from ncii_shield.store.models import AuditCheckpoint, Media, Signal

__all__ = ["BundleCheck", "BundleResult", "decrypt_media", "export_bundle", "signature_path", "verify_bundle"]

MEDIA_MODES = ("none", "blurred", "encrypted")
LANGUAGES = ("ko", "en")
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
TIMELINE = "takedown-timeline.json"  # listed in the manifest's files, like the reports
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entry times: the bundle's bytes depend on its content only


def _iso(d: datetime | None) -> str | None:
    return d.astimezone(UTC).isoformat() if d else None


def _entry_json(e: Entry, full: bool) -> dict[str, object]:
    if not full:
        return {
            "seq": e.seq,
            "content": e.content_hash().hex(),
            "prev": e.prev_hash.hex(),
            "hash": e.entry_hash.hex(),
        }
    return {
        "seq": e.seq,
        "at": e.at.astimezone(UTC).isoformat(timespec="microseconds") if e.at else None,
        "actor": e.actor,
        "action": e.action,
        "case_id": e.case_id,
        "details": e.details,
        "details_digest": e.details_digest.hex() if e.details_digest else None,
        "prev": e.prev_hash.hex(),
        "hash": e.entry_hash.hex(),
    }


def _encrypt(data: bytes, passphrase: str, salt: bytes, name: str) -> bytes:
    key = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode())
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, name.encode())


def decrypt_media(data: bytes, passphrase: str, salt_hex: str, name: str) -> bytes:
    """For the recipient: open one encrypted media file of a bundle (see the manifest's ``media``)."""
    key = Scrypt(salt=bytes.fromhex(salt_hex), length=32, **_SCRYPT).derive(passphrase.encode())
    return AESGCM(key).decrypt(data[:12], data[12:], name.encode())


@dataclass
class BundleResult:
    path: Path
    files: int
    hits: int
    fingerprint: str


def export_bundle(  # type: ignore[no-untyped-def]
    store,
    session: Session,
    case_id: int,
    out: Path,
    *,
    media: str = "blurred",
    passphrase: str | None = None,
    pdf: bool = True,
) -> BundleResult:
    """Write the case's signed evidence bundle to ``out``. Rejected hits are left out; the rest are in."""
    if media not in MEDIA_MODES:
        raise NciiError(f"unknown media mode {media!r}", hint=f"use one of {', '.join(MEDIA_MODES)}")
    if media == "encrypted" and not passphrase:
        raise NciiError(
            "encrypted media need a passphrase",
            hint="set NCII_BUNDLE_PASSPHRASE and give it to the recipient separately",
        )
    case = get_case(session, case_id)
    if case.status == "purged":
        raise NciiError(f"case {case_id} is purged: there is no evidence left to export")
    audit.record(session, "evidence.exported", case_id=case_id, media=media, out=str(out))
    session.flush()
    checkpoint(store, session)
    files: dict[str, bytes] = {}

    decided = current(session, case_id)
    rows = [r for r in list_hits(session, case_id) if r.decision != "rejected"]
    data = build_report_data(session, store.blobs, case_id)
    for lang in LANGUAGES:
        files[f"report-{lang}.html"] = render_report(data, language=lang).encode()
        if pdf:
            files[f"report-{lang}.pdf"] = render_pdf(data, language=lang)

    if data.takedown is not None:  # each notice's steps and clocks, and the case's transparency table
        files[TIMELINE] = json.dumps(
            data.takedown.as_json(), ensure_ascii=False, indent=1, sort_keys=True, default=str
        ).encode()

    shas = sorted({r.media_sha256 for r in rows if r.media_sha256})
    medias = {m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(shas)))}
    signals: dict[str, dict[str, object]] = {}
    for sha, m in medias.items():
        sigs = session.scalars(select(Signal).where(Signal.media_id == m.id)).all()
        summary: dict[str, object] = {"width": m.width, "height": m.height}
        for kind in KINDS:  # what each kind says of the file (pdq: its hash and quality; face: how many)
            summary.update(kind.describe_media(sigs))
        summary["nudity"] = next((s.score for s in sigs if s.kind == "nudity"), None)
        signals[sha] = summary
    media_list: list[dict[str, object]] = []
    salt = os.urandom(16)
    for sha in shas:
        m = medias.get(sha)
        if m is None or media == "none":
            continue
        if media == "blurred" and m.thumb_key:
            files[f"media/{sha}.blurred.jpg"] = blur_thumbnail(store.blobs.get(m.thumb_key))
            media_list.append(
                {"sha256": sha, "file": f"media/{sha}.blurred.jpg", "kind": "blurred thumbnail"}
            )
        elif media == "encrypted" and m.blob_key:
            name = f"media/{sha}.enc"
            files[name] = _encrypt(store.blobs.get(m.blob_key), passphrase or "", salt, name)
            media_list.append({"sha256": sha, "file": name, "kind": "original, AES-256-GCM, scrypt"})

    entries, _ = stored_entries(session)
    first = next((e.seq for e in entries if e.case_id == case_id), None)
    slice_ = [e for e in entries if first is not None and e.seq >= first]
    cp = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())).first()
    key = signing_key(store, session)
    public = public_key_bytes(key)
    manifest: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "case": {"id": case_id, "pseudonym": case.pseudonym, "status": case.status, "minor": case.minor},
        "signer": {"ed25519_public_key": public.hex(), "fingerprint": fingerprint(public)},
        "hits": [
            {
                "item_id": r.item_id,
                "kinds": list(r.kinds),
                "distances": r.distances,
                "details": r.details,
                "reference": r.reference,
                "decision": r.decision,
                "decided_by": decided[r.item_id].actor if r.item_id in decided else None,
                "decided_at": _iso(decided[r.item_id].at) if r.item_id in decided else None,
                "provenance": {
                    "source": r.source,
                    "chat": r.chat,
                    "chat_id": r.chat_id,
                    "message_id": r.message_id,
                    "sender": r.sender,
                    "sender_id": r.sender_id,
                    "date": _iso(r.date),
                    "forwarded_from": r.forwarded_from,
                    "reply_to": r.reply_to,
                    "media_path": r.media_path,
                    "media_sha256": r.media_sha256,
                    "text_redacted": r.excerpt,
                },
            }
            for r in rows
        ],
        "signals": signals,
        # Where each photo went (image families, first appearance, rooms, spreaders, forward paths), signed
        # with the rest: the same figures as `case spread --json` and the web app's Spread tab.
        "spread": [family_json(f) for f in case_families(session, case_id, rows)],
        "media": media_list,
        "media_salt": salt.hex() if media == "encrypted" else None,
        "audit": {
            "entries": [_entry_json(e, e.case_id == case_id) for e in slice_],
            "checkpoint": None
            if cp is None
            else {
                "seq": cp.seq,
                "head": cp.head.hex(),
                "at": cp.at.isoformat(),
                "signature": cp.signature.hex(),
            },
        },
        "files": [
            {"path": name, "sha256": _sha256(body), "bytes": len(body)}
            for name, body in sorted(files.items())
        ],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True, default=str).encode()
    files[MANIFEST] = body
    files[SIGNATURE] = key.sign(body).hex().encode() + b"\n"
    files[PUBLIC_KEY] = f"{public.hex()}\nfingerprint {fingerprint(public)}\n".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    archive = buffer.getvalue()
    atomic_write(out, archive)
    # The detached signature covers every byte of the zip, metadata included; the manifest's own
    # signature covers the contents even if the zip is repacked.
    atomic_write(signature_path(out), f"{key.sign(archive).hex()}\n{public.hex()}\n".encode())
    return BundleResult(out, len(files), len(rows), fingerprint(public))
