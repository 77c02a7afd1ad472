"""The audit log as a hash chain with signed checkpoints, and its verification.

Evidence "doesn't hold up" when nobody can show that the record of what was done was not changed
afterwards. Every audit event therefore carries ``seq`` (1, 2, 3…), the hash of the previous entry and
its own hash over (seq, time, actor, action, case, digest of its details). Editing an entry breaks its
hash; deleting one leaves a gap in ``seq``; reordering breaks the ``prev`` links. An attacker who
rewrites the whole chain from some point on is caught by checkpoints: at the end of every session
that appended entries (and in every evidence bundle) the head of the chain is signed with the
deployment's Ed25519 key, whose private half is only ever stored sealed under the deployment key.

Signed heads only help if a cut is visible too: each checkpoint is also appended to a witness file
outside the database, and the operator can keep heads elsewhere (store/witness.py, which also holds
the whole-log verification). ``seq`` is allocated under the database's write lock (``lock_head``), so
concurrent sessions never take the same place in the chain.

Details are sealed at rest and hashed with a random nonce inside them, so the chain reveals nothing
about them; a purge destroys a case's details on purpose, and verification reports those entries as
purged rather than tampered with — but only for a case whose own ``case.purged`` entry is intact in
the chain and covered by a valid signed head, never because a clear-text column says "purged".
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ncii_shield.store.hashchain import (  # re-exported: one import path for the chain
    GENESIS,
    NONCE_KEY,
    SIGNING_SCOPE,
    Checkpoint,
    Entry,
    Verification,
    canonical,
    check_signed_head,
    checkpoint_message,
    content_hash,
    details_digest,
    entry_hash,
    event_hash,
    fingerprint,
    link_hash,
    new_details,
    public_key_bytes,
    signing_key,
    stored_checkpoints,
    stored_entries,
    verify_entries,
)
from ncii_shield.store.models import AuditCheckpoint, AuditEvent
from ncii_shield.store.witness import verify_log, witness_after_commit

__all__ = [
    "GENESIS",
    "HEAD_LOCK",
    "NONCE_KEY",
    "SIGNING_SCOPE",
    "Checkpoint",
    "Entry",
    "Verification",
    "canonical",
    "check_signed_head",
    "checkpoint",
    "checkpoint_message",
    "content_hash",
    "details_digest",
    "entry_hash",
    "event_hash",
    "fingerprint",
    "link_hash",
    "link_new_events",
    "lock_head",
    "new_details",
    "public_key_bytes",
    "signing_key",
    "stored_checkpoints",
    "stored_entries",
    "verify_entries",
    "verify_store",
]

HEAD_LOCK = 0x6E636969_61756474  # PostgreSQL advisory lock id of the chain head ("nciiaudt")


def link_new_events(session: Session, _flush_context: object = None, _instances: object = None) -> None:
    """``before_flush``: give every new audit event its place in the chain, in the order it was added."""
    pending = [obj for obj in session.new if isinstance(obj, AuditEvent) and obj.seq is None]
    if not pending:
        return
    order = {id(e): i for i, e in enumerate(session.info.get("audit_order", []))}
    new = sorted(pending, key=lambda e: (order.get(id(e), len(order)), e.at))
    with session.no_autoflush:
        lock_head(session)
        last = session.execute(
            select(AuditEvent.seq, AuditEvent.entry_hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
    seq, prev = (last[0], last[1]) if last and last[0] is not None else (0, GENESIS)
    for event in new:
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.details_digest = details_digest(event.details)
        event.entry_hash = prev = event_hash(event)
    session.info["audit_order"] = [e for e in session.info.get("audit_order", []) if e.seq is None]


def lock_head(session: Session) -> None:
    """Hold the database's write lock (to the end of the transaction) before the head is read.

    Reading the head and inserting after it must be one step, or two concurrent sessions both take
    the same ``seq`` and one loses its entry to the unique constraint. SQLite: ``BEGIN IMMEDIATE``
    (the driver opens transactions only at its first write, so a session not yet in one holds no
    lock; one already in one has written, so it holds the write lock). PostgreSQL: a transaction-level
    advisory lock, released at commit or rollback, when the new entries are visible to the next one.
    """
    connection = session.connection()
    name = connection.dialect.name
    if name == "sqlite":
        if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": HEAD_LOCK})


def checkpoint(store, session: Session) -> AuditCheckpoint | None:  # type: ignore[no-untyped-def]
    """Sign the current head of the chain, unless the newest checkpoint already covers it."""
    session.flush()
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.entry_hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if head is None or head[0] is None:
        return None
    last = session.scalar(select(func.max(AuditCheckpoint.seq)))
    if last is not None and last >= head[0]:
        return None
    key = signing_key(store, session)
    at = datetime.now(UTC).replace(microsecond=0)
    cp = AuditCheckpoint(
        seq=head[0],
        head=head[1],
        at=at,
        public_key=public_key_bytes(key),
        signature=key.sign(checkpoint_message(head[0], head[1], at)),
    )
    session.add(cp)
    session.flush()
    witness_after_commit(session, store.settings.data_dir, cp)
    return cp


def verify_store(store, session: Session, **options: object) -> Verification:  # type: ignore[no-untyped-def]
    """The whole log of this data directory: the database, its witness file, the heads the operator
    kept (``expected_heads``), against the deployment's own public key. See store/witness.py."""
    return verify_log(store, session, **options)  # type: ignore[arg-type]
