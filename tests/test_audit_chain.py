"""The audit log is a hash chain with signed checkpoints: any edit, deletion or reordering is found."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ncii_shield.store import audit
from ncii_shield.store.chain import (
    GENESIS,
    Checkpoint,
    details_digest,
    entry_hash,
    stored_checkpoints,
    stored_entries,
    verify_entries,
    verify_store,
)
from ncii_shield.store.db import Store
from ncii_shield.store.models import AuditCheckpoint, AuditEvent
from tests.conftest import cli_env, new_store, open_store
from tests.test_scan import _case


def _log(store: Store, n: int = 6) -> None:
    _case(store)
    for i in range(n):
        with store.session() as s:
            audit.record(s, "test.step", case_id=1, step=i)


def _db(store: Store) -> sqlite3.Connection:
    path = store.settings.data_dir / "ncii.db"
    assert path.exists(), list(store.settings.data_dir.iterdir())
    return sqlite3.connect(path)


def _verify(store: Store) -> list[str]:
    with store.session() as s:
        return verify_store(store, s).problems


def test_an_untouched_log_verifies(store: Store) -> None:
    _log(store)
    with store.session() as s:
        result = verify_store(store, s)
        entries, _ = stored_entries(s)
    assert result.ok, result.problems
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == GENESIS
    assert result.checkpoints >= 6 and len(result.public_keys) == 1


def test_details_are_sealed_and_salted(store: Store) -> None:
    _log(store, 2)
    with store.session() as s:
        a, b = s.scalars(select(AuditEvent).where(AuditEvent.action == "test.step")).all()
    assert a.details["_nonce"] != b.details["_nonce"]
    assert a.details_digest == details_digest(a.details)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda db: db.execute("UPDATE audit_events SET action='x' WHERE seq=3"), "entry 3 (x): its content"),
        (lambda db: db.execute("UPDATE audit_events SET actor='mallory' WHERE seq=2"), "entry 2"),
        (lambda db: db.execute("UPDATE audit_events SET at='2020-01-01 00:00:00' WHERE seq=4"), "entry 4"),
        (lambda db: db.execute("DELETE FROM audit_events WHERE seq=3"), "entries 3 are missing (deleted)"),
        (lambda db: db.execute("DELETE FROM audit_events WHERE seq=1"), "entries 1–1 are missing"),
        (
            lambda db: db.executescript(
                "UPDATE audit_events SET seq=-1 WHERE seq=3; UPDATE audit_events SET seq=3 WHERE seq=4;"
                "UPDATE audit_events SET seq=4 WHERE seq=-1;"
            ),
            "entry 3",
        ),
        (
            lambda db: db.execute(
                "UPDATE audit_events SET details=substr(details,1,40) || x'00' WHERE seq=5"
            ),
            "entry 5 (test.step): its details were changed",
        ),
        (
            lambda db: db.execute("DELETE FROM audit_events WHERE seq=(SELECT max(seq) FROM audit_events)"),
            "that entry is missing (deleted)",
        ),
        (
            lambda db: db.execute("UPDATE audit_checkpoints SET signature=zeroblob(64) WHERE id=2"),
            "signature",
        ),
    ],
)
def test_tampering_is_found_and_located(
    tmp_path: Path, tamper: Callable[[sqlite3.Connection], object], expected: str
) -> None:
    store = new_store(tmp_path / "d")
    _log(store)
    store.close()
    with _db(store) as db:
        tamper(db)
    store = open_store(tmp_path / "d")
    problems = _verify(store)
    store.close()
    assert any(expected in p for p in problems), problems


def test_details_edited_with_the_key_are_found(store: Store) -> None:
    _log(store)
    with store.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(details={"step": 99, "_nonce": "00"}))
    assert any("entry 4 (test.step): its details were changed" in p for p in _verify(store))


def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint(store: Store) -> None:
    """Whoever recomputes every hash after an edit still cannot sign the new head."""
    _log(store)
    with store.session() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        prev = events[2].entry_hash
        for ev in events[3:]:
            ev.actor = "mallory"
            ev.prev_hash = prev
            ev.entry_hash = prev = entry_hash(
                ev.seq, ev.at, ev.actor, ev.action, ev.case_id, ev.details_digest, ev.prev_hash
            )
        entries, _ = stored_entries(s)
        checkpoints = stored_checkpoints(s)
    problems = verify_entries(entries, []).problems
    assert problems == [], "the hashes alone are consistent again"
    problems = verify_entries(entries, checkpoints).problems
    assert any("the signed head differs from the log" in p for p in problems), problems


def test_a_checkpoint_from_another_key_is_refused(store: Store) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ncii_shield.store.chain import checkpoint_message, public_key_bytes

    _log(store, 1)
    with store.session() as s:
        entries, _ = stored_entries(s)
        last = entries[-1]
        cp = s.scalars(select(AuditCheckpoint)).first()
        assert cp is not None
        other = Ed25519PrivateKey.generate()
        forged = Checkpoint(last.seq, last.entry_hash, cp.at, public_key_bytes(other), b"")
        forged = Checkpoint(
            forged.seq,
            forged.head,
            forged.at,
            forged.public_key,
            other.sign(checkpoint_message(last.seq, last.entry_hash, cp.at)),
        )
        own = {cp.public_key}
    problems = verify_entries(entries, [forged], trusted_keys=own).problems
    assert any("signed by an unknown key" in p for p in problems)


def test_purged_details_are_not_tampering(store: Store) -> None:
    from ncii_shield.cases.retention import purge_case

    _log(store)
    with store.session() as s:
        purge_case(store, s, 1)
    with store.session() as s:
        result = verify_store(store, s)
    assert result.ok, result.problems
    assert result.purged >= 6


def test_cli_audit_verify(tmp_path: Path) -> None:
    store = new_store(tmp_path / "d")
    _log(store)
    store.close()
    cmd = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(tmp_path / "d"), "audit", "verify"]
    ok = subprocess.run(cmd, capture_output=True, text=True, env=cli_env())
    assert ok.returncode == 0 and "intact" in ok.stdout
    with _db(store) as db:
        db.execute("DELETE FROM audit_events WHERE seq=2")
    bad = subprocess.run(cmd, capture_output=True, text=True, env=cli_env())
    assert bad.returncode == 1 and "entries 2 are missing (deleted)" in bad.stdout
    public = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(tmp_path / "d"), "keys", "public"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert public.returncode == 0 and len(public.stdout.strip()) == 64
