"""The figures behind a digest or summary, read for one scope in one thread hop.

Everything is aggregated in SQL over the scope's units and the span's bounds;
``bot.digest.build`` turns the raw figures into a :class:`bot.digest.Digest`.
The report sums go through ``reports (set_id, period_key, unit_id)`` (unique, so
indexed) and ``report_values`` (clustered by report), so a commune's 30 hamlets
cost the same whether the file holds a thousand values or ten million.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from storage.db import Database, stamp

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
        indicator_ids: dict[str, int], periods: list[str], periods_before: list[str],
        since: datetime, until: datetime, before_since: datetime,
        ack_cut: datetime, close_cut: datetime, close_within: timedelta = timedelta(days=20),
    ) -> tuple[TipFigures, ReportFigures, EventFigures]:
        """All of a digest's figures in one hop.

        ``unit_ids``: every unit in scope (tips and events); ``hamlet_ids``: the hamlets
        that report; ``periods``: report period keys in the span (``periods_before``: the
        span before); ``since``/``until``: the span's UTC bounds, ``before_since`` the start
        of the span before; ``ack_cut``/``close_cut``: tips received before these are
        overdue if still new / still open; ``close_within``: a tip closed later than this
        after it came was closed late.
        """
        codes = {v: k for k, v in indicator_ids.items()}

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
                f"SELECT COUNT(*), COALESCE(SUM((julianday(closed_at) - julianday(created_at))"
                f" * 86400.0 > ?), 0) FROM tips WHERE unit_id IN ({units})"
                f" AND closed_at >= ? AND closed_at < ?",
                (close_within.total_seconds(), *unit_ids, stamp(since), stamp(until))
            ).fetchone()
            tips = TipFigures(by_cs, before, overdue, total, closed, late)

            sums: dict[int, dict[str, int]] = {}
            filed: dict[tuple[int, str], datetime] = {}
            totals_before: dict[str, int] = {}
            filed_before = 0
            if hamlet_ids and periods:
                hamlets, keys = _marks(hamlet_ids), _marks(periods)
                for unit_id, indicator_id, value in conn.execute(
                        f"SELECT r.unit_id, v.indicator_id, SUM(v.value) FROM reports r"
                        f" JOIN report_values v ON v.report_id = r.id"
                        f" WHERE r.set_id = ? AND r.period_key IN ({keys})"
                        f" AND r.unit_id IN ({hamlets}) GROUP BY r.unit_id, v.indicator_id",
                        (set_id, *periods, *hamlet_ids)):
                    if indicator_id in codes:
                        sums.setdefault(unit_id, {})[codes[indicator_id]] = value
                for unit_id, key, first in conn.execute(
                        f"SELECT unit_id, period_key, first_submitted_at FROM reports"
                        f" WHERE set_id = ? AND period_key IN ({keys}) AND unit_id IN ({hamlets})",
                        (set_id, *periods, *hamlet_ids)):
                    filed[(unit_id, key)] = datetime.fromisoformat(first)
            if hamlet_ids and periods_before:
                hamlets, keys = _marks(hamlet_ids), _marks(periods_before)
                for indicator_id, value in conn.execute(
                        f"SELECT v.indicator_id, SUM(v.value) FROM reports r"
                        f" JOIN report_values v ON v.report_id = r.id"
                        f" WHERE r.set_id = ? AND r.period_key IN ({keys})"
                        f" AND r.unit_id IN ({hamlets}) GROUP BY v.indicator_id",
                        (set_id, *periods_before, *hamlet_ids)):
                    if indicator_id in codes:
                        totals_before[codes[indicator_id]] = value
                filed_before = conn.execute(
                    f"SELECT COUNT(*) FROM reports WHERE set_id = ? AND period_key IN ({keys})"
                    f" AND unit_id IN ({hamlets})",
                    (set_id, *periods_before, *hamlet_ids)).fetchone()[0]
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


def _marks(values: list) -> str:
    return ", ".join("?" * len(values)) or "NULL"
