"""SIGKILL at every step: the bot runs as a real process and is killed, then started again.

After each step of a tip, a report and an event the process is killed with SIGKILL (no
clean stop, nothing flushed) and started again on the same database. The person's screen
must still work: the draft in the database is the one they built, the flow is the active
one, and the buttons on the last message they saw do what they say. The bot is also killed
while the answer to a press is held unsent (the step was written, the reply never left), and
while a coordinator's card is being sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.app import make_services
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.settings import load_settings
from handlers import flows
from storage.crypto import Vault
from storage.db import Database
from storage.flows import Flows
from storage.models import Role
from storage.units import parse_units_csv
from storage.users import Contact
from tests.conftest import TOKEN, UNITS_CSV
from tests.e2e.test_tips import CODE

SECRET = "kill-test-secret-0123456789abcdefghijklm"
MINH, THUY, BAY = 4002, 4003, 4004


class BotProcess:
    """``binhyen run`` as a subprocess against the test's emulator; killed with SIGKILL."""

    def __init__(self, emu: Emulator, server: EmulatorServer, db_path: Path) -> None:
        self.emu, self.server, self.db_path = emu, server, db_path
        self.proc: asyncio.subprocess.Process | None = None
        self.kills = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
        env.update(BINHYEN_TOKEN=TOKEN, BINHYEN_BOT_API_URL=self.server.base_url,
                   BINHYEN_BOT_FILE_URL=self.server.base_file_url,
                   BINHYEN_DB=str(self.db_path), BINHYEN_SECRET_KEY=SECRET,
                   BINHYEN_SCHEDULE="false")
        return env

    async def start(self) -> None:
        """Start it and wait until it polls for updates."""
        polls = len(self.emu.calls("getUpdates"))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=self.env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        started = await self.emu.wait_until(
            lambda: len(self.emu.calls("getUpdates")) > polls, 30)
        assert started, "the bot process did not start polling"

    async def kill(self) -> None:
        """SIGKILL: no clean stop."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL
        self.kills += 1

    async def restart(self) -> None:
        """Kill it and start it again on the same database."""
        await self.kill()
        await self.start()

    async def stop(self) -> str:
        """SIGTERM at the end; what it logged on stderr."""
        if self.proc is None or self.proc.returncode is not None:
            return ""
        self.proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(self.proc.communicate(), 30)
        return err.decode()


@pytest.fixture
async def world(tmp_path: Path):
    """The emulator, a seeded database (a commune, a coordinator, a resident, a reporter,
    each having started the bot once) and the bot process."""
    emu = Emulator(chat_burst=60)
    emu.add_bot(TOKEN, username="binhyen_test_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    db_path = tmp_path / "kills.db"
    db = await Database.open(db_path)
    try:
        svc = make_services(load_settings(db=db_path, secret_key=SECRET), db, Vault(SECRET))
        await svc.units.import_rows(parse_units_csv(UNITS_CSV))
        tree = await svc.units.tree()
        for tg_id, name, role, unit in ((MINH, "Minh", Role.COORDINATOR, "TANHOA"),
                                        (THUY, "Thúy", None, None),
                                        (BAY, "Bảy", Role.REPORTER, "TH-ANPHU")):
            await svc.users.ensure(tg_id, tg_id)
            await svc.users.set_locale(tg_id, "vi")
            if role is not None:
                await svc.users.set_contact(tg_id, Contact(tg_id, name))
                await svc.users.grant(tg_id, role, tree.by_code[unit].id)
            emu.user(tg_id, name)
            emu.users[tg_id].started = True
    finally:
        await db.close()
    bot = BotProcess(emu, server, db_path)
    await bot.start()
    try:
        yield emu, bot
    finally:
        err = await bot.stop()
        await server.stop()
    assert "Traceback" not in err, err[-3000:]


async def stored(bot: BotProcess, tg_id: int, kind: str):
    """The user's active flow and draft of ``kind``, read from the file as it is now."""
    db = await Database.open(bot.db_path, migrate=False)
    try:
        store = Flows(db, Vault(SECRET))
        data = await store.draft(tg_id, kind)
        return await store.active(tg_id), (flows.FLOWS[kind].load(data) if data else None)
    finally:
        await db.close()


async def test_killed_after_every_step_of_a_tip_and_while_its_card_is_sent(world):
    emu, bot = world
    thuy, minh = emu.user(THUY), emu.user(MINH)
    thuy.send("/newtip")
    step = await thuy.next_message(timeout=15)
    await bot.restart()
    assert (await stored(bot, THUY, "tip"))[0] == "tip"

    thuy.press(step, "Trộm cắp")  # the step-1 buttons work after the kill
    step = await thuy.next_edit(step, timeout=15)
    assert step.text.startswith("Bước 2/6")
    await bot.restart()
    thuy.send("Mất trộm hai bao lúa trong kho.")
    ack = await thuy.next_message(timeout=15)
    await bot.restart()
    active, draft = await stored(bot, THUY, "tip")
    assert active == "tip" and draft.step == "what" and draft.category == "theft"
    assert draft.body == "Mất trộm hai bao lúa trong kho."

    thuy.press(ack, "Tiếp ➡️")
    await thuy.next_message(timeout=15)  # step 3, with its reply keyboard
    await bot.restart()
    thuy.reply_keyboard_press("🏘 Chọn thôn, ấp")
    units = await thuy.next_message(timeout=15)
    await bot.restart()
    thuy.press(units, "Xã Tân Hòa ›")
    hamlets = await thuy.next_edit(units, timeout=15)
    await bot.restart()
    thuy.press(hamlets, "Ấp An Phú")
    await thuy.next_message(timeout=15)
    await bot.restart()
    thuy.reply_keyboard_press("Tiếp ➡️")
    await thuy.next_message(timeout=15)
    step = await thuy.next_message(timeout=15)
    assert step.text.startswith("Bước 4/6")
    await bot.restart()

    # Killed while the answer to a press is held: the step was written, the reply never left.
    emu.hold("editMessageText")
    thuy.press(step, "Hôm nay")
    assert await emu.wait_until(lambda: emu.held > 0, 15)
    await bot.kill()
    emu.release(drop=True)
    assert (await stored(bot, THUY, "tip"))[1].step == "anon"
    await bot.start()
    old = thuy.press(step, "Hôm nay")  # the screen they still see: told where they are
    answer = await thuy.callback_answer(old, timeout=15)
    assert "Bước 5/6" in answer["text"]
    step = await thuy.next_message(timeout=15)
    assert step.text.startswith("Bước 5/6")
    await bot.restart()
    thuy.press(step, "🔒 Gửi ẩn danh")
    review = await thuy.next_edit(step, timeout=15)
    assert review.text.startswith("Bước 6/6")
    await bot.restart()

    # Killed while the coordinator's card is in flight.
    emu.hold("sendMessage")
    thuy.press(review, "✅ Gửi tin báo")
    assert await emu.wait_until(lambda: emu.held > 0, 15)
    await bot.kill()
    emu.release(drop=True)
    await bot.start()
    await thuy.wait_until(lambda: CODE.search(review.text or ""), timeout=15)
    code = CODE.search(review.text)[0]
    await minh.wait_until(lambda: any(code in (m.text or "") and m.buttons
                                      for m in minh.messages()), timeout=15)
    cards = [m for m in minh.messages() if code in (m.text or "") and m.buttons]
    assert len(cards) == 1  # it arrived, once
    assert (await stored(bot, THUY, "tip")) == (None, None)  # filed: the draft is gone
    assert bot.kills == 12


async def test_killed_after_every_step_of_a_report(world):
    emu, bot = world
    bay = emu.user(BAY)
    bay.send("/report")
    screen = await bay.next_message(timeout=15)
    await bot.restart()
    period = next(b for b in screen.button_texts if b.startswith("Tuần"))
    bay.press(screen, period)
    screen = await bay.next_edit(screen, timeout=15)
    values = ["3", "120", "2", "1", "15", "0", "1", "40", "2", "0"]
    for i, value in enumerate(values):
        assert screen.text.split("\n")[1].startswith(f"Bước {i + 1}/11"), screen.text
        await bot.restart()
        active, draft = await stored(bot, BAY, "report")
        assert active == "report" and draft.step == i and len(draft.values) == i
        bay.send(value)
        screen = await bay.next_message(timeout=15)
    assert "Bước 11/11" in screen.text
    await bot.restart()
    active, draft = await stored(bot, BAY, "report")
    assert draft.values["propaganda_attendees"] == 120 and draft.values["patrols"] == 15
    bay.press(screen, "✅ Nộp báo cáo")
    sent = await bay.next_edit(screen, timeout=15)
    assert "lần 1" in sent.text
    await bot.restart()
    assert await stored(bot, BAY, "report") == (None, None)


async def test_killed_after_every_step_of_an_event(world):
    emu, bot = world
    bay, minh = emu.user(BAY), emu.user(MINH)
    bay.send("/event")
    screen = await bay.next_message(timeout=15)
    presses = [("press", "Gây rối, đánh nhau"), ("press", "Vừa xảy ra"),
               ("text", "Trước cổng chợ"), ("text", "Hai nhóm xô xát, đã can ngăn."),
               ("text", "6"), ("press", "Không có ảnh ➡️")]
    for kind, what in presses:
        await bot.restart()
        if kind == "press":
            bay.press(screen, what)
            screen = await bay.next_edit(screen, timeout=15)
        else:
            bay.send(what)
            screen = await bay.next_message(timeout=15)
    assert screen.text.startswith("Bước 7/7") and "Trước cổng chợ" in screen.text
    await bot.restart()
    active, draft = await stored(bot, BAY, "event")
    assert active == "event" and draft.people == 6 and draft.place_text == "Trước cổng chợ"
    bay.press(screen, "🚨 Gửi cho cán bộ xã")
    await bay.next_edit(screen, timeout=15)
    await minh.wait_until(lambda: any("Trước cổng chợ" in (m.text or "")
                                      for m in minh.messages()), timeout=15)
    await bot.restart()
    assert await stored(bot, BAY, "event") == (None, None)
