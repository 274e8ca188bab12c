"""The figures behind a digest or summary, read for one scope in one thread hop.

Everything is aggregated in SQL over the scope's units and the span's bounds;
``bot.digest.build`` turns the raw figures into a :class:`bot.digest.Digest`.
The report sums go through ``reports_unit`` (each hamlet's reports by period start)
and ``report_values`` (clustered by report), so a commune's 30 hamlets cost the
same whether the file holds a thousand values or ten million.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.db import Database, stamp
from storage.dialects import seconds_between
from storage.reporting import Period

OVERDUE_LISTED = 30  # overdue tips listed by name; the rest are counted


@dataclass(frozen=True)
class ReportFigures:
    """Per hamlet and indicator: summed values; per hamlet: which periods were filed, when."""

    sums: dict[int, dict[str, int]] = field(default_factory=dict)
    first_filed: dict[tuple[int, str], datetime] = field(default_factory=dict)  # (unit, period)
    totals_before: dict[str, int] = field(default_factory=dict)
    filed_before: int = 0  # reports filed for the periods before (what the trend rests on)


@dataclass(frozen=True)
class TipFigures:
    """Tips received in the span (and before it) and the overdue ones now."""

    by_category_status: dict[tuple[str, str], int]
    by_category_before: dict[str, int]
    overdue: list[sqlite3.Row]  # code, category, status, unit_id, created_at (oldest first)
    overdue_total: int
    closed: int = 0  # tips closed in the span (whenever received)
    closed_late: int = 0  # of which closed later than the closing deadline after receipt


@dataclass(frozen=True)
class EventFigures:
    """The span's events: type, created_at, unit_id, people, code, status now (oldest
    first)."""

    rows: list[tuple[str, str, int | None, int, str, str]]


class DigestRepo:
    """Reads for digests and summaries; nothing is written."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def figures(
        self, *, unit_ids: list[int], hamlet_ids: list[int], set_id: int,
        indicator_ids: dict[str, int], periods: list[Period], periods_before: list[Period],
        since: datetime, until: datetime, before_since: datetime,
        ack_cut: datetime, close_cut: datetime, close_within: timedelta = timedelta(days=20),
    ) -> tuple[TipFigures, ReportFigures, EventFigures]:
        """All of a digest's figures in one hop.

        ``unit_ids``: every unit in scope (tips and events); ``hamlet_ids``: the hamlets
        that report; ``periods``: the report periods in the span (``periods_before``: the
        span before's); ``since``/``until``: the span's UTC bounds, ``before_since`` the start
        of the span before; ``ack_cut``/``close_cut``: tips received before these are
        overdue if still new / still open; ``close_within``: a tip closed later than this
        after it came was closed late.
        """
        codes, ids = list(indicator_ids), list(indicator_ids.values())
        # One column per indicator, summed as the rows come (in hamlet order): grouping by
        # hamlet and indicator would sort every value first (a year: 15,000 of them).
        # (A set has at least one indicator: storage.reporting refuses an empty one.)
        pivot = ", ".join("SUM(v.value) FILTER (WHERE v.indicator_id = ?)" for _ in ids)
        took = seconds_between(self._db.dialect, "created_at", "closed_at")

        def run(conn: sqlite3.Connection) -> tuple[TipFigures, ReportFigures, EventFigures]:
            units = _marks(unit_ids)
            rows = conn.execute(
                f"SELECT category, status, COUNT(*) FROM tips WHERE unit_id IN ({units})"
                f" AND created_at >= ? AND created_at < ? GROUP BY category, status",
                (*unit_ids, stamp(since), stamp(until))).fetchall()
            by_cs = {(r[0], r[1]): r[2] for r in rows}
            rows = conn.execute(
                f"SELECT category, COUNT(*) FROM tips WHERE unit_id IN ({units})"
                f" AND created_at >= ? AND created_at < ? GROUP BY category",
                (*unit_ids, stamp(before_since), stamp(since))).fetchall()
            before = {r[0]: r[1] for r in rows}
            overdue, total = _overdue(conn, unit_ids, ack_cut, close_cut)
            closed, late = conn.execute(
                f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {took} > ? THEN 1 ELSE 0 END), 0)"
                f" FROM tips WHERE unit_id IN ({units})"
                f" AND closed_at >= ? AND closed_at < ?",
                (close_within.total_seconds(), *unit_ids, stamp(since), stamp(until))
            ).fetchone()
            tips = TipFigures(by_cs, before, overdue, total, closed, late)

            sums: dict[int, dict[str, int]] = {}
            filed: dict[tuple[int, str], datetime] = {}
            totals_before: dict[str, int] = {}
            filed_before = 0
            if hamlet_ids and periods:
                where, params = _reports_of(hamlet_ids, set_id, periods)
                for unit_id, *values in conn.execute(
                        f"SELECT r.unit_id, {pivot} FROM reports r"
                        f" JOIN report_values v ON v.report_id = r.id"
                        f" WHERE {where} GROUP BY r.unit_id", (*ids, *params)):
                    sums[unit_id] = {code: value for code, value in zip(codes, values, strict=True)
                                     if value is not None}
                for unit_id, key, first in conn.execute(
                        f"SELECT r.unit_id, r.period_key, r.first_submitted_at FROM reports r"
                        f" WHERE {where}", params):
                    filed[(unit_id, key)] = datetime.fromisoformat(first)
            if hamlet_ids and periods_before:
                where, params = _reports_of(hamlet_ids, set_id, periods_before)
                totals = conn.execute(
                    f"SELECT {pivot} FROM reports r JOIN report_values v ON v.report_id = r.id"
                    f" WHERE {where}", (*ids, *params)).fetchone()
                totals_before = {code: value for code, value in zip(codes, totals, strict=True)
                                 if value is not None}
                filed_before = conn.execute(
                    f"SELECT COUNT(*) FROM reports r WHERE {where}", params).fetchone()[0]
            reports = ReportFigures(sums, filed, totals_before, filed_before)

            events = conn.execute(
                f"SELECT type, created_at, unit_id, people, code, status FROM events"
                f" WHERE unit_id IN ({units})"
                f" AND created_at >= ? AND created_at < ? ORDER BY created_at, id",
                (*unit_ids, stamp(since), stamp(until))).fetchall()
            return tips, reports, EventFigures([tuple(r) for r in events])

        return await self._db.run_sync(run)


    async def overdue(self, unit_ids: list[int], ack_cut: datetime,
                      close_cut: datetime) -> tuple[list[sqlite3.Row], int]:
        """The oldest overdue tips in these units (at most OVERDUE_LISTED) and how many."""
        return await self._db.run_sync(lambda conn: _overdue(conn, unit_ids, ack_cut, close_cut))


def _overdue(conn: sqlite3.Connection, unit_ids: list[int], ack_cut: datetime,
             close_cut: datetime) -> tuple[list[sqlite3.Row], int]:
    # Overdue: still new past the acknowledgement cut, or open past the closing cut. The
    # closing cut is the earlier one, so both mean "before the acknowledgement cut", which
    # lets the partial index of open tips serve the range.
    assert close_cut <= ack_cut
    where = (f"status != 'closed' AND unit_id IN ({_marks(unit_ids)}) AND created_at < ?"
             f" AND (status = 'new' OR created_at < ?)")
    params = (*unit_ids, stamp(ack_cut), stamp(close_cut))
    total = conn.execute(f"SELECT COUNT(*) FROM tips WHERE {where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT code, category, status, unit_id, created_at FROM tips"
                        f" WHERE {where} ORDER BY created_at LIMIT ?",
                        (*params, OVERDUE_LISTED)).fetchall()
    return rows, total


def _reports_of(hamlet_ids: list[int], set_id: int,
                periods: list[Period]) -> tuple[str, tuple]:
    """Where-clause and parameters for these hamlets' reports of these periods.

    The range of period starts walks the ``reports_unit`` index hamlet by hamlet, so rows
    come in hamlet order and the pivot sums them as they come; the list of keys keeps only
    the periods asked for (a set whose period kind changed keeps its older reports).
    """
    starts = [p.start.isoformat() for p in periods]
    keys = [p.key for p in periods]
    return (f"r.unit_id IN ({_marks(hamlet_ids)}) AND r.set_id = ? AND r.period_start >= ?"
            f" AND r.period_start <= ? AND r.period_key IN ({_marks(keys)})",
            (*hamlet_ids, set_id, min(starts), max(starts), *keys))


def _marks(values: list) -> str:
    return ", ".join("?" * len(values)) or "NULL"
