"""A province at full size in one SQLite file: the database the update benchmark runs on.

334 communes of 30 hamlets (10,020 hamlets) under one province; 100,000 users (a
coordinator per commune, a reporter per hamlet, residents the rest, every one with a
language); 1,000,000 tips over the two years before today, sealed as filed tips are, each
sent by a resident; and 100 weeks of weekly reports from every hamlet: 1,002,000 reports,
10,020,000 indicator values. ``quick`` divides every count by ten.

Built once per size and kept in :data:`tests.bench.common.CACHE_DIR` (building the full
size takes a few minutes); :func:`database` copies it for a run. The cache's name carries
the newest migration and the week it was built in, so a new migration or a new week
(the reports are dated from today) builds it again.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from storage.crypto import Vault
from storage.db import Database, stamp
from storage.reporting import indicator_sets, period_of
from storage.reports import ReportRepo
from storage.tip_lifecycle import TipPolicy, categories, seed_code
from storage.tips import TipRepo
from storage.units import UnitRepo, UnitRow
from tests.bench.common import CACHE_DIR

SECRET = "bench-secret-0123456789abcdefghijkl"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
HAMLETS_PER_COMMUNE = 30
WEEKS = 100
FIRST_TG_ID = 10_000_000
VERSION = 3  # of what a preload holds: a change here builds the cached ones again


@dataclass(frozen=True)
class Size:
    """How much the province holds."""

    communes: int
    users: int
    tips: int

    @property
    def hamlets(self) -> int:
        return self.communes * HAMLETS_PER_COMMUNE

    @property
    def values(self) -> int:
        return self.hamlets * WEEKS * 10

    @staticmethod
    def of(quick: bool) -> Size:
        return Size(34, 10_000, 100_000) if quick else Size(334, 100_000, 1_000_000)


@dataclass(frozen=True)
class People:
    """Who is who, by Telegram id (user row id = tg id - FIRST_TG_ID + 1)."""

    size: Size

    def coordinator(self, commune: int) -> int:
        return FIRST_TG_ID + commune

    def reporter(self, hamlet: int) -> int:
        return FIRST_TG_ID + self.size.communes + hamlet

    def resident(self, n: int) -> int:
        return FIRST_TG_ID + self.size.communes + self.size.hamlets + n

    @property
    def residents(self) -> int:
        return self.size.users - self.size.communes - self.size.hamlets

    @staticmethod
    def commune_code(c: int) -> str:
        return f"C{c:03d}"

    @staticmethod
    def hamlet_code(h: int) -> str:
        return f"C{h // HAMLETS_PER_COMMUNE:03d}-H{h % HAMLETS_PER_COMMUNE:02d}"


def _migration() -> str:
    newest = sorted(Path("storage/migrations").glob("[0-9]*.sql"))
    return newest[-1].stem.split("_", 1)[0] if newest else "none"


def cache_path(size: Size, today: date) -> Path:
    week = today.isocalendar()
    return CACHE_DIR / (f"province-{size.users}u-{size.tips}t-{size.values}v"
                        f"-m{_migration()}-v{VERSION}-{week.year}W{week.week:02d}.db")


def database(folder: Path, quick: bool, today: date | None = None) -> tuple[Path, People]:
    """A fresh copy of the preloaded province in ``folder``."""
    size = Size.of(quick)
    today = today or datetime.now(VN).date()
    cached = cache_path(size, today)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Two benchmarks started together must not build the same file at once (each would
    # delete the other's half-built file): the second waits for the first and copies its.
    with (CACHE_DIR / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            for old in CACHE_DIR.glob(f"province-{size.users}u-*"):
                old.unlink()  # an older migration or week (or a build that died): not used
            t0 = time.perf_counter()
            building = cached.with_suffix(f".building-{os.getpid()}")
            asyncio.run(_build(building, size, today))
            building.rename(cached)
            print(f"preload built in {time.perf_counter() - t0:.0f} s: {cached.name}",
                  flush=True)
    t0 = time.perf_counter()
    target = folder / "bench.db"
    shutil.copyfile(cached, target)
    print(f"preloaded province copied in {time.perf_counter() - t0:.1f} s:"
          f" {size.users:,} users, {size.tips:,} tips, {size.values:,} values", flush=True)
    return target, People(size)


async def _build(path: Path, size: Size, today: date) -> None:
    db = await Database.open(path)
    try:
        vault = Vault(SECRET)
        rows = [UnitRow(1, "P", "Tỉnh Bình Yên", "province", None)]
        for c in range(size.communes):
            rows.append(UnitRow(len(rows) + 1, People.commune_code(c), f"Xã Số {c}",
                                "commune", "P"))
            for h in range(HAMLETS_PER_COMMUNE):
                rows.append(UnitRow(len(rows) + 1, People.hamlet_code(
                    c * HAMLETS_PER_COMMUNE + h), f"Ấp {c}.{h}", "hamlet",
                    People.commune_code(c)))
        await UnitRepo(db).import_rows(rows)
        reports = ReportRepo(db)
        await reports.sync_sets(indicator_sets())
        stored = reports.sets()[0]
        tips = TipRepo(db, vault, None)  # only for its sealing
        await db.run_sync(lambda conn: _fill(conn, vault, tips, stored, size, today))
    finally:
        await db.close()


def _fill(conn: sqlite3.Connection, vault: Vault, tips: TipRepo, stored, size: Size,
          today: date) -> None:
    people = People(size)
    unit_id = {code: uid for uid, code in conn.execute("SELECT id, code FROM units")}
    made = stamp(datetime.now(UTC) - timedelta(days=800))
    rng = random.Random(15)
    conn.execute("PRAGMA synchronous = OFF")  # a throwaway build: no fsync per commit
    conn.execute("BEGIN")

    def users():
        for n in range(size.users):
            tg = FIRST_TG_ID + n
            tg_hash = vault.hash_id(tg)
            name = f"Cán bộ {n}" if n < size.communes + size.hamlets else None
            yield (n + 1, tg_hash, vault.seal_json({"chat_id": tg, "name": name},
                                                   context=tg_hash), "vi", 1, made)

    conn.executemany("INSERT INTO users (id, tg_hash, contact_sealed, locale, active,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?)", users())
    staff = [(people.coordinator(c) - FIRST_TG_ID + 1, "coordinator",
              unit_id[People.commune_code(c)]) for c in range(size.communes)]
    staff += [(people.reporter(h) - FIRST_TG_ID + 1, "reporter",
               unit_id[People.hamlet_code(h)]) for h in range(size.hamlets)]
    conn.executemany("INSERT INTO memberships (user_id, role, unit_id, started_at)"
                     " VALUES (?, ?, ?, ?)", [(*s, made) for s in staff])

    hamlet_ids = [unit_id[People.hamlet_code(h)] for h in range(size.hamlets)]
    cats = [c.code for c in categories()]
    first_resident = people.resident(0) - FIRST_TG_ID + 1
    start = datetime.combine(today, datetime.min.time(), UTC) - timedelta(days=731)
    step = timedelta(days=730) / size.tips  # the last one a day before today
    filler = bytes(60)  # stands for a sealed sender (never opened: its tips are old)
    retention, now = TipPolicy().retention, datetime.now(UTC)

    def tip_rows():
        for n in range(size.tips):
            code = seed_code(n)
            owner = first_resident + rng.randrange(people.residents)
            created = start + step * n
            closed = created + timedelta(days=3) if n % 3 else None
            content = tips.seal_content(code, {
                "body": "Một tin báo cũ để đo hiệu năng.", "place_text": None,
                "latitude": None, "longitude": None, "media": []})
            # As housekeeping left them: the sender link of a tip closed longer ago than the
            # retention period is gone (a bot that ran all along unlinked a few at a time).
            purged = closed + retention if closed and closed + retention < now else None
            yield (code, rng.choice(cats), "closed" if closed else "acknowledged",
                   "resolved" if closed else None, rng.choice(hamlet_ids), "today",
                   created.date().isoformat(), "", content, 1,
                   None if purged else tips.sender_tag(owner), None if purged else filler,
                   created.isoformat(), created.isoformat(),
                   closed.isoformat() if closed else None,
                   purged.isoformat() if purged else None)

    # The tips' indexes are built once after the rows, not row by row (minutes faster).
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                           " AND tbl_name = 'tips' AND sql IS NOT NULL").fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.executemany(
        "INSERT INTO tips (code, category, status, resolution, unit_id, occurred_kind,"
        " occurred_at, body, content, anonymous, sender_tag, sender_sealed, created_at,"
        " acknowledged_at, closed_at, sender_purged_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tip_rows())
    for _, sql in indexes:
        conn.execute(sql)

    # Weekly reports up to the week before last: last week and this one are left to file.
    last = period_of(stored.spec.period, today).previous().previous()
    periods = [last]
    while len(periods) < WEEKS:
        periods.append(periods[-1].previous())
    indicator_ids = list(stored.indicator_ids.values())
    report_id = 0
    for period in reversed(periods):
        filed = stamp(datetime.combine(period.end, datetime.min.time(), VN)
                      + timedelta(hours=20))
        report_rows, value_rows = [], []
        for h, uid in enumerate(hamlet_ids):
            report_id += 1
            report_rows.append((report_id, stored.id, period.key, period.start.isoformat(),
                                uid, 1, people.reporter(h) - FIRST_TG_ID + 1, filed, filed))
            base = 5 + h % 20  # each hamlet its own, steady history
            value_rows.extend((report_id, i, base + rng.randrange(5)) for i in indicator_ids)
        conn.executemany("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", report_rows)
        conn.executemany("INSERT INTO report_values VALUES (?, ?, ?)", value_rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA synchronous = NORMAL")
