"""The sandbox: a Bot API emulator on loopback, the real bot against it, demo data.

``make run`` without a token lands here. A person opens the web chat page and
acts as a resident, a hamlet reporter and a coordinator at once. The sandbox
keeps its own database file and key, so demo data never mixes with a real one, and
keeps the emulator's chats and people beside it (``binhyen-sandbox.chats.json``), so a
restart shows the page as it was.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from bot.app import Running, start_bot, stop_bot
from bot.emulator import snapshot
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.emulator.snapshot import Keeper
from bot.settings import SANDBOX_SECRET_KEY, Settings
from storage.crypto import Vault
from storage.db import Database, utcnow
from storage.models import Role
from storage.reporting import indicator_sets, period_of
from storage.reports import ReportRepo
from storage.tip_lifecycle import Draft, Resolution, Status, TipPolicy
from storage.tips import TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import Contact, UserRepo

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "7000000001:SANDBOX-local-emulator-token-not-real"
SANDBOX_USERNAME = "binhyen_sandbox_bot"
SANDBOX_DB = Path("binhyen-sandbox.db")
LOST_CHATS_BASE = 1_000_000_000  # message and update ids after the chats were lost


@dataclass(frozen=True)
class DemoUser:
    """A person the sandbox page lets you act as."""

    tg_id: int
    first_name: str
    last_name: str
    label: str
    role: Role | None = None
    unit_code: str | None = None


DEMO_USERS = (
    DemoUser(1001, "Lan", "Nguyễn Thị", "Chị Lan — người dân, ấp An Phú"),
    DemoUser(1002, "Bảy", "Trần Văn", "Ông Bảy — trưởng ấp An Phú", Role.REPORTER, "TH-ANPHU"),
    DemoUser(1003, "Sáu", "Lê Thị", "Chị Sáu — tổ trưởng ANTT ấp Phước Hậu", Role.REPORTER,
             "TH-PHUOCHAU"),
    DemoUser(1004, "Minh", "Phạm Quang", "Anh Minh — Công an xã Tân Hòa", Role.COORDINATOR,
             "TANHOA"),
    DemoUser(1005, "Hạnh", "Võ Thị", "Chị Hạnh — Mặt trận Tổ quốc xã", Role.COORDINATOR,
             "TANHOA"),
    # Whoever runs the bot for the province: receives what no commune covers.
    DemoUser(1006, "Quân", "Đỗ Minh", "Anh Quân — quản trị, Công an tỉnh", Role.ADMIN, "CM"),
)


def sandbox_settings(settings: Settings, server: EmulatorServer) -> Settings:
    """The operator's settings pointed at the emulator, with the sandbox's own file and key.

    An explicit BINHYEN_DB or BINHYEN_SECRET_KEY is respected (tests use both).
    """
    return settings.model_copy(update={
        "token": SecretStr(SANDBOX_TOKEN),
        "bot_api_url": server.base_url,
        "bot_file_url": server.base_file_url,
        "db": settings.db if "db" in settings.model_fields_set else SANDBOX_DB,
        "secret_key": settings.secret_key or SecretStr(SANDBOX_SECRET_KEY),
        "webhook_url": None,
    })


async def seed_demo(db: Database, vault: Vault) -> None:
    """Units and people of one demo commune; idempotent, so a restart keeps earlier chats."""
    units = UnitRepo(db)
    text = resources.files("bot").joinpath("data/demo_units.csv").read_text("utf-8")
    await units.import_rows(parse_units_csv(text))
    users = UserRepo(db, vault)
    for demo in DEMO_USERS:
        user = await users.ensure(demo.tg_id, demo.tg_id)
        if user.locale is None:
            await users.set_locale(demo.tg_id, "vi")
        if demo.role is not None and demo.unit_code is not None:
            unit = await units.by_code(demo.unit_code)
            assert unit is not None, demo.unit_code
            await users.set_contact(
                demo.tg_id, Contact(demo.tg_id, f"{demo.last_name} {demo.first_name}")
            )
            await users.grant(demo.tg_id, demo.role, unit.id)
    await _seed_demo_tips(db, vault, units, users)
    await _seed_demo_reports(db, units, users)


# A few tips from the demo resident, so /inbox and /mytips have something on the first day.
DEMO_TIPS = (
    ("TH-ANPHU", "drugs", "Tối nào cũng có nhóm thanh niên lạ tụ tập ở bãi đất trống sau chợ,"
     " nghi sử dụng ma túy.", True, None),
    ("TH-PHUOCHAU", "theft", "Nhà ông Tư bị mất trộm 2 con bò đêm qua, kẻ trộm đi bằng xuồng.",
     False, Status.VERIFYING),
    ("TH-TANTHANH", "dispute", "Hai hộ tranh chấp ranh đất, đã cãi nhau lớn tiếng nhiều lần.",
     True, Status.CLOSED),
)


async def _seed_demo_tips(db: Database, vault: Vault, units: UnitRepo, users: UserRepo) -> None:
    tips = TipRepo(db, vault, TipPolicy())
    resident = await users.get(DEMO_USERS[0].tg_id)
    assert resident is not None
    if await tips.mine(resident.id, limit=1):
        return  # seeded on an earlier start
    now = utcnow()
    for i, (code, category, body, anonymous, status) in enumerate(DEMO_TIPS):
        unit = await units.by_code(code)
        assert unit is not None, code
        when = now - timedelta(days=len(DEMO_TIPS) - i)
        draft = Draft(step="review", category=category, body=body, unit_id=unit.id,
                      occurred_kind="date", occurred_at=when.date().isoformat(),
                      anonymous=anonymous, name=None if anonymous else "Nguyễn Thị Lan")
        tip, _ = await tips.create(draft, resident.id, when)
        if status is Status.CLOSED:
            await tips.change_status(tip.id, None, status, now, resolution=Resolution.RESOLVED)
        elif status is not None:
            await tips.change_status(tip.id, None, status, now)


# The demo reporters' last weeks, so /completeness, /reports and "last period" show figures.
DEMO_REPORT_WEEKS = 4


async def _seed_demo_reports(db: Database, units: UnitRepo, users: UserRepo) -> None:
    reports = ReportRepo(db)
    await reports.sync_sets(indicator_sets())
    stored = reports.sets()[0]
    rng = random.Random(47)  # the same figures on every machine
    today = utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    periods = [period_of(stored.spec.period, today)]
    for _ in range(DEMO_REPORT_WEEKS):
        periods.append(periods[-1].previous())
    for demo in DEMO_USERS:
        if demo.role is not Role.REPORTER or demo.unit_code is None:
            continue
        unit = await units.by_code(demo.unit_code)
        user = await users.get(demo.tg_id)
        assert unit is not None and user is not None
        for period in reversed(periods[1:]):
            if await reports.get(stored.code, period.key, unit.id) is not None:
                continue  # seeded on an earlier start
            values = {code: rng.randint(0, 6) for code in stored.codes}
            values["propaganda_attendees"] = values["propaganda_sessions"] * rng.randint(15, 40)
            values["mediation_resolved"] = rng.randint(0, values["mediation_cases"])
            filed = datetime.combine(period.end, time(18), ZoneInfo("Asia/Ho_Chi_Minh"))
            await reports.submit(stored.code, period, unit.id, values, user.id, filed)


def register_demo_users(emulator: Emulator) -> None:
    """The demo people on the emulator's side, as if each had opened the bot before."""
    for demo in DEMO_USERS:
        emulator.user(demo.tg_id, demo.first_name, last_name=demo.last_name,
                      language_code="vi", label=demo.label)
        emulator.users[demo.tg_id].started = True


def snapshot_path(db: Path) -> Path:
    """Where the emulator's chats are kept beside the sandbox's database."""
    return db.with_name(db.stem + ".chats.json")


def take_up_chats(emulator: Emulator, db: Path) -> Path:
    """The chats of earlier runs back into the emulator (before the bot starts), unless the
    database they were about is gone; where they are kept."""
    kept = snapshot_path(Path(db))
    if not Path(db).exists() and kept.exists():
        kept.unlink()  # chats about a database that is gone: a fresh sandbox
    if snapshot.load(emulator, kept):
        log.info("sandbox chats taken up from %s", kept)
    elif Path(db).exists():
        # The database remembers message ids (cards it edits) and update ids (applied once)
        # that the lost chats had: new ones start far above any of them.
        emulator.first_message_id = LOST_CHATS_BASE
        emulator._bot().next_update_id = max(emulator._bot().next_update_id, LOST_CHATS_BASE)
        log.warning("the sandbox's chats were not kept (%s): the page starts empty, the "
                    "database is kept", kept)
    return kept


@dataclass
class Sandbox:
    """The running sandbox: the emulator, its HTTP server, the bot, and what keeps the chats."""

    emulator: Emulator
    server: EmulatorServer
    running: Running
    keeper: Keeper


async def start_sandbox(settings: Settings, *, port: int | None = None) -> Sandbox:
    """Emulator (with the chats of earlier runs), demo data and bot, started; the caller stops
    them with :func:`stop_sandbox`."""
    emulator = Emulator()
    emulator.add_bot(SANDBOX_TOKEN, username=SANDBOX_USERNAME, first_name="Bình Yên (sandbox)")
    kept = take_up_chats(emulator, settings.db if "db" in settings.model_fields_set
                         else SANDBOX_DB)
    register_demo_users(emulator)
    server = EmulatorServer(emulator, port=settings.sandbox_port if port is None else port)
    for user in emulator.handles():  # what the page showed before the restart is not new
        server.mark_read(user)
    await server.start()
    try:
        local = sandbox_settings(settings, server)
        db = await Database.open(local.db)
        try:
            await seed_demo(db, Vault(local.secret()))
        finally:
            await db.close()
        running = await start_bot(local)
    except BaseException:
        await server.stop()  # a bad database file must not leave the emulator listening
        raise
    keeper = snapshot.Keeper(emulator, kept)
    keeper.start()
    return Sandbox(emulator, server, running, keeper)


async def stop_sandbox(sandbox: Sandbox) -> None:
    """Stop the bot, keep the chats, then stop the emulator."""
    try:
        await stop_bot(sandbox.running)
    finally:
        await sandbox.keeper.stop()
        await sandbox.server.stop()


async def run_sandbox(settings: Settings) -> None:
    """Run until Ctrl-C, printing where the chat page is."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sandbox = await start_sandbox(settings)
    print(f"\n  Bình Yên sandbox: open http://127.0.0.1:{sandbox.server.port}/ in a browser"
          f"\n  (database {sandbox.running.db.path}, chats kept in {sandbox.keeper.path};"
          f" Ctrl-C to stop)\n", flush=True)
    try:
        await stop.wait()
    finally:
        await stop_sandbox(sandbox)
