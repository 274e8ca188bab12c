"""The crash test: ``binhyen send-reminders`` killed (SIGKILL) in the middle of a wave to a few
hundred reporters, run again, and every reporter has exactly one reminder.

The Bot API emulator runs in this process with Telegram's limits (30 messages/s overall, 1/s
per chat); the command runs as a real subprocess against it. When about a third of the wave
is delivered, the emulator holds further ``sendMessage`` requests unanswered (the sender's
in-flight items, claimed in the outbox but not delivered), the test waits until what *was*
delivered is recorded as sent, and kills the process. The held requests are then dropped,
as a dead client's would be, and the second run recovers the interrupted items and finishes.

What the test does not crash into on purpose is the instant between Telegram delivering a
message and the sender recording it: the Bot API has no idempotency key, so a message whose
answer is lost there is sent again (bot/outbox.py says so; at most the items in flight).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path

from bot.app import make_services
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.settings import load_settings
from storage.crypto import Vault
from storage.db import Database
from storage.models import Role
from storage.units import parse_units_csv
from tests.conftest import TOKEN

SECRET = "reminder-test-secret-0123456789abcdefgh"
REPORTERS = 300
FRIDAY = "2026-11-20T16:00+07:00"  # week 47; nobody has filed yet
FIRST_ID = 20_000


async def seed_reporters(db_path: Path, emu: Emulator, count: int) -> list[int]:
    """``count`` reporters (two per hamlet, one in five reading English), each known to the
    emulator and having started the bot; none has filed. Returns their Telegram ids."""
    hamlets = (count + 1) // 2
    csv = ("code,name,level,parent_code\nCM,Tỉnh Cà Mau,province,\n"
           "TANHOA,Xã Tân Hòa,commune,CM\n"
           + "".join(f"H{n:05d},Ấp Số {n},hamlet,TANHOA\n" for n in range(hamlets)))
    settings = load_settings(db=db_path, secret_key=SECRET)
    db = await Database.open(db_path)
    try:
        svc = make_services(settings, db, Vault(SECRET))
        await svc.units.import_rows(parse_units_csv(csv))
        tree = await svc.units.tree()
        tg_ids = [FIRST_ID + i for i in range(count)]
        for i, tg_id in enumerate(tg_ids):
            await svc.users.ensure(tg_id, tg_id)
            await svc.users.set_locale(tg_id, "en" if i % 5 == 0 else "vi")
            await svc.users.grant(tg_id, Role.REPORTER, tree.by_code[f"H{i // 2:05d}"].id)
    finally:
        await db.close()
    for tg_id in tg_ids:
        emu.user(tg_id, f"Trưởng ấp {tg_id}").send("/start")
    return tg_ids


def _env(server: EmulatorServer, db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    env.update(BINHYEN_TOKEN=TOKEN, BINHYEN_BOT_API_URL=server.base_url,
               BINHYEN_BOT_FILE_URL=server.base_file_url, BINHYEN_DB=str(db_path),
               BINHYEN_SECRET_KEY=SECRET)
    return env


async def _start(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "send-reminders", "--occasion", "friday", "--now", FRIDAY,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _run(env: dict[str, str]) -> str:
    proc = await _start(env)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert not err.strip(), err.decode()  # no failure was logged
    return out.decode().strip()


def _statuses(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"))
    finally:
        conn.close()


async def test_a_wave_killed_midway_and_run_again_reaches_everyone_exactly_once(
    tmp_path: Path,
) -> None:
    emu = Emulator(global_rate=30, global_burst=30, chat_rate=1, chat_burst=3)
    emu.add_bot(TOKEN, username="binhyen_test_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    db_path = tmp_path / "wave.db"
    try:
        reporters = await seed_reporters(db_path, emu, REPORTERS)
        env = _env(server, db_path)

        def delivered() -> int:
            return sum(1 for c in emu.call_log if c.method == "sendMessage" and c.ok)

        proc = await _start(env)
        try:
            assert await emu.wait_until(lambda: delivered() >= REPORTERS // 3, 20), (
                "the first run did not get going")
            emu.hold("sendMessage")
            before_crash = delivered()
            # What Telegram answered is recorded right after the answer: wait for it, so that
            # the kill lands on items in flight (held, undelivered) and not on that instant.
            recorded = await emu.wait_until(
                lambda: _statuses(db_path).get("sent", 0) == before_crash, 5)
            assert recorded, (_statuses(db_path), before_crash)
            assert await emu.wait_until(lambda: emu.held > 0, 5)  # some were in flight
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        held = emu.release(drop=True)  # a dead client's requests go nowhere
        assert proc.returncode == -signal.SIGKILL
        crashed = _statuses(db_path)
        assert crashed["sent"] == before_crash < REPORTERS
        assert crashed.get("sending", 0) >= held > 0  # claimed, in flight, not delivered
        assert sum(crashed.values()) == REPORTERS  # the whole wave was enqueued at once

        line = await _run(env)
        assert line == (f"reminder.friday 2026-W47: 0 enqueued, {REPORTERS - before_crash} sent,"
                        f" 0 failed ({crashed['sending']} taken up from an interrupted run)")
        assert await _run(env) == "reminder.friday 2026-W47: 0 enqueued, 0 sent, 0 failed"

        per_chat = Counter(c.params["chat_id"] for c in emu.call_log
                           if c.method == "sendMessage" and c.ok)
        assert set(per_chat) == set(reporters)
        assert all(n == 1 for n in per_chat.values()), per_chat.most_common(3)
        for n, tg_id in enumerate(reporters):
            [message] = [m for m in emu.chat(tg_id).messages.values() if m.from_bot]
            text = message.data["text"]
            assert f"Ấp Số {n // 2}" in text and "/report" in text
            assert text.startswith("⏰ Reminder" if n % 5 == 0 else "⏰ Nhắc nộp"), text
        assert _statuses(db_path) == {"sent": REPORTERS}
        assert not [c for c in emu.call_log if c.error_code == 429]  # paced, never refused
    finally:
        await server.stop()
