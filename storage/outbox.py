"""The outbox: messages the bot starts on its own, written down before they are sent.

A scheduled job (reminders, digests, summaries) only adds rows (:meth:`OutboxRepo.enqueue`),
unique on (kind, period, recipient), so running a job twice sends nothing twice. A sender
(``bot.outbox.OutboxSender``) then moves each row through its states, one committed write per
change — never through the write-behind queue, because a state that is not on disk when
the process dies is exactly what would make a message go twice or never:

    pending ──claim──▶ sending ──mark_sent──▶ sent
       ▲                  │
       └──mark_retry──────┤ (timeouts, 5xx: later, with backoff)
       └──postpone────────┤ (quiet hours: later, no attempt counted)
                          └──mark_failed──▶ failed (blocked bot, unknown chat, gave up)

:meth:`OutboxRepo.recover` puts the rows a crash left in 'sending' back to 'pending'.

Times are stored as UTC ISO text with microseconds, so comparing the text compares the time.
Each method is one statement or one ``run_sync`` hop.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from storage.db import Database, transaction

STATUSES = ("pending", "sending", "sent", "failed")

_COLUMNS = ("id, kind, period_key, user_id, payload, status, attempts, parts_sent, next_try_at,"
            " created_at, sent_at, message_id, error")


def _iso(moment: datetime) -> str:
    """UTC, always with microseconds: text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class NewItem:
    """A message to send once: one per (kind, period, person)."""

    kind: str  # e.g. "reminder.friday", "digest.week"
    period_key: str  # e.g. "2026-W47"
    user_id: int  # users.id (not the Telegram id)
    payload: dict  # what the renderer needs (JSON)


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row."""

    id: int
    kind: str
    period_key: str
    user_id: int
    payload: dict
    status: str
    attempts: int  # failed attempts so far (timeouts, 5xx); RetryAfter and quiet hours not
    next_try_at: datetime
    created_at: datetime
    sent_at: datetime | None
    message_id: int | None  # the last message sent for it
    error: str | None
    parts_sent: int = 0  # messages of this item already delivered (for several-part items)


def _item(row: sqlite3.Row | tuple) -> OutboxItem:
    (id_, kind, period_key, user_id, payload, status, attempts, parts_sent, next_try_at,
     created_at, sent_at, message_id, error) = tuple(row)
    return OutboxItem(
        id=id_, kind=kind, period_key=period_key, user_id=user_id, payload=json.loads(payload),
        status=status, attempts=attempts, next_try_at=datetime.fromisoformat(next_try_at),
        created_at=datetime.fromisoformat(created_at),
        sent_at=datetime.fromisoformat(sent_at) if sent_at else None, message_id=message_id,
        error=error, parts_sent=parts_sent)


class OutboxRepo:
    """The outbox table; every state change is committed before the method returns."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, items: list[NewItem], now: datetime) -> int:
        """Add messages to send (due now); those already there are left alone. How many were new.

        One transaction: a job that dies half-way enqueued all or nothing.
        """
        if not items:
            return 0
        at = _iso(now)
        rows = [(i.kind, i.period_key, i.user_id, json.dumps(i.payload, ensure_ascii=False),
                 at, at, at) for i in items]

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                before = conn.total_changes
                conn.executemany(
                    "INSERT INTO outbox (kind, period_key, user_id, payload, status, attempts,"
                    " next_try_at, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', 0,"
                    " ?, ?, ?) ON CONFLICT (kind, period_key, user_id) DO NOTHING", rows)
                return conn.total_changes - before

        return await self._db.run_sync(run)

    async def claim(self, now: datetime, limit: int, *,
                    kind: str | None = None) -> list[OutboxItem]:
        """Take up to ``limit`` due pending rows (of ``kind`` if given), oldest first.

        They are 'sending' once this returns (committed), so a second sender cannot take them.
        """
        if limit <= 0:
            return []
        where = "status = 'pending' AND next_try_at <= ?"
        params: list[object] = [_iso(now)]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)

        def run(conn: sqlite3.Connection) -> list[OutboxItem]:
            with transaction(conn):
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE {where}"
                    " ORDER BY next_try_at, id LIMIT ?", (*params, limit)).fetchall()
                if rows:
                    marks = ", ".join("?" * len(rows))
                    conn.execute(
                        f"UPDATE outbox SET status = 'sending', updated_at = ?"
                        f" WHERE id IN ({marks})", (_iso(now), *(r[0] for r in rows)))
            return [_item(r) for r in rows]

        items = await self._db.run_sync(run)
        # Returned as they are now: claimed.
        return [replace(i, status="sending") for i in items]

    async def recover(self, now: datetime) -> int:
        """At start: rows a crash left in 'sending' go back to 'pending'. How many.

        Call it only where no other sender is running (at the start of the only one): a
        row another live sender has in flight would be sent again.
        """
        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                cur = conn.execute(
                    "UPDATE outbox SET status = 'pending', updated_at = ? WHERE status = 'sending'",
                    (_iso(now),))
                return cur.rowcount

        return await self._db.run_sync(run)

    async def mark_sent(self, item_id: int, now: datetime, message_id: int | None) -> None:
        """Telegram accepted the (last) message of the item."""
        await self._db.conn.execute_insert(
            "UPDATE outbox SET status = 'sent', sent_at = ?, updated_at = ?, message_id = ?,"
            " error = NULL WHERE id = ?", (_iso(now), _iso(now), message_id, item_id))

    async def mark_progress(self, item_id: int, now: datetime, parts_sent: int,
                            message_id: int | None) -> None:
        """Some messages of a several-part item are out: a retry goes on after them."""
        await self._db.conn.execute_insert(
            "UPDATE outbox SET parts_sent = ?, message_id = ?, updated_at = ? WHERE id = ?",
            (parts_sent, message_id, _iso(now), item_id))

    async def mark_retry(self, item_id: int, now: datetime, next_try_at: datetime,
                         error: str) -> None:
        """A failed attempt worth repeating (timeout, 5xx): pending again, one more attempt."""
        await self._db.conn.execute_insert(
            "UPDATE outbox SET status = 'pending', attempts = attempts + 1, next_try_at = ?,"
            " updated_at = ?, error = ? WHERE id = ?",
            (_iso(next_try_at), _iso(now), error, item_id))

    async def postpone(self, item_id: int, now: datetime, until: datetime) -> None:
        """Not now (quiet hours): pending again until ``until``; no attempt is counted."""
        await self._db.conn.execute_insert(
            "UPDATE outbox SET status = 'pending', next_try_at = ?, updated_at = ? WHERE id = ?",
            (_iso(until), _iso(now), item_id))

    async def mark_failed(self, item_id: int, now: datetime, error: str, *,
                          deactivate_user: bool = False) -> None:
        """Given up on the item; with ``deactivate_user`` (the user blocked the bot) the user
        is marked inactive in the same transaction.

        The user cache (storage.users.UserRepo) does not see this write; the sender clears
        it afterwards (bot.outbox), so the process learns it at once.
        """
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1,"
                    " updated_at = ?, error = ? WHERE id = ?", (_iso(now), error, item_id))
                if deactivate_user:
                    conn.execute(
                        "UPDATE users SET active = 0"
                        " WHERE id = (SELECT user_id FROM outbox WHERE id = ?)", (item_id,))

        await self._db.run_sync(run)

    async def counts(self, kind: str, period_key: str) -> dict[str, int]:
        """How many rows of a kind and period are in each status (all four keys present)."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT status, COUNT(*) FROM outbox WHERE kind = ? AND period_key = ?"
            " GROUP BY status", (kind, period_key))
        found = dict.fromkeys(STATUSES, 0)
        found.update({r[0]: r[1] for r in rows})
        return found

    async def recipients(self, kind: str, period_key: str) -> set[int]:
        """Who already has a row of this kind and period (the scheduler skips their work)."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT user_id FROM outbox WHERE kind = ? AND period_key = ?", (kind, period_key))
        return {r[0] for r in rows}

    async def sent_count(self, kind: str) -> int:
        """How many rows of a kind were sent, over all periods."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT COUNT(*) FROM outbox WHERE kind = ? AND status = 'sent'", (kind,))
        return int(rows[0][0])

    async def open_count(self, kind: str | None = None) -> int:
        """How many rows (of ``kind``) are still pending or sending."""
        sql = "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
        params: tuple = ()
        if kind is not None:
            sql += " AND kind = ?"
            params = (kind,)
        rows = await self._db.conn.execute_fetchall(sql, params)
        return int(rows[0][0])

    async def beat(self, name: str) -> None:
        """A sender says it is alive (wall-clock time: tests may freeze the bot's clock)."""
        await self._db.conn.execute_insert(
            "INSERT INTO outbox_senders (name, seen_at) VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET seen_at = excluded.seen_at", (name, _iso(datetime.now(UTC))))

    async def gone(self, name: str) -> None:
        """A sender stopped cleanly."""
        await self._db.conn.execute_insert("DELETE FROM outbox_senders WHERE name = ?", (name,))

    async def sender_alive(self, within: timedelta = timedelta(seconds=30)) -> bool:
        """Whether another process's sender has said it is alive lately."""
        rows = await self._db.conn.execute_fetchall(
            "SELECT 1 FROM outbox_senders WHERE seen_at > ?",
            (_iso(datetime.now(UTC) - within),))
        return bool(rows)

    async def get(self, item_id: int) -> OutboxItem | None:
        """One row by id."""
        rows = await self._db.conn.execute_fetchall(
            f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

