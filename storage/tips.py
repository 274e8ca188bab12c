"""Tips: filing, the status changes coordinators make, and what each side may read.

Where a tip's status changes: :meth:`TipRepo.change_status`. Every change is one
transaction with its history row, its audit entry and the messages it owes (outbox rows:
an edit of every coordinator's card, a notice to the sender), so a crash loses all of it
or none. The sender is linked only through a keyed hash and a sealed id (see
migrations/0002_tips.sql); messages to them name the tip, never the person.

What a resident wrote is sealed at rest (migrations/0009_tip_content_sealed.sql): the body,
place text, coordinates and media file ids in one blob bound to the tip's code, and the text
of notes, questions and answers in their history rows, bound to the tip and the kind of row.
Category, status, unit and times stay in the clear for the queries that count tips.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.crypto import Vault
from storage.db import Database, insert_id, stamp, transaction
from storage.dialects import json_has, json_without
from storage.lru import Lru
from storage.outbox import NewItem, OutboxItem, add_items, after_sent, now_item
from storage.tip_lifecycle import Draft, Resolution, Status, TipPolicy, can_move, free_code

_DUPLICATES_SHOWN = 5
# Senders whose standing (blocked? tips today?) is kept: read when a tip flow starts and
# again when it is sent, minutes later; sized as storage.users' cache (everyone who wrote in
# the last five minutes at Telegram's ~30 answers a second), a miss is one indexed query.
_STANDING_CACHED = 10_000
SEALED_HISTORY = ("note", "ask", "answer", "closing")  # rows that carry what someone wrote
_SEALED = "sealed"  # the one key of a sealed history detail
_RESEAL_BATCH = 2_000
_PURGE_BATCH = 500  # tips unlinked from their senders per transaction (a few ms)
CARD_COPIES = 3  # a coordinator's copies of one card kept current (each change edits each)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tip:
    """A filed tip as coordinators see it (for an anonymous one, nothing about the sender)."""

    id: int
    code: str
    category: str
    status: Status
    resolution: Resolution | None
    unit_id: int | None
    place_text: str | None
    latitude: float | None
    longitude: float | None
    occurred_kind: str
    occurred_at: str
    body: str
    anonymous: bool
    sender_name: str | None
    reachable: bool  # the sender link still exists (not purged after retention)
    assignee_id: int | None
    duplicate_of: int | None
    created_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    media: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        """Not closed yet."""
        return self.status is not Status.CLOSED


@dataclass(frozen=True)
class MyTip:
    """A line of a resident's own list: what /mytips shows, nothing sealed."""

    id: int
    code: str
    category: str
    status: Status
    unit_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a tip."""

    at: datetime
    actor_id: int | None
    kind: str
    from_status: Status | None
    to_status: Status | None
    detail: dict
    public: bool


class TipConflict(Exception):
    """The change is not allowed from the tip's current state (someone else was quicker)."""


class TipRepo:
    """Tips, their history, media, tags, cards and blocked senders."""

    def __init__(self, db: Database, vault: Vault, policy: TipPolicy) -> None:
        self._db = db
        self._vault = vault
        self.policy = policy
        self._select = _SELECTS[db.dialect]
        # sender tag → (since, blocked?, tips since): read when a flow starts, used again
        # when it is sent; every write that changes it goes through this repository.
        self._standing: Lru[bytes, tuple[str, bool, int]] = Lru(_STANDING_CACHED)
        db.on_outside_write(self._standing.clear)
        # The newest tip id this process has seen: how many codes exist, near enough for
        # choosing the length of the next one (tip_lifecycle.start_length), without a count.
        self._newest_id = 0

    def sender_tag(self, user_id: int) -> bytes:
        """The keyed hash that links a user to their tips (useless without the key)."""
        return self._vault.hash_id(f"tip-sender:{user_id}")

    # ------------------------------------------------------------------ residents

    async def standing(self, user_id: int, since: datetime | None) -> tuple[bool, int]:
        """(blocked?, tips filed since ``since``) in one query: checked on every new tip."""
        tag = self.sender_tag(user_id)
        # Stored times are UTC text: compare like with like.
        start = stamp(since) if since else "9999"
        cached = self._standing.get(tag)
        if cached is not None and cached[0] == start:
            return cached[1], cached[2]
        rows = await self._db.fetch(
            "SELECT EXISTS (SELECT 1 FROM blocked_senders WHERE sender_tag = ?),"
            " (SELECT COUNT(*) FROM tips WHERE sender_tag = ? AND created_at >= ?)",
            (tag, tag, start),
        )
        self._standing.put(tag, (start, bool(rows[0][0]), int(rows[0][1])))
        return bool(rows[0][0]), int(rows[0][1])

    async def create(
        self, draft: Draft, user_id: int, now: datetime, *,
        announce: Callable[[int], list[NewItem]] | None = None,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> tuple[Tip, list[tuple[int, str]]]:
        """File a draft as a new tip with a fresh case code (one transaction).

        ``announce(tip_id)`` gives the messages the new tip owes (its cards, the sender's
        receipt), written in the same transaction, and so is ``also`` (the draft dropped).
        Returns the tip and its likely duplicates, read in the same hop.
        """
        assert draft.category and draft.occurred_kind and draft.occurred_at
        tag = self.sender_tag(user_id)
        name = None if draft.anonymous else draft.name

        content = {"body": draft.body, "place_text": draft.place_text,
                   "latitude": draft.latitude, "longitude": draft.longitude,
                   "media": [list(m) for m in draft.media]}

        def run(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[tuple[int, str]]]:
            # BEGIN IMMEDIATE holds the write lock: no other writer can take the code between
            # the probe and the insert, so one transaction, and no retry, is enough.
            with transaction(conn):
                code = free_code(lambda c: _code_taken(conn, c), stored=self._newest_id)
                sealed = self._vault.seal_json(
                    {"user_id": user_id, "name": name}, context=_context(code)
                )
                tip_id = insert_id(
                    conn, "INSERT INTO tips (code, category, status, unit_id,"
                    " occurred_kind, occurred_at, body, content, anonymous,"
                    " sender_tag, sender_sealed, created_at)"
                    " VALUES (?, ?, 'new', ?, ?, ?, '', ?, ?, ?, ?, ?)",
                    (code, draft.category, draft.unit_id, draft.occurred_kind,
                     draft.occurred_at, self.seal_content(code, content),
                     int(bool(draft.anonymous)), tag, sealed, stamp(now)),
                )
                _history(conn, tip_id, now, None, "status", None, Status.NEW, {}, True)
                conn.execute(AUDIT_SQL, audit_params(
                    None, "tip.create", f"tip:{tip_id}",
                    {"category": draft.category, "anonymous": bool(draft.anonymous)}))
                if announce is not None:
                    add_items(conn, announce(tip_id), now, self._vault)
                if also is not None:
                    also(conn)
            row = conn.execute(f"{self._select} WHERE t.id = ?", (tip_id,)).fetchone()
            return row, self._duplicates(conn, draft.unit_id, draft.category, tip_id, now)

        row, duplicates = await self._db.run_sync(run)
        self._newest_id = max(self._newest_id, row["id"])
        if announce is not None:
            self._db.outbox_added()
        cached = self._standing.get(tag)
        if cached is not None and cached[0] <= stamp(now):
            self._standing.put(tag, (cached[0], cached[1], cached[2] + 1))
        return self._tip(row), duplicates

    async def sender_of(self, tip_id: int) -> int | None:
        """The sender's user id (to tell them of changes); None once purged."""
        rows = await self._db.fetch(
            "SELECT code, sender_sealed FROM tips WHERE id = ?", (tip_id,)
        )
        if not rows or rows[0]["sender_sealed"] is None:
            return None
        data = self._vault.open_json(rows[0]["sender_sealed"], context=_context(rows[0]["code"]))
        assert isinstance(data, dict)
        return int(data["user_id"])

    async def for_sender(self, code: str, user_id: int) -> Tip | None:
        """The tip with ``code`` if ``user_id`` sent it; None otherwise (same as unknown)."""
        found = await self.status_for_sender(code, user_id)
        return found[0] if found else None

    async def status_for_sender(
        self, code: str, user_id: int
    ) -> tuple[Tip, list[HistoryEntry]] | None:
        """The sender's own tip and its public history (what /status shows), in one hop."""
        tag = self.sender_tag(user_id)

        def run(conn: sqlite3.Connection) -> tuple[sqlite3.Row, list[sqlite3.Row]] | None:
            row = conn.execute(f"{self._select} WHERE t.code = ? AND t.sender_tag = ?",
                               (code, tag)).fetchone()
            if row is None:
                return None
            return row, conn.execute(_HISTORY + " AND public = 1 ORDER BY id",
                                     (row["id"],)).fetchall()

        found = await self._db.run_sync(run)
        if found is None:
            return None
        return self._tip(found[0]), [self._entry(found[0]["id"], r) for r in found[1]]

    async def mine(self, user_id: int, limit: int = 20) -> list[MyTip]:
        """The user's tips, newest first: the columns a list shows, so nothing is unsealed
        (a resident with twenty tips cost twenty decryptions per /mytips)."""
        rows = await self._db.fetch(
            "SELECT id, code, category, status, unit_id, created_at FROM tips"
            " WHERE sender_tag = ? ORDER BY created_at DESC LIMIT ?",
            (self.sender_tag(user_id), limit),
        )
        return [MyTip(r[0], r[1], r[2], Status(r[3]), r[4], datetime.fromisoformat(r[5]))
                for r in rows]

    # ------------------------------------------------------------------ reading

    async def get(self, tip_id: int) -> Tip | None:
        """A tip with its media and tags."""
        rows = await self._db.fetch(f"{self._select} WHERE t.id = ?", (tip_id,))
        return self._tip(rows[0]) if rows else None

    async def by_code(self, code: str) -> Tip | None:
        """A tip by its case code (for coordinators; check scope before showing)."""
        rows = await self._db.fetch(f"{self._select} WHERE t.code = ?", (code,))
        return self._tip(rows[0]) if rows else None

    async def history(self, tip_id: int, *, public_only: bool = False) -> list[HistoryEntry]:
        """What happened to a tip, oldest first."""
        rows = await self._db.fetch(
            _HISTORY + (" AND public = 1" if public_only else "") + " ORDER BY id", (tip_id,),
        )
        return [self._entry(tip_id, r) for r in rows]

    async def likely_duplicates(self, tip: Tip) -> list[tuple[int, str]]:
        """Other tips of the same category and unit within the duplicate window: (id, code)."""
        if tip.unit_id is None:
            return []
        return await self._db.run_sync(lambda conn: self._duplicates(
            conn, tip.unit_id, tip.category, tip.id, tip.created_at))

    def _duplicates(self, conn: sqlite3.Connection, unit_id: int | None, category: str,
                    tip_id: int, created_at: datetime) -> list[tuple[int, str]]:
        if unit_id is None:
            return []
        rows = conn.execute(
            "SELECT id, code FROM tips WHERE unit_id = ? AND category = ? AND id != ?"
            " AND created_at BETWEEN ? AND ? ORDER BY created_at DESC LIMIT ?",
            (unit_id, category, tip_id,
             stamp(created_at - self.policy.duplicate_window),
             stamp(created_at + self.policy.duplicate_window), _DUPLICATES_SHOWN),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    async def open_in(
        self, unit_ids: list[int], *, unitless: bool, offset: int, limit: int
    ) -> tuple[list[Tip], int]:
        """Open tips in these units (and those with no unit), oldest first, and how many."""
        marks = ", ".join("?" * len(unit_ids)) or "NULL"
        where = f"t.status != 'closed' AND (t.unit_id IN ({marks})" + (
            " OR t.unit_id IS NULL)" if unitless else ")")

        def run(conn: sqlite3.Connection) -> tuple[list[sqlite3.Row], int]:
            total = conn.execute(f"SELECT COUNT(*) FROM tips t WHERE {where}", unit_ids)
            count = int(total.fetchone()[0])
            rows = conn.execute(
                f"{self._select} WHERE {where} ORDER BY t.created_at, t.id LIMIT ? OFFSET ?",
                (*unit_ids, limit, offset),
            ).fetchall()
            return rows, count

        rows, count = await self._db.run_sync(run)
        return [self._tip(r) for r in rows], count

    # ------------------------------------------------------------------ coordinators

    async def change_status(
        self,
        tip_id: int,
        actor_id: int | None,
        target: Status,
        now: datetime,
        *,
        resolution: Resolution | None = None,
        duplicate_of: int | None = None,
        notices: Sequence[NewItem] = (),
    ) -> tuple[Tip, Tip]:
        """Move a tip to ``target`` (audited); returns (before, after).

        Every card of the tip is edited and ``notices`` are sent (outbox, same
        transaction). Raises :class:`TipConflict` if the lifecycle does not allow it
        from the tip's state at this moment (two coordinators pressing at once).
        """
        assert (target is Status.CLOSED) == (resolution is not None)

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = conn.execute("SELECT status FROM tips WHERE id = ?", (tip_id,)).fetchone()
                if row is None:
                    raise LookupError(f"no tip {tip_id}")
                current = Status(row[0])
                if not can_move(current, target):
                    raise TipConflict(f"{current} → {target}")
                sets = ["status = ?"]
                params: list[object] = [target.value]
                if target is Status.ACKNOWLEDGED or current is Status.NEW:
                    sets.append("acknowledged_at = COALESCE(acknowledged_at, ?)")
                    params.append(stamp(now))
                if target is Status.CLOSED:
                    sets += ["closed_at = ?", "resolution = ?", "duplicate_of = ?"]
                    params += [stamp(now), resolution.value, duplicate_of]
                conn.execute(f"UPDATE tips SET {', '.join(sets)} WHERE id = ?", (*params, tip_id))
                detail: dict = {"resolution": resolution.value} if resolution else {}
                if duplicate_of is not None:
                    detail["duplicate_of"] = duplicate_of
                _history(conn, tip_id, now, actor_id, "status", current, target, detail, True)
                conn.execute(AUDIT_SQL, audit_params(
                    actor_id, "tip.status", f"tip:{tip_id}",
                    {"from": current.value, "to": target.value, **detail}))
                add_items(conn, [*_card_edits(conn, tip_id), *notices], now, self._vault)

        before = await self.get(tip_id)
        if before is None:
            raise LookupError(f"no tip {tip_id}")
        await self._db.run_sync(run)
        self._db.outbox_added()
        after = await self.get(tip_id)
        assert after is not None
        return before, after

    async def add_entry(
        self, tip_id: int, actor_id: int | None, kind: str, now: datetime, *,
        edit_cards: bool = False, notices: Sequence[NewItem] = (),
        **detail: object,
    ) -> None:
        """Record a note, a question or a merge in the tip's history (audited), with the
        messages it owes: ``edit_cards`` (the cards show it), ``notices``."""
        # The audit log says that a note was written and by whom, not what it says.
        audited = {k: v for k, v in detail.items() if k != "text"}

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                self._history(conn, tip_id, now, actor_id, kind, detail)
                conn.execute(AUDIT_SQL, audit_params(actor_id, f"tip.{kind}", f"tip:{tip_id}",
                                                     audited))
                edits = _card_edits(conn, tip_id) if edit_cards else []
                add_items(conn, [*edits, *notices], now, self._vault)

        await self._db.run_sync(run)
        if edit_cards or notices:
            self._db.outbox_added()

    async def add_answer(
        self, tip_id: int, now: datetime, *, text: str, media: str | None, message_id: int,
        fallback: list[int], current: Collection[int] | None = None, head: bool = True,
    ) -> int:
        """The sender answered (or wrote again): recorded, and copied under every card of the
        tip held by someone in ``current`` (still in charge of it) — to ``fallback`` (the
        tip's recipients) if nobody does. ``head``: a
        line saying whose answer it is comes first (not again for the rest of an album).
        How many coordinators it goes to."""
        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                detail = {"text": text, "media": media}
                self._history(conn, tip_id, now, None, "answer", detail)
                conn.execute(AUDIT_SQL, audit_params(None, "tip.answer", f"tip:{tip_id}",
                                                     {"media": media}))
                holders = [r[0] for r in conn.execute(
                    "SELECT DISTINCT user_id FROM tip_cards WHERE tip_id = ? ORDER BY user_id",
                    (tip_id,)) if current is None or r[0] in current] or fallback
                add_items(conn, [now_item("tip.answer", f"tip:{tip_id}", user_id,
                                          {"message_id": message_id, "head": head},
                                          tip_id=tip_id, seq=message_id)
                                 for user_id in holders], now)
                add_items(conn, _card_edits(conn, tip_id), now)  # the history shows it
                return len(holders)

        told = await self._db.run_sync(run)
        self._db.outbox_added()
        return told

    async def open_questions(self, user_id: int) -> list[tuple[int, str, datetime]]:
        """(id, code, when asked) of the user's open tips with a question not answered since:
        where a message they send outside any flow may be the answer."""
        rows = await self._db.fetch(
            "SELECT t.id, t.code, (SELECT at FROM tip_history WHERE tip_id = t.id"
            "   AND kind = 'ask' ORDER BY id DESC LIMIT 1) AS asked"
            " FROM tips t WHERE t.sender_tag = ? AND t.status != 'closed'"
            " AND (SELECT MAX(id) FROM tip_history WHERE tip_id = t.id AND kind = 'ask')"
            "   > COALESCE((SELECT MAX(id) FROM tip_history WHERE tip_id = t.id"
            "               AND kind = 'answer'), 0)"
            " ORDER BY asked DESC", (self.sender_tag(user_id),))
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    async def assign(self, tip_id: int, actor_id: int, assignee_id: int, now: datetime, *,
                     notices: Sequence[NewItem] = ()) -> None:
        """Give the tip to a colleague (audited); the cards show it, ``notices`` go out."""
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = conn.execute("SELECT assignee_id FROM tips WHERE id = ?",
                                   (tip_id,)).fetchone()
                conn.execute("UPDATE tips SET assignee_id = ? WHERE id = ?",
                             (assignee_id, tip_id))
                detail = {"from": row[0] if row else None, "to": assignee_id}
                _history(conn, tip_id, now, actor_id, "assign", None, None, detail, False)
                conn.execute(AUDIT_SQL, audit_params(actor_id, "tip.assign", f"tip:{tip_id}",
                                                     detail))
                add_items(conn, [*_card_edits(conn, tip_id), *notices], now, self._vault)

        await self._db.run_sync(run)
        self._db.outbox_added()

    async def add_tags(self, tip_id: int, actor_id: int, tags: list[str], now: datetime) -> None:
        """Tag a tip (audited); tags already there are kept once."""
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO tip_tags (tip_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(tip_id, tag) for tag in tags],
                )
                _history(conn, tip_id, now, actor_id, "tag", None, None, {"tags": tags}, False)
                conn.execute(AUDIT_SQL, audit_params(actor_id, "tip.tag", f"tip:{tip_id}",
                                                     {"tags": tags}))
                add_items(conn, _card_edits(conn, tip_id), now, self._vault)

        await self._db.run_sync(run)
        self._db.outbox_added()

    async def block_sender(self, tip_id: int, actor_id: int, now: datetime) -> bool:
        """Stop the tip's sender from tipping, without learning who it is; False if unlinked."""
        def run(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                row = conn.execute("SELECT sender_tag FROM tips WHERE id = ?",
                                   (tip_id,)).fetchone()
                if row is None or row[0] is None:
                    return False
                conn.execute(
                    "INSERT INTO blocked_senders (sender_tag, tip_id, blocked_by, blocked_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (row[0], tip_id, actor_id, stamp(now)),
                )
                _history(conn, tip_id, now, actor_id, "block", None, None, {}, False)
                conn.execute(AUDIT_SQL, audit_params(actor_id, "tip.block_sender",
                                                     f"tip:{tip_id}", {}))
                add_items(conn, _card_edits(conn, tip_id), now, self._vault)
                self._standing.pop(row[0])
                return True

        done = await self._db.run_sync(run)
        self._db.outbox_added()
        return done

    async def hold_card(self, tip_id: int, user_id: int, message_id: int) -> None:
        """A card pressed that is not among the copies kept current (an older one) is, from
        now on, the newest of them: what the press changes shows where it was pressed."""
        rows = await self._db.fetch(
            "SELECT 1 FROM tip_cards WHERE tip_id = ? AND user_id = ? AND message_id = ?",
            (tip_id, user_id, message_id))
        if rows:
            return

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                _hold(conn, tip_id, user_id, message_id)

        await self._db.run_sync(run)

    async def cards(self, tip_id: int) -> list[tuple[int, int]]:
        """(user id, message id) of every card of this tip, each coordinator's newest last."""
        rows = await self._db.fetch(
            "SELECT user_id, message_id FROM tip_cards WHERE tip_id = ?"
            " ORDER BY user_id, message_id",
            (tip_id,),
        )
        return [(r[0], r[1]) for r in rows]

    # ------------------------------------------------------------------ retention

    async def purge_senders(self, now: datetime) -> int:
        """Drop the sender link of tips closed longer ago than the retention period.

        In batches of 500, oldest closed first, each its own short transaction: after a long
        outage or an upgrade there can be hundreds of thousands (one UPDATE over 580,000
        tips held the database thread, and every answer, for about 15 s), and between two
        batches the people's updates get their turn on the database thread.
        """
        cutoff, at = stamp(now - self.policy.retention), stamp(now)

        done, after = 0, ""
        while True:
            count, last = await self._db.run_sync(
                lambda conn, after=after: _purge_batch(conn, after, cutoff, at))
            done += count
            if last is None:
                return done
            after = last

    async def seal_clear_rows(self) -> int:
        """Seal what tips filed before migration 0009 hold in the clear (their content, the
        text of their notes, questions and answers) and drop note and question text from the
        audit log; returns how many rows were sealed. Run at start, before any tip is read.

        Freed space is overwritten (secure_delete) and the WAL truncated, so the old text
        is not left in the file's free pages or its log."""
        dialect = self._db.dialect
        lite = dialect == "sqlite"  # PostgreSQL's files are its own: no pragmas there
        untext = (f"UPDATE audit_log SET detail = {json_without(dialect, 'detail', 'text')}"
                  " WHERE action IN ('tip.note', 'tip.ask')"
                  f" AND {json_has(dialect, 'detail', 'text')}")

        def run(conn: sqlite3.Connection) -> int:
            done = 0
            if lite:
                conn.execute("PRAGMA secure_delete = ON")
            try:
                while True:
                    with transaction(conn):
                        batch = conn.execute(
                            f"{self._select} WHERE t.content IS NULL LIMIT ?", (_RESEAL_BATCH,)
                        ).fetchall()
                        for row in batch:
                            content = _clear_content(row)
                            conn.execute(
                                "UPDATE tips SET content = ?, body = '', place_text = NULL,"
                                " latitude = NULL, longitude = NULL WHERE id = ?",
                                (self.seal_content(row["code"], content), row["id"]))
                            conn.execute("DELETE FROM tip_media WHERE tip_id = ?", (row["id"],))
                        # The same terms as the partial index tip_history_clear.
                        history = conn.execute(
                            "SELECT id, tip_id, kind, detail FROM tip_history"
                            " WHERE kind IN ('note', 'ask', 'answer')"
                            " AND detail NOT LIKE '{\"sealed\":%' LIMIT ?",
                            (_RESEAL_BATCH,)).fetchall()
                        for h in history:
                            conn.execute("UPDATE tip_history SET detail = ? WHERE id = ?", (
                                self._seal_detail(h["tip_id"], h["kind"],
                                                  json.loads(h["detail"])), h["id"]))
                        if history:  # their audit entries were written with the text
                            conn.execute(untext)
                    done += len(batch) + len(history)
                    if len(batch) < _RESEAL_BATCH and len(history) < _RESEAL_BATCH:
                        break
            finally:
                if lite:
                    conn.execute("PRAGMA secure_delete = OFF")
            if done and lite:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return done

        sealed = await self._db.run_sync(run)
        if sealed:
            log.info("sealed %d tip rows written before content was sealed", sealed)
        return sealed

    def seal_content(self, code: str, content: dict) -> bytes:
        """A tip's body, place, coordinates and media, sealed to its code."""
        return self._vault.seal_json(content, context=_content_context(code))

    def _seal_detail(self, tip_id: int, kind: str, detail: dict) -> str:
        sealed = self._vault.seal_json(detail, context=_history_context(tip_id, kind))
        # Written as '{"sealed":…' exactly: the partial index tip_history_clear looks for it.
        return json.dumps({_SEALED: base64.b64encode(sealed).decode()}, separators=(",", ":"))

    def _history(self, conn: sqlite3.Connection, tip_id: int, now: datetime,
                 actor_id: int | None, kind: str, detail: dict) -> None:
        """A history row that is not a status change; what someone wrote is sealed."""
        if kind in SEALED_HISTORY:
            conn.execute(
                "INSERT INTO tip_history (tip_id, at, actor_id, kind, detail, public)"
                " VALUES (?, ?, ?, ?, ?, 0)",
                (tip_id, stamp(now), actor_id, kind, self._seal_detail(tip_id, kind, detail)))
        else:
            _history(conn, tip_id, now, actor_id, kind, None, None, detail, False)

    def _entry(self, tip_id: int, r: sqlite3.Row) -> HistoryEntry:
        detail = json.loads(r["detail"])
        if r["kind"] in SEALED_HISTORY and _SEALED in detail:
            detail = self._vault.open_json(base64.b64decode(detail[_SEALED]),
                                           context=_history_context(tip_id, r["kind"]))
        return HistoryEntry(
            at=datetime.fromisoformat(r["at"]), actor_id=r["actor_id"], kind=r["kind"],
            from_status=Status(r["from_status"]) if r["from_status"] else None,
            to_status=Status(r["to_status"]) if r["to_status"] else None,
            detail=detail, public=bool(r["public"]),
        )

    def _tip(self, row: sqlite3.Row) -> Tip:
        name = None
        if not row["anonymous"] and row["sender_sealed"] is not None:
            data = self._vault.open_json(row["sender_sealed"], context=_context(row["code"]))
            name = data.get("name") if isinstance(data, dict) else None
        if row["content"] is not None:
            content = self._vault.open_json(row["content"], context=_content_context(row["code"]))
            assert isinstance(content, dict)
        else:  # filed before 0009 and not sealed yet (seal_clear_rows runs at start)
            content = _clear_content(row)
        media = tuple(tuple(m) for m in content["media"])
        return Tip(
            id=row["id"], code=row["code"], category=row["category"],
            status=Status(row["status"]),
            resolution=Resolution(row["resolution"]) if row["resolution"] else None,
            unit_id=row["unit_id"], place_text=content["place_text"],
            latitude=content["latitude"], longitude=content["longitude"],
            occurred_kind=row["occurred_kind"], occurred_at=row["occurred_at"],
            body=content["body"], anonymous=bool(row["anonymous"]), sender_name=name,
            reachable=row["sender_sealed"] is not None,
            assignee_id=row["assignee_id"], duplicate_of=row["duplicate_of"],
            created_at=datetime.fromisoformat(row["created_at"]),
            acknowledged_at=_when(row["acknowledged_at"]), closed_at=_when(row["closed_at"]),
            media=media,  # type: ignore[arg-type]
            tags=tuple(sorted(t for t in (row["tags"] or "").split("|") if t)),
        )


# One query per tip read: tags folded in with group_concat (tags are cleaned of '|'), and
# media the same way for a tip not sealed yet ('|' cannot occur in Telegram file ids); a
# sealed tip's media are in its content, and the CASE keeps SQLite from reading tip_media.
# PostgreSQL's string_agg orders within the aggregate (SQLite's before 3.44 cannot).
_SELECTS = {
    "sqlite": (
        "SELECT t.*,"
        " CASE WHEN t.content IS NULL THEN (SELECT group_concat(kind || ':' || file_id, '|')"
        "   FROM (SELECT kind, file_id FROM tip_media WHERE tip_id = t.id ORDER BY seq))"
        " END AS media,"
        " (SELECT group_concat(tag, '|') FROM tip_tags WHERE tip_id = t.id) AS tags"
        " FROM tips t"),
    "postgresql": (
        "SELECT t.*,"
        " CASE WHEN t.content IS NULL THEN (SELECT string_agg(kind || ':' || file_id, '|'"
        "   ORDER BY seq) FROM tip_media WHERE tip_id = t.id) END AS media,"
        " (SELECT string_agg(tag, '|' ORDER BY tag) FROM tip_tags WHERE tip_id = t.id) AS tags"
        " FROM tips t"),
}


_HISTORY = ("SELECT at, actor_id, kind, from_status, to_status, detail, public FROM tip_history"
            " WHERE tip_id = ?")


def _code_taken(conn: sqlite3.Connection, code: str) -> bool:
    """Whether a tip has this code (one lookup in its unique index)."""
    return conn.execute("SELECT 1 FROM tips WHERE code = ?", (code,)).fetchone() is not None


def _context(code: str) -> bytes:
    return b"tip:" + code.encode()


def _clear_content(row: sqlite3.Row) -> dict:
    """What a tip filed before 0009 holds in the clear, in the shape of its sealed content
    (its media folded in by _SELECTS)."""
    return {"body": row["body"], "place_text": row["place_text"], "latitude": row["latitude"],
            "longitude": row["longitude"],
            "media": [m.split(":", 1) for m in (row["media"] or "").split("|") if m]}


def _content_context(code: str) -> bytes:
    return b"tip-content:" + code.encode()


def _history_context(tip_id: int, kind: str) -> bytes:
    return f"tip-history:{tip_id}:{kind}".encode()


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _history(
    conn: sqlite3.Connection, tip_id: int, now: datetime, actor_id: int | None, kind: str,
    from_status: Status | None, to_status: Status | None, detail: dict, public: bool,
) -> None:
    conn.execute(
        "INSERT INTO tip_history (tip_id, at, actor_id, kind, from_status, to_status, detail,"
        " public) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (tip_id, stamp(now), actor_id, kind, from_status.value if from_status else None,
         to_status.value if to_status else None, json.dumps(detail, ensure_ascii=False),
         int(public)),
    )


def _card_edits(conn: sqlite3.Connection, tip_id: int) -> list[NewItem]:
    """An edit of every card of the tip (coalesced: one pending edit per card is enough, as
    it shows the tip as it is when it is sent)."""
    return [now_item("tip.edit", f"tip:{tip_id}", r[0], tip_id=tip_id, coalesce=True)
            for r in conn.execute("SELECT DISTINCT user_id FROM tip_cards WHERE tip_id = ?",
                                  (tip_id,))]


@after_sent("tip.card")
def _remember_card(conn: sqlite3.Connection, item: OutboxItem, message_id: int | None) -> None:
    """A card went out: later changes edit it, and the copies the coordinator already holds
    (the newest :data:`CARD_COPIES`; older ones are left as they were)."""
    if message_id is None or item.user_id is None or item.tip_id is None:
        return
    _hold(conn, item.tip_id, item.user_id, message_id)


def _hold(conn: sqlite3.Connection, tip_id: int, user_id: int, message_id: int) -> None:
    conn.execute("INSERT INTO tip_cards (tip_id, user_id, message_id) VALUES (?, ?, ?)"
                 " ON CONFLICT DO NOTHING", (tip_id, user_id, message_id))
    # The one just held stays, with the newest others up to CARD_COPIES in all.
    conn.execute(
        "DELETE FROM tip_cards WHERE tip_id = ? AND user_id = ? AND message_id != ?"
        " AND message_id NOT IN (SELECT message_id FROM tip_cards WHERE tip_id = ?"
        "  AND user_id = ? AND message_id != ? ORDER BY message_id DESC LIMIT ?)",
        (tip_id, user_id, message_id, tip_id, user_id, message_id, CARD_COPIES - 1))


def _purge_batch(conn: sqlite3.Connection, after: str, cutoff: str, at: str
                 ) -> tuple[int, str | None]:
    """Unlink the senders of up to _PURGE_BATCH tips closed from ``after`` to ``cutoff``
    (by the partial index of migration 0013: never over the ones done before); how many,
    and the last closed_at (None: no more)."""
    with transaction(conn):
        rows = conn.execute(
            "SELECT id, closed_at FROM tips"
            " WHERE closed_at >= ? AND closed_at < ?"
            " AND sender_purged_at IS NULL ORDER BY closed_at LIMIT ?",
            (after, cutoff, _PURGE_BATCH)).fetchall()
        if not rows:
            return 0, None
        conn.executemany(
            "UPDATE tips SET sender_tag = NULL, sender_sealed = NULL, sender_purged_at = ?"
            " WHERE id = ?", [(at, row[0]) for row in rows])
    return len(rows), rows[-1][1]
