"""The vault's seals: each with its own nonce, also across threads and after a fork."""

from __future__ import annotations

import os
import threading

import pytest
from cryptography.exceptions import InvalidTag

from storage.crypto import Vault

SECRET = "unit-test-secret-0123456789abcdefghijkl"
NONCE = 12


def test_every_seal_has_its_own_nonce_past_a_batch_and_across_threads() -> None:
    vault = Vault(SECRET)
    nonces: list[bytes] = []

    def seal_many() -> None:
        for n in range(700):  # several of the batches read from the OS at once
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


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_uses_the_parents_unused_nonces() -> None:
    vault = Vault(SECRET)
    vault.seal(b"first")  # the parent now holds a batch of unused nonces
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonces, to the parent
        try:
            os.write(write, b"".join(vault.seal(b"c")[:NONCE] for _ in range(8)))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, NONCE * 8)
    os.close(read)
    os.waitpid(pid, 0)
    parent = b"".join(vault.seal(b"p")[:NONCE] for _ in range(8))
    assert len(child) == NONCE * 8
    child_nonces = {child[i:i + NONCE] for i in range(0, len(child), NONCE)}
    parent_nonces = {parent[i:i + NONCE] for i in range(0, len(parent), NONCE)}
    assert not child_nonces & parent_nonces
