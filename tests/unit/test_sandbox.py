"""The sandbox's demo data: units, people and a few tips, seeded once."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.sandbox import DEMO_REPORT_WEEKS, DEMO_TIPS, DEMO_USERS, seed_demo
from storage.crypto import Vault
from storage.db import Database
from storage.models import Role
from storage.reporting import check, indicator_sets, period_of
from storage.reports import ReportRepo
from storage.tip_lifecycle import Status, TipPolicy
from storage.tips import TipRepo
from storage.units import UnitRepo
from storage.users import UserRepo

SECRET = "unit-test-secret-0123456789abcdefghijkl"


async def test_demo_tips_are_seeded_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "sandbox.db")
    vault = Vault(SECRET)
    await seed_demo(db, vault)
    await seed_demo(db, vault)  # a restart keeps what is there
    resident = await UserRepo(db, vault).get(DEMO_USERS[0].tg_id)
    tips = await TipRepo(db, vault, TipPolicy()).mine(resident.id)
    assert len(tips) == len(DEMO_TIPS) == 3
    assert sorted(t.status for t in tips) == sorted(
        [Status.NEW, Status.VERIFYING, Status.CLOSED])
    assert [t.sender_name for t in tips if not t.anonymous] == ["Nguyễn Thị Lan"]
    await db.close()


async def test_demo_reports_are_seeded_once_with_consistent_figures(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "sandbox.db")
    vault = Vault(SECRET)
    await seed_demo(db, vault)
    await seed_demo(db, vault)
    reports = ReportRepo(db)
    await reports.sync_sets(indicator_sets())
    stored = reports.sets()[0]
    rows = await db.conn.execute_fetchall("SELECT COUNT(*), MAX(version) FROM reports")
    reporters = sum(1 for d in DEMO_USERS if d.role is Role.REPORTER)
    assert rows[0][0] == reporters * DEMO_REPORT_WEEKS and rows[0][1] == 1
    unit = await UnitRepo(db).by_code("TH-ANPHU")
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()  # as the seeding reckons
    last = period_of(stored.spec.period, today).previous()
    report = await reports.get(stored.code, last.key, unit.id)
    assert report is not None and set(report.values) == set(stored.codes)
    assert not [f for f in check(stored.spec, report.values) if f.blocking]
    await db.close()


async def test_every_demo_tip_has_someone_to_reach(tmp_path: Path) -> None:
    """An admin, and coordinators for the demo commune: no hamlet uncovered, and a tip with
    no place at all still reaches someone."""
    from bot.app import make_services
    from bot.settings import load_settings
    from handlers.tip_recipients import recipients, uncovered

    db = await Database.open(tmp_path / "sandbox.db")
    vault = Vault(SECRET)
    await seed_demo(db, vault)
    svc = make_services(load_settings(db=tmp_path / "sandbox.db", secret_key=SECRET), db, vault)
    assert await uncovered(svc) == []
    admins = {d.tg_id for d in DEMO_USERS if d.role is Role.ADMIN}
    nowhere = await recipients(svc, None)
    assert admins and {(await svc.users.get(a)).id for a in admins} <= set(nowhere)
    anphu = await svc.units.by_code("TH-ANPHU")
    assert len(await recipients(svc, anphu.id)) >= 2  # Anh Minh and Chị Hạnh (and the admin)
    await db.close()
