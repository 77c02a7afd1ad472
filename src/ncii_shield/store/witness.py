"""The witness file: every signed checkpoint also kept outside the database, and whole-log verification.

Checkpoints in the database protect the chain against an edit, but not against a cut: whoever can
write the database can delete the last entries together with the checkpoints that signed them, and
what is left is a shorter chain whose every checkpoint still verifies. So each checkpoint is also
appended, after its transaction commits, to ``<data dir>/audit-witness.log`` (opened append-only,
file and directory fsynced, one JSON line per checkpoint, signed like the checkpoint itself).
``verify_log`` checks the chain against the database's checkpoints, every witness line and any head the
operator kept (``ncii-shield audit head``): a signed head naming an entry the chain no longer holds, or
holds with another hash, is a cut or a rewrite.

What it cannot see: someone who deletes the witness file as well as the database's tail. Only a head
kept elsewhere (``--expect-head``) shows that; and the holder of the signing key can re-sign anything.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from ncii_shield.store.hashchain import (
    Checkpoint,
    Verification,
    canonical,
    check_signed_head,
    public_key_bytes,
    signing_key,
    stored_checkpoints,
    stored_entries,
    verify_entries,
)

WITNESS_NAME = "audit-witness.log"
_PENDING = "audit_witness"  # session.info key: (path, line) to append once the transaction commits
log = logging.getLogger(__name__)


def witness_path(data_dir: Path) -> Path:
    return Path(data_dir) / WITNESS_NAME


def witness_line(cp: Checkpoint) -> bytes:
    """One checkpoint as one line; ``at`` exactly as it was signed (see chain.checkpoint_message)."""
    record = {
        "seq": cp.seq,
        "head": cp.head.hex(),
        "at": cp.at.isoformat(),
        "public_key": cp.public_key.hex(),
        "signature": cp.signature.hex(),
    }
    return canonical(record) + b"\n"


def append_lines(path: Path, lines: list[bytes]) -> None:
    """Append with O_APPEND (one write, so concurrent writers never interleave a line), then fsync."""
    created = not path.exists()
    torn = False
    if not created and path.stat().st_size:
        with path.open("rb") as f:  # a line torn by a crash must not swallow the next one
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        data = b"\n" * torn + b"".join(lines)
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def witness_after_commit(session: Session, data_dir: Path, cp: object) -> None:
    """Queue the checkpoint for the witness file; it is written only if (and once) the session commits,
    so the witness never names a head that a rolled-back transaction took away."""
    line = witness_line(Checkpoint(cp.seq, cp.head, cp.at, cp.public_key, cp.signature))  # type: ignore[attr-defined]
    session.info.setdefault(_PENDING, []).append((witness_path(data_dir), line))
    if not event.contains(session, "after_commit", _write_pending):
        event.listen(session, "after_commit", _write_pending)
        event.listen(session, "after_rollback", _drop_pending)


def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for path in dict.fromkeys(p for p, _ in pending):
        try:
            append_lines(path, [line for p, line in pending if p == path])
        except OSError as exc:  # the checkpoint is committed; the operator must know the witness lags
            log.error("audit witness %s not written (%s): keep `ncii-shield audit head` elsewhere", path, exc)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def read_witness(path: Path) -> tuple[list[tuple[int, Checkpoint]], list[str]]:
    """The witness file's checkpoints with their line numbers, and notes on the lines that cannot be read.

    An unreadable line is a note, not a finding: a crash or power loss can tear the last line, and
    spoiling a line hides no more than deleting it would (see the module's limits). A line that reads
    but is not validly signed, or names a head the chain lacks, is a finding."""
    if not path.exists():
        return [], []
    found: list[tuple[int, Checkpoint]] = []
    problems: list[str] = []
    for n, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            if not isinstance(d, dict) or type(d["seq"]) is not int:
                raise TypeError
            head, at = bytes.fromhex(d["head"]), datetime.fromisoformat(d["at"])
            found.append(
                (
                    n,
                    Checkpoint(
                        d["seq"], head, at, bytes.fromhex(d["public_key"]), bytes.fromhex(d["signature"])
                    ),
                )
            )
        except (ValueError, TypeError, KeyError, RecursionError):
            problems.append(f"witness line {n} cannot be read (torn by a crash, or damaged): ignored")
    return found, problems


def parse_head(text: str) -> tuple[int, bytes]:
    """``SEQ:HEX`` as printed by ``ncii-shield audit head``; ValueError otherwise."""
    seq, _, hexed = text.strip().partition(":")
    head = bytes.fromhex(hexed)
    if not seq.isdigit() or len(head) != 32:
        raise ValueError(f"{text!r} is not SEQ:HEX (an entry number and a 64-hex-digit head)")
    return int(seq), head


def verify_log(
    store,  # type: ignore[no-untyped-def]
    session: Session,
    *,
    expected_heads: list[tuple[int, bytes]] = (),  # type: ignore[assignment]
    accept_unsigned_tail: bool = False,
) -> Verification:
    """The whole log of this data directory: database checkpoints, witness file, kept heads.

    Errors beyond verify_entries: a witness line or an expected head the chain does not hold (cut or
    rewritten); entries but no valid signed head at all; entries after the last signed head (unless
    ``accept_unsigned_tail``, then they are only counted). Sessions sign their entries in the same
    transaction, so only writes that bypassed them (or a chain from before checkpoints) leave such a tail.
    """
    entries, legacy = stored_entries(session)
    own = public_key_bytes(signing_key(store, session))
    witness, unreadable = read_witness(witness_path(store.settings.data_dir))
    result = verify_entries(entries, stored_checkpoints(session), trusted_keys={own}, witness=witness)
    result.legacy = legacy
    result.notes += unreadable
    by_seq = {e.seq: e for e in entries}
    for seq, head in expected_heads:
        if seq not in by_seq:
            result.problems.append(f"expected head at entry {seq}: that entry is missing (the log was cut)")
        elif by_seq[seq].entry_hash != head:
            result.problems.append(f"expected head at entry {seq}: the log differs (rewritten since)")
        else:
            result.expected += 1
    if entries and not result.signed_through:
        result.problems.append(
            f"the log has {len(entries)} entries but no valid signed checkpoint (checkpoints deleted?)"
        )
    elif result.unsigned and not accept_unsigned_tail:
        n = result.unsigned
        result.problems.append(
            f"{n} {'entry' if n == 1 else 'entries'} at the end {'is' if n == 1 else 'are'} not covered "
            "by a signed checkpoint (appended without the signing key?; --accept-unsigned-tail counts them "
            "instead)"
        )
    # Actions and actors come from the database: a newline or an escape code must not forge a line.
    result.problems = ["".join(c if c.isprintable() else repr(c)[1:-1] for c in p) for p in result.problems]
    return result


def latest_head(store, session: Session) -> Checkpoint | None:  # type: ignore[no-untyped-def]
    """The newest checkpoint that is validly signed by this deployment and matches the log."""
    entries, _ = stored_entries(session)
    by_seq = {e.seq: e for e in entries}
    own = {public_key_bytes(signing_key(store, session))}
    for cp in reversed(stored_checkpoints(session)):
        if check_signed_head(cp, "", by_seq, own, True) is None:
            return cp
    return None
