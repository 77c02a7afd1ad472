"""The audit chain's parts that need no live database session of their own: how entries are hashed
and linked, how a head is signed, and how a list of entries and signed heads is verified.

store/chain.py (the chain in the database) and store/witness.py (signed heads kept outside it) both
build on this module, so neither has to import the other's internals: see chain.py for the design.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import LargeBinary, cast, select
from sqlalchemy.orm import Session

from ncii_shield.store.crypto import KeyringError
from ncii_shield.store.models import AuditCheckpoint, AuditEvent

SIGNING_SCOPE = "signing:ed25519"  # keyring scope whose 32 random bytes are the Ed25519 seed
GENESIS = bytes(32)
NONCE_KEY = "_nonce"


def canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def details_digest(details: dict[str, object]) -> bytes:
    return hashlib.sha256(canonical(details)).digest()


def new_details(details: dict[str, object]) -> dict[str, object]:
    """The details as stored: with a random nonce, so their digest in the chain cannot be guessed."""
    return {**details, NONCE_KEY: os.urandom(16).hex()}


def content_hash(
    seq: int, at: datetime, actor: str, action: str, case_id: int | None, digest: bytes
) -> bytes:
    """What an entry says. Kept apart from the link so a bundle can show other cases' entries as this hash alone."""
    head = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "details": digest.hex(),
    }
    return hashlib.sha256(canonical(head)).digest()


def link_hash(prev: bytes, content: bytes) -> bytes:
    return hashlib.sha256(b"ncii-audit\x00" + prev + content).digest()


def entry_hash(
    seq: int, at: datetime, actor: str, action: str, case_id: int | None, digest: bytes, prev: bytes
) -> bytes:
    return link_hash(prev, content_hash(seq, at, actor, action, case_id, digest))


def event_hash(event: AuditEvent) -> bytes:
    return entry_hash(
        event.seq,  # type: ignore[arg-type]
        event.at,
        event.actor,
        event.action,
        event.case_id,
        event.details_digest,  # type: ignore[arg-type]
        event.prev_hash,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------------------ signing


def signing_key(store, session: Session) -> Ed25519PrivateKey:  # type: ignore[no-untyped-def]
    return Ed25519PrivateKey.from_private_bytes(store.keyring.key(session, SIGNING_SCOPE))


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(public: bytes) -> str:
    """Short, readable identity of a public key, to compare over the phone or in a letter."""
    digest = hashlib.sha256(public).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def checkpoint_message(seq: int, head: bytes, at: datetime) -> bytes:
    return canonical(
        {"ncii-shield audit checkpoint": 1, "seq": seq, "head": head.hex(), "at": at.isoformat()}
    )


# ------------------------------------------------------------------------------------------ verifying


@dataclass
class Verification:
    entries: int = 0
    legacy: int = 0  # entries written before the chain existed (no seq)
    purged: int = 0  # entries whose details a purge destroyed on purpose
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    public_keys: set[str] = field(default_factory=set)
    signed_through: int = 0  # the highest entry a valid signed head (database or witness) covers
    unsigned: int = 0  # entries after it
    witnessed: int = 0  # witness lines that check out
    unwitnessed: int = 0  # valid checkpoints of the database not in the witness file (older, or cut)
    expected: int = 0  # heads the operator kept, found in the log
    notes: list[str] = field(default_factory=list)  # worth a look, but not evidence of tampering

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, object]:
        """What `audit verify --json` and the API's audit check report: one shape for both."""
        return dict(
            ok=self.ok,
            entries=self.entries,
            checkpoints=self.checkpoints,
            signed_through=self.signed_through,
            unsigned=self.unsigned,
            witnessed=self.witnessed,
            unwitnessed=self.unwitnessed,
            expected_heads=self.expected,
            purged=self.purged,
            legacy=self.legacy,
            problems=self.problems,
            notes=self.notes,
            public_keys=sorted(self.public_keys),
        )


@dataclass(frozen=True)
class Entry:
    """An audit entry as plain data: what `verify_entries` checks (from the store or from a bundle).

    A redacted entry (another case's, in a bundle) has only ``seq``, ``content`` and the hashes.
    """

    seq: int
    at: datetime | None
    actor: str | None
    action: str | None
    case_id: int | None
    details: dict[str, object] | None  # None: not available (redacted, or not carried)
    details_digest: bytes | None
    prev_hash: bytes
    entry_hash: bytes
    content: bytes | None = None  # given for redacted entries; computed otherwise

    def content_hash(self) -> bytes:
        if self.at is None or self.actor is None or self.action is None or self.details_digest is None:
            if self.content is None:
                raise ValueError(f"entry {self.seq} has neither its content nor its content hash")
            return self.content
        return content_hash(self.seq, self.at, self.actor, self.action, self.case_id, self.details_digest)


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: bytes
    at: datetime
    public_key: bytes
    signature: bytes


def check_signed_head(
    cp: Checkpoint, label: str, by_seq: dict[int, Entry], trusted: set[bytes] | None, complete: bool
) -> str | None:
    """The problem with one signed head (from the database, a witness line or a bundle), or None."""
    if trusted is not None and cp.public_key not in trusted:
        return f"{label}: signed by an unknown key {fingerprint(cp.public_key)}"
    try:
        Ed25519PublicKey.from_public_bytes(cp.public_key).verify(
            cp.signature, checkpoint_message(cp.seq, cp.head, cp.at)
        )
    except (InvalidSignature, ValueError):
        return f"{label}: the signature is not valid (forged or edited)"
    entry = by_seq.get(cp.seq)
    if entry is None:
        return f"{label}: that entry is missing (deleted)" if complete else None
    if entry.entry_hash != cp.head:
        return f"{label}: the signed head differs from the log (rewritten since)"
    return None


def verify_entries(
    entries: list[Entry],
    checkpoints: list[Checkpoint],
    *,
    trusted_keys: set[bytes] | None = None,
    complete: bool = True,
    witness: list[tuple[int, Checkpoint]] = (),  # type: ignore[assignment]
) -> Verification:
    """Check hashes, links, order and signatures; ``complete`` means the entries start at seq 1.

    A bundle carries a slice of the chain (its case's entries plus the entries' neighbours' hashes), so
    links are checked between consecutive seqs only, and gaps are allowed when not ``complete``.
    ``witness``: (line number, checkpoint) read from the witness file, checked like the database's.
    Details changed by a purge are believed only for a case whose ``case.purged`` entry is intact in
    the chain and covered by a valid signed head, never from anything outside the chain.
    """
    result = Verification(entries=len(entries))
    by_seq: dict[int, Entry] = {}
    intact: set[int] = set()
    changed: list[Entry] = []
    previous: Entry | None = None
    for e in entries:
        if previous is not None and e.seq <= previous.seq:
            result.problems.append(f"entry {e.seq} comes after entry {previous.seq}: the log was reordered")
        by_seq[e.seq] = e
        if (
            e.details is not None
            and e.details_digest is not None
            and details_digest(e.details) != e.details_digest
        ):
            changed.append(e)
        try:
            expected = link_hash(e.prev_hash, e.content_hash())
        except ValueError as exc:
            result.problems.append(str(exc))
            continue
        if expected != e.entry_hash:
            result.problems.append(
                f"entry {e.seq} ({e.action}): its content does not match its hash (edited)"
            )
        else:
            intact.add(e.seq)
        if previous is not None and e.seq == previous.seq + 1 and e.prev_hash != previous.entry_hash:
            result.problems.append(
                f"entry {e.seq}: does not follow entry {previous.seq} (an entry was replaced or reordered)"
            )
        if previous is not None and e.seq > previous.seq + 1 and complete:
            missing = (
                f"{previous.seq + 1}" if e.seq == previous.seq + 2 else f"{previous.seq + 1}–{e.seq - 1}"
            )
            result.problems.append(f"entries {missing} are missing (deleted)")
        if previous is None and complete and e.seq != 1:
            result.problems.append(f"entries 1–{e.seq - 1} are missing (deleted)")
        if previous is None and complete and e.seq == 1 and e.prev_hash != GENESIS:
            result.problems.append("entry 1 does not start the chain")
        previous = e
    stored = {(cp.seq, cp.head) for cp in checkpoints}
    labelled = [(f"checkpoint at entry {cp.seq}", cp, False) for cp in checkpoints]
    labelled += [(f"witness line {n} (checkpoint at entry {cp.seq})", cp, True) for n, cp in witness]
    signed: set[tuple[int, bytes]] = set()
    for label, cp, from_witness in labelled:
        result.public_keys.add(fingerprint(cp.public_key))
        result.checkpoints += not from_witness
        problem = check_signed_head(cp, label, by_seq, trusted_keys, complete)
        if problem is not None:
            result.problems.append(problem)
            continue
        if cp.seq in by_seq:
            signed.add((cp.seq, cp.head))
            result.signed_through = max(result.signed_through, cp.seq)
        if from_witness:
            result.witnessed += 1
            if (cp.seq, cp.head) not in stored:
                result.problems.append(f"{label}: not in the database (deleted)")
    result.unwitnessed = len((signed & stored) - {(cp.seq, cp.head) for _, cp in witness})
    result.unsigned = sum(1 for e in entries if e.seq > result.signed_through)
    purges = {
        e.case_id: e.seq
        for e in entries
        if e.action == "case.purged" and e.seq in intact and e.seq <= result.signed_through
    }
    for e in changed:
        if e.details == {"purged": True} and e.case_id in purges and e.seq < purges[e.case_id]:
            result.purged += 1
        else:
            result.problems.append(f"entry {e.seq} ({e.action}): its details were changed")
    return result


def stored_entries(session: Session) -> tuple[list[Entry], int]:
    """Every chained entry, in seq order, and how many legacy (unchained) entries there are.

    Details are read raw and unsealed here, so one altered ciphertext is reported, not fatal.
    """
    column = AuditEvent.__table__.c.details
    rows = session.execute(
        select(
            AuditEvent.seq,
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.case_id,
            cast(column, LargeBinary),  # CAST: even bytes rewritten as TEXT come back as bytes
            AuditEvent.details_digest,
            AuditEvent.prev_hash,
            AuditEvent.entry_hash,
        ).order_by(AuditEvent.seq, AuditEvent.id)
    ).all()
    entries = []
    legacy = 0
    for seq, at, actor, action, case_id, raw, digest, prev, own in rows:
        if seq is None:
            legacy += 1
            continue
        try:
            details = column.type.process_result_value(raw, None)
        except (KeyringError, ValueError):
            details = {"unreadable": True}  # sealed bytes altered: reported as changed details
        entries.append(Entry(seq, at, actor, action, case_id, details, digest, prev, own))
    return entries, legacy


def stored_checkpoints(session: Session) -> list[Checkpoint]:
    return [
        Checkpoint(c.seq, c.head, c.at, c.public_key, c.signature)
        for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
    ]
