"""The report repository on a real SQLite file: versions, locking, reopening, indicator sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storage.crypto import Vault
from storage.db import Database, load_migrations
from storage.flows import Flows
from storage.reporting import Period, indicator_sets
from storage.reports import ReportRepo
from storage.tip_lifecycle import Draft
from storage.units import UnitRepo, parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "unit-test-secret-0123456789abcdefghijkl"
WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=VN)
W46, W47 = Period.from_key("2026-W46"), Period.from_key("2026-W47")


@pytest.fixture
async def setup(store):
    """On each backend in turn (tests/conftest.py)."""
    db = store
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    users = UserRepo(db, Vault(SECRET))
    bay = await users.ensure(2001, 2001)
    tu = await users.ensure(2005, 2005)
    reports = ReportRepo(db)
    await reports.sync_sets(indicator_sets())
    anphu = (await units.by_code("TH-ANPHU")).id
    return reports, anphu, bay.id, tu.id, db


def _values(n: int) -> dict[str, int]:
    return {code: n for code in (i.code for i in indicator_sets()[0].indicators)}


async def test_every_submission_is_a_version_and_the_latest_stands(setup) -> None:
    reports, anphu, bay, tu, _ = setup
    first, replaced = await reports.submit("antt", W47, anphu, _values(1), bay, WEDNESDAY)
    assert replaced is None and first.version == 1
    later = WEDNESDAY + timedelta(hours=2)
    second, replaced = await reports.submit("antt", W47, anphu, _values(2), tu, later)
    assert replaced == first and second.version == 2 and second.submitted_by == tu
    assert second.first_submitted_at == first.submitted_at  # "on time" counts from the first
    assert (await reports.get("antt", W47.key, anphu)).values == _values(2)
    versions = await reports.versions("antt", W47.key, anphu)
    assert [(v.version, v.submitted_by, v.values["patrols"]) for v in versions] == [
        (1, bay, 1), (2, tu, 2)]
    assert await reports.submitted("antt", W47.key, [anphu, 999]) == {anphu: first.submitted_at}
    with pytest.raises(ValueError):
        await reports.submit("antt", W47, anphu, {"not_an_indicator": 1}, bay, WEDNESDAY)


async def test_starting_reads_the_report_and_the_history_newest_first(setup) -> None:
    reports, anphu, bay, _, _ = setup
    for i, key in enumerate(("2026-W44", "2026-W45", "2026-W46")):
        await reports.submit("antt", Period.from_key(key), anphu, _values(i), bay, WEDNESDAY)
    start = await reports.starting("antt", W47, anphu, WEDNESDAY)
    assert start.current is None and start.reopened_until is None
    assert [h["patrols"] for h in start.history] == [2, 1, 0]


async def test_periods_lock_and_a_reopening_lets_one_hamlet_change_again(setup) -> None:
    reports, anphu, bay, _, db = setup
    phuochau = (await UnitRepo(db).by_code("TH-PHUOCHAU")).id
    assert await reports.open_periods("antt", anphu, WEDNESDAY, VN) == [W47, W46]
    friday = WEDNESDAY + timedelta(days=2)
    assert await reports.open_periods("antt", anphu, friday, VN) == [W47]
    assert await reports.open_until("antt", W46, anphu, friday, VN) is None
    until = friday + timedelta(days=3)
    await reports.reopen("antt", W46.key, anphu, bay, friday, until)
    assert await reports.open_until("antt", W46, anphu, friday, VN) == until
    assert await reports.open_periods("antt", anphu, friday, VN) == [W47, W46]
    assert await reports.open_periods("antt", phuochau, friday, VN) == [W47]  # that hamlet only
    assert await reports.open_until("antt", W46, anphu, until, VN) is None  # and only until then


async def test_an_indicator_dropped_from_the_data_is_kept_inactive(setup) -> None:
    reports, anphu, bay, _, db = setup
    await reports.submit("antt", W47, anphu, _values(3), bay, WEDNESDAY)
    spec = indicator_sets()[0]
    fewer = replace(spec, indicators=tuple(i for i in spec.indicators
                                           if i.code != "security_incidents"))
    await reports.sync_sets((fewer,))
    assert "security_incidents" not in reports.set("antt").codes
    rows = await db.fetch("SELECT active FROM indicators WHERE code = 'security_incidents'")
    assert [r[0] for r in rows] == [0]
    await reports.sync_sets(indicator_sets())  # back again: the old values are there
    assert (await reports.get("antt", W47.key, anphu)).values["security_incidents"] == 3


async def test_the_migration_moves_tip_drafts_into_the_shared_table(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    vault = Vault(SECRET)
    await db.migrate([m for m in load_migrations() if m.version <= 2])
    key = vault.hash_id("tip-draft:777")
    sealed = vault.seal_json(Draft(body="dở dang").to_json(), context=key)
    await db.conn.execute_insert(
        "INSERT INTO tip_drafts (owner_hash, draft_sealed, updated_at) VALUES (?, ?, ?)",
        (key, sealed, WEDNESDAY.isoformat()))
    await db.migrate()
    draft = await Flows(db, vault).draft(777, "tip")
    assert draft is not None and Draft.from_json(draft).body == "dở dang"
    await db.close()
