"""The bank index on disk: one file per bank under `<data dir>/index/banks/`, and a manifest naming them.

Why: indexing a bank of millions of hashes takes seconds, and the web server and every CLI command
would pay it at start. The files are only an accelerator, never trusted on their word:

- the manifest holds each file's HMAC and one of its own, keyed from the deployment's data key, so a
  file edited or swapped by someone with a shell (but not the key) fails the check and its bank is
  rebuilt from the store;
- a file says which state of its bank it holds (the stamps of banks/changes.py); banks/index.py uses it
  only while the store shows the same stamps and the same number of hashes, else reads the bank again;
- hits are checked against the hashes in the store before they are recorded (banks/matching.py).

Files are written atomically and owner-only (0600, folders 0700), like the rest of the data directory.
Writers in several processes take an exclusive lock on `.lock`, so the manifest always names the files
it was written with.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ncii_shield.banks.bank_hashes import BankHashes
from ncii_shield.index.pdq_file import IndexFileError, load_arrays, save_arrays
from ncii_shield.store.files import atomic_write

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
_CONTEXT = b"ncii-shield bank index files v1"


def index_folder(data_dir: Path) -> Path:
    return data_dir / "index" / "banks"


def _private_dir(path: Path) -> None:
    for folder in (path.parent, path):
        try:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # mkdir's mode is narrowed by the umask: make it exact
        except FileExistsError:
            pass


class IndexFiles:
    """Reads and writes one store's bank index files; `key` is the store's data key."""

    def __init__(self, folder: Path, key: bytes) -> None:
        self.folder = folder
        self._key = hmac.new(key, _CONTEXT, hashlib.sha256).digest()
        self.loaded_from_disk = 0  # banks taken from files (tests and benchmarks read these)
        self.written = 0  # bank files written
        self.stale = False  # the last load found files of banks no longer in the store

    @contextmanager
    def _locked(self) -> Iterator[None]:
        _private_dir(self.folder)
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _mac(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def _file_mac(self, path: Path) -> str:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                mac.update(chunk)
        return mac.hexdigest()

    def _manifest(self) -> dict[str, dict[str, str]]:
        """{bank id: {file, mac}} from an intact manifest; empty if missing, damaged or forged."""
        try:
            raw = json.loads((self.folder / MANIFEST).read_bytes())
            body = json.dumps(raw["banks"], sort_keys=True).encode()
            if raw.get("format") != FORMAT or not hmac.compare_digest(str(raw["mac"]), self._mac(body)):
                raise ValueError("manifest HMAC mismatch")
            return {str(k): {"file": str(v["file"]), "mac": str(v["mac"])} for k, v in raw["banks"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("bank index manifest ignored (%s): the banks are read from the store", exc)
            return {}

    def load(self, banks: dict[int, tuple[str, bool]]) -> dict[int, BankHashes]:
        """The banks of `banks` (id -> name, enabled) whose file is intact; the others are left out."""
        found: dict[int, BankHashes] = {}
        with self._locked():
            entries = self._manifest()
            self.stale = any(int(k) not in banks for k in entries)
            for bank_id, (name, enabled) in banks.items():
                entry = entries.get(str(bank_id))
                if entry is None:
                    continue
                path = self.folder / entry["file"]
                try:
                    if path.parent != self.folder or not hmac.compare_digest(
                        entry["mac"], self._file_mac(path)
                    ):
                        raise ValueError("file HMAC mismatch")
                    meta, arrays = load_arrays(path, kind="bank index")
                    bank = BankHashes.from_arrays(meta, arrays, name, enabled)
                    if bank.id != bank_id:
                        raise ValueError(f"file holds bank {bank.id}")
                except (OSError, IndexFileError, ValueError, KeyError, TypeError) as exc:
                    log.warning("bank index file %s ignored (%s): bank rebuilt from the store", path, exc)
                    continue
                found[bank_id] = bank
        self.loaded_from_disk += len(found)
        return found

    def save(self, banks: dict[int, BankHashes], dirty: set[int]) -> None:
        """Write the dirty banks' files, drop files of banks no longer in `banks`, then the manifest."""
        with self._locked():
            entries = self._manifest()
            for bank_id in [int(k) for k in entries if int(k) not in banks]:
                (self.folder / entries.pop(str(bank_id))["file"]).unlink(missing_ok=True)
            for bank_id in sorted(dirty & set(banks)):
                path = self.folder / f"bank-{bank_id}.idx"
                save_arrays(path, *banks[bank_id].to_arrays())
                entries[str(bank_id)] = {"file": path.name, "mac": self._file_mac(path)}
                self.written += 1
            body = json.dumps(entries, sort_keys=True).encode()
            manifest = {"format": FORMAT, "banks": entries, "mac": self._mac(body)}
            atomic_write(self.folder / MANIFEST, json.dumps(manifest, sort_keys=True).encode())
