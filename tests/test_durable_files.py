"""Files written just before a commit that depends on them are on disk first: key files, blobs, renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ncii_shield.store.files import atomic_write, create_durably


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths fsync was called on, in order."""
    calls: list[str] = []
    real = os.fsync

    def record(descriptor: int) -> None:
        calls.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", record)
    return calls


def test_a_generated_key_file_and_its_directory_entry_are_synced(tmp_path: Path, synced: list[str]) -> None:
    """`keys rotate --generate-key-file` commits a database only the new key opens: the file must survive."""
    from ncii_shield.cli.keys import _new_key_source

    target = tmp_path / "keys" / "new.key"
    source = _new_key_source(target, None)
    assert source is not None and target.stat().st_mode & 0o777 == 0o600
    assert synced == [str(target), str(target.parent)]
    assert bytes.fromhex(target.read_text().strip()) == source.key


def test_create_durably_never_overwrites(tmp_path: Path) -> None:
    target = create_durably(tmp_path / "k", b"one")
    with pytest.raises(FileExistsError):
        create_durably(target, b"two")
    assert target.read_bytes() == b"one"


def test_an_atomic_write_syncs_the_file_then_the_rename(tmp_path: Path, synced: list[str]) -> None:
    target = atomic_write(tmp_path / "blob", b"data")
    assert len(synced) == 2 and synced[0].startswith(str(tmp_path / ".blob.")) and synced[1] == str(tmp_path)
    assert target.read_bytes() == b"data"
