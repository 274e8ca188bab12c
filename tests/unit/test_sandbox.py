"""The sandbox's demo data: units, people and a few tips, seeded once."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import DEMO_TIPS, DEMO_USERS, seed_demo
from storage.crypto import Vault
from storage.db import Database
from storage.tip_lifecycle import Status, TipPolicy
from storage.tips import TipRepo
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
