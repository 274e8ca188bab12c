"""Hamlet activity reports: indicator sets in the database, submissions and their versions.

Where a report is filed or corrected: :meth:`ReportRepo.submit`, one transaction
that bumps the version, replaces the current values, keeps the whole submission in
``report_versions`` and writes the audit entry. Whether a period may still be
changed is :meth:`ReportRepo.open_until` (its lock, or a coordinator's reopening).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, insert_id, stamp, transaction, utcnow
from storage.outbox import NewItem, add_items
from storage.reporting import IndicatorSet, Period, locks_at, period_of

HISTORY_PERIODS = 8  # how many earlier reports "recent history" means (the outlier check)


@dataclass(frozen=True)
class StoredSet:
    """An indicator set as the database knows it (ids for the values' rows)."""

    id: int
    spec: IndicatorSet
    indicator_ids: dict[str, int]

    @property
    def code(self) -> str:
        """The set's code."""
        return self.spec.code

    @property
    def codes(self) -> list[str]:
        """Indicator codes in order."""
        return [i.code for i in self.spec.indicators]


@dataclass(frozen=True)
class Report:
    """The standing (latest) version of one hamlet's report for one period."""

    id: int
    set_code: str
    period_key: str
    unit_id: int
    version: int
    submitted_by: int
    submitted_at: datetime
    first_submitted_at: datetime
    values: dict[str, int]


@dataclass(frozen=True)
class Version:
    """One submission, whole."""

    version: int
    submitted_by: int
    submitted_at: datetime
    values: dict[str, int]


@dataclass(frozen=True)
class Starting:
    """What a reporter needs to begin: the report so far and the hamlet's recent history."""

    current: Report | None
    history: list[dict[str, int]]  # earlier periods' values, newest first
    reopened_until: datetime | None


@dataclass
class ReportDraft:
    """A report being written (kept sealed in ``drafts``, one per reporter).

    While the hamlet, set and period are being chosen, ``period_key`` is None.
    """

    set_code: str | None = None
    unit_id: int | None = None
    period_key: str | None = None
    values: dict[str, int] = field(default_factory=dict)
    step: int = 0  # index of the indicator being asked; len(indicators) is the review
    editing: bool = False  # changing one line from the review
    pending: int | None = None  # a value far from the history, waiting for "are you sure?"
    base_version: int | None = None  # the version being corrected
    kept: dict[str, int] = field(default_factory=dict)  # that version's values
    history: list[dict[str, int]] = field(default_factory=list)
    lines: bool = False  # the review's "which line?" list is on screen

    @property
    def phase(self) -> str:
        """'choose' (hamlet, set, period), 'confirm' ("are you sure?") or 'entry' (the
        indicators one by one, then the review)."""
        if self.period_key is None:
            return "choose"
        return "confirm" if self.pending is not None else "entry"

    def to_json(self) -> dict:
        """For storing."""
        return {"set_code": self.set_code, "unit_id": self.unit_id,
                "period_key": self.period_key, "values": self.values, "step": self.step,
                "editing": self.editing, "pending": self.pending,
                "base_version": self.base_version, "kept": self.kept, "history": self.history,
                "lines": self.lines}

    @classmethod
    def from_json(cls, data: dict) -> ReportDraft:
        """From storage."""
        return cls(set_code=data.get("set_code"), unit_id=data.get("unit_id"),
                   period_key=data.get("period_key"), values=dict(data.get("values", {})),
                   step=data.get("step", 0), editing=data.get("editing", False),
                   pending=data.get("pending"), base_version=data.get("base_version"),
                   kept=dict(data.get("kept", {})), history=list(data.get("history", [])),
                   lines=bool(data.get("lines", False)))


class ReportRepo:
    """Indicator sets (cached: read on every report step) and reports."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Not forgotten when another connection writes (storage.db.on_outside_write): the
        # sets come from the data file this process read, and a command that syncs them
        # beside the bot keeps their ids.
        self._sets: dict[str, StoredSet] | None = None

    # ------------------------------------------------------------------ indicator sets

    async def sync_sets(self, sets: tuple[IndicatorSet, ...]) -> None:
        """Copy the sets from the data file into the database (at start; idempotent).

        Indicators no longer in the file are marked inactive, never deleted: old
        reports keep their values.
        """
        def run(conn: sqlite3.Connection) -> None:
            now = stamp(utcnow())
            with transaction(conn):
                conn.execute("UPDATE indicator_sets SET active = 0")
                for s in sets:
                    conn.execute(
                        "INSERT INTO indicator_sets (code, period, due_days, lock_days, active,"
                        " updated_at) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (code) DO UPDATE SET"
                        " period = excluded.period, due_days = excluded.due_days,"
                        " lock_days = excluded.lock_days, active = 1,"
                        " updated_at = excluded.updated_at",
                        (s.code, s.period.value, s.due_days, s.lock_days, now))
                    set_id = conn.execute("SELECT id FROM indicator_sets WHERE code = ?",
                                          (s.code,)).fetchone()[0]
                    conn.execute("UPDATE indicators SET active = 0 WHERE set_id = ?", (set_id,))
                    for position, ind in enumerate(s.indicators):
                        conn.execute(
                            "INSERT INTO indicators (set_id, code, position, at_most, warn_below,"
                            " active) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (set_id, code)"
                            " DO UPDATE SET position = excluded.position,"
                            " at_most = excluded.at_most, warn_below = excluded.warn_below,"
                            " active = 1",
                            (set_id, ind.code, position, ind.at_most, ind.warn_below))

        await self._db.run_sync(run)
        rows = await self._db.fetch(
            "SELECT s.code, s.id AS set_id, i.code AS indicator, i.id FROM indicator_sets s"
            " JOIN indicators i ON i.set_id = s.id WHERE s.active = 1 AND i.active = 1")
        ids: dict[str, dict[str, int]] = {}
        set_ids: dict[str, int] = {}
        for r in rows:
            ids.setdefault(r["code"], {})[r["indicator"]] = r["id"]
            set_ids[r["code"]] = r["set_id"]
        self._sets = {s.code: StoredSet(set_ids[s.code], s, ids[s.code])
                      for s in sets if s.code in set_ids}

    def sets(self) -> list[StoredSet]:
        """The active sets (after :meth:`sync_sets`), in the data file's order."""
        return list(self._loaded().values())

    def set(self, code: str) -> StoredSet | None:
        """One active set by code (read on every report step: a dictionary lookup)."""
        return self._loaded().get(code)

    def _loaded(self) -> dict[str, StoredSet]:
        if self._sets is None:
            raise RuntimeError("indicator sets not loaded: call sync_sets() at start")
        return self._sets

    # ------------------------------------------------------------------ reporters

    async def starting(self, set_code: str, period: Period, unit_id: int,
                       now: datetime) -> Starting:
        """The standing report, the hamlet's earlier periods and any reopening: one hop."""
        stored = self._require(set_code)

        def run(conn: sqlite3.Connection) -> Starting:
            current = _report_row(conn, stored, period.key, unit_id)
            rows = conn.execute(
                "SELECT id FROM reports WHERE set_id = ? AND unit_id = ? AND period_start < ?"
                " ORDER BY period_start DESC LIMIT ?",
                (stored.id, unit_id, period.start.isoformat(), HISTORY_PERIODS)).fetchall()
            history = [_values(conn, stored, r[0]) for r in rows]
            return Starting(current, history, _reopened(conn, stored.id, period.key, unit_id,
                                                       now))

        return await self._db.run_sync(run)

    async def get(self, set_code: str, period_key: str, unit_id: int) -> Report | None:
        """The standing report of a hamlet for a period."""
        stored = self._require(set_code)
        return await self._db.run_sync(
            lambda conn: _report_row(conn, stored, period_key, unit_id))

    async def submit(self, set_code: str, period: Period, unit_id: int, values: dict[str, int],
                     user_id: int, now: datetime, *,
                     notify: Callable[[Report, Report | None], list[NewItem]] | None = None,
                     also: Callable[[sqlite3.Connection], None] | None = None,
                     ) -> tuple[Report, Report | None]:
        """File (or correct) a report: (the new standing report, the one it replaced).

        ``notify(after, before)`` gives the messages it owes (the reporter whose version it
        replaced is told), written in the same transaction, and so is ``also`` (the
        draft dropped)."""
        stored = self._require(set_code)
        unknown = set(values) - set(stored.indicator_ids)
        if unknown:
            raise ValueError(f"unknown indicators {sorted(unknown)}")

        def run(conn: sqlite3.Connection) -> tuple[Report, Report | None]:
            with transaction(conn):
                before = _report_row(conn, stored, period.key, unit_id)
                if before is None:
                    report_id = insert_id(
                        conn, "INSERT INTO reports (set_id, period_key, period_start, unit_id,"
                        " version,"
                        " submitted_by, submitted_at, first_submitted_at)"
                        " VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                        (stored.id, period.key, period.start.isoformat(), unit_id, user_id,
                         stamp(now), stamp(now)))
                    version = 1
                else:
                    report_id, version = before.id, before.version + 1
                    conn.execute(
                        "UPDATE reports SET version = ?, submitted_by = ?, submitted_at = ?"
                        " WHERE id = ?", (version, user_id, stamp(now), report_id))
                    conn.execute("DELETE FROM report_values WHERE report_id = ?", (report_id,))
                conn.executemany(
                    "INSERT INTO report_values (report_id, indicator_id, value) VALUES (?, ?, ?)",
                    [(report_id, stored.indicator_ids[c], v) for c, v in values.items()])
                conn.execute(
                    "INSERT INTO report_versions (report_id, version, submitted_by, submitted_at,"
                    " vals) VALUES (?, ?, ?, ?, ?)",
                    (report_id, version, user_id, stamp(now), json.dumps(values)))
                conn.execute(AUDIT_SQL, audit_params(
                    user_id, "report.submit", f"report:{report_id}",
                    {"set": set_code, "period": period.key, "unit_id": unit_id,
                     "version": version}))
                after = _report_row(conn, stored, period.key, unit_id)
                assert after is not None
                if notify is not None:
                    add_items(conn, notify(after, before), now)
                if also is not None:
                    also(conn)
                return after, before

        done = await self._db.run_sync(run)
        if notify is not None:
            self._db.outbox_added()
        return done

    async def versions(self, set_code: str, period_key: str, unit_id: int) -> list[Version]:
        """Every submission for a hamlet and period, oldest first."""
        stored = self._require(set_code)
        rows = await self._db.fetch(
            "SELECT v.version, v.submitted_by, v.submitted_at, v.vals FROM report_versions v"
            " JOIN reports r ON r.id = v.report_id"
            " WHERE r.set_id = ? AND r.period_key = ? AND r.unit_id = ? ORDER BY v.version",
            (stored.id, period_key, unit_id))
        return [Version(r[0], r[1], datetime.fromisoformat(r[2]), json.loads(r[3])) for r in rows]

    # ------------------------------------------------------------------ locking

    async def open_until(self, set_code: str, period: Period, unit_id: int, now: datetime,
                         tz: tzinfo) -> datetime | None:
        """Until when the period may still be changed for this hamlet; None if locked now."""
        stored = self._require(set_code)
        lock = locks_at(period, stored.spec.lock_days, tz)
        if now < lock:
            return lock
        return await self._db.run_sync(
            lambda conn: _reopened(conn, stored.id, period.key, unit_id, now))

    async def open_periods(self, set_code: str, unit_id: int, now: datetime,
                           tz: tzinfo) -> list[Period]:
        """Periods a reporter may file for now, newest first: the current one, earlier ones
        not locked yet, and any a coordinator reopened for this hamlet."""
        stored = self._require(set_code)
        kind = stored.spec.period
        today = now.astimezone(tz).date()
        found = [period_of(kind, today)]
        earlier = found[0].previous()
        while now < locks_at(earlier, stored.spec.lock_days, tz):
            found.append(earlier)
            earlier = earlier.previous()
        rows = await self._db.fetch(
            "SELECT DISTINCT period_key FROM report_reopenings WHERE set_id = ? AND unit_id = ?"
            " AND until > ?", (stored.id, unit_id, stamp(now)))
        for row in rows:
            period = Period.from_key(row[0])
            if period not in found:
                found.append(period)
        return sorted(found, reverse=True)

    async def reopen(self, set_code: str, period_key: str, unit_id: int, actor_id: int | None,
                     now: datetime, until: datetime, *,
                     notices: Sequence[NewItem] = ()) -> None:
        """Let a hamlet change a locked period until ``until`` (audited); ``notices`` (its
        reporters told) are written in the same transaction."""
        stored = self._require(set_code)

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO report_reopenings (set_id, period_key, unit_id, reopened_by,"
                    " reopened_at, until) VALUES (?, ?, ?, ?, ?, ?)",
                    (stored.id, period_key, unit_id, actor_id, stamp(now),
                     stamp(until)))
                conn.execute(AUDIT_SQL, audit_params(
                    actor_id, "report.reopen", f"unit:{unit_id}",
                    {"set": set_code, "period": period_key, "until": stamp(until)}))
                add_items(conn, list(notices), now)

        await self._db.run_sync(run)
        if notices:
            self._db.outbox_added()

    # ------------------------------------------------------------------ coordinators

    async def submitted(self, set_code: str, period_key: str,
                        unit_ids: list[int]) -> dict[int, datetime]:
        """When each of these hamlets first submitted for the period (absent: not at all)."""
        stored = self._require(set_code)
        if not unit_ids:
            return {}
        marks = ", ".join("?" * len(unit_ids))
        rows = await self._db.fetch(
            f"SELECT unit_id, first_submitted_at FROM reports WHERE set_id = ? AND period_key = ?"
            f" AND unit_id IN ({marks})", (stored.id, period_key, *unit_ids))
        return {r[0]: datetime.fromisoformat(r[1]) for r in rows}

    def _require(self, set_code: str) -> StoredSet:
        found = self.set(set_code)
        if found is None:
            raise LookupError(f"no active indicator set {set_code!r}")
        return found


def _report_row(conn: sqlite3.Connection, stored: StoredSet, period_key: str,
                unit_id: int) -> Report | None:
    row = conn.execute(
        "SELECT id, version, submitted_by, submitted_at, first_submitted_at FROM reports"
        " WHERE set_id = ? AND period_key = ? AND unit_id = ?",
        (stored.id, period_key, unit_id)).fetchone()
    if row is None:
        return None
    return Report(id=row[0], set_code=stored.code, period_key=period_key, unit_id=unit_id,
                  version=row[1], submitted_by=row[2],
                  submitted_at=datetime.fromisoformat(row[3]),
                  first_submitted_at=datetime.fromisoformat(row[4]),
                  values=_values(conn, stored, row[0]))


def _values(conn: sqlite3.Connection, stored: StoredSet, report_id: int) -> dict[str, int]:
    codes = {v: k for k, v in stored.indicator_ids.items()}
    rows = conn.execute("SELECT indicator_id, value FROM report_values WHERE report_id = ?",
                        (report_id,)).fetchall()
    return {codes[r[0]]: r[1] for r in rows if r[0] in codes}


def _reopened(conn: sqlite3.Connection, set_id: int, period_key: str, unit_id: int,
              now: datetime) -> datetime | None:
    row = conn.execute(
        "SELECT MAX(until) FROM report_reopenings WHERE set_id = ? AND period_key = ?"
        " AND unit_id = ?", (set_id, period_key, unit_id)).fetchone()
    if row is None or row[0] is None:
        return None
    until = datetime.fromisoformat(row[0])
    return until if until > now else None

