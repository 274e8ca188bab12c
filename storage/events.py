"""Events reporters report as they happen (a fight, a fire, a traffic accident), and how
coordinators handle them: like tips, with a case code (``VV-…``), a status (new →
acknowledged → handled), a history of who did what and when (status changes, questions to
the reporter and their answers, notes) and every card copy kept current.

Counts only: an event records how many people were involved, never who. Unlike a tip, an
event is not sealed (its reporter is staff of the hamlet and named on it; README).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from importlib import resources

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, insert_id, stamp, transaction
from storage.outbox import NewItem, OutboxItem, add_items, after_sent, now_item
from storage.tip_lifecycle import EVENT_PREFIX, free_code

MAX_DESCRIPTION = 1000
MAX_PEOPLE = 100_000
MAX_MEDIA = 10
CARD_COPIES = 3  # card messages kept current per coordinator (as for tips)


class EventStatus(StrEnum):
    """Where an event stands: nobody has taken it up yet, someone has, it is dealt with."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    HANDLED = "handled"


_ORDER = (EventStatus.NEW, EventStatus.ACKNOWLEDGED, EventStatus.HANDLED)


def event_next(current: EventStatus) -> list[EventStatus]:
    """Where an event may go from ``current``: forward (new → handled directly too)."""
    return list(_ORDER[_ORDER.index(current) + 1:])


class EventConflict(Exception):
    """The change is not allowed from the event's state now (a colleague was quicker)."""


@functools.cache
def event_types() -> tuple[str, ...]:
    """Event type codes from ``storage/data/event_types.csv`` (names in the catalogs)."""
    text = resources.files("storage.data").joinpath("event_types.csv").read_text("utf-8")
    codes = tuple(row["code"].strip() for row in csv.DictReader(io.StringIO(text)))
    if not codes or len(set(codes)) != len(codes) or not all(codes):
        raise ValueError("event_types.csv: codes must be present and unique")
    return codes


@dataclass
class EventDraft:
    """An event being written (kept sealed in ``drafts``)."""

    step: str = "type"
    type: str | None = None
    unit_id: int | None = None
    occurred_kind: str | None = None
    occurred_at: str | None = None
    place_text: str | None = None
    description: str = ""
    people: int | None = None
    media: list[tuple[str, str]] = field(default_factory=list)
    editing: bool = False
    full_album: str | None = None  # an album that ran past the photo limit (said once)

    def to_json(self) -> dict:
        """For storing."""
        return {"step": self.step, "type": self.type, "unit_id": self.unit_id,
                "occurred_kind": self.occurred_kind, "occurred_at": self.occurred_at,
                "place_text": self.place_text, "description": self.description,
                "people": self.people, "media": [list(m) for m in self.media],
                "editing": self.editing, "full_album": self.full_album}

    @classmethod
    def from_json(cls, data: dict) -> EventDraft:
        """From storage."""
        return cls(step=data.get("step", "type"), type=data.get("type"),
                   unit_id=data.get("unit_id"), occurred_kind=data.get("occurred_kind"),
                   occurred_at=data.get("occurred_at"), place_text=data.get("place_text"),
                   description=data.get("description", ""), people=data.get("people"),
                   media=[(m[0], m[1]) for m in data.get("media", [])],
                   editing=data.get("editing", False), full_album=data.get("full_album"))


@dataclass(frozen=True)
class Event:
    """A reported event."""

    id: int
    type: str
    unit_id: int | None
    occurred_kind: str
    occurred_at: str
    place_text: str | None
    description: str
    people: int
    reporter_id: int
    created_at: datetime
    media: tuple[tuple[str, str], ...] = ()
    code: str = ""
    status: EventStatus = EventStatus.NEW
    acknowledged_at: datetime | None = None
    handled_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not handled yet (questions may be asked, it is in /inbox)."""
        return self.status is not EventStatus.HANDLED


@dataclass(frozen=True)
class EventEntry:
    """One thing that happened to an event: a status change, a question, an answer, a note."""

    at: datetime
    actor_id: int | None
    kind: str
    from_status: EventStatus | None
    to_status: EventStatus | None
    detail: dict


def _event(row: sqlite3.Row, media: Sequence = ()) -> Event:
    return Event(id=row["id"], type=row["type"], unit_id=row["unit_id"],
                 occurred_kind=row["occurred_kind"], occurred_at=row["occurred_at"],
                 place_text=row["place_text"], description=row["description"],
                 people=row["people"], reporter_id=row["reporter_id"],
                 created_at=datetime.fromisoformat(row["created_at"]),
                 media=tuple((m[0], m[1]) for m in media), code=row["code"] or "",
                 status=EventStatus(row["status"]),
                 acknowledged_at=_when(row["acknowledged_at"]),
                 handled_at=_when(row["handled_at"]))


def _code_taken(conn: sqlite3.Connection, code: str) -> bool:
    """Whether an event has this code (one lookup in its unique index)."""
    return conn.execute("SELECT 1 FROM events WHERE code = ?", (code,)).fetchone() is not None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class EventRepo:
    """Events, their photos, their history and their cards."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._newest_id = 0  # the newest event id seen: the count, near enough for a code

    async def create(self, draft: EventDraft, reporter_id: int, now: datetime, *,
                     announce: Callable[[int], list[NewItem]] | None = None,
                     also: Callable[[sqlite3.Connection], None] | None = None) -> Event:
        """Store a finished draft with a fresh case code (one transaction, audited) with the
        messages it owes (``announce(event_id)``: its cards) and ``also`` (the draft
        dropped)."""
        assert draft.type and draft.occurred_kind and draft.occurred_at
        assert draft.people is not None

        def run(conn: sqlite3.Connection) -> tuple[int, str]:
            # Under the write lock (BEGIN IMMEDIATE) the probed code stays free until the
            # insert; storage.tip_lifecycle says why the search always ends.
            with transaction(conn):
                code = free_code(lambda c: _code_taken(conn, c), EVENT_PREFIX,
                                 stored=self._newest_id)
                return self._insert(conn, draft, reporter_id, now, code, announce, also), code

        event_id, code = await self._db.run_sync(run)
        self._newest_id = max(self._newest_id, event_id)
        if announce is not None:
            self._db.outbox_added()
        return Event(id=event_id, type=draft.type, unit_id=draft.unit_id,
                     occurred_kind=draft.occurred_kind, occurred_at=draft.occurred_at,
                     place_text=draft.place_text, description=draft.description,
                     people=draft.people, reporter_id=reporter_id, created_at=now,
                     media=tuple(draft.media), code=code)

    @staticmethod
    def _insert(conn: sqlite3.Connection, draft: EventDraft, reporter_id: int, now: datetime,
                code: str, announce: Callable[[int], list[NewItem]] | None,
                also: Callable[[sqlite3.Connection], None] | None) -> int:
        event_id = insert_id(
            conn, "INSERT INTO events (code, type, unit_id, occurred_kind, occurred_at,"
            " place_text,"
            " description, people, reporter_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code, draft.type, draft.unit_id, draft.occurred_kind, draft.occurred_at,
             draft.place_text, draft.description, draft.people, reporter_id, stamp(now)))
        conn.executemany(
            "INSERT INTO event_media (event_id, seq, kind, file_id) VALUES (?, ?, ?, ?)",
            [(event_id, i, k, f) for i, (k, f) in enumerate(draft.media)])
        conn.execute(AUDIT_SQL, audit_params(reporter_id, "event.create", f"event:{event_id}",
                                             {"type": draft.type, "code": code}))
        if announce is not None:
            add_items(conn, announce(event_id), now)
        if also is not None:
            also(conn)
        return event_id

    async def get(self, event_id: int) -> Event | None:
        """One event with its photos."""
        def run(conn: sqlite3.Connection) -> tuple:
            row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
            media = conn.execute("SELECT kind, file_id FROM event_media WHERE event_id = ?"
                                 " ORDER BY seq", (event_id,)).fetchall()
            return row, media

        row, media = await self._db.run_sync(run)
        return None if row is None else _event(row, media)

    async def by_code(self, code: str) -> Event | None:
        """An event by its case code (check scope before showing)."""
        rows = await self._db.fetch("SELECT id FROM events WHERE code = ?",
                                                    (code,))
        return await self.get(rows[0][0]) if rows else None

    async def between(self, unit_ids: list[int], since: datetime, until: datetime) -> list[Event]:
        """Events in these units created in [since, until), oldest first."""
        if not unit_ids:
            return []
        marks = ", ".join("?" * len(unit_ids))
        rows = await self._db.fetch(
            f"SELECT * FROM events WHERE unit_id IN ({marks}) AND created_at >= ?"
            f" AND created_at < ? ORDER BY created_at, id",
            (*unit_ids, stamp(since), stamp(until)))
        return [_event(r) for r in rows]

    async def history(self, event_id: int) -> list[EventEntry]:
        """What happened to an event, oldest first."""
        rows = await self._db.fetch(
            "SELECT at, actor_id, kind, from_status, to_status, detail FROM event_history"
            " WHERE event_id = ? ORDER BY id", (event_id,))
        return [EventEntry(datetime.fromisoformat(r[0]), r[1], r[2],
                           EventStatus(r[3]) if r[3] else None,
                           EventStatus(r[4]) if r[4] else None, json.loads(r[5]))
                for r in rows]

    async def cards(self, event_id: int) -> list[tuple[int, int]]:
        """(user id, message id) of every card of this event, each coordinator's newest last."""
        rows = await self._db.fetch(
            "SELECT user_id, message_id FROM event_cards WHERE event_id = ?"
            " ORDER BY user_id, message_id", (event_id,))
        return [(r[0], r[1]) for r in rows]

    async def hold_card(self, event_id: int, user_id: int, message_id: int) -> None:
        """A card pressed that is not among the copies kept current is, from now on."""
        rows = await self._db.fetch(
            "SELECT 1 FROM event_cards WHERE event_id = ? AND user_id = ? AND message_id = ?",
            (event_id, user_id, message_id))
        if rows:
            return

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                _hold(conn, event_id, user_id, message_id)

        await self._db.run_sync(run)

    async def open_questions(self, reporter_id: int) -> list[tuple[int, str, datetime]]:
        """(id, code, when asked) of the reporter's open events with a question not answered
        since, newest question first."""
        rows = await self._db.fetch(
            "SELECT e.id, e.code, (SELECT at FROM event_history WHERE event_id = e.id"
            "   AND kind = 'ask' ORDER BY id DESC LIMIT 1) AS asked"
            " FROM events e WHERE e.reporter_id = ? AND e.status != 'handled'"
            " AND (SELECT MAX(id) FROM event_history WHERE event_id = e.id AND kind = 'ask')"
            "   > COALESCE((SELECT MAX(id) FROM event_history WHERE event_id = e.id"
            "               AND kind = 'answer'), 0)"
            " ORDER BY asked DESC", (reporter_id,))
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows]

    # ------------------------------------------------------------------ coordinators

    async def change_status(self, event_id: int, actor_id: int, target: EventStatus,
                            now: datetime, *, notices: Sequence[NewItem] = ()) -> None:
        """Move an event forward (audited): every card edited and ``notices`` sent (outbox,
        same transaction). :class:`EventConflict` if it is not forward from its state now."""
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                row = conn.execute("SELECT status FROM events WHERE id = ?",
                                   (event_id,)).fetchone()
                if row is None:
                    raise LookupError(f"no event {event_id}")
                current = EventStatus(row[0])
                if target not in event_next(current):
                    raise EventConflict(f"{current} → {target}")
                sets = ["status = ?", "acknowledged_at = COALESCE(acknowledged_at, ?)"]
                params: list[object] = [target.value, stamp(now)]
                if target is EventStatus.HANDLED:
                    sets.append("handled_at = ?")
                    params.append(stamp(now))
                conn.execute(f"UPDATE events SET {', '.join(sets)} WHERE id = ?",
                             (*params, event_id))
                _history(conn, event_id, now, actor_id, "status", current, target, {})
                conn.execute(AUDIT_SQL, audit_params(
                    actor_id, "event.status", f"event:{event_id}",
                    {"from": current.value, "to": target.value}))
                add_items(conn, [*_card_edits(conn, event_id), *notices], now)

        await self._db.run_sync(run)
        self._db.outbox_added()

    async def add_entry(self, event_id: int, actor_id: int, kind: str, now: datetime, *,
                        text: str, notices: Sequence[NewItem] = (),
                        also: Callable[[sqlite3.Connection], list[NewItem]] | None = None,
                        record: bool = True) -> None:
        """A question, an answer or a note (audited: that it was written, not what), every
        card edited to show it, and the messages it owes: ``notices``, and what ``also``
        returns (given the connection, in the same transaction). ``record``: False for the
        rest of an album answered (copied, not written again)."""
        assert kind in ("ask", "answer", "note")

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if record:
                    _history(conn, event_id, now, actor_id, kind, None, None, {"text": text})
                    conn.execute(AUDIT_SQL, audit_params(actor_id, f"event.{kind}",
                                                         f"event:{event_id}", {}))
                more = also(conn) if also is not None else []
                edits = _card_edits(conn, event_id) if record else []
                add_items(conn, [*edits, *notices, *more], now)

        await self._db.run_sync(run)
        self._db.outbox_added()

    async def desk_page(self, unit_ids: list[int], *, unitless: bool, offset: int,
                        limit: int) -> tuple[list[tuple[str, int]], int, int]:
        """A page of what is open on a coordinator's desk, tips and events together, oldest
        first: ([("tip" or "event", id)], how many in all, how many of them events)."""
        marks = ", ".join("?" * len(unit_ids)) or "NULL"
        tips = f"status != 'closed' AND (unit_id IN ({marks})" + (
            " OR unit_id IS NULL)" if unitless else ")")
        events = f"status != 'handled' AND (unit_id IN ({marks})" + (
            " OR unit_id IS NULL)" if unitless else ")")

        def run(conn: sqlite3.Connection) -> tuple[list[tuple[str, int]], int, int]:
            n_tips = conn.execute(f"SELECT COUNT(*) FROM tips WHERE {tips}",
                                  unit_ids).fetchone()[0]
            n_events = conn.execute(f"SELECT COUNT(*) FROM events WHERE {events}",
                                    unit_ids).fetchone()[0]
            rows = conn.execute(
                f"SELECT 'tip', id, created_at FROM tips WHERE {tips}"
                f" UNION ALL SELECT 'event', id, created_at FROM events WHERE {events}"
                f" ORDER BY 3, 1, 2 LIMIT ? OFFSET ?",
                (*unit_ids, *unit_ids, limit, offset)).fetchall()
            return [(r[0], r[1]) for r in rows], n_tips + n_events, n_events

        return await self._db.run_sync(run)


def card_holders(conn: sqlite3.Connection, event_id: int) -> list[int]:
    """Who holds a card of the event (to copy the reporter's answer under it)."""
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT user_id FROM event_cards WHERE event_id = ? ORDER BY user_id",
        (event_id,))]


def _history(conn: sqlite3.Connection, event_id: int, now: datetime, actor_id: int | None,
             kind: str, from_status: EventStatus | None, to_status: EventStatus | None,
             detail: dict) -> None:
    conn.execute(
        "INSERT INTO event_history (event_id, at, actor_id, kind, from_status, to_status,"
        " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (event_id, stamp(now), actor_id, kind, from_status.value if from_status else None,
         to_status.value if to_status else None, json.dumps(detail, ensure_ascii=False)))


def _card_edits(conn: sqlite3.Connection, event_id: int) -> list[NewItem]:
    """An edit of every card of the event (coalesced, as for tips)."""
    return [now_item("event.edit", f"event:{event_id}", user_id, {"event": event_id},
                     coalesce=True) for user_id in card_holders(conn, event_id)]


@after_sent("event.card")
def _remember_card(conn: sqlite3.Connection, item: OutboxItem, message_id: int | None) -> None:
    """A card went out: later changes edit it, and the newest copies the coordinator holds."""
    event_id = item.payload.get("event")
    if message_id is None or item.user_id is None or event_id is None:
        return
    _hold(conn, event_id, item.user_id, message_id)


def _hold(conn: sqlite3.Connection, event_id: int, user_id: int, message_id: int) -> None:
    conn.execute("INSERT INTO event_cards (event_id, user_id, message_id) VALUES (?, ?, ?)"
                 " ON CONFLICT DO NOTHING", (event_id, user_id, message_id))
    # The one just held stays, with the newest others up to CARD_COPIES in all.
    conn.execute(
        "DELETE FROM event_cards WHERE event_id = ? AND user_id = ? AND message_id != ?"
        " AND message_id NOT IN (SELECT message_id FROM event_cards WHERE event_id = ?"
        "  AND user_id = ? AND message_id != ? ORDER BY message_id DESC LIMIT ?)",
        (event_id, user_id, message_id, event_id, user_id, message_id, CARD_COPIES - 1))
