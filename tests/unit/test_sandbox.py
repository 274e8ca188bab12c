"""The sandbox's demo data: units, people and a few tips, seeded once."""

from __future__ import annotations

import asyncio
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
    repo = TipRepo(db, vault, TipPolicy())
    tips = [await repo.get(mine.id) for mine in await repo.mine(resident.id)]
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


async def test_a_restart_keeps_the_chats_and_the_people_added(tmp_path: Path) -> None:
    """The sandbox stopped and started again: every chat as it was, the person added from
    the page still there, a photo sent before still on file, and the numbering carried on
    (a message id or update id used again would edit the wrong card, or be taken for an
    update already applied)."""
    from bot.emulator.core import tiny_png
    from bot.sandbox import snapshot_path, start_sandbox, stop_sandbox
    from bot.settings import load_settings

    settings = load_settings(db=tmp_path / "sandbox.db")
    run = await start_sandbox(settings, port=0)
    try:
        lan = run.emulator.user(DEMO_USERS[0].tg_id)
        lan.send("/start")
        menu = await lan.next_message(timeout=30)
        added = run.emulator.user(9001, "Tư", last_name="Huỳnh", label="Anh Tư — mới thêm")
        added.send("/start")
        await added.next_message(timeout=30)
        photo = lan.send_photo(tiny_png())
        await lan.next_message(timeout=30)  # offered as a tip
        file_id = photo.raw["photo"][-1]["file_id"]
        before = [(m.message_id, m.text) for m in lan.history()]
        last_update = max(run.emulator.produced())
        # Kept while running, not only on a clean stop (a killed sandbox loses a moment).
        kept = snapshot_path(tmp_path / "sandbox.db")
        for _ in range(400):
            if kept.exists() and "Anh Tư — mới thêm" in kept.read_text("utf-8"):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the running sandbox never wrote its chats")
    finally:
        await stop_sandbox(run)
    assert snapshot_path(tmp_path / "sandbox.db").exists()

    run = await start_sandbox(settings, port=0)
    try:
        emulator = run.emulator
        assert 9001 in emulator.users and emulator.users[9001].label == "Anh Tư — mới thêm"
        lan = emulator.user(DEMO_USERS[0].tg_id)
        assert [(m.message_id, m.text) for m in lan.history()] == before
        assert run.server.user_json(lan)["unread"] == 0  # the page showed them before
        assert emulator.file(file_id).file_bytes() == tiny_png()
        lan.skip_messages()  # read before the restart
        lan.send("/help")
        answer = await lan.next_message(timeout=30)
        assert answer.message_id > max(i for i, _ in before) and answer.text
        assert min(u for u in emulator.produced()) > last_update
        assert menu.text == next(m.text for m in lan.history() if m.message_id == menu.message_id)
    finally:
        await stop_sandbox(run)
    # A database deleted to start afresh takes its chats with it.
    (tmp_path / "sandbox.db").unlink()
    run = await start_sandbox(settings, port=0)
    try:
        assert 9001 not in run.emulator.users
        assert run.emulator.user(DEMO_USERS[0].tg_id).history() == []
    finally:
        await stop_sandbox(run)


async def test_chats_lost_but_the_database_kept_start_their_numbers_high(tmp_path: Path) -> None:
    """A damaged chats file is set aside; the database still remembers the cards' message
    ids and the updates applied, so the page's new messages and updates are numbered far
    above them (before, message 5 of a new /help was edited into a tip's card)."""
    from bot.sandbox import LOST_CHATS_BASE, snapshot_path, start_sandbox, stop_sandbox
    from bot.settings import load_settings

    settings = load_settings(db=tmp_path / "sandbox.db")
    run = await start_sandbox(settings, port=0)
    await stop_sandbox(run)
    kept = snapshot_path(tmp_path / "sandbox.db")
    kept.write_text('{"version": 1, "users": [', "utf-8")  # cut off mid-write
    run = await start_sandbox(settings, port=0)
    try:
        assert kept.with_name(kept.name + ".old").exists()
        lan = run.emulator.user(DEMO_USERS[0].tg_id)
        lan.send("/help")
        answer = await lan.next_message(timeout=30)
        assert answer.message_id > LOST_CHATS_BASE
        assert min(run.emulator.produced()) >= LOST_CHATS_BASE
    finally:
        await stop_sandbox(run)
