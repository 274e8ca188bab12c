"""Which flow each person is in, and the drafts of their flows.

A flow is one thing a person is doing with the bot over several messages: writing a tip, a
report or an event, answering an officer, typing a note, making an invitation. Each person
has at most one *active* flow (``active_flows``, keyed by a keyed hash of their Telegram id)
and at most one draft per kind of flow (``drafts``, sealed, its owner known only by another
keyed hash). The draft holds the flow's step. :meth:`Flows.save` writes the draft and makes
its flow the active one in one transaction, and the handlers call it before they answer, so
whatever the bot said last is what the database holds: a restart, or a SIGKILL at any
moment, resumes exactly there.

Entering another flow leaves the first one's draft where it is (:meth:`Flows.save` of the new
kind replaces only the active row); the first flow can be taken up again later.

Both tables are read through a per-process index (which users have an active flow, which
have a draft of each kind), loaded once and kept by every write made here. A second process
writing the same database (issue: several replicas) needs it invalidated; see the module
docstring of handlers.router for what that would take.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime

from storage.crypto import Vault
from storage.db import Database, stamp, transaction

_CACHE_LIMIT = 100_000  # drafts kept unsealed in memory before the cache starts over
_RECENT = 16  # updates remembered per person (those Telegram might send again after a crash)


class Flows:
    """Active flows and drafts, sealed; every write is committed before it returns."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault
        self._active: dict[bytes, str] | None = None  # owner → kind, loaded once
        self._recent: dict[bytes, list[int]] = {}  # owner → updates that changed their flow
        self._stored: dict[str, set[bytes]] | None = None  # kind → owners with a draft
        self._drafts: dict[tuple[str, bytes], str] = {}  # unsealed JSON text

    # ------------------------------------------------------------------ keys

    def _owner(self, tg_id: int) -> bytes:
        return self._vault.hash_id(f"flow:{tg_id}")

    def _key(self, kind: str, tg_id: int) -> bytes:
        # The same key the drafts table has always used, so drafts from before stay readable.
        return self._vault.hash_id(f"{kind}-draft:{tg_id}")

    async def _index(self) -> tuple[dict[bytes, str], dict[str, set[bytes]]]:
        if self._active is None or self._stored is None:
            def run(conn: sqlite3.Connection) -> tuple[list, list]:
                return (conn.execute("SELECT owner_hash, kind, recent_updates"
                                     " FROM active_flows").fetchall(),
                        conn.execute("SELECT kind, owner_hash FROM drafts").fetchall())

            active, drafts = await self._db.run_sync(run)
            self._active = {bytes(r[0]): r[1] for r in active}
            self._recent = {bytes(r[0]): json.loads(r[2]) for r in active}
            stored: dict[str, set[bytes]] = {}
            for kind, owner in drafts:
                stored.setdefault(kind, set()).add(bytes(owner))
            self._stored = stored
        return self._active, self._stored

    # ------------------------------------------------------------------ reading

    async def active(self, tg_id: int) -> str | None:
        """The kind of the user's active flow, if any."""
        active, _ = await self._index()
        return active.get(self._owner(tg_id))

    async def applied(self, tg_id: int, update_id: int) -> bool:
        """Whether this update already changed the user's active flow: a Telegram update
        delivered again after a crash."""
        await self._index()
        return update_id in self._recent.get(self._owner(tg_id), ())

    async def has_draft(self, tg_id: int, kind: str) -> bool:
        """Whether the user has a draft of ``kind`` (active or left for later)."""
        _, stored = await self._index()
        return self._key(kind, tg_id) in stored.get(kind, set())

    async def draft(self, tg_id: int, kind: str) -> dict | None:
        """The user's draft of ``kind`` as stored (a fresh copy: change it freely)."""
        key = self._key(kind, tg_id)
        _, stored = await self._index()
        if key not in stored.get(kind, set()):
            return None
        text = self._drafts.get((kind, key))
        if text is None:
            rows = await self._db.conn.execute_fetchall(
                "SELECT sealed FROM drafts WHERE kind = ? AND owner_hash = ?", (kind, key))
            if not rows:
                stored[kind].discard(key)
                return None
            data = self._vault.open_json(rows[0][0], context=key)
            text = json.dumps(data, ensure_ascii=False)
            self._remember(kind, key, text)
        loaded = json.loads(text)
        assert isinstance(loaded, dict)
        return loaded

    def _remember(self, kind: str, key: bytes, text: str) -> None:
        if len(self._drafts) >= _CACHE_LIMIT:
            self._drafts.clear()
        self._drafts[(kind, key)] = text

    # ------------------------------------------------------------------ writing

    async def save(self, tg_id: int, kind: str, data: dict, now: datetime, *,
                   activate: bool = True, update_id: int | None = None) -> None:
        """Write the draft of ``kind`` and (``activate``) make it the user's active flow,
        changed by Telegram update ``update_id``."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)
        text = json.dumps(data, ensure_ascii=False)
        sealed = self._vault.seal_json(data, context=key)
        at = stamp(now)
        active, stored = await self._index()
        recent = list(self._recent.get(owner, ()))
        if update_id is not None and update_id not in recent:
            recent = [*recent, update_id][-_RECENT:]

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO drafts (kind, owner_hash, sealed, updated_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (kind, owner_hash) DO UPDATE SET sealed = excluded.sealed,"
                    " updated_at = excluded.updated_at", (kind, key, sealed, at))
                if activate:
                    conn.execute(
                        "INSERT INTO active_flows (owner_hash, kind, recent_updates, updated_at)"
                        " VALUES (?, ?, ?, ?) ON CONFLICT (owner_hash) DO UPDATE SET"
                        " kind = excluded.kind, updated_at = excluded.updated_at,"
                        " recent_updates = excluded.recent_updates",
                        (owner, kind, json.dumps(recent), at))

        await self._db.run_sync(run)
        stored.setdefault(kind, set()).add(key)
        self._remember(kind, key, text)
        if activate:
            active[owner] = kind
            self._recent[owner] = recent

    async def finish(self, tg_id: int, kind: str, *, keep: bool = False) -> None:
        """The flow of ``kind`` is over: its draft is dropped (unless ``keep``) and, if it was
        the active one, no flow is active."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if not keep:
                    conn.execute("DELETE FROM drafts WHERE kind = ? AND owner_hash = ?",
                                 (kind, key))
                conn.execute("DELETE FROM active_flows WHERE owner_hash = ? AND kind = ?",
                             (owner, kind))

        active, stored = await self._index()
        await self._db.run_sync(run)
        if not keep:
            stored.get(kind, set()).discard(key)
            self._drafts.pop((kind, key), None)
        if active.get(owner) == kind:
            del active[owner]
            self._recent.pop(owner, None)

    def finishing(self, tg_id: int, kind: str) -> Callable[[sqlite3.Connection], None]:
        """The statements of :meth:`finish` for another repository's transaction (filing a
        tip drops its draft in the same commit, so a crash cannot leave it to be sent
        twice); call :meth:`finished` once that transaction is committed."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM drafts WHERE kind = ? AND owner_hash = ?", (kind, key))
            conn.execute("DELETE FROM active_flows WHERE owner_hash = ? AND kind = ?",
                         (owner, kind))

        return run

    def finished(self, tg_id: int, kind: str) -> None:
        """The index after :meth:`finishing`'s statements were committed."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)
        if self._stored is not None:
            self._stored.get(kind, set()).discard(key)
        self._drafts.pop((kind, key), None)
        if self._active is not None and self._active.get(owner) == kind:
            del self._active[owner]
            self._recent.pop(owner, None)

    async def purge(self, older_than: datetime) -> int:
        """Drop drafts untouched since ``older_than`` (abandoned), and the active rows left
        pointing at no draft. How many drafts went."""
        cutoff = stamp(older_than)

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                dropped = conn.execute("DELETE FROM drafts WHERE updated_at < ?",
                                       (cutoff,)).rowcount
                conn.execute("DELETE FROM active_flows WHERE updated_at < ?", (cutoff,))
            return dropped

        dropped = await self._db.run_sync(run)
        self._active = self._stored = None
        self._drafts.clear()
        self._recent.clear()
        return dropped
