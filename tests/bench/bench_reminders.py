"""A reminder wave to ten thousand reporters through the Bot API emulator, in-process.

The emulator enforces Telegram's limits (30 messages/s overall, 1/s per chat) and answers
too-fast calls with 429, as Telegram does; the outbox sender paces itself under them. The
figure is messages per second over the whole wave (target ≥ 27, near the ceiling of 30),
and the check is that every reporter got exactly one message: none lost, none twice.
10,000 reporters take about six minutes; ``quick``: 1,000 (``BENCH_REPORTERS`` sets
another number).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from telegram import Bot

from bot.app import make_services
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.outbox import OutboxSender
from bot.reminders import enqueue_report_reminders, render
from bot.settings import load_settings
from storage.crypto import Vault
from storage.db import Database
from storage.outbox import OutboxRepo
from storage.reporting import indicator_sets
from tests.bench.common import cli
from tests.conftest import TOKEN
from tests.e2e.test_reminders import SECRET, seed_reporters

FRIDAY = datetime.fromisoformat("2026-11-20T16:00+07:00")
KIND = "reminder.friday"


async def _main(reporters_count: int) -> dict:
    emu = Emulator(global_rate=30, global_burst=30, chat_rate=1, chat_burst=3)
    emu.add_bot(TOKEN, username="binhyen_bench_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    origin = time.monotonic()

    def now() -> datetime:  # Friday afternoon, running on in real time
        return FRIDAY + timedelta(seconds=time.monotonic() - origin)

    try:
        with tempfile.TemporaryDirectory() as folder:
            db_path = Path(folder) / "bench.db"
            t0 = time.perf_counter()
            reporters = await seed_reporters(db_path, emu, reporters_count)
            print(f"seeded {reporters_count:,} reporters in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            settings = load_settings(token=TOKEN, db=db_path, secret_key=SECRET,
                                     bot_api_url=server.base_url,
                                     bot_file_url=server.base_file_url)
            db = await Database.open(db_path)
            try:
                svc = make_services(settings, db, Vault(SECRET), now=now)
                await svc.reports.sync_sets(indicator_sets())
                t0 = time.perf_counter()
                enqueued = await enqueue_report_reminders(svc, now(), occasion="friday")
                print(f"enqueued {enqueued:,} reminders in {time.perf_counter() - t0:.2f} s",
                      flush=True)
                repo = OutboxRepo(db)
                bot = Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url)
                async with bot:
                    sender = OutboxSender(bot, repo, svc.users, render, now=now,
                                          buttons=svc.buttons)
                    t0 = time.perf_counter()
                    await sender.drain(KIND)
                    elapsed = time.perf_counter() - t0
                counts = await repo.counts(KIND, "2026-W47")
            finally:
                await db.close()
    finally:
        await server.stop()
    per_chat = Counter(c.params["chat_id"] for c in emu.call_log
                       if c.method == "sendMessage" and c.ok)
    lost = sum(1 for r in reporters if per_chat[r] == 0)
    twice = sum(1 for r in reporters if per_chat[r] > 1)
    refused = sum(1 for c in emu.call_log if c.error_code == 429)
    sent = sum(per_chat.values())
    print(f"sent {sent:,} in {elapsed:.1f} s: {sent / elapsed:.1f} messages/s"
          " (target ≥ 27 messages/s; Telegram's ceiling 30)")
    print(f"outbox: {counts['sent']:,} sent, {counts['failed']} failed,"
          f" {counts['pending'] + counts['sending']} left; 429 answers: {refused}")
    print(f"lost: {lost}, sent twice: {twice} (both must be 0)")
    return {"reminder_msgs_per_s": round(sent / elapsed, 2), "reminder_429s": refused,
            "reminder_lost": lost, "reminder_duplicates": twice}


def run(quick: bool) -> dict:
    """The wave (10,000 reporters; quick: 1,000); the figures for results.json."""
    started = time.perf_counter()
    count = int(os.environ.get("BENCH_REPORTERS", "1000" if quick else "10000"))
    figures = asyncio.run(_main(count))
    print(f"bench_reminders took {time.perf_counter() - started:.0f} s", flush=True)
    return figures


if __name__ == "__main__":
    cli(run)
