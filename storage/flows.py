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

Both tables are read through per-process caches (each person's active flow, and each draft
as text), bounded (storage.lru): whoever comes back after the caches moved on is read again
with one indexed query. Every write made here keeps them. Nothing is loaded at start, so a
start does not grow with the number of people who have a flow open. A second process
writing the same database (issue: several replicas) needs them invalidated; see the module
docstring of handlers.router for what that would take.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime

from storage.crypto import Vault
from storage.db import Database, stamp, transaction
from storage.lru import Lru

# People whose active flow is kept in memory, and drafts kept unsealed (a few hundred bytes
# each). Sized as storage.users' cache: at Telegram's ~30 answers a second, 10,000 people
# are everyone who wrote in the last five minutes, and a flow's next step comes seconds or
# minutes after the last; who comes back later costs one indexed query.
_PEOPLE_CACHED = 10_000
_DRAFTS_CACHED = 10_000
_RECENT = 16  # updates remembered per person (those Telegram might send again after a crash)
_NO_DRAFT = ""  # cached for a draft known not to exist (a stored draft is never empty)


def draft_text(data: dict) -> str:
    """A draft as the JSON text that is sealed and cached (keys sorted: the same draft is
    always the same text, so the flow engine tells a changed draft by its text)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


class Flows:
    """Active flows and drafts, sealed; every write is committed before it returns."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault
        # owner → (kind of the active flow or None, the updates that last changed it)
        self._people: Lru[bytes, tuple[str | None, tuple[int, ...]]] = Lru(_PEOPLE_CACHED)
        # (kind, owner) → the draft as unsealed JSON text, or _NO_DRAFT
        self._drafts: Lru[tuple[str, bytes], str] = Lru(_DRAFTS_CACHED)
        db.on_outside_write(self._forget)

    def _forget(self) -> None:
        self._people.clear()
        self._drafts.clear()

    # ------------------------------------------------------------------ keys

    def _owner(self, tg_id: int) -> bytes:
        return self._vault.hash_id(f"flow:{tg_id}")

    def _key(self, kind: str, tg_id: int) -> bytes:
        # The same key the drafts table has always used, so drafts from before stay readable.
        return self._vault.hash_id(f"{kind}-draft:{tg_id}")

    async def _person(self, owner: bytes) -> tuple[str | None, tuple[int, ...]]:
        """(kind of the active flow or None, recent updates) of one person."""
        cached = self._people.get(owner)
        if cached is None:
            rows = await self._db.fetch(
                "SELECT kind, recent_updates FROM active_flows WHERE owner_hash = ?", (owner,))
            cached = (rows[0][0], tuple(json.loads(rows[0][1]))) if rows else (None, ())
            self._people.put(owner, cached)
        return cached

    async def _text(self, kind: str, key: bytes) -> str:
        """The draft's unsealed JSON text, or _NO_DRAFT."""
        text = self._drafts.get((kind, key))
        if text is None:
            rows = await self._db.fetch(
                "SELECT sealed FROM drafts WHERE kind = ? AND owner_hash = ?", (kind, key))
            text = (draft_text(self._vault.open_json(rows[0][0], context=key))
                    if rows else _NO_DRAFT)
            self._drafts.put((kind, key), text)
        return text

    # ------------------------------------------------------------------ reading

    async def active(self, tg_id: int) -> str | None:
        """The kind of the user's active flow, if any."""
        return (await self._person(self._owner(tg_id)))[0]

    async def applied(self, tg_id: int, update_id: int) -> bool:
        """Whether this update already changed the user's active flow: a Telegram update
        delivered again after a crash."""
        return update_id in (await self._person(self._owner(tg_id)))[1]

    async def has_draft(self, tg_id: int, kind: str) -> bool:
        """Whether the user has a draft of ``kind`` (active or left for later)."""
        return await self._text(kind, self._key(kind, tg_id)) != _NO_DRAFT

    async def draft(self, tg_id: int, kind: str) -> dict | None:
        """The user's draft of ``kind`` as stored (a fresh copy: change it freely)."""
        text = await self._text(kind, self._key(kind, tg_id))
        if text == _NO_DRAFT:
            return None
        loaded = json.loads(text)
        assert isinstance(loaded, dict)
        return loaded

    # ------------------------------------------------------------------ writing

    async def save(self, tg_id: int, kind: str, data: dict, now: datetime, *,
                   activate: bool = True, update_id: int | None = None,
                   text: str | None = None) -> None:
        """Write the draft of ``kind`` and (``activate``) make it the user's active flow,
        changed by Telegram update ``update_id``. ``text``: ``draft_text(data)``, when the
        caller has it already."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)
        if text is None:
            text = draft_text(data)
        sealed = self._vault.seal(text.encode(), context=key)  # what seal_json would make
        at = stamp(now)
        recent = list((await self._person(owner))[1]) if activate else []
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
        self._drafts.put((kind, key), text)
        if activate:
            self._people.put(owner, (kind, tuple(recent)))

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

        await self._db.run_sync(run)
        self.finished(tg_id, kind, keep=keep)

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

    def finished(self, tg_id: int, kind: str, *, keep: bool = False) -> None:
        """The caches after :meth:`finishing`'s statements were committed."""
        key, owner = self._key(kind, tg_id), self._owner(tg_id)
        if not keep:
            self._drafts.put((kind, key), _NO_DRAFT)
        person = self._people.get(owner)
        if person is not None and person[0] == kind:
            self._people.put(owner, (None, ()))

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
        self._people.clear()
        self._drafts.clear()
        return dropped
