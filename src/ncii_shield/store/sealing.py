"""Sealing bytes with AES-256-GCM, and the data key encrypted columns use in the current context.

The primitives both the keyring (store/crypto.py) and the column types (store/models.py) need. They live
apart from the keyring because the keyring stores its keys in a model: with them here, models import
this module, the keyring imports the models, and neither has to import the other late.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ncii_shield.errors import NciiError

NONCE_BYTES = 12


class KeyringError(NciiError):
    """The deployment key is missing or wrong, or a data key was destroyed."""


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || AES-256-GCM(plaintext). `aad` binds the ciphertext to where it belongs."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:
        raise KeyringError("stored data could not be decrypted: wrong key, or the data was altered") from exc


# ------------------------------------------------------------------------------- column encryption

_data_key: ContextVar[bytes | None] = ContextVar("ncii_data_key", default=None)


def active_data_key() -> bytes:
    key = _data_key.get()
    if key is None:
        raise RuntimeError("no data key is active: use Store.session() to reach encrypted columns")
    return key


def activate_data_key(key: bytes) -> Callable[[], None]:
    token = _data_key.set(key)
    return lambda: _data_key.reset(token)
