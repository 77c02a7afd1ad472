"""Verifying an evidence bundle offline (see evidence/bundle.py, which writes them).

Everything in the zip is hostile until checked: member names (two members with one name let a forgery
sit in front of the real file, since unzip reads the first and Python the last), the manifest's shape
(every field read is type-checked, and a malformed one is reported in one line, never as a crash), the
signatures, every file's hash, and the audit slice up to its signed head.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import posixpath
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ncii_shield.errors import NciiError
from ncii_shield.store.chain import Checkpoint, Entry, fingerprint, verify_entries

FORMAT = "ncii-shield evidence bundle"
VERSION = 1
MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.json", "manifest.sig", "public_key.txt"
# What a damaged zip can raise while it is read: each is reported as damage, never as a crash.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    UnicodeDecodeError,
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Malformed(ValueError):
    """The manifest does not have the shape this version writes: the reason, in one line."""


def _get(d: object, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise _Malformed(f"{where} has no {key!r}")
    value = d[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Malformed(f"{where}.{key} is not {getattr(kind, '__name__', 'of the right type')}")
    return value


def _hex(d: object, key: str, where: str, size: int = 32) -> bytes:
    try:
        value = bytes.fromhex(_get(d, key, str, where))
    except ValueError:
        raise _Malformed(f"{where}.{key} is not hexadecimal") from None
    if len(value) != size:
        raise _Malformed(f"{where}.{key} is not {size} bytes")
    return value


def _time(d: object, key: str, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(_get(d, key, str, where))
        value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Malformed(f"{where}.{key} is not an ISO date and time") from None
    if value.tzinfo is None:
        raise _Malformed(f"{where}.{key} has no time zone")
    return value


def _entry_from_json(d: object, where: str) -> Entry:
    seq, prev, own = _get(d, "seq", int, where), _hex(d, "prev", where), _hex(d, "hash", where)
    if isinstance(d, dict) and "content" in d:
        return Entry(seq, None, None, None, None, None, None, prev, own, _hex(d, "content", where))
    case_id = _get(d, "case_id", (int, type(None)), where)
    if isinstance(case_id, bool):
        raise _Malformed(f"{where}.case_id is not int")
    return Entry(seq, _time(d, "at", where), _get(d, "actor", str, where), _get(d, "action", str, where),
                 case_id, _get(d, "details", dict, where), _hex(d, "details_digest", where), prev, own)  # fmt: skip


@dataclass
class _Manifest:
    public: bytes
    files: dict[str, str]  # path -> SHA-256 hex
    hits: int
    entries: list[Entry]
    checkpoint: Checkpoint | None


def _parse_manifest(m: object) -> _Manifest:
    """Every field verification reads, with its type checked; anything else raises _Malformed."""
    if not isinstance(m, dict):
        raise _Malformed("it is not a JSON object")
    if m.get("format") != FORMAT or m.get("version") != VERSION:
        raise _Malformed(f"it is not a {FORMAT!r} of version {VERSION}")
    public = _hex(_get(m, "signer", dict, "manifest"), "ed25519_public_key", "signer")
    files: dict[str, str] = {}
    for i, f in enumerate(_get(m, "files", list, "manifest")):
        path, sha = _get(f, "path", str, f"files[{i}]"), _get(f, "sha256", str, f"files[{i}]")
        if path in files:
            raise _Malformed(f"{path} is listed twice")
        files[path] = sha
    hits = len(_get(m, "hits", list, "manifest"))
    audit_part = _get(m, "audit", dict, "manifest")
    raw = _get(audit_part, "entries", list, "audit")
    entries = [_entry_from_json(e, f"audit.entries[{i}]") for i, e in enumerate(raw)]
    cp = _get(audit_part, "checkpoint", (dict, type(None)), "audit")
    if cp is not None:
        w = "audit.checkpoint"
        cp = Checkpoint(_get(cp, "seq", int, w), _hex(cp, "head", w), _time(cp, "at", w), public,
                        _hex(cp, "signature", w, 64))  # fmt: skip
    return _Manifest(public, files, hits, entries, cp)


def _duplicates(names: list[str]) -> list[str]:
    """Members that name the same file (also after case folding, ``./`` or ``\\``): unzip, Python and
    file systems disagree on which copy wins, so a forgery can sit in front of the real file."""
    seen: set[str] = set()
    found: list[str] = []
    for name in names:
        key = posixpath.normpath(name.replace("\\", "/")).lstrip("/").casefold()
        if key in seen and name not in found:
            found.append(name)
        seen.add(key)
    return found


def signature_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".sig")


@dataclass
class BundleCheck:
    fingerprint: str | None = None
    pinned: bool = False  # the signer was checked against a key the caller trusts
    whole_file_signed: bool = False  # the detached .sig over the zip's bytes was found and checked
    files: int = 0
    hits: int = 0
    audit_entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _parse_key(text: str) -> bytes:
    value = text.strip().split()[0] if text.strip() else ""
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise NciiError(
            "not an Ed25519 public key",
            hint="give the 64 hex characters printed by `ncii-shield keys public`",
        )
    return key


def verify_bundle(path: Path, *, trusted: Iterable[str] = (), signature: Path | None = None) -> BundleCheck:
    """Check a bundle offline. ``trusted``: public keys (hex) or fingerprints the signer must match.

    ``signature`` is the detached signature over the whole file (default: ``<bundle>.sig`` beside it).
    """
    check = _check(path, trusted, signature)
    # Names in the problems come from the zip: a newline or an escape code must not forge a line.
    check.problems = ["".join(c if c.isprintable() else repr(c)[1:-1] for c in p) for p in check.problems]
    return check


def _check(path: Path, trusted: Iterable[str], signature: Path | None) -> BundleCheck:
    check = BundleCheck()
    sig_file = signature or signature_path(path)
    detached: tuple[bytes, bytes] | None = None
    if sig_file.is_file():
        try:
            sig_hex, key_hex = sig_file.read_text(encoding="ascii").split()[:2]
            detached = (bytes.fromhex(sig_hex), bytes.fromhex(key_hex))
        except (ValueError, UnicodeDecodeError):
            check.problems.append(f"{sig_file.name} cannot be read")
    elif signature is not None:
        raise NciiError(
            f"no signature file at {signature}", hint="give the .sig file that came with the bundle"
        )
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise NciiError(
            f"{path} is not a readable zip file ({exc})", hint="was it fully downloaded?"
        ) from exc
    with zf:
        members = zf.namelist()
        names = set(members)
        for name in _duplicates(members):
            check.problems.append(f"{name} is in the zip twice (a second copy can hide a forgery)")
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                check.problems.append(f"{needed} is missing")
                return check
        try:
            body = zf.read(MANIFEST)
            signature = bytes.fromhex(zf.read(SIGNATURE).decode().strip())
            parsed = _parse_manifest(json.loads(body))
        except _Malformed as exc:
            check.problems.append(f"the manifest is malformed: {exc}")
            return check
        except (RecursionError, *_ZIP_ERRORS) as exc:
            check.problems.append(f"the manifest or its signature cannot be read ({exc.__class__.__name__})")
            return check
        public = parsed.public
        check.fingerprint = fingerprint(public)
        if detached is not None:
            check.whole_file_signed = True
            try:
                if detached[1] != public:
                    raise InvalidSignature
                Ed25519PublicKey.from_public_bytes(public).verify(detached[0], path.read_bytes())
            except (InvalidSignature, ValueError):
                check.problems.append("the bundle file differs from what was signed (a byte was changed)")
        wanted = [t.strip().lower() for t in trusted if t.strip()]
        if wanted:
            check.pinned = any(w in (public.hex(), check.fingerprint) for w in wanted)
            if not check.pinned:
                check.problems.append(f"signed by {check.fingerprint}, which is not the key you trust")
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, body)
        except (InvalidSignature, ValueError):
            check.problems.append(
                "the manifest's signature is not valid: the manifest was changed or not signed by this key"
            )
        check.files = len(parsed.files)
        for name, sha in sorted(parsed.files.items()):
            if name not in names:
                check.problems.append(f"{name} is listed in the manifest but missing")
                continue
            try:
                data = zf.read(name)
            except _ZIP_ERRORS:
                check.problems.append(f"{name} is damaged in the zip")
                continue
            if _sha256(data) != sha:
                check.problems.append(f"{name} was changed (SHA-256 differs from the manifest)")
        for extra in sorted(names - set(parsed.files) - {MANIFEST, SIGNATURE, PUBLIC_KEY}):
            check.problems.append(f"{extra} is not in the manifest (added after signing)")
        check.hits, entries = parsed.hits, parsed.entries
        check.audit_entries = len(entries)
        cps = [] if parsed.checkpoint is None else [parsed.checkpoint]
        if not cps:
            check.problems.append("the audit slice has no signed checkpoint")
        try:
            result = verify_entries(entries, cps, trusted_keys={public}, complete=False)
        except (ValueError, OverflowError, RecursionError) as exc:
            check.problems.append(f"the audit slice cannot be checked ({exc.__class__.__name__})")
            return check
        if entries and cps and entries[-1].seq < cps[0].seq:
            check.problems.append("the audit slice stops before its signed checkpoint")
        for a, b in itertools.pairwise(entries):
            if b.seq != a.seq + 1:
                check.problems.append(f"the audit slice has a gap after entry {a.seq} (deleted entries)")
        check.problems += [f"audit: {p}" for p in result.problems]
    return check
