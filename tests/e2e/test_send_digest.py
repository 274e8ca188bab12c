"""``binhyen send-digest`` as a real subprocess against the emulator: once per coordinator."""

from __future__ import annotations

import asyncio
import sys
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook

from bot.app import make_services
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.settings import load_settings
from storage.crypto import Vault
from storage.db import Database
from storage.models import Role
from storage.outbox import OutboxRepo
from storage.units import parse_units_csv
from tests.conftest import TOKEN, UNITS_CSV
from tests.e2e.test_reminders import SECRET, _env

TUESDAY = "2026-11-24T09:00+07:00"
MINH, KHOA = 2002, 2003


async def _seed(db_path: Path, emu: Emulator) -> None:
    settings = load_settings(db=db_path, secret_key=SECRET)
    db = await Database.open(db_path)
    try:
        svc = make_services(settings, db, Vault(SECRET))
        await svc.units.import_rows(parse_units_csv(UNITS_CSV))
        for tg_id, unit in ((MINH, "TANHOA"), (KHOA, "KHANHAN")):
            await svc.users.ensure(tg_id, tg_id)
            await svc.users.set_locale(tg_id, "vi")
            await svc.users.grant(tg_id, Role.COORDINATOR, (await svc.units.by_code(unit)).id)
    finally:
        await db.close()
    for tg_id in (MINH, KHOA):
        emu.user(tg_id, f"Cán bộ {tg_id}").send("/start")


async def _run(env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "send-digest", "--now", TUESDAY, *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and not err.strip(), err.decode()
    return out.decode().strip()


async def test_send_digest_reaches_each_coordinator_once_with_chart_and_workbook(
        tmp_path: Path) -> None:
    emu = Emulator()
    emu.add_bot(TOKEN, username="binhyen_test_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    db_path = tmp_path / "digest.db"
    try:
        await _seed(db_path, emu)
        env = _env(server, db_path)
        assert await _run(env, "--unit", "TANHOA") == (
            "digest.week 2026-W47: 1 coordinators, 1 new, 1 sent, 0 failed")
        assert await _run(env) == "digest.week 2026-W47: 2 coordinators, 1 new, 2 sent, 0 failed"
        assert await _run(env) == "digest.week 2026-W47: 2 coordinators, 0 new, 2 sent, 0 failed"
        for tg_id, commune in ((MINH, "Xã Tân Hòa"), (KHOA, "Xã Khánh An")):
            messages = [m for m in emu.chat(tg_id).messages.values() if m.from_bot]
            texts = [m.data["text"] for m in messages if "text" in m.data]
            assert len(texts) == 1 and commune in texts[0] and "Tuần 47/2026" in texts[0]
            assert [bool(m.data.get("photo")) for m in messages].count(True) == 1
            [document] = [m for m in messages if m.data.get("document")]
            data = emu.files[document.data["document"]["file_id"]].data
            cells = [c.value for row in load_workbook(BytesIO(data)).worksheets[0].iter_rows()
                     for c in row]
            assert any(isinstance(c, str) and commune in c for c in cells)
    finally:
        await server.stop()


async def test_while_the_bot_sends_the_outbox_the_command_only_enqueues(tmp_path: Path) -> None:
    emu = Emulator()
    emu.add_bot(TOKEN, username="binhyen_test_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    db_path = tmp_path / "digest.db"
    try:
        await _seed(db_path, emu)
        db = await Database.open(db_path)
        try:
            await OutboxRepo(db).beat("bot")  # as the running bot's sender does
        finally:
            await db.close()
        assert await _run(_env(server, db_path)) == (
            "digest.week 2026-W47: 2 coordinators, 2 new; the running bot sends them")
        assert not [c for c in emu.call_log if c.method == "sendMessage"]
    finally:
        await server.stop()
