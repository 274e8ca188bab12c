"""What a running bot carries: no document libraries until a document is asked for, and
nothing kept per person who ever wrote (issue 15; tests/bench/bench_memory.py measures it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import Harness

# Charts, workbooks and Word reports: together about half a second and 55 MB at start.
DOCUMENTS = ("matplotlib", "openpyxl", "docx", "PIL", "numpy", "lxml")

# In a fresh interpreter: what `binhyen run` loads (bot.cli, bot.commands.run, bot.app's
# start_bot: the application built, post_init, polling), against the emulator, then a
# person's first steps: /start, the language, the menu, /newtip and its first step.
_RUN = """
import asyncio, json, sys

import bot.cli, bot.commands
from bot.app import start_bot, stop_bot
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.settings import load_settings

TOKEN = "7000000016:FOOTPRINT-token-abcdefghijklmn"


async def main():
    emu = Emulator(chat_burst=10)
    emu.add_bot(TOKEN, username="binhyen_footprint_bot")
    server = EmulatorServer(emu)
    await server.start()
    running = await start_bot(load_settings(
        token=TOKEN, secret_key="footprint-secret-0123456789abcdefgh", db=sys.argv[1],
        bot_api_url=server.base_url, bot_file_url=server.base_file_url))
    try:
        lan = emu.user(4242, "Lan")
        lan.send("/start")
        lan.press(await lan.next_message(timeout=30), "Tiếng Việt")
        assert "113" in (await lan.next_message(timeout=30)).text
        lan.send("/newtip")
        assert "Bước 1/" in (await lan.next_message(timeout=30)).text
    finally:
        await stop_bot(running)
        await server.stop()


asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in set(sys.argv[2:]))))
"""


def test_running_the_bot_loads_no_document_library(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "f.db"), *DOCUMENTS],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"loaded at start or on a person's first steps: {loaded}"


async def test_ptb_keeps_nothing_per_person(harness: Harness) -> None:
    """PTB notes every update's chat and user for a persistence, in sets only that
    persistence empties; with none (bot.app._Application) they must stay empty."""
    for tg_id in (501, 502, 503):
        await harness.enter(tg_id)
    app = harness.running.app
    assert not app._chat_ids_to_be_updated_in_persistence
    assert not app._user_ids_to_be_updated_in_persistence
    assert app.persistence is None and not app.user_data and not app.chat_data
