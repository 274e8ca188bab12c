"""Digest speed: a commune of 30 hamlets, with ten million report values stored.

A province of 10,000 hamlets (334 communes of 30) has filed the weekly report for
100 weeks: a million reports of ten indicators (``BENCH_VALUES`` changes the total),
plus 200,000 tips and 50,000 events (six tips and 1.5 events a week in a commune,
spread over the 100 weeks). We time ``bot.digest_build.build`` (one read in one
thread hop, then assembly) for one commune: its weekly digest, and its year
summary ("tổng kết", 52 weeks). Target: under 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.digest import SpanKind, span_of
from bot.digest_build import build
from storage.db import Database, stamp
from storage.digests import DigestRepo
from storage.reporting import indicator_sets, period_of
from storage.reports import ReportRepo
from storage.tip_lifecycle import TipPolicy, categories
from storage.units import UnitRepo, UnitRow

VN = ZoneInfo("Asia/Ho_Chi_Minh")
VALUES = int(os.environ.get("BENCH_VALUES", "10000000"))
HAMLETS_PER_COMMUNE = 30
WEEKS = 100
NOW = datetime(2026, 11, 24, 7, 30, tzinfo=VN)  # Tuesday of week 48
RUNS = 30


async def _seed(db: Database) -> list[int]:
    """The province, its reports, tips and events; returns the communes' unit ids."""
    sets = indicator_sets()
    reports = ReportRepo(db)
    await reports.sync_sets(sets)
    stored = reports.sets()[0]
    per_report = len(stored.codes)
    hamlets = max(HAMLETS_PER_COMMUNE, VALUES // per_report // WEEKS)
    communes = (hamlets + HAMLETS_PER_COMMUNE - 1) // HAMLETS_PER_COMMUNE
    rows = [UnitRow(1, "P", "Tỉnh", "province", None)]
    for c in range(communes):
        rows.append(UnitRow(len(rows) + 1, f"C{c}", f"Xã {c}", "commune", "P"))
        for h in range(HAMLETS_PER_COMMUNE):
            rows.append(UnitRow(len(rows) + 1, f"C{c}-H{h}", f"Ấp {c}.{h}", "hamlet", f"C{c}"))
    units = UnitRepo(db)
    await units.import_rows(rows)
    tree = await units.tree()
    commune_ids = [u.id for u in tree.children[tree.by_code["P"].id]]
    hamlet_ids = [u.id for cid in commune_ids for u in tree.children[cid]][:hamlets]
    last = period_of(stored.spec.period, NOW.date()).previous()
    periods = [last]
    while len(periods) < WEEKS:
        periods.append(periods[-1].previous())
    indicator_ids = list(stored.indicator_ids.values())
    rng = random.Random(48)
    cats = [c.code for c in categories()]

    def run(conn) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO users (id, tg_hash, contact_sealed, locale, active, created_at)"
                     " VALUES (1, x'00', x'00', 'vi', 1, ?)", (stamp(NOW),))
        report_id = 0
        report_rows, value_rows = [], []
        for period in reversed(periods):
            filed = stamp(datetime.combine(period.end, datetime.min.time(), VN)
                          + timedelta(hours=20))
            for unit_id in hamlet_ids:
                report_id += 1
                report_rows.append((report_id, stored.id, period.key, period.start.isoformat(),
                                    unit_id, 1, 1, filed, filed))
                value_rows.extend((report_id, i, rng.randrange(50)) for i in indicator_ids)
            if len(value_rows) > 500_000:
                conn.executemany("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 report_rows)
                conn.executemany("INSERT INTO report_values VALUES (?, ?, ?)", value_rows)
                report_rows, value_rows = [], []
        conn.executemany("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", report_rows)
        conn.executemany("INSERT INTO report_values VALUES (?, ?, ?)", value_rows)
        start, spread = NOW - timedelta(days=7 * WEEKS), timedelta(days=7 * WEEKS)
        tips, events = len(hamlet_ids) * WEEKS // 5, len(hamlet_ids) * WEEKS // 20
        conn.executemany(
            "INSERT INTO tips (code, category, status, unit_id, occurred_kind, occurred_at, body,"
            " anonymous, created_at) VALUES (?, ?, ?, ?, 'today', '2026-01-01', 'x', 1, ?)",
            ((f"TB-B{n:07d}", rng.choice(cats), rng.choice(("new", "verifying", "closed")),
              rng.choice(hamlet_ids), stamp(start + spread * n / tips)) for n in range(tips)))
        conn.executemany(
            "INSERT INTO events (type, unit_id, occurred_kind, occurred_at, description, people,"
            " reporter_id, created_at) VALUES ('other', ?, 'today', '2026-01-01', 'x', 1, 1, ?)",
            ((rng.choice(hamlet_ids), stamp(start + spread * n / events)) for n in range(events)))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")

    await db.run_sync(run)
    return commune_ids


async def _time(db: Database, commune_id: int, kind: SpanKind) -> list[float]:
    units = UnitRepo(db)
    tree = await units.tree()
    reports = ReportRepo(db)
    await reports.sync_sets(indicator_sets())
    stored = reports.sets()[0]
    repo = DigestRepo(db)
    span = span_of(kind, NOW.date()).previous() if kind is SpanKind.WEEK \
        else span_of(kind, date(2026, 6, 1))
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        digest = await build(repo, tree, [tree.by_id[commune_id]], stored, span, NOW, VN,
                             TipPolicy())
        times.append(time.perf_counter() - t0)
    assert len(digest.hamlets) == HAMLETS_PER_COMMUNE and digest.reports_filed > 0
    return times


async def _main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "digest.db")
        t0 = time.perf_counter()
        communes = await _seed(db)
        counted = await db.conn.execute_fetchall("SELECT COUNT(*) FROM report_values")
        print(f"seeded {counted[0][0]:,} report values in {len(communes):,} communes"
              f" in {time.perf_counter() - t0:.0f} s")
        for kind in (SpanKind.WEEK, SpanKind.YEAR):
            times = await _time(db, communes[len(communes) // 2], kind)
            q, median = statistics.quantiles(times, n=20), statistics.median(times)
            print(f"{kind.value:>5} digest, 30 hamlets: median {median * 1e3:5.1f} ms"
                  f"  p95 {q[18] * 1e3:5.1f} ms  max {max(times) * 1e3:5.1f} ms"
                  f"  (target < 50 ms)")
        await db.close()


def main() -> None:
    """Print the figures."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
