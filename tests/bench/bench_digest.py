"""Digest speed: one commune's digest, and every commune's weekly digest wave at once.

The country at full size: 3,300 communes of 30 hamlets (99,000 hamlets; the whole
country has 3,321 communes) under 33 provinces, a coordinator in every commune (one in
five reading English) and a reporter in every hamlet, and ten million report values.
Ten million values are about 33,000 commune-weeks of reports (ten indicators, 30
hamlets), so not every commune can have two years: 87 pilot communes have filed for
100 weeks (2024-W52 … 2026-W47) and the other 3,213 for the last 8 (2026-W40 … W47).
One report in 29 is missing (never in the last week) and one in 13 was filed late:
9,999,540 values in 999,954 reports. Tips (six a week in a commune, three in four
closed) and events (one and a half) cover the same weeks: 206,424 tips, 51,606 events.
``quick`` divides the communes and values by ten (330 communes, 9 of them pilots).

Figures:

- ``digest_commune_ms``, ``digest_year_ms``: a pilot commune's weekly digest (2026-W47)
  and its year summary ("tổng kết" 2026, compared with 2025), as the sender builds them
  (``bot.deliveries.make_digest``: one read in one thread hop, then assembly); the median
  of 30 runs, with p95 and max printed. Target: under 50 ms.
- ``digest_all_communes_s``: the scheduler's minute tick (``bot.deliveries.tick``, what the
  job calls) at Monday 07:30, when the weekly digest falls due for all 3,300 coordinators.
  The tick writes one outbox row per coordinator (who, which roots, which week); the figures,
  texts, chart and workbook are built later, when the outbox sender sends the row
  (``make_render``). So the tick is the enqueue-time work, and its target is to be well
  under the time the wave takes to send at 29 messages/s (printed beside it). The send-time
  work (build, texts, chart PNG, workbook) is timed on a sample of the wave's rows, per
  commune, against the time its messages take to send, to show whether rendering keeps up.

Seeding takes a while at full size, so the database is built once per layout and schema
(the newest migration's name is in its file name) in ``tests/bench/.cache`` and copied
for each run. The build writes through a plain connection with no journal and no fsync
(the file ends in WAL mode as the bot's are); it runs no ANALYZE, since the bot never does,
so the query plans are the bot's.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import deliveries
from bot.app import make_services
from bot.digest import SpanKind, span_of
from bot.schedule import Occasion
from bot.settings import load_settings
from storage.crypto import Vault
from storage.db import Database, stamp
from storage.outbox import OutboxRepo
from storage.reporting import indicator_sets, period_of
from storage.reports import ReportRepo
from storage.tip_lifecycle import EVENT_PREFIX, categories, seed_code
from tests.bench.common import CACHE_DIR, cli

SECRET = "bench-secret-0123456789abcdefghijkl"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 7, 30, tzinfo=VN)  # Monday of week 48: the weekly digest is due
HAMLETS_PER_COMMUNE = 30
COMMUNES_PER_PROVINCE = 100
PILOT_WEEKS, RECENT_WEEKS = 100, 8
TIPS_PER_WEEK, EVENTS_PER_TWO_WEEKS = 6, 3  # in a commune
MISSING_EVERY, LATE_EVERY = 29, 13
RUNS = 30
SAMPLE = 6  # rows of the wave rendered whole, then piece by piece
SEND_RATE = 29  # messages/s the sender keeps to (Telegram allows about 30)
LAYOUT = 2  # bump when the seeding below changes: the cached database is rebuilt


@dataclass(frozen=True)
class Layout:
    """How many communes, and how many of them have two years of reports."""

    communes: int
    pilots: int

    @property
    def hamlets(self) -> int:
        return self.communes * HAMLETS_PER_COMMUNE

    def weeks(self, commune: int) -> int:
        return PILOT_WEEKS if commune < self.pilots else RECENT_WEEKS

    @property
    def commune_weeks(self) -> int:
        return self.pilots * PILOT_WEEKS + (self.communes - self.pilots) * RECENT_WEEKS

    @staticmethod
    def of(quick: bool) -> Layout:
        communes, values = (330, 1_000_000) if quick else (3_300, 10_000_000)
        # Commune-weeks w hold 300 values each, less the reports missing (one in
        # MISSING_EVERY, never in the last week): (w - (w - communes) / 29) * 300 = values.
        per_week = HAMLETS_PER_COMMUNE * len(indicator_sets()[0].indicators)
        weeks = (MISSING_EVERY * values / per_week - communes) / (MISSING_EVERY - 1)
        pilots = round((weeks - communes * RECENT_WEEKS) / (PILOT_WEEKS - RECENT_WEEKS))
        return Layout(communes, pilots)


def _newest_migration() -> str:
    found = sorted((Path(__file__).resolve().parents[2] / "storage" / "migrations")
                   .glob("[0-9]*.sql"))
    return found[-1].stem if found else "none"


def cached_database(layout: Layout) -> Path:
    """The seeded database of ``layout``, built if the cache lacks it."""
    name = (f"digest-{layout.communes}c-{layout.pilots}p-l{LAYOUT}"
            f"-{_newest_migration()}.db")
    cached = CACHE_DIR / name
    if cached.exists():
        return cached
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for old in CACHE_DIR.glob(f"digest-{layout.communes}c-*.db"):
        old.unlink()  # another layout or schema: never used again
    building = CACHE_DIR / f"{name}.{os.getpid()}.building"
    t0 = time.perf_counter()
    try:
        asyncio.run(_schema(building))
        _fill(building, layout)
        building.rename(cached)
    finally:
        for left in (building, *(building.with_name(building.name + s) for s in ("-wal", "-shm"))):
            left.unlink(missing_ok=True)
    print(f"seeded {cached.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return cached


async def _schema(path: Path) -> None:
    """Migrations and the indicator set, as the bot makes them."""
    db = await Database.open(path)
    try:
        await ReportRepo(db).sync_sets(indicator_sets())
    finally:
        await db.close()


def _fill(path: Path, layout: Layout) -> None:
    """People, reports, tips and events, in one transaction on a plain connection."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A throwaway build: no rollback journal, no fsync, a large page cache.
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("BEGIN")
        _tree(conn, layout)
        _people(conn, layout)
        _reports(conn, layout)
        _tips_and_events(conn, layout)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def _tree(conn: sqlite3.Connection, layout: Layout) -> None:
    """Provinces of 100 communes, communes of 30 hamlets. Written directly: UnitRepo's
    import checks each row's parent against a set it rebuilds per row, quadratic in the
    file (hours for 100,000 units)."""
    made = stamp(NOW - timedelta(days=7 * PILOT_WEEKS + 60))
    rows: list[tuple[int, str, str, str, int | None]] = []
    province_id: int | None = None
    for c in range(layout.communes):
        if c % COMMUNES_PER_PROVINCE == 0:
            province_id = len(rows) + 1
            p = c // COMMUNES_PER_PROVINCE
            rows.append((province_id, f"P{p:02d}", f"Tỉnh {p}", "province", None))
        commune_id = len(rows) + 1
        rows.append((commune_id, f"C{c:04d}", f"Xã {c}", "commune", province_id))
        rows.extend((commune_id + 1 + h, f"C{c:04d}-H{h:02d}", f"Ấp {c}.{h}", "hamlet", commune_id)
                    for h in range(HAMLETS_PER_COMMUNE))
    conn.executemany("INSERT INTO units (id, code, name, level, parent_id, created_at,"
                     " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     ((*row, made, made) for row in rows))


def _units(conn: sqlite3.Connection) -> dict[str, int]:
    return {code: uid for uid, code in conn.execute("SELECT id, code FROM units")}


def _people(conn: sqlite3.Connection, layout: Layout) -> None:
    """A coordinator per commune (users 1…), then a reporter per hamlet."""
    vault = Vault(SECRET)
    unit = _units(conn)
    made = stamp(NOW - timedelta(days=7 * PILOT_WEEKS + 30))
    people = [(f"C{c:04d}", "coordinator", "en" if c % 5 == 4 else "vi")
              for c in range(layout.communes)]
    people += [(f"C{h // HAMLETS_PER_COMMUNE:04d}-H{h % HAMLETS_PER_COMMUNE:02d}", "reporter",
                "vi") for h in range(layout.hamlets)]

    def users():
        for n, (_, _, locale) in enumerate(people):
            tg = 10_000_000 + n
            tg_hash = vault.hash_id(tg)
            contact = {"chat_id": tg, "name": f"Cán bộ {n}"}
            yield n + 1, tg_hash, vault.seal_json(contact, context=tg_hash), locale, 1, made

    conn.executemany("INSERT INTO users (id, tg_hash, contact_sealed, locale, active,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)", users())
    conn.executemany("INSERT INTO memberships (user_id, role, unit_id, started_at)"
                     " VALUES (?, ?, ?, ?)",
                     ((n + 1, role, unit[code], made) for n, (code, role, _) in enumerate(people)))


def _reports(conn: sqlite3.Connection, layout: Layout) -> None:
    """Weekly reports, week after week (ids in the order they came), each of ten values.

    Generated in SQL from two small tables (the weeks, the hamlets): ten million rows in C.
    """
    set_id, = conn.execute("SELECT id FROM indicator_sets ORDER BY id LIMIT 1").fetchone()
    last = period_of(indicator_sets()[0].period, NOW.date()).previous()
    periods = [last]
    while len(periods) < PILOT_WEEKS:
        periods.append(periods[-1].previous())
    conn.execute("CREATE TEMP TABLE weeks (n INTEGER PRIMARY KEY, key TEXT, start TEXT,"
                 " on_time TEXT, late TEXT)")

    def filed(period, after: timedelta) -> str:
        return stamp(datetime.combine(period.end, datetime.min.time(), VN) + after)

    conn.executemany("INSERT INTO weeks VALUES (?, ?, ?, ?, ?)", (
        (n, p.key, p.start.isoformat(), filed(p, timedelta(hours=20)),
         filed(p, timedelta(days=2, hours=9))) for n, p in enumerate(periods)))
    conn.execute("CREATE TEMP TABLE hamlets (unit_id INTEGER PRIMARY KEY, reporter INTEGER,"
                 " weeks INTEGER)")
    unit = _units(conn)
    conn.executemany("INSERT INTO hamlets VALUES (?, ?, ?)", (
        (unit[f"C{h // HAMLETS_PER_COMMUNE:04d}-H{h % HAMLETS_PER_COMMUNE:02d}"],
         layout.communes + h + 1, layout.weeks(h // HAMLETS_PER_COMMUNE))
        for h in range(layout.hamlets)))
    # Last week every hamlet has filed, on time (the digest is about it, and the reminder
    # check in the same tick finds nobody to remind); before, one in 29 is missing and one
    # in 13 late.
    conn.execute(
        "INSERT INTO reports (set_id, period_key, period_start, unit_id, version, submitted_by,"
        " submitted_at, first_submitted_at)"
        " SELECT ?, key, start, unit_id, 1, reporter, at, at FROM ("
        "  SELECT w.n, w.key, w.start, h.unit_id, h.reporter,"
        "   CASE WHEN w.n > 0 AND (h.unit_id + w.n) % ? = 0 THEN w.late ELSE w.on_time END AS at"
        "  FROM weeks w JOIN hamlets h ON w.n < h.weeks"
        "  WHERE w.n = 0 OR (h.unit_id * 7 + w.n) % ? != 0)"
        " ORDER BY n DESC, unit_id",
        (set_id, LATE_EVERY, MISSING_EVERY))
    # Plausible values: each hamlet its own level; a part never above its whole
    # (mediation_resolved ≤ mediation_cases), attendees many per session.
    parts = {i.code for i in indicator_sets()[0].indicators if i.at_most}
    scale = {"propaganda_attendees": 20}
    conn.execute("CREATE TEMP TABLE kinds (id INTEGER PRIMARY KEY, part INTEGER,"
                 " scale INTEGER)")
    conn.executemany("INSERT INTO kinds VALUES (?, ?, ?)", (
        (iid, code in parts, scale.get(code, 1)) for iid, code in conn.execute(
            "SELECT id, code FROM indicators WHERE set_id = ?", (set_id,)).fetchall()))
    conn.execute(
        "INSERT INTO report_values (report_id, indicator_id, value)"
        " SELECT r.id, k.id, k.scale * CASE WHEN k.part THEN 1 + r.unit_id % 20 + r.id % 3"
        "   ELSE 5 + r.unit_id % 20 + (r.id * 7 + k.id * 3) % 5 END"
        " FROM reports r CROSS JOIN kinds k WHERE r.set_id = ? ORDER BY r.id, k.id",
        (set_id,))
    conn.execute("DROP TABLE weeks")
    conn.execute("DROP TABLE hamlets")
    conn.execute("DROP TABLE kinds")


def _tips_and_events(conn: sqlite3.Connection, layout: Layout) -> None:
    """Tips and events in the weeks each commune has been on the bot, before NOW."""
    unit = _units(conn)
    rng = random.Random(15)
    cats = [c.code for c in categories()]
    now = NOW.astimezone(UTC)
    last_monday = datetime.combine(NOW.date() - timedelta(days=7), datetime.min.time(), VN)
    tips, events = [], []
    for c in range(layout.communes):
        hamlets = [unit[f"C{c:04d}-H{h:02d}"] for h in range(HAMLETS_PER_COMMUNE)]
        start = (last_monday - timedelta(days=7 * (layout.weeks(c) - 1))).astimezone(UTC)
        span = now - start
        count = layout.weeks(c) * TIPS_PER_WEEK
        for n in range(count):
            created = start + span * (n + rng.random()) / count
            roll = rng.random()
            acked = created + timedelta(hours=rng.uniform(1, 30))
            closed = created + timedelta(days=rng.uniform(1, 30))
            if roll < 0.75 and closed < now:
                status, resolution = "closed", rng.choice(("resolved", "resolved", "unfounded"))
            else:
                status = "new" if roll > 0.95 or acked > now else rng.choice(
                    ("acknowledged", "verifying", "in_progress"))
                resolution, closed = None, None
            tips.append((seed_code(len(tips)), rng.choice(cats), status, resolution,
                         rng.choice(hamlets), created.date().isoformat(), created.isoformat(),
                         None if status == "new" else acked.isoformat(),
                         closed.isoformat() if closed else None))
        reporter = layout.communes + c * HAMLETS_PER_COMMUNE + 1
        for _ in range(layout.weeks(c) * EVENTS_PER_TWO_WEEKS // 2):
            created = start + span * rng.random()
            status = rng.choice(("new", "acknowledged", "handled", "handled"))
            events.append((rng.choice(hamlets), created.date().isoformat(), rng.randrange(1, 9),
                           reporter + rng.randrange(HAMLETS_PER_COMMUNE), created.isoformat(),
                           seed_code(len(events), EVENT_PREFIX), status))
    tips.sort(key=lambda row: row[6])  # ids in the order they came
    events.sort(key=lambda row: row[4])
    conn.executemany(
        "INSERT INTO tips (code, category, status, resolution, unit_id, occurred_kind,"
        " occurred_at, body, anonymous, created_at, acknowledged_at, closed_at)"
        " VALUES (?, ?, ?, ?, ?, 'date', ?, '', 1, ?, ?, ?)", tips)
    conn.executemany(
        "INSERT INTO events (type, unit_id, occurred_kind, occurred_at, description, people,"
        " reporter_id, created_at, code, status)"
        " VALUES ('other', ?, 'date', ?, 'x', ?, ?, ?, ?, ?)", events)


# ---------------------------------------------------------------------- measuring


def _spread(times: list[float]) -> str:
    q = statistics.quantiles(times, n=20, method="inclusive")
    return (f"median {statistics.median(times) * 1e3:5.1f} ms  p95 {q[18] * 1e3:5.1f} ms"
            f"  max {max(times) * 1e3:5.1f} ms")


async def _one_commune(svc, commune_id: int) -> dict[str, float]:
    tree = await svc.units.tree()
    roots = [tree.by_id[commune_id]]
    figures = {}
    for key, span in (("digest_commune_ms", span_of(SpanKind.WEEK, NOW.date()).previous()),
                      ("digest_year_ms", span_of(SpanKind.YEAR, NOW.date()))):
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            digest = await deliveries.make_digest(svc, roots, span)
            times.append(time.perf_counter() - t0)
        assert len(digest.hamlets) == HAMLETS_PER_COMMUNE and digest.reports_filed > 0
        label = "weekly digest" if span.kind is SpanKind.WEEK else "year summary "
        print(f"{label} {span.key:>8}, 30 hamlets ({digest.reports_filed:,} reports):"
              f" {_spread(times)}  (target < 50 ms)", flush=True)
        figures[key] = round(statistics.median(times) * 1e3, 2)
    return figures


async def _tick(svc, clock: list[datetime], at: datetime) -> tuple[int, float]:
    clock[0] = at
    t0 = time.perf_counter()
    added = await deliveries.tick(svc, at)
    return added, time.perf_counter() - t0


async def _wave(svc, clock: list[datetime], layout: Layout) -> float:
    """The Monday ticks: 07:00 (overdue tips), 07:30 (the digest wave, timed), 07:31."""
    added, took = await _tick(svc, clock, NOW.replace(hour=7, minute=0))
    print(f"tick at 07:00 (overdue tips, written at enqueue): {added:,} rows in {took:.2f} s",
          flush=True)
    added, took = await _tick(svc, clock, NOW)
    assert added == layout.communes, (added, layout.communes)
    again, idle = await _tick(svc, clock, NOW + timedelta(minutes=1))
    assert again == 0
    print(f"tick at 07:30 (weekly digest due): {added:,} rows in {took:.2f} s;"
          f" the next minute's tick {idle * 1e3:.0f} ms", flush=True)
    return took


async def _render_sample(svc, took: float, layout: Layout) -> None:
    """Render some of the wave's rows as the sender does, and price one commune's."""
    from bot.digest_chart import chart_png
    from bot.digest_text import digest_messages
    from bot.digest_workbook import workbook_xlsx

    repo = OutboxRepo(svc.db)
    items = await repo.claim(NOW, layout.communes, kind=Occasion.DIGEST.value)
    assert len(items) == layout.communes
    render = deliveries.make_render(svc)
    t0 = time.perf_counter()
    await render(items[0])  # pays matplotlib's and openpyxl's imports
    print(f"first render (with the imports): {time.perf_counter() - t0:.2f} s", flush=True)
    step = len(items) // SAMPLE
    sample = [items[i * step + step // 2] for i in range(SAMPLE)]
    tree = await svc.units.tree()
    whole, parts_count, pieces = [], [], {"build": [], "texts": [], "chart": [], "workbook": []}
    for item in sample:
        t0 = time.perf_counter()
        parts = await render(item)
        whole.append(time.perf_counter() - t0)
        parts_count.append(len(parts))
        # The same again, piece by piece, on this thread.
        roots = [tree.by_id[r] for r in item.payload["roots"]]
        _, locale = await svc.users.reach(item.user_id)
        t0 = time.perf_counter()
        digest = await deliveries.make_digest(svc, roots, deliveries.span_in(item.payload))
        t1 = time.perf_counter()
        digest_messages(digest, locale, svc.timezone)
        t2 = time.perf_counter()
        chart_png(digest, locale)
        t3 = time.perf_counter()
        office = await deliveries.office_for(svc, roots, locale)
        t4 = time.perf_counter()
        workbook_xlsx(digest, locale, office=office, tz=svc.timezone)
        t5 = time.perf_counter()
        for key, spent in zip(pieces, (t1 - t0, t2 - t1, t3 - t2, t5 - t4), strict=True):
            pieces[key].append(spent)
    per_item = statistics.median(whole)
    messages = statistics.mean(parts_count)
    wave_messages = round(messages * layout.communes)
    sending = wave_messages / SEND_RATE
    print(f"send time (render per row, {SAMPLE} rows of the wave): {_spread(whole)}; of which "
          + ", ".join(f"{k} {statistics.median(v) * 1e3:.0f} ms" for k, v in pieces.items()),
          flush=True)
    keeps = messages / SEND_RATE
    print(f"one commune's digest is {messages:.1f} messages, {keeps * 1e3:.0f} ms of sending at"
          f" {SEND_RATE}/s: rendering takes {per_item / keeps:.1f}× that"
          f" ({'keeps pace' if per_item <= keeps else 'falls behind'}); the wave's"
          f" {layout.communes:,} renders take {per_item * layout.communes:.0f} s of CPU",
          flush=True)
    print(f"every commune's weekly digest: enqueued in {took:.2f} s; sending its"
          f" {wave_messages:,} messages at {SEND_RATE}/s takes {sending:.0f} s", flush=True)


async def _measure(path: Path, layout: Layout) -> dict:
    clock = [NOW]
    settings = load_settings(db=path, secret_key=SECRET)
    db = await Database.open(path)
    try:
        svc = make_services(settings, db, Vault(SECRET), now=lambda: clock[0])
        await svc.reports.sync_sets(indicator_sets())
        counted = await db.conn.execute_fetchall("SELECT COUNT(*) FROM report_values")
        tree = await svc.units.tree()
        pilot = tree.by_code[f"C{layout.pilots // 2:04d}"].id
        print(f"{counted[0][0]:,} report values, {layout.communes:,} communes"
              f" ({layout.pilots} with {PILOT_WEEKS} weeks of reports, the rest"
              f" {RECENT_WEEKS})", flush=True)
        figures = await _one_commune(svc, pilot)
        took = await _wave(svc, clock, layout)
        figures["digest_all_communes_s"] = round(took, 2)
        await _render_sample(svc, took, layout)
    finally:
        await db.close()
    return figures


def run(quick: bool) -> dict:
    """Seed (or take from the cache), then measure; the figures for results.json."""
    started = time.perf_counter()
    layout = Layout.of(quick)
    cached = cached_database(layout)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digest.db"
        shutil.copyfile(cached, path)
        figures = asyncio.run(_measure(path, layout))
    print(f"bench_digest took {time.perf_counter() - started:.0f} s", flush=True)
    return figures


if __name__ == "__main__":
    cli(run)
