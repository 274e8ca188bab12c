"""Storage for conversation states and per-user data (behind PTB's persistence).

Keys are Telegram ids, so they are stored like users: a keyed hash to find the
row and the key itself sealed, so the bot can rebuild its in-memory maps at start
while a copied database file names nobody. Values are JSON, sealed.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Literal

from storage.crypto import Vault
from storage.db import Database, utcnow

Kind = Literal["user", "chat", "bot"]


class PersistedStore:
    """Reads and writes sealed JSON blobs keyed by hashed keys."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    def _hash(self, scope: str, key: object) -> bytes:
        return self._vault.hash_id(f"{scope}:{json.dumps(key)}")

    async def load(self, kind: Kind) -> dict[object, object]:
        """Every stored value of one kind, by its original key."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT key_hash, key_sealed, data_sealed FROM persisted_data WHERE kind = ?", (kind,)
        )
        out: dict[object, object] = {}
        for key_hash, key_sealed, data_sealed in rows:
            key = self._vault.open_json(key_sealed, context=key_hash)
            out[key] = self._vault.open_json(data_sealed, context=key_hash)
        return out

    async def save(self, kind: Kind, key: object, data: object) -> None:
        """Insert or replace one value."""
        key_hash = self._hash(kind, key)
        await self._db.conn.execute_insert(
            "INSERT INTO persisted_data (kind, key_hash, key_sealed, data_sealed, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, key_hash) DO UPDATE SET"
            " data_sealed = excluded.data_sealed, updated_at = excluded.updated_at",
            (
                kind, key_hash, self._vault.seal_json(key, context=key_hash),
                self._vault.seal_json(data, context=key_hash), utcnow().isoformat(),
            ),
        )

    async def drop(self, kind: Kind, key: object) -> None:
        """Forget one value."""
        await self._db.conn.execute_insert(
            "DELETE FROM persisted_data WHERE kind = ? AND key_hash = ?",
            (kind, self._hash(kind, key)),
        )

    async def conversations(self, name: str) -> dict[tuple[Hashable, ...], object]:
        """The stored states of one conversation handler."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT key_hash, key_sealed, state_sealed FROM conversation_states WHERE name = ?",
            (name,),
        )
        out: dict[tuple[Hashable, ...], object] = {}
        for key_hash, key_sealed, state_sealed in rows:
            key = self._vault.open_json(key_sealed, context=key_hash)
            assert isinstance(key, list)
            out[tuple(key)] = self._vault.open_json(state_sealed, context=key_hash)
        return out

    async def save_conversation(
        self, name: str, key: tuple[Hashable, ...], state: object | None
    ) -> None:
        """Store a conversation's new state; None ends it."""
        key_hash = self._hash(f"conv:{name}", list(key))
        if state is None:
            await self._db.conn.execute_insert(
                "DELETE FROM conversation_states WHERE name = ? AND key_hash = ?", (name, key_hash)
            )
            return
        await self._db.conn.execute_insert(
            "INSERT INTO conversation_states (name, key_hash, key_sealed, state_sealed, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, key_hash) DO UPDATE SET"
            " state_sealed = excluded.state_sealed, updated_at = excluded.updated_at",
            (
                name, key_hash, self._vault.seal_json(list(key), context=key_hash),
                self._vault.seal_json(state, context=key_hash), utcnow().isoformat(),
            ),
        )
