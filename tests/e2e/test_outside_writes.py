"""Writes made beside the running bot by another process reach the bot's caches.

The operator runs ``binhyen units import`` while the bot is up; the bot has its unit tree
cached and must not answer from the old one (storage.db.notice_outside_writes).
"""

from __future__ import annotations

import asyncio
import os
import sys

from handlers.enrolment import poster_payload
from tests.conftest import SECRET, UNITS_CSV, Harness

NEW_HAMLET = "TH-MOI"


async def binhyen(harness: Harness, *args: str) -> str:
    """Run the command line as its own process on the bot's database file."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BINHYEN_DB": str(harness.db_path),
           "BINHYEN_SECRET_KEY": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=harness.db_path.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_units_imported_by_the_command_line_reach_the_running_bot(
        harness: Harness) -> None:
    await harness.load_units()
    lan = await harness.enter(7101, "Lan")
    lan.send(f"/start {poster_payload(NEW_HAMLET)}")  # a poster printed ahead of the import
    refused = await lan.next_message()
    assert "không hợp lệ" in refused.text, refused.text  # start.bad_link, then the menu
    await lan.next_message()
    assert await harness.services.units.by_code(NEW_HAMLET) is None  # the tree is cached

    csv = harness.db_path.parent / "more.csv"
    csv.write_text(UNITS_CSV + f"{NEW_HAMLET},Ấp Mới,hamlet,TANHOA\n", "utf-8")
    printed = await binhyen(harness, "units", "import", str(csv))
    assert printed.startswith("1 created"), printed

    # The bot looks for other writers twice a second; on a loaded machine, give it longer.
    async def seen() -> bool:
        return await harness.services.units.by_code(NEW_HAMLET) is not None
    for _ in range(200):
        if await seen():
            break
        await asyncio.sleep(0.05)
    assert await seen(), "the bot still answers from the unit tree it had before the import"

    lan.send(f"/start {poster_payload(NEW_HAMLET)}")
    welcome = await lan.next_message()
    assert "Ấp Mới" in welcome.text, welcome.text
