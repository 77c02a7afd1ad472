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
from tests.pg import RawDb
from tests.test_scan import _case


def _log(store: Store, n: int = 6) -> None:
    _case(store)
    for i in range(n):
        with store.session() as s:
            audit.record(s, "test.step", case_id=1, step=i)


def _db(store: Store) -> sqlite3.Connection:
    if store.engine.dialect.name == "postgresql":  # the same edits on a PostgreSQL store (tests/pg.py)
        return RawDb(store.settings.database_url)  # type: ignore[return-value]
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


# ------------------------------------------------------------------ issue 12: cutting and rewriting


def _witness(store: Store) -> Path:
    return store.settings.data_dir / "audit-witness.log"


def _head(store: Store) -> int:
    with store.session() as s:
        entries, _ = stored_entries(s)
    return entries[-1].seq


def _tampered(tmp_path: Path, *sql: str, witness: bool = True) -> Store:
    """A logged data directory changed with plain sqlite3 (no key), reopened."""
    store = new_store(tmp_path / "d")
    _log(store)
    store.close()
    with _db(store) as db:
        for statement in sql:
            db.execute(statement)
    if not witness:
        _witness(store).unlink()
    return open_store(tmp_path / "d")


def test_a_cut_tail_with_its_checkpoints_is_caught_by_the_witness(tmp_path: Path) -> None:
    store = _tampered(
        tmp_path, "DELETE FROM audit_events WHERE seq > 4", "DELETE FROM audit_checkpoints WHERE seq > 4"
    )
    problems = _verify(store)
    store.close()
    assert any("witness" in p and "missing" in p for p in problems), problems


def test_a_rewritten_log_without_checkpoints_is_caught(tmp_path: Path) -> None:
    """Every checkpoint deleted, an entry edited and every hash recomputed with the public algorithm."""
    store = new_store(tmp_path / "d")
    _log(store)
    with store.session() as s:
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        prev = GENESIS
        for ev in events:
            if ev.seq == 3:
                ev.actor = "mallory"
            ev.prev_hash = prev
            ev.entry_hash = prev = entry_hash(
                ev.seq, ev.at, ev.actor, ev.action, ev.case_id, ev.details_digest, ev.prev_hash
            )
        s.query(AuditCheckpoint).delete()
    problems = _verify(store)
    assert any("witness" in p and "differs" in p for p in problems), problems
    assert any("witness" in p and "not in the database (deleted)" in p for p in problems), problems
    _witness(store).unlink()
    problems = _verify(store)
    store.close()
    assert any("no valid signed checkpoint" in p for p in problems), problems


def test_an_unsigned_tail_is_an_error_unless_accepted(store: Store) -> None:
    _log(store, 2)
    with store.session() as s:
        audit.record(s, "test.unsigned")
        audit.record(s, "test.unsigned")
        s.info.pop("audit_appended")  # as if the command died before signing its head
    problems = _verify(store)
    assert any("2 entries at the end are not covered by a signed checkpoint" in p for p in problems), problems
    with store.session() as s:
        result = verify_store(store, s, accept_unsigned_tail=True)
    assert result.ok and result.unsigned == 2, result.problems


def test_a_cut_witness_and_tail_are_caught_by_a_kept_head(tmp_path: Path) -> None:
    """The limit: witness deleted too, only a head the operator kept elsewhere shows the cut."""
    store = new_store(tmp_path / "d")
    _log(store)
    with store.session() as s:
        kept = stored_checkpoints(s)[-1]
    store.close()
    with _db(store) as db:
        db.execute("DELETE FROM audit_events WHERE seq > 4")
        db.execute("DELETE FROM audit_checkpoints WHERE seq > 4")
    _witness(store).unlink()
    store = open_store(tmp_path / "d")
    assert _verify(store) == [], "without the witness, the cut is invisible to the database alone"
    with store.session() as s:
        problems = verify_store(store, s, expected_heads=[(kept.seq, kept.head)]).problems
    store.close()
    assert any(f"expected head at entry {kept.seq}" in p and "missing" in p for p in problems), problems


def test_the_witness_has_one_signed_line_per_checkpoint(store: Store) -> None:
    _log(store, 3)
    lines = _witness(store).read_text().splitlines()
    with store.session() as s:
        checkpoints = stored_checkpoints(s)
    assert len(lines) == len(checkpoints)
    assert oct(_witness(store).stat().st_mode & 0o777) == "0o600"
    with store.session() as s:
        result = verify_store(store, s)
    assert result.ok and result.witnessed == len(lines), result.problems


def test_a_forged_witness_line_is_found(store: Store) -> None:
    _log(store, 2)
    line = _witness(store).read_text().splitlines()[-1].replace('"seq":', '"seq":1', 1)
    with _witness(store).open("a") as f:
        f.write(line + "\n")
    assert any("witness line" in p and "signature" in p for p in _verify(store)), _verify(store)


def test_a_clear_text_purged_status_does_not_excuse_altered_details(tmp_path: Path) -> None:
    store = _tampered(
        tmp_path,
        "UPDATE cases SET status='purged' WHERE id=1",
        "UPDATE audit_events SET details=substr(details,1,40) || x'00' WHERE seq=5",
    )
    problems = _verify(store)
    store.close()
    assert any("entry 5 (test.step): its details were changed" in p for p in problems), problems


def test_purged_details_copied_onto_another_case_are_found(store: Store) -> None:
    """A {"purged": true} ciphertext from a really purged case, pasted onto a live case's entry."""
    from ncii_shield.cases.retention import purge_case

    _log(store)
    other = _case(store)
    with store.session() as s:
        audit.record(s, "test.step", case_id=other, step=0)
    with store.session() as s:
        purge_case(store, s, other)
    store.close()
    with _db(store) as db:
        (sealed,) = db.execute(
            "SELECT details FROM audit_events WHERE case_id=? AND action='test.step'", (other,)
        ).fetchone()
        db.execute("UPDATE audit_events SET details=? WHERE seq=5", (sealed,))
        db.execute("UPDATE cases SET status='purged' WHERE id=1")
    store = open_store(store.settings.data_dir)
    problems = _verify(store)
    store.close()
    assert any("entry 5 (test.step): its details were changed" in p for p in problems), problems


def _concurrent(store: Store, n: int = 20) -> None:
    import threading

    _log(store, 1)
    before = _head(store)
    barrier = threading.Barrier(n)
    errors: list[str] = []

    def act(i: int) -> None:
        try:
            barrier.wait()
            with store.session() as s:
                audit.record(s, "user.login", user=f"u{i}")
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=act, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.session() as s:
        result = verify_store(store, s)
        logins = s.scalars(select(AuditEvent).where(AuditEvent.action == "user.login")).all()
    assert result.ok, result.problems
    assert len(logins) == n and _head(store) == before + n


def test_concurrent_audited_actions_all_succeed_on_sqlite(store: Store) -> None:
    _concurrent(store)


def test_concurrent_audited_actions_all_succeed_on_postgres(tmp_path: Path) -> None:
    from tests.pg import pg_bin, temporary_postgres

    if pg_bin() is None:
        pytest.skip("PostgreSQL not installed; .ci/run installs it")
    with temporary_postgres() as url:
        store = new_store(tmp_path / "pg", url)
        try:
            _concurrent(store)
        finally:
            store.close()


def test_cli_audit_head_and_expect_head(tmp_path: Path) -> None:
    import json

    store = new_store(tmp_path / "d")
    _log(store)
    store.close()
    base = [sys.executable, "-m", "ncii_shield.cli.main", "--data-dir", str(tmp_path / "d"), "audit"]
    head = subprocess.run([*base, "head", "--json"], capture_output=True, text=True, env=cli_env())
    assert head.returncode == 0, head.stderr
    kept = json.loads(head.stdout)
    assert kept["seq"] == _head(store) and len(kept["head"]) == 64 and kept["fingerprint"]
    plain = subprocess.run([*base, "head"], capture_output=True, text=True, env=cli_env())
    assert plain.stdout.strip() == f"{kept['seq']}:{kept['head']}"
    with _db(store) as db:
        db.execute("DELETE FROM audit_events WHERE seq > 4")
        db.execute("DELETE FROM audit_checkpoints WHERE seq > 4")
    _witness(store).unlink()
    cut = subprocess.run([*base, "verify"], capture_output=True, text=True, env=cli_env())
    assert cut.returncode == 0, "the documented limit: nothing else is left to compare with"
    expect = [*base, "verify", "--expect-head", plain.stdout.strip()]
    caught = subprocess.run(expect, capture_output=True, text=True, env=cli_env())
    assert caught.returncode == 1 and "expected head" in caught.stdout, caught.stdout + caught.stderr
    bad = subprocess.run(
        [*base, "verify", "--expect-head", "x:y"], capture_output=True, text=True, env=cli_env()
    )
    assert bad.returncode != 0 and "SEQ:HEX" in bad.stdout + bad.stderr


def test_a_witness_line_torn_by_a_crash_is_a_note_and_the_next_line_still_reads(store: Store) -> None:
    _log(store, 1)
    with _witness(store).open("ab") as f:
        f.write(b'{"at":"2026-')  # power lost in the middle of an append
    with store.session() as s:
        audit.record(s, "test.after")
    with store.session() as s:
        result = verify_store(store, s)
    assert result.ok, result.problems
    assert any("cannot be read" in n for n in result.notes), result.notes
    assert result.witnessed == len(stored_checkpoints_of(store))


def stored_checkpoints_of(store: Store) -> list[Checkpoint]:
    with store.session() as s:
        return stored_checkpoints(s)


def test_a_hostile_action_name_never_breaks_a_problem_line(tmp_path: Path) -> None:
    store = _tampered(tmp_path, "UPDATE audit_events SET action='x\ntampered: nothing' WHERE seq=3")
    problems = _verify(store)
    store.close()
    assert problems and all(p.isprintable() for p in problems), problems
