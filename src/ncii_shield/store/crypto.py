"""Encryption at rest: AES-256-GCM, data keys per scope, one deployment key that wraps them.

- The deployment key never touches the disk. It comes from a passphrase (scrypt), or from a key
  held elsewhere: NCII_KEY (hex) or NCII_KEY_FILE. Only a check value and the KDF parameters are
  stored, so a wrong key is a clear error, never garbage.
- Data keys are random, one per scope: `case:<id>` (the person's face embeddings, kept photos,
  evidence copies), `source:<id>` (collected media and thumbnails), `data` (sensitive text columns).
  They are stored wrapped by the deployment key in the `keys` table. Destroying a scope's key makes
  everything sealed with it unreadable, wherever copies of the ciphertext survive (crypto-shredding).
- Rotating the deployment key re-wraps the data keys in one transaction; no data is re-encrypted.

AES-GCM itself and the data key of encrypted columns are in store/sealing.py, which the models use.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ncii_shield.config import KEY_BYTES, Settings, decode_key, variable
from ncii_shield.errors import Conflict
from ncii_shield.store.models import DataKey
from ncii_shield.store.sealing import (
    NONCE_BYTES,
    KeyringError,
    activate_data_key,
    active_data_key,
    seal,
    unseal,
)

__all__ = [  # sealing's primitives are imported from here too: the keyring is the door to them
    "DATA_SCOPE",
    "KEY_BYTES",
    "NONCE_BYTES",
    "KeySource",
    "Keyring",
    "KeyringError",
    "activate_data_key",
    "active_data_key",
    "case_scope",
    "key_source",
    "parse_key",
    "read_key_file",
    "seal",
    "source_scope",
    "unseal",
]

DEPLOYMENT_SCOPE = "__deployment__"
DATA_SCOPE = "data"
CHECK_PLAINTEXT = b"ncii-shield deployment key check v1"
SCRYPT = {"n": 2**17, "r": 8, "p": 1}  # OWASP's minimum for scrypt; ~0.4 s and 128 MiB per derivation
KEY_ENV, KEY_FILE_ENV, PASSPHRASE_ENV = variable("key"), variable("key_file"), variable("passphrase")


def case_scope(case_id: int) -> str:
    return f"case:{case_id}"


def source_scope(source_id: int) -> str:
    return f"source:{source_id}"


# ------------------------------------------------------------------------------------- deployment key


def derive_from_passphrase(passphrase: str, salt: bytes, params: Mapping[str, int] = SCRYPT) -> bytes:
    if not passphrase:
        raise KeyringError("the passphrase is empty")
    return hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=salt,
        n=params["n"],
        r=params["r"],
        p=params["p"],
        maxmem=256 * 1024 * 1024,
        dklen=KEY_BYTES,
    )


def parse_key(text: str | bytes, origin: str) -> bytes:
    """A 32-byte key written as 64 hex characters or base64 (raw 32 bytes are accepted from files)."""
    if isinstance(text, bytes):
        if len(text) == KEY_BYTES:
            return text
        text = text.decode("ascii", errors="replace")
    try:
        return decode_key(text)
    except ValueError as exc:
        raise KeyringError(
            f"{origin} {exc}", hint="use 64 hex characters (e.g. `openssl rand -hex 32`)"
        ) from exc


def read_key_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_bytes(), f"key file {path}")
    except OSError as exc:
        raise KeyringError(
            f"cannot read key file {path}: {exc.strerror or exc}",
            hint=f"check {KEY_FILE_ENV} and the file's permissions",
        ) from exc


@dataclass(frozen=True)
class KeySource:
    """Where the deployment key comes from: a key, or a passphrase to derive it from."""

    key: bytes | None = None
    passphrase: str | None = None

    def resolve(self, params: Mapping[str, object]) -> bytes:
        if params.get("kind") == "passphrase":
            if self.passphrase is None:
                raise KeyringError(
                    "this data directory is protected by a passphrase",
                    hint=f"set {PASSPHRASE_ENV} or run from a terminal to be asked for it",
                )
            salt = bytes.fromhex(str(params["salt"]))
            return derive_from_passphrase(self.passphrase, salt, params["scrypt"])  # type: ignore[arg-type]
        if self.key is None:
            raise KeyringError(
                "this data directory is protected by a key",
                hint=f"set {KEY_FILE_ENV} to the key file (or {KEY_ENV} to the key itself)",
            )
        return self.key


def key_source(settings: Settings, *, interactive: bool | None = None) -> KeySource:
    """NCII_KEY, then NCII_KEY_FILE, then NCII_PASSPHRASE (as `settings` read them), then a prompt
    when on a terminal."""
    if settings.key is not None:
        return KeySource(key=settings.key)
    if settings.key_file is not None:
        return KeySource(key=read_key_file(settings.key_file))
    if settings.passphrase is not None:
        return KeySource(passphrase=settings.passphrase)
    if interactive if interactive is not None else sys.stdin.isatty():
        return _PromptingSource()
    return KeySource()


class _PromptingSource(KeySource):
    """Asks for the passphrase only if the data directory turns out to need one."""

    def resolve(self, params: Mapping[str, object]) -> bytes:
        if params.get("kind") == "passphrase":
            return KeySource(passphrase=getpass.getpass("ncii-shield passphrase: ")).resolve(params)
        return super().resolve(params)


# ------------------------------------------------------------------------------------------ keyring


class Keyring:
    """Data keys by scope, unwrapped on first use and cached for the life of the process."""

    def __init__(self, deployment_key: bytes) -> None:
        self._kek = deployment_key
        self._cache: dict[str, bytes] = {}
        self._pending: set[str] = set()

    @staticmethod
    def params(session: Session) -> dict[str, object] | None:
        row = session.scalar(select(DataKey).where(DataKey.scope == DEPLOYMENT_SCOPE))
        return None if row is None else dict(row.params or {}, check=row.wrapped)

    @classmethod
    def create(cls, session: Session, source: KeySource) -> Keyring:
        """First use of a data directory: record how the key is given and a check value."""
        if cls.params(session) is not None:
            raise Conflict(
                "this data directory is already initialised",
                hint="use `ncii-shield keys rotate` to change its key",
            )
        params: dict[str, object]
        if source.passphrase is not None:
            params = {"kind": "passphrase", "salt": os.urandom(16).hex(), "scrypt": SCRYPT}
        elif source.key is not None:
            params = {"kind": "key"}
        else:
            raise KeyringError("no key given", hint=f"set {KEY_FILE_ENV}, {KEY_ENV} or {PASSPHRASE_ENV}")
        kek = source.resolve(params)
        session.add(
            DataKey(scope=DEPLOYMENT_SCOPE, wrapped=seal(kek, CHECK_PLAINTEXT, b"check"), params=params)
        )
        session.flush()
        return cls(kek)

    @classmethod
    def open(cls, session: Session, source: KeySource) -> Keyring:
        params = cls.params(session)
        if params is None:
            raise KeyringError("this data directory has no key yet", hint="run `ncii-shield init` first")
        kek = source.resolve(params)
        try:
            unseal(kek, params["check"], b"check")  # type: ignore[arg-type]
        except KeyringError as exc:
            raise KeyringError(
                "the key given does not open this data directory",
                hint=f"check {PASSPHRASE_ENV} / {KEY_FILE_ENV} / {KEY_ENV}",
            ) from exc
        return cls(kek)

    def key(self, session: Session, scope: str, *, create: bool = True) -> bytes:
        """The data key of `scope`, created (in the caller's transaction) if it does not exist yet."""
        if scope in self._cache:
            return self._cache[scope]
        row = session.scalar(select(DataKey).where(DataKey.scope == scope))
        if row is None:
            if not create:
                raise KeyringError(f"the key of {scope} was destroyed: its data is unrecoverable")
            key = os.urandom(KEY_BYTES)
            session.add(DataKey(scope=scope, wrapped=seal(self._kek, key, scope.encode())))
            session.flush()
            self._pending.add(scope)
        else:
            key = unseal(self._kek, row.wrapped, scope.encode())
        self._cache[scope] = key
        return key

    def committed(self) -> None:
        self._pending.clear()

    def rolled_back(self) -> None:
        """Forget keys created in a transaction that did not commit: they no longer exist."""
        for scope in self._pending:
            self._cache.pop(scope, None)
        self._pending.clear()

    def destroy(self, session: Session, scope: str) -> bool:
        """Delete a scope's key: everything sealed with it becomes unrecoverable."""
        row = session.scalar(select(DataKey).where(DataKey.scope == scope))
        self._cache.pop(scope, None)
        if row is None:
            return False
        session.delete(row)
        session.flush()
        return True

    def rotate(self, session: Session, new: KeySource) -> int:
        """Re-wrap every data key under a new deployment key. Returns how many keys were re-wrapped."""
        rows = session.scalars(select(DataKey)).all()
        params: dict[str, object]
        if new.passphrase is not None:
            params = {"kind": "passphrase", "salt": os.urandom(16).hex(), "scrypt": SCRYPT}
        elif new.key is not None:
            params = {"kind": "key"}
        else:
            raise KeyringError("no new key given")
        new_kek = new.resolve(params)
        count = 0
        for row in rows:
            if row.scope == DEPLOYMENT_SCOPE:
                row.wrapped, row.params = seal(new_kek, CHECK_PLAINTEXT, b"check"), params
            else:
                key = unseal(self._kek, row.wrapped, row.scope.encode())
                row.wrapped = seal(new_kek, key, row.scope.encode())
                count += 1
        session.flush()
        self._kek = new_kek
        return count
