"""The one bank index: persisted under the data directory, updated in place on every committed change,
reconciled through the bank change counter when another process changed the banks, and never trusted
on its word (a stale, corrupt or forged file is rebuilt; hits are checked against the database)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ncii_shield.banks import changes
from ncii_shield.banks.bank_hashes import BankHashes
from ncii_shield.banks.formats import parse
from ncii_shield.banks.index import BankIndexes, bank_index
from ncii_shield.banks.index_files import MANIFEST, index_folder
from ncii_shield.banks.service import (
    add_signal,
    create_bank,
    delete_bank,
    get_bank,
    import_entries,
    match_banks,
    remove_signal,
    update_bank,
)
from ncii_shield.errors import Conflict, NotFound
from ncii_shield.index.pdq_file import save_arrays
from ncii_shield.store.db import Store
from ncii_shield.store.models import Item, Media, Signal, Source
from tests.conftest import cli_env, open_store

RNG = np.random.default_rng(13)


def _hashes(n: int) -> list[bytes]:
    return [bytes(RNG.integers(0, 256, 32, dtype=np.uint8)) for _ in range(n)]


def _near(value: bytes, bits: int) -> bytes:
    flipped = int.from_bytes(value) ^ ((1 << bits) - 1)
    return flipped.to_bytes(32)


def _import(store: Store, name: str, hashes: list[bytes], kind: str = "pdq") -> None:
    with store.session() as s:
        import_entries(
            s, get_bank(s, name, create=True), parse("".join(f"{kind} {h.hex()}\n" for h in hashes), "te")
        )


def _answers(index: BankIndexes, queries: list[bytes]) -> list[dict[str, list[tuple[int, int]]]]:
    index.ensure_fresh()
    return [index.lookup("pdq", q) for q in queries]


def _fresh(store: Store) -> BankIndexes:
    """An index built from the database alone, to compare with."""
    index = BankIndexes(store, persist=False)
    index.ensure_fresh()
    return index


def test_persisted_owner_only_and_loaded_at_start_instead_of_rebuilt(store: Store) -> None:
    hashes = _hashes(3000)
    _import(store, "A", hashes[:2000])
    _import(store, "B", hashes[2000:])
    _import(store, "C", _hashes(5), kind="sha256")
    queries = [_near(h, 5) for h in hashes[::97]] + _hashes(20)
    first = BankIndexes(store)
    expected = _answers(first, queries)
    assert first.rebuilt == 3
    folder = index_folder(store.settings.data_dir)
    assert (
        stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    )
    files = sorted(p.name for p in folder.iterdir())
    assert MANIFEST in files and len([f for f in files if f.endswith(".idx")]) == 3
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    restarted = BankIndexes(store)  # another process starting on the same data directory
    assert _answers(restarted, queries) == expected == _answers(_fresh(store), queries)
    assert restarted.rebuilt == 0 and restarted.files is not None and restarted.files.loaded_from_disk == 3
    again, before = restarted.status(), first.status()
    for kind, row in before.items():  # built_to is a wall-clock second: a restart may land on the next one
        assert abs(again[kind].pop("built_to") - row.pop("built_to")) <= 1
    assert again == before
    assert sum(1 for found in expected if found) == len(hashes[::97])


def test_changes_are_applied_in_place_and_persisted(store: Store) -> None:
    hashes = _hashes(5000)
    _import(store, "BIG", hashes)
    index = bank_index(store)  # the one this process's commits are handed to
    index.ensure_fresh()
    with store.session() as s:
        bank_id = get_bank(s, "BIG").id
    loaded = index._banks[bank_id].pdq
    rebuilt, written = index.rebuilt, index.files.written  # type: ignore[union-attr]

    extra = _hashes(3)
    _import(store, "BIG", extra[:1])  # as `ncii-shield bank import` does
    with store.session() as s:
        bank = get_bank(s, "BIG")
        signal, _ = add_signal(s, bank, "pdq", extra[1])
        added_id = signal.id
    with store.session() as s:
        [(gone, _)] = index.lookup("pdq", hashes[0])["BIG"]
        assert remove_signal(s, get_bank(s, "BIG"), gone) == 1
    with store.session() as s:
        update_bank(s, get_bank(s, "BIG"), name="BIGGER")
        other = create_bank(s, "OTHER")
        add_signal(s, other, "pdq", extra[2])
        other_id = other.id

    assert index._banks[bank_id].pdq is loaded and len(loaded) == 5001, "changed in place, not rebuilt"
    assert index.rebuilt == rebuilt and index.extended == 0
    with store.session() as s:
        assert index._seen == changes.current(s), "the index knows it holds the store's state"
    index.ensure_fresh()
    assert index.rebuilt == rebuilt and index.extended == 0, "nothing left to reconcile"
    assert index.lookup("pdq", extra[1]) == {"BIGGER": [(added_id, 0)]}
    assert index.lookup("pdq", hashes[0]) == {} and "OTHER" in index.lookup("pdq", extra[2])
    assert index.files.written > written  # type: ignore[union-attr]

    queries = [_near(h, 3) for h in hashes[:50]] + extra
    restarted = BankIndexes(store)
    assert _answers(restarted, queries) == _answers(index, queries) == _answers(_fresh(store), queries)
    assert restarted.rebuilt == 0 and restarted.extended == 0

    with store.session() as s:
        delete_bank(s, get_bank(s, "OTHER"))
    assert "OTHER" not in {b.name for b in index._banks.values()}
    folder = index_folder(store.settings.data_dir)
    assert not (folder / f"bank-{other_id}.idx").exists(), "a deleted bank's hashes do not stay on disk"
    assert (folder / f"bank-{bank_id}.idx").exists()


def test_another_process_changing_banks_is_reconciled(store: Store, tmp_path: Path) -> None:
    """Another process (here: a second Store on the same data directory, whose commits this index is
    not told about; and the real CLI) changes the banks: the counter says so, the index catches up."""
    hashes = _hashes(2000)
    _import(store, "A", hashes)
    index = BankIndexes(store, check_every=0.0)
    index.ensure_fresh()
    elsewhere = open_store(store.settings.data_dir)
    try:
        with elsewhere.session() as s:
            import_entries(s, get_bank(s, "A"), parse(f"pdq {_hashes(1)[0].hex()}\n", "te"))
        index.ensure_fresh()
        assert (index.rebuilt, index.extended) == (1, 1), "only the added hash was read"
        with elsewhere.session() as s:
            assert remove_signal(s, get_bank(s, "A"), index.lookup("pdq", hashes[7])["A"][0][0]) == 1
        index.ensure_fresh()
        assert index.rebuilt == 2, "a removal elsewhere: the bank is read again"
        assert index.lookup("pdq", hashes[7]) == {}
    finally:
        elsewhere.close()

    # A file saved before the other process's change is not trusted: its bank's stamps moved.
    stale = BankIndexes(store)
    stale.ensure_fresh()
    bank_file = tmp_path / "old.idx"
    folder = index_folder(store.settings.data_dir)
    [current] = [p for p in folder.iterdir() if p.suffix == ".idx"]
    bank_file.write_bytes(current.read_bytes())
    manifest = (folder / MANIFEST).read_bytes()
    cli = subprocess.run(
        [sys.executable, "-m", "ncii_shield.cli.main", "bank", "import", "A", "-"],
        input=f"pdq {_hashes(1)[0].hex()}\n",
        env=cli_env(
            PYTHONPATH=os.pathsep.join(  # src, and tests/pgsite when the suite runs on PostgreSQL
                [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
            NCII_DATA_DIR=str(store.settings.data_dir),
        ),
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    current.write_bytes(bank_file.read_bytes())  # put back the older (genuine) file and manifest
    (folder / MANIFEST).write_bytes(manifest)
    reloaded = BankIndexes(store)
    queries = [_near(h, 4) for h in hashes[:40]]
    assert _answers(reloaded, queries) == _answers(_fresh(store), queries)
    assert (
        reloaded.rebuilt + reloaded.extended == 1 and len(reloaded._banks[current_id(store, "A")].pdq) == 2001
    )


def current_id(store: Store, name: str) -> int:
    with store.session() as s:
        return get_bank(s, name).id


@pytest.mark.parametrize("damage", ["flipped byte", "forged file", "forged manifest", "truncated"])
def test_a_damaged_or_forged_index_is_rebuilt(store: Store, damage: str) -> None:
    hashes = _hashes(1500)
    _import(store, "A", hashes)
    BankIndexes(store).ensure_fresh()
    folder = index_folder(store.settings.data_dir)
    [path] = [p for p in folder.iterdir() if p.suffix == ".idx"]
    if damage == "flipped byte":
        data = bytearray(path.read_bytes())
        data[-100] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "forged file":  # valid checksums, other hashes: only the HMAC can tell
        forged = BankHashes(current_id(store, "A"), "A", True)
        forged.add([(i + 1, "pdq", h) for i, h in enumerate(_hashes(1500))])
        meta, arrays = forged.to_arrays()
        meta["bank"].update(version=10**6, removed_at=10**6)
        save_arrays(path, meta, arrays)
    elif damage == "forged manifest":
        manifest = json.loads((folder / MANIFEST).read_bytes())
        manifest["banks"][str(current_id(store, "A"))]["mac"] = "0" * 64
        (folder / MANIFEST).write_text(json.dumps(manifest))
    else:
        path.write_bytes(path.read_bytes()[:1000])
    reloaded = BankIndexes(store)
    queries = [_near(h, 6) for h in hashes[::50]]
    assert _answers(reloaded, queries) == _answers(_fresh(store), queries)
    assert reloaded.rebuilt == 1 and reloaded.files.loaded_from_disk == 0  # type: ignore[union-attr]
    again = BankIndexes(store)  # the rebuilt bank was written back
    again.ensure_fresh()
    assert again.rebuilt == 0


def _stored_pdq(store: Store, value: bytes) -> None:
    with store.session() as s:
        source = Source(name="t", kind="folder", location="/nowhere", fingerprint="f" * 64)
        media = Media(sha256=value.hex(), size=1, status="ok")
        s.add_all([source, media])
        s.flush()
        s.add(Item(source_id=source.id, external_id="1", kind="message", media_id=media.id))
        s.add(Signal(media_id=media.id, kind="pdq", value=value, quality=100))


def test_hits_are_checked_against_the_database(store: Store) -> None:
    """Even an index that holds a wrong hash (as if its file had been forged and trusted) records only
    hits the stored hashes confirm, with the distance recomputed from them."""
    hashes = _hashes(10)
    _import(store, "A", hashes)
    index = bank_index(store)
    index.ensure_fresh()
    bank_id = current_id(store, "A")
    victim = _hashes(1)[0]
    _stored_pdq(store, victim)
    with index._rw.write():  # the in-memory index lies: a banked id now "holds" the stored image
        [(lying_id, _)] = index._banks[bank_id].search("pdq", hashes[3])
        index._banks[bank_id].add([(lying_id, "pdq", victim)])
    with store.session() as s:
        assert match_banks(s) == {}, f"the database says signal {lying_id} is another hash"
    with store.session() as s:
        add_signal(s, get_bank(s, "A"), "pdq", _near(victim, 9))
        assert match_banks(s) == {"A": 1}


def test_matching_inside_the_importing_transaction(store: Store) -> None:
    """`ncii-shield bank import` matches before it commits: the index holds the committed bank, the
    session sees the import too; both are searched, and after the commit the index takes the import."""
    victim = _hashes(1)[0]
    _stored_pdq(store, victim)
    _import(store, "A", _hashes(100))
    index = bank_index(store)
    index.ensure_fresh()
    with store.session() as s:
        bank = get_bank(s, "A")
        import_entries(s, bank, parse(f"pdq {_near(victim, 2).hex()}\n", "te"))
        assert match_banks(s, [bank.id]) == {"A": 1}
        assert index.lookup("pdq", victim) == {}, "not committed yet"
    assert index.lookup("pdq", victim)["A"][0][1] == 2

    # A new bank, imported and matched in one transaction (`ncii-shield bank import NEW file`): read
    # whole to match, and that copy is what the index takes at commit, not indexed a second time.
    before = (index.rebuilt, index.extended)
    with store.session() as s:
        bank = get_bank(s, "NEW", create=True)
        import_entries(s, bank, parse(f"pdq {_near(victim, 5).hex()}\n", "te"))
        assert match_banks(s, [bank.id]) == {"NEW": 1}
    assert index.lookup("pdq", victim)["NEW"][0][1] == 5 and (index.rebuilt, index.extended) == before
    assert index.adopted == 1
    with store.session() as s:
        assert index._seen == changes.current(s)
    index.ensure_fresh()
    assert (index.rebuilt, index.extended) == before, "nothing left to reconcile"


def test_errors_have_kinds(store: Store) -> None:
    with store.session() as s:
        create_bank(s, "A")
        with pytest.raises(NotFound):
            get_bank(s, "NOPE")
        with pytest.raises(Conflict):
            create_bank(s, "A")


def test_a_bank_deleted_elsewhere_leaves_no_file(store: Store) -> None:
    _import(store, "A", _hashes(10))
    _import(store, "B", _hashes(10))
    BankIndexes(store).ensure_fresh()
    folder, gone = index_folder(store.settings.data_dir), current_id(store, "B")
    assert (folder / f"bank-{gone}.idx").exists()
    with store.session() as s:  # no index of this process is told: as if another process did it
        delete_bank(s, get_bank(s, "B"))
    BankIndexes(store).ensure_fresh()
    assert not (folder / f"bank-{gone}.idx").exists(), "a deleted bank's hashes do not stay on disk"
    assert (folder / f"bank-{current_id(store, 'A')}.idx").exists()
