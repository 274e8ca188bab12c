"""Keyed hashing and encryption of who people are.

Residents send anonymous tips, so a copied database file must not say who they
are: users are keyed by an HMAC of their Telegram id and what is needed to reach
them is encrypted (AES-GCM). Both keys are derived from ``BINHYEN_SECRET_KEY``,
which lives in the environment, never in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"binhyen", info=purpose).derive(
        secret.encode("utf-8")
    )


class Vault:
    """Hashes identifiers and seals/opens small payloads with keys from one secret."""

    def __init__(self, secret: str) -> None:
        self._hash_key = _derive(secret, b"identity-hmac-v1")
        self._keyed = hmac.new(self._hash_key, digestmod=hashlib.sha256)
        self._aead = AESGCM(_derive(secret, b"payload-aesgcm-v1"))
        self.button_key = _derive(secret, b"callback-hmac-v1")  # handlers.callbacks.Signer

    def hash_id(self, value: int | str) -> bytes:
        """A stable keyed hash (16 bytes) of an identifier, for lookups."""
        # From a keyed copy: the key's pads are computed once (read on every update).
        mac = self._keyed.copy()
        mac.update(str(value).encode())
        return mac.digest()[:16]

    def seal(self, plaintext: bytes, *, context: bytes = b"") -> bytes:
        """Encrypt; ``context`` binds the ciphertext to its row so it cannot be moved."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, *, context: bytes = b"") -> bytes:
        """Decrypt what :meth:`seal` made (raises ``InvalidTag`` if tampered)."""
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context)

    def seal_json(self, value: object, *, context: bytes = b"") -> bytes:
        """Seal a JSON-serialisable value."""
        return self.seal(json.dumps(value, ensure_ascii=False).encode(), context=context)

    def open_json(self, sealed: bytes, *, context: bytes = b"") -> object:
        """Open what :meth:`seal_json` made."""
        return json.loads(self.open(sealed, context=context))
