"""The outbox: every message the bot owes someone, written down before it is sent.

What is written here: the scheduled waves (reminders, digests, summaries: the *scheduled*
lane) and everything that follows from what people do — a new tip's card, the resident's
receipt, a relayed question or answer, a status notice, an event card, a handover notice, a
card edit (the *immediate* lane, which the sender always takes first). A repository that
changes something and owes a message for it writes the rows in the same transaction
(:func:`add_items`), so a crash either loses both or neither. Rows are unique on
``dedupe`` (kind, period or subject, recipient, and a sequence for what may repeat), so
running a job twice, or enqueuing the same notice again, sends nothing twice; a *coalesced*
item (a card edit) is not added while one like it is still pending, since the sender renders
an item when it sends it, from the state of that moment.

A sender (``bot.outbox.OutboxSender``) then moves each row through its states, one committed
write per change, because a state that is not on disk when the process dies is exactly what
would make a message go twice or never:

    pending ──claim──▶ sending ──mark_sent──▶ sent
       ▲                  │
       └──mark_retry──────┤ (timeouts, 5xx: later, with backoff)
       └──postpone────────┤ (quiet hours: later, no attempt counted)
                          └──mark_failed──▶ failed (blocked bot, unknown chat, gave up)

:meth:`OutboxRepo.recover` puts the rows a crash left in 'sending' back to 'pending': a
sender's own at its start, and those of a sender that stopped saying it is alive (its
lease) whenever another looks. A row in 'sending' names its sender (``claimed_by``), and
no sender takes an item of a person another sender has in flight.

A row for the sender of a tip names no user: ``user_id`` is NULL and ``tip_id`` says whose
sender it is, found through the tip's sealed link when the row is sent. Payloads that carry
what a person wrote are sealed (``NewItem.sealed``).

Times are stored as UTC ISO text with microseconds, so comparing the text compares the time.
Each method is one statement or one ``run_sync`` hop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from storage.crypto import Vault
from storage.db import Database, transaction

STATUSES = ("pending", "sending", "sent", "failed")
SENDER = "bot"  # the bot's sender, by default (bot.outbox.SENDER_NAME)
# A sender that has not said it is alive for this long is taken for dead: what it had in
# flight is taken back by the others (its lease). Senders beat every 10 s.
LEASE = timedelta(seconds=30)
CLAIM_LOCK = 0x42594F42  # PostgreSQL's advisory lock key for claims (any constant)
IMMEDIATE, SCHEDULED = 0, 1

_COLUMNS = ("id, kind, period_key, user_id, payload, status, attempts, parts_sent, next_try_at,"
            " created_at, sent_at, message_id, error, lane, tip_id, dedupe, unanswered")
_SEALED = "_sealed"


def _iso(moment: datetime) -> str:
    """UTC, always with microseconds: text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class NewItem:
    """A message to send once: one per (kind, period or subject, recipient[, seq]).

    The recipient is ``user_id``, or (``user_id`` None) the sender of tip ``tip_id``.
    """

    kind: str  # e.g. "reminder.friday", "digest.week", "tip.card"
    period_key: str  # e.g. "2026-W47"; for immediate items the subject, e.g. "tip:12"
    user_id: int | None  # users.id (not the Telegram id); None: the sender of ``tip_id``
    payload: dict  # what the renderer needs (JSON)
    lane: int = SCHEDULED
    tip_id: int | None = None
    seq: str | None = None  # for items that may repeat (each answer relayed, each edit)
    coalesce: bool = False  # not added while an item like it is still pending
    sealed: bool = False  # the payload holds what a person wrote: sealed at rest

    @property
    def recipient(self) -> str:
        """Who, as the dedupe key writes it."""
        return str(self.user_id) if self.user_id is not None else f"s{self.tip_id}"

    @property
    def dedupe(self) -> str:
        """The unique key of the row."""
        key = f"{self.kind}|{self.period_key}|{self.recipient}"
        if self.coalesce:  # a fresh one whenever none is pending (see add_items)
            return f"{key}|{secrets.token_hex(8)}"
        return key if self.seq is None else f"{key}|{self.seq}"


def now_item(kind: str, subject: str, user_id: int | None, payload: dict | None = None, *,
             tip_id: int | None = None, seq: str | int | None = None,
             coalesce: bool = False, sealed: bool = False) -> NewItem:
    """An item for the immediate lane."""
    return NewItem(kind, subject, user_id, payload or {}, lane=IMMEDIATE, tip_id=tip_id,
                   seq=None if seq is None else str(seq), coalesce=coalesce, sealed=sealed)


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row."""

    id: int
    kind: str
    period_key: str
    user_id: int | None
    payload: dict
    status: str
    attempts: int  # failed attempts so far (timeouts, 5xx); RetryAfter and quiet hours not
    next_try_at: datetime
    created_at: datetime
    sent_at: datetime | None
    message_id: int | None  # the last message sent for it
    error: str | None
    parts_sent: int = 0  # messages of this item already delivered (for several-part items)
    lane: int = SCHEDULED
    tip_id: int | None = None
    dedupe: str = ""
    unanswered: int = 0  # sends Telegram never answered: the message may have arrived

    @property
    def person(self) -> tuple[str, int]:
        """Who it is for, as a key (a user, or the sender of a tip): one item each at a time."""
        return ("user", self.user_id) if self.user_id is not None else ("tip", self.tip_id or 0)


# Work done in the same transaction as mark_sent, per kind (e.g. remembering the message id
# of a tip's card, so later changes edit it): registered by the repository that owns it.
AfterSent = Callable[[sqlite3.Connection, OutboxItem, int | None], None]
AFTER_SENT: dict[str, AfterSent] = {}


def after_sent(kind: str) -> Callable[[AfterSent], AfterSent]:
    """Register what to write when an item of ``kind`` is sent (in the same transaction)."""
    def register(fn: AfterSent) -> AfterSent:
        AFTER_SENT[kind] = fn
        return fn

    return register


class _Sealer:
    """Seals and opens the payloads that carry what people wrote."""

    def __init__(self, vault: Vault | None) -> None:
        self._vault = vault

    def dump(self, item: NewItem) -> str:
        if not item.sealed:
            return json.dumps(item.payload, ensure_ascii=False)
        if self._vault is None:
            raise RuntimeError("a sealed outbox item needs the vault")
        # The context is the kind and recipient, which never change for the row.
        sealed = self._vault.seal_json(item.payload, context=_context(item.kind, item.recipient))
        return json.dumps({_SEALED: base64.b64encode(sealed).decode()})

    def load(self, raw: str, kind: str, recipient: str) -> dict:
        data = json.loads(raw)
        if isinstance(data, dict) and _SEALED in data:
            if self._vault is None:
                raise RuntimeError("a sealed outbox item needs the vault")
            opened = self._vault.open_json(base64.b64decode(data[_SEALED]),
                                           context=_context(kind, recipient))
            assert isinstance(opened, dict)
            return opened
        return data


def _context(kind: str, recipient: str) -> bytes:
    return f"outbox:{kind}:{recipient}".encode()


def add_items(conn: sqlite3.Connection, items: list[NewItem], now: datetime,
              vault: Vault | None = None) -> int:
    """Insert items inside the caller's transaction; those already there are left alone.

    A coalesced item is skipped while one of its kind, subject and recipient is pending
    (not yet taken by a sender): that one will show the state of when it is sent.
    Returns how many rows were new.
    """
    at = _iso(now)
    sealer = _Sealer(vault)
    added = 0
    for item in items:
        dedupe = item.dedupe
        row = (item.lane, item.kind, item.period_key, item.user_id, item.tip_id, dedupe,
               sealer.dump(item), at, at, at)
        sql = ("INSERT INTO outbox (lane, kind, period_key, user_id, tip_id, dedupe, payload,"
               " status, attempts, next_try_at, created_at, updated_at)"
               " SELECT ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?")
        params: tuple = row
        if item.coalesce:
            sql += (" WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind = ? AND period_key = ?"
                    " AND user_id IS NOT DISTINCT FROM ? AND tip_id IS NOT DISTINCT FROM ?"
                    " AND status = 'pending')")
            params = (*row, item.kind, item.period_key, item.user_id, item.tip_id)
        cur = conn.execute(sql + " ON CONFLICT (dedupe) DO NOTHING", params)
        added += cur.rowcount
    return added


class OutboxRepo:
    """The outbox table; every state change is committed before the method returns.

    ``vault`` opens sealed payloads (and seals them in :meth:`enqueue`).
    """

    def __init__(self, db: Database, vault: Vault | None = None) -> None:
        self._db = db
        self._vault = vault
        self._sealer = _Sealer(vault)

    def _item(self, row: sqlite3.Row | tuple) -> OutboxItem:
        (id_, kind, period_key, user_id, payload, status, attempts, parts_sent, next_try_at,
         created_at, sent_at, message_id, error, lane, tip_id, dedupe, unanswered) = tuple(row)
        recipient = str(user_id) if user_id is not None else f"s{tip_id}"
        return OutboxItem(
            id=id_, kind=kind, period_key=period_key, user_id=user_id,
            payload=self._sealer.load(payload, kind, recipient), status=status,
            attempts=attempts, next_try_at=datetime.fromisoformat(next_try_at),
            created_at=datetime.fromisoformat(created_at),
            sent_at=datetime.fromisoformat(sent_at) if sent_at else None,
            message_id=message_id, error=error, parts_sent=parts_sent, lane=lane,
            tip_id=tip_id, dedupe=dedupe, unanswered=unanswered)

    @property
    def ready(self) -> asyncio.Event:
        """Set when rows were added in this process (the sender waits on it)."""
        return self._db.outbox_ready

    async def enqueue(self, items: list[NewItem], now: datetime) -> int:
        """Add messages to send (due now); those already there are left alone. How many were new.

        One transaction: a job that dies half-way enqueued all or nothing.
        """
        if not items:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return add_items(conn, items, now, self._vault)

        added = await self._db.run_sync(run)
        if added:
            self._db.outbox_added()
        return added

    async def claim(self, now: datetime, limit: int, *, kind: str | None = None,
                    by: str = SENDER) -> list[OutboxItem]:
        """Take up to ``limit`` due pending rows (of ``kind`` if given) for sender ``by``: the
        immediate lane first, then the oldest; none of a person another sender has an item
        of in flight (one person's messages arrive in order, whoever sends them).

        They are 'sending' once this returns (committed), so a second sender cannot take them.
        On PostgreSQL claims are one at a time (a transaction-scoped advisory lock: two
        claims side by side would not see each other's new 'sending' rows, and could take
        two items of one person), and the rows are locked ``FOR UPDATE SKIP LOCKED``.
        """
        if limit <= 0:
            return []
        where = ("status = 'pending' AND next_try_at <= ? AND NOT EXISTS (SELECT 1 FROM outbox s"
                 " WHERE s.status = 'sending' AND COALESCE(s.claimed_by, '') <> ?"
                 " AND (s.user_id = outbox.user_id OR (s.user_id IS NULL"
                 " AND outbox.user_id IS NULL AND s.tip_id = outbox.tip_id)))")
        params: list[object] = [_iso(now), by]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        postgresql = self._db.dialect == "postgresql"
        lock = " FOR UPDATE SKIP LOCKED" if postgresql else ""

        def run(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            with transaction(conn):
                if postgresql:
                    conn.execute("SELECT pg_advisory_xact_lock(?)", (CLAIM_LOCK,))
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE {where}"
                    f" ORDER BY lane, next_try_at, id LIMIT ?{lock}", (*params, limit)).fetchall()
                if rows:
                    marks = ", ".join("?" * len(rows))
                    conn.execute(
                        f"UPDATE outbox SET status = 'sending', claimed_by = ?, updated_at = ?"
                        f" WHERE id IN ({marks})", (by, _iso(now), *(r[0] for r in rows)))
            return rows

        rows = await self._db.run_sync(run)
        # Returned as they are now: claimed.
        return [replace(self._item(r), status="sending") for r in rows]

    async def recover(self, now: datetime, by: str = SENDER, *, own: bool = True,
                      alive_within: timedelta = LEASE) -> int:
        """Rows left in 'sending' go back to 'pending': those of senders that have not said
        they are alive (:meth:`beat`) within ``alive_within`` (a killed process, a dead
        replica), and, with ``own``, those of ``by`` itself. How many.

        At a sender's start (``own``: whatever a process of its name had in flight died with
        it); while it runs, every beat with ``own=False``, so a dead sender's claims return
        after its lease. Two live senders must not share a name: a starting one would take
        back what the other has in flight.
        """
        seen = _iso(datetime.now(UTC) - alive_within)  # beats are wall-clock (see beat())

        taken = ("(COALESCE(claimed_by, '') <> ? AND COALESCE(claimed_by, '') NOT IN"
                 " (SELECT name FROM outbox_senders WHERE seen_at > ?))")
        params: tuple = (by, seen)
        if own:
            taken = f"(COALESCE(claimed_by, '') = ? OR {taken})"
            params = (by, *params)

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                cur = conn.execute(
                    "UPDATE outbox SET status = 'pending', claimed_by = NULL, updated_at = ?"
                    f" WHERE status = 'sending' AND {taken}", (_iso(now), *params))
                return cur.rowcount

        return await self._db.run_sync(run)

    async def mark_sent(self, item: OutboxItem | int, now: datetime,
                        message_id: int | None) -> None:
        """Telegram accepted the (last) message of the item; what its kind records when sent
        (:func:`after_sent`) is written in the same transaction."""
        item_id = item if isinstance(item, int) else item.id
        hook = None if isinstance(item, int) else AFTER_SENT.get(item.kind)

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE outbox SET status = 'sent', sent_at = ?, updated_at = ?,"
                    " message_id = ?, error = NULL WHERE id = ?",
                    (_iso(now), _iso(now), message_id, item_id))
                if hook is not None:
                    assert not isinstance(item, int)
                    hook(conn, item, message_id)

        await self._db.run_sync(run)

    async def mark_progress(self, item_id: int, now: datetime, parts_sent: int,
                            message_id: int | None) -> None:
        """Some messages of a several-part item are out: a retry goes on after them."""
        await self._db.execute(
            "UPDATE outbox SET parts_sent = ?, message_id = ?, updated_at = ? WHERE id = ?",
            (parts_sent, message_id, _iso(now), item_id))

    async def mark_retry(self, item_id: int, now: datetime, next_try_at: datetime,
                         error: str) -> None:
        """A failed attempt worth repeating (timeout, 5xx): pending again, one more attempt."""
        await self._db.execute(
            "UPDATE outbox SET status = 'pending', attempts = attempts + 1, next_try_at = ?,"
            " updated_at = ?, error = ? WHERE id = ?",
            (_iso(next_try_at), _iso(now), error, item_id))

    async def mark_unanswered(self, item_id: int, now: datetime, next_try_at: datetime,
                              error: str) -> None:
        """A send Telegram never answered (the message may have arrived): counted, pending
        again at ``next_try_at``, one more attempt."""
        await self._db.execute(
            "UPDATE outbox SET status = 'pending', attempts = attempts + 1,"
            " unanswered = unanswered + 1, next_try_at = ?, updated_at = ?, error = ?"
            " WHERE id = ?", (_iso(next_try_at), _iso(now), error, item_id))

    async def unanswered(self, kind: str, period_key: str) -> int:
        """How many sends of a kind and period Telegram never answered (each may have arrived,
        and then arrived twice once sent again)."""
        rows = await self._db.fetch(
            "SELECT COALESCE(SUM(unanswered), 0) FROM outbox WHERE kind = ? AND period_key = ?",
            (kind, period_key))
        return int(rows[0][0])

    async def postpone(self, item_id: int, now: datetime, until: datetime) -> None:
        """Not now (quiet hours): pending again until ``until``; no attempt is counted."""
        await self._db.execute(
            "UPDATE outbox SET status = 'pending', next_try_at = ?, updated_at = ? WHERE id = ?",
            (_iso(until), _iso(now), item_id))

    async def mark_failed(self, item_id: int, now: datetime, error: str, *,
                          deactivate_user: int | bool = False) -> None:
        """Given up on the item; with ``deactivate_user`` (the user blocked the bot: True for
        the item's own user, or a users.id) the user is marked inactive in the same
        transaction.

        The user cache (storage.users.UserRepo) does not see this write; the sender clears
        it afterwards (bot.outbox), so the process learns it at once.
        """
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1,"
                    " updated_at = ?, error = ? WHERE id = ?", (_iso(now), error, item_id))
                if deactivate_user is True:
                    conn.execute(
                        "UPDATE users SET active = 0"
                        " WHERE id = (SELECT user_id FROM outbox WHERE id = ?)", (item_id,))
                elif deactivate_user:
                    conn.execute("UPDATE users SET active = 0 WHERE id = ?",
                                 (int(deactivate_user),))

        await self._db.run_sync(run)

    async def counts(self, kind: str, period_key: str) -> dict[str, int]:
        """How many rows of a kind and period are in each status (all four keys present)."""
        rows = await self._db.fetch(
            "SELECT status, COUNT(*) FROM outbox WHERE kind = ? AND period_key = ?"
            " GROUP BY status", (kind, period_key))
        found = dict.fromkeys(STATUSES, 0)
        found.update({r[0]: r[1] for r in rows})
        return found

    async def recipients(self, kind: str, period_key: str) -> set[int]:
        """Who already has a row of this kind and period (the scheduler skips their work)."""
        rows = await self._db.fetch(
            "SELECT user_id FROM outbox WHERE kind = ? AND period_key = ?"
            " AND user_id IS NOT NULL", (kind, period_key))
        return {r[0] for r in rows}

    async def sent_count(self, kind: str) -> int:
        """How many rows of a kind were sent, over all periods."""
        rows = await self._db.fetch(
            "SELECT COUNT(*) FROM outbox WHERE kind = ? AND status = 'sent'", (kind,))
        return int(rows[0][0])

    async def open_count(self, kind: str | None = None) -> int:
        """How many rows (of ``kind``) are still pending or sending."""
        sql = "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
        params: tuple = ()
        if kind is not None:
            sql += " AND kind = ?"
            params = (kind,)
        rows = await self._db.fetch(sql, params)
        return int(rows[0][0])

    async def beat(self, name: str) -> None:
        """A sender says it is alive (wall-clock time: tests may freeze the bot's clock)."""
        await self._db.execute(
            "INSERT INTO outbox_senders (name, seen_at) VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET seen_at = excluded.seen_at", (name, _iso(datetime.now(UTC))))

    async def gone(self, name: str) -> None:
        """A sender stopped cleanly."""
        await self._db.execute("DELETE FROM outbox_senders WHERE name = ?", (name,))

    async def sender_alive(self, within: timedelta = timedelta(seconds=30)) -> bool:
        """Whether another process's sender has said it is alive lately."""
        rows = await self._db.fetch(
            "SELECT 1 FROM outbox_senders WHERE seen_at > ?",
            (_iso(datetime.now(UTC) - within),))
        return bool(rows)

    async def tip_relayed(self, user_id: int, message_id: int) -> int | None:
        """The tip whose answer was copied to ``user_id`` as message ``message_id``."""
        rows = await self._db.fetch(
            "SELECT tip_id FROM outbox WHERE kind = 'tip.answer' AND user_id = ?"
            " AND message_id = ? AND status = 'sent' ORDER BY id DESC LIMIT 1",
            (user_id, message_id))
        return rows[0][0] if rows else None

    async def get(self, item_id: int) -> OutboxItem | None:
        """One row by id."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        return self._item(rows[0]) if rows else None

    async def items(self, kind: str | None = None) -> list[OutboxItem]:
        """Every row (of ``kind``), oldest first: for tests and the command line."""
        sql = f"SELECT {_COLUMNS} FROM outbox"
        params: tuple = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind,)
        rows = await self._db.fetch(sql + " ORDER BY id", params)
        return [self._item(r) for r in rows]
