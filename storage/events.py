"""Events reporters report as they happen (a fight, a fire, a traffic accident).

Counts only: an event records how many people were involved, never who.
"""

from __future__ import annotations

import csv
import functools
import io
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, stamp, transaction
from storage.outbox import NewItem, add_items

MAX_DESCRIPTION = 1000
MAX_PEOPLE = 100_000
MAX_MEDIA = 10


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


class EventRepo:
    """Events and their photos."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, draft: EventDraft, reporter_id: int, now: datetime, *,
                     announce: Callable[[int], list[NewItem]] | None = None,
                     also: Callable[[sqlite3.Connection], None] | None = None) -> Event:
        """Store a finished draft (one transaction, audited) with the messages it owes
        (``announce(event_id)``: its cards) and ``also`` (the draft dropped)."""
        assert draft.type and draft.occurred_kind and draft.occurred_at
        assert draft.people is not None

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                cur = conn.execute(
                    "INSERT INTO events (type, unit_id, occurred_kind, occurred_at, place_text,"
                    " description, people, reporter_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (draft.type, draft.unit_id, draft.occurred_kind, draft.occurred_at,
                     draft.place_text, draft.description, draft.people, reporter_id,
                     stamp(now)))
                event_id = int(cur.lastrowid or 0)
                conn.executemany(
                    "INSERT INTO event_media (event_id, seq, kind, file_id) VALUES (?, ?, ?, ?)",
                    [(event_id, i, k, f) for i, (k, f) in enumerate(draft.media)])
                conn.execute(AUDIT_SQL, audit_params(reporter_id, "event.create",
                                                     f"event:{event_id}", {"type": draft.type}))
                if announce is not None:
                    add_items(conn, announce(event_id), now)
                if also is not None:
                    also(conn)
                return event_id

        event_id = await self._db.run_sync(run)
        if announce is not None:
            self._db.outbox_added()
        return Event(id=event_id, type=draft.type, unit_id=draft.unit_id,
                     occurred_kind=draft.occurred_kind, occurred_at=draft.occurred_at,
                     place_text=draft.place_text, description=draft.description,
                     people=draft.people, reporter_id=reporter_id, created_at=now,
                     media=tuple(draft.media))

    async def get(self, event_id: int) -> Event | None:
        """One event with its photos."""
        def run(conn: sqlite3.Connection) -> tuple:
            row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
            media = conn.execute("SELECT kind, file_id FROM event_media WHERE event_id = ?"
                                 " ORDER BY seq", (event_id,)).fetchall()
            return row, media

        row, media = await self._db.run_sync(run)
        if row is None:
            return None
        return Event(id=row["id"], type=row["type"], unit_id=row["unit_id"],
                     occurred_kind=row["occurred_kind"], occurred_at=row["occurred_at"],
                     place_text=row["place_text"], description=row["description"],
                     people=row["people"], reporter_id=row["reporter_id"],
                     created_at=datetime.fromisoformat(row["created_at"]),
                     media=tuple((m[0], m[1]) for m in media))

    async def between(self, unit_ids: list[int], since: datetime, until: datetime) -> list[Event]:
        """Events in these units created in [since, until), oldest first."""
        if not unit_ids:
            return []
        marks = ", ".join("?" * len(unit_ids))
        rows = await self._db.conn.execute_fetchall(
            f"SELECT * FROM events WHERE unit_id IN ({marks}) AND created_at >= ?"
            f" AND created_at < ? ORDER BY created_at, id",
            (*unit_ids, stamp(since), stamp(until)))
        return [Event(id=r["id"], type=r["type"], unit_id=r["unit_id"],
                      occurred_kind=r["occurred_kind"], occurred_at=r["occurred_at"],
                      place_text=r["place_text"], description=r["description"],
                      people=r["people"], reporter_id=r["reporter_id"],
                      created_at=datetime.fromisoformat(r["created_at"])) for r in rows]
