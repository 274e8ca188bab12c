"""The vault's seals: each with its own nonce, also across threads; bound to their row."""

from __future__ import annotations

import threading

import pytest
from cryptography.exceptions import InvalidTag

from storage.crypto import Vault

SECRET = "unit-test-secret-0123456789abcdefghijkl"
NONCE = 12


def test_every_seal_has_its_own_nonce_across_threads() -> None:
    vault = Vault(SECRET)
    nonces: list[bytes] = []

    def seal_many() -> None:
        for n in range(700):
            nonces.append(vault.seal(b"x", context=str(n).encode())[:NONCE])

    threads = [threading.Thread(target=seal_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(nonces) == 2_800
    assert len(set(nonces)) == 2_800


def test_a_seal_opens_only_with_its_context() -> None:
    vault = Vault(SECRET)
    sealed = vault.seal_json({"chat_id": 42}, context=b"row-1")
    assert vault.open_json(sealed, context=b"row-1") == {"chat_id": 42}
    with pytest.raises(InvalidTag):
        vault.open(sealed, context=b"row-2")
