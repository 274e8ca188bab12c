"""Unfinished flows (a tip, a report, an event being written), one per user and kind.

Each step writes the draft, sealed (the owner is known only by a keyed hash), so a
restart or a crash loses nothing. Writes are behind (``Database.behind``): the
cache changes at once and the row is committed with the next batch, so a step
does not wait for the disk. Which users have a draft at all is read once per
kind, so asking for a draft that does not exist costs no query.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from storage.crypto import Vault
from storage.db import Database, stamp

_CACHE_LIMIT = 100_000  # users remembered before those without a draft are forgotten


class _Serialisable(Protocol):
    def to_json(self) -> dict: ...


T = TypeVar("T", bound=_Serialisable)


class Drafts(Generic[T]):
    """The drafts of one kind; ``load`` turns stored JSON back into a draft."""

    def __init__(self, db: Database, vault: Vault, kind: str, load: Callable[[dict], T]) -> None:
        self._db = db
        self._vault = vault
        self.kind = kind
        self._load_json = load
        self._cache: dict[int, T | None] = {}
        self._stored: set[bytes] | None = None  # owner hashes with a row

    def _key(self, tg_id: int) -> bytes:
        return self._vault.hash_id(f"{self.kind}-draft:{tg_id}")

    async def get(self, tg_id: int) -> T | None:
        """The user's draft, if any (a copy: change it freely, then :meth:`save`)."""
        if tg_id not in self._cache:
            if len(self._cache) >= _CACHE_LIMIT:  # keep the drafts, forget who had none
                self._cache = {k: v for k, v in self._cache.items() if v is not None}
            self._cache[tg_id] = await self._read(tg_id)
        cached = self._cache[tg_id]
        return self._copy(cached) if cached is not None else None

    async def _read(self, tg_id: int) -> T | None:
        if self._stored is None:
            rows = await self._db.conn.execute_fetchall(
                "SELECT owner_hash FROM drafts WHERE kind = ?", (self.kind,))
            self._stored = {r[0] for r in rows}
        key = self._key(tg_id)
        if key not in self._stored:
            return None
        rows = await self._db.conn.execute_fetchall(
            "SELECT sealed FROM drafts WHERE kind = ? AND owner_hash = ?", (self.kind, key))
        if not rows:
            return None
        data = self._vault.open_json(rows[0][0], context=key)
        assert isinstance(data, dict)
        return self._load_json(data)

    async def save(self, tg_id: int, draft: T, now: datetime) -> None:
        """Keep the draft and queue its write (every step, so a restart loses nothing)."""
        key = self._key(tg_id)
        sealed = self._vault.seal_json(draft.to_json(), context=key)
        self._cache[tg_id] = self._copy(draft)
        if self._stored is not None:
            self._stored.add(key)
        self._db.behind.add(
            "INSERT INTO drafts (kind, owner_hash, sealed, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (kind, owner_hash) DO UPDATE SET sealed = excluded.sealed,"
            " updated_at = excluded.updated_at",
            (self.kind, key, sealed, stamp(now)),
        )

    async def drop(self, tg_id: int) -> None:
        """Forget the draft (sent or cancelled)."""
        key = self._key(tg_id)
        self._cache[tg_id] = None
        if self._stored is not None:
            self._stored.discard(key)
        self._db.behind.add("DELETE FROM drafts WHERE kind = ? AND owner_hash = ?",
                            (self.kind, key))

    async def flush(self) -> None:
        """Wait until every queued draft write is committed."""
        await self._db.behind.flush()

    async def purge(self, older_than: datetime) -> int:
        """Drop drafts of this kind untouched since ``older_than`` (abandoned)."""
        await self.flush()
        cur = await self._db.conn.execute(
            "DELETE FROM drafts WHERE kind = ? AND updated_at < ?",
            (self.kind, stamp(older_than)))
        self._cache.clear()
        self._stored = None
        return cur.rowcount

    def _copy(self, draft: T) -> T:
        # Callers change drafts freely; the cache must only change through save().
        return self._load_json(draft.to_json())
