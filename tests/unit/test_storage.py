"""Storage: migrations, the unit tree import, invitations, sealed users and flows."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from storage.crypto import Vault
from storage.db import Database, Migration, Store, load_migrations, utcnow
from storage.flows import Flows
from storage.invitations import InvitationRepo, RedeemOutcome
from storage.models import Role
from storage.units import UnitRepo, UnitsCsvError, parse_units_csv
from storage.users import Contact, UserRepo
from tests.conftest import UNITS_CSV

SECRET = "unit-test-secret-0123456789abcdefghijkl"


@pytest.fixture
def db(store: Store) -> Store:
    """Both backends, in turn (tests/conftest.py)."""
    return store


@pytest.fixture
async def lite(tmp_path: Path):
    """SQLite only: its file, its migrations' errors, its backup."""
    database = await Database.open(tmp_path / "s.db")
    yield database
    await database.close()


async def test_migrations_apply_once_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first = await Database.open(path)
    rows = await first.conn.execute_fetchall("SELECT version FROM schema_migrations")
    assert [r[0] for r in rows] == [m.version for m in load_migrations()]
    assert (await first.conn.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
    assert (await first.conn.execute_fetchall("PRAGMA foreign_keys"))[0][0] == 1
    await first.close()
    again = await Database.open(path)
    assert await again.migrate() == []
    await again.close()


async def test_two_processes_migrating_a_new_file_at_once_apply_each_migration_once(
        tmp_path: Path) -> None:
    """The bot and a command started together on a new file: both find every migration
    missing; each migration is checked again inside its own transaction, so the second to
    take the write lock skips it instead of failing on 'table already exists'."""
    path = tmp_path / "race.db"
    one, two = (await Database.open(path, migrate=False), await Database.open(path, migrate=False))
    try:
        first, second = await asyncio.gather(one.migrate(), two.migrate())
        everything = [m.version for m in load_migrations()]
        assert sorted(first + second) == everything  # each applied once, by one of them
        rows = await one.conn.execute_fetchall("SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == everything
    finally:
        await one.close()
        await two.close()


async def test_a_failing_migration_leaves_nothing_behind(lite: Database) -> None:
    bad = Migration(99, "broken", "CREATE TABLE half (x INTEGER);\nTHIS IS NOT SQL;")
    with pytest.raises(sqlite3.OperationalError):
        await lite.migrate([bad])
    tables = await lite.fetch("SELECT name FROM sqlite_master WHERE name='half'")
    assert tables == []
    recorded = await lite.fetch("SELECT 1 FROM schema_migrations WHERE version=99")
    assert recorded == []


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", 1, "the file is empty"),
        ("code,name\nA,B\n", 1, "the header must be"),
        ("code,name,level,parent_code\nA,Ấp A,hamlet\n", 2, "expected 4 columns"),
        ("code,name,level,parent_code\nX,Xã,commune,\nA B,Ấp,hamlet,X\n", 3, "code 'A B'"),
        ("code,name,level,parent_code\nX,Xã,commune,\nX,Xã 2,commune,\n", 3, "already on line 2"),
        ("code,name,level,parent_code\nX,,commune,\n", 2, "name is empty"),
        ("code,name,level,parent_code\nX,Xã,Commune Level,\n", 2, "must be a lowercase word"),
        ("code,name,level,parent_code\nX,Xã,commune,X\n", 2, "its own parent"),
        ("code,name,level,parent_code\n", 1, "no units"),
    ],
)
def test_bad_csv_names_the_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(UnitsCsvError) as err:
        parse_units_csv(text)
    assert err.value.line == line and reason in err.value.reason


async def test_import_builds_the_tree_and_reimport_updates_without_loss(db: Store) -> None:
    repo = UnitRepo(db)
    result = await repo.import_rows(parse_units_csv(UNITS_CSV))
    assert (result.created, result.updated) == (6, 0)
    tree = await repo.tree()
    anphu = tree.by_code["TH-ANPHU"]
    assert tree.path(anphu.id) == "Ấp An Phú, Xã Tân Hòa"
    tanhoa = tree.by_code["TANHOA"]
    assert [u.code for u in tree.descendants(tanhoa.id)] == ["TANHOA", "TH-ANPHU", "TH-PHUOCHAU"]
    assert tree.contains(tanhoa.id, anphu.id)
    assert not tree.contains(tanhoa.id, tree.by_code["KA-SOC"].id)

    # Renamed hamlet, moved to another commune; order in the file does not matter.
    again = "code,name,level,parent_code\nTH-ANPHU,Khóm An Phú,hamlet,KHANHAN\n"
    result = await repo.import_rows(parse_units_csv(again))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    moved = await repo.by_code("TH-ANPHU")
    assert moved.id == anphu.id and moved.name == "Khóm An Phú"
    assert (await repo.tree()).path(moved.id) == "Khóm An Phú, Xã Khánh An"


async def test_children_may_come_before_parents_in_the_file(db: Store) -> None:
    text = "code,name,level,parent_code\nH,Thôn H,hamlet,C\nC,Xã C,commune,P\nP,Tỉnh P,province,\n"
    await UnitRepo(db).import_rows(parse_units_csv(text))
    tree = await UnitRepo(db).tree()
    assert tree.path(tree.by_code["H"].id) == "Thôn H, Xã C"


async def test_bad_import_is_all_or_nothing(db: Store) -> None:
    repo = UnitRepo(db)
    await repo.import_rows(parse_units_csv(UNITS_CSV))
    text = ("code,name,level,parent_code\nNEW1,Ấp Mới,hamlet,TANHOA\n"
            "NEW2,Ấp Lạc,hamlet,NOWHERE\n")
    with pytest.raises(UnitsCsvError) as err:
        await repo.import_rows(parse_units_csv(text))
    assert err.value.line == 3 and "NOWHERE" in err.value.reason
    assert await repo.by_code("NEW1") is None
    rows = await db.fetch("SELECT COUNT(*) FROM units")
    assert rows[0][0] == 6


async def test_a_cycle_is_refused(db: Store) -> None:
    repo = UnitRepo(db)
    await repo.import_rows(parse_units_csv(UNITS_CSV))
    with pytest.raises(UnitsCsvError, match="cycle"):
        await repo.import_rows(parse_units_csv(
            "code,name,level,parent_code\nCM,Tỉnh Cà Mau,province,TH-ANPHU\n"
        ))


async def _setup(db: Store) -> tuple[UnitRepo, UserRepo, InvitationRepo, int]:
    vault = Vault(SECRET)
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    anphu = await units.by_code("TH-ANPHU")
    return units, UserRepo(db, vault), InvitationRepo(db, vault), anphu.id


async def test_invitation_codes_are_unguessable_and_stored_hashed(db: Store) -> None:
    _, _, invitations, anphu = await _setup(db)
    codes = {(await invitations.create(unit_id=anphu, role=Role.REPORTER))[0] for _ in range(50)}
    assert len(codes) == 50
    for code in codes:
        assert code.startswith("j_") and len(code) <= 64
        assert all(c.isalnum() or c in "_-" for c in code)
    if db.dialect == "sqlite":  # the file itself, and its journal
        dump = Path(db.path).read_bytes() + Path(str(db.path) + "-wal").read_bytes()
    else:  # every column of every row (the server's files are not ours to read)
        dump = repr(await db.fetch("SELECT * FROM invitations")).encode()
        assert len(dump) > 1000
    assert not any(code.encode() in dump for code in codes)


async def test_invitation_uses_expiry_and_revocation(db: Store) -> None:
    _, users, invitations, anphu = await _setup(db)
    a = await users.ensure(1, 1)
    b = await users.ensure(2, 2)
    c = await users.ensure(3, 3)
    code, _ = await invitations.create(unit_id=anphu, role=Role.REPORTER, uses=2)
    assert (await invitations.redeem(code, a.id)).outcome is RedeemOutcome.OK
    assert (await invitations.redeem(code, a.id)).outcome is RedeemOutcome.ALREADY
    assert (await invitations.redeem(code, b.id)).outcome is RedeemOutcome.OK
    assert (await invitations.redeem(code, c.id)).outcome is RedeemOutcome.USED_UP
    assert (await invitations.redeem("j_nope", c.id)).outcome is RedeemOutcome.NOT_FOUND

    later, _ = await invitations.create(
        unit_id=anphu, role=Role.COORDINATOR, ttl=timedelta(hours=1)
    )
    too_late = utcnow() + timedelta(hours=2)
    assert (await invitations.redeem(later, c.id, now=too_late)).outcome is RedeemOutcome.EXPIRED
    revoked, inv2 = await invitations.create(unit_id=anphu, role=Role.COORDINATOR)
    assert await invitations.revoke(inv2.id, actor_id=None)
    assert (await invitations.redeem(revoked, c.id)).outcome is RedeemOutcome.REVOKED
    users.forget()
    assert (await users.get(3)).role() is Role.RESIDENT
    assert (await users.get(1)).role() is Role.REPORTER


async def test_handover_keeps_history(db: Store) -> None:
    _, users, invitations, anphu = await _setup(db)
    old = await users.ensure(10, 10)
    await users.grant(10, Role.REPORTER, anphu)
    new = await users.ensure(11, 11)
    code, _ = await invitations.create(unit_id=anphu, role=Role.REPORTER, handover=True)
    result = await invitations.redeem(code, new.id)
    assert result.outcome is RedeemOutcome.OK and result.replaced_user_ids == (old.id,)
    users.forget()
    assert (await users.get(10)).role() is Role.RESIDENT
    rows = await db.fetch(
        "SELECT user_id, ended_reason FROM memberships WHERE unit_id = ? ORDER BY id", (anphu,)
    )
    assert [tuple(r) for r in rows] == [(old.id, "handover"), (new.id, None)]


async def test_the_database_file_names_nobody(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    db = await Database.open(path)
    vault = Vault(SECRET)
    users = UserRepo(db, vault)
    tg_id, name, username = 987654321, "Nguyễn Thị Bí Mật", "bimat_2026"
    await users.ensure(tg_id, tg_id)
    await users.set_contact(tg_id, Contact(tg_id, name))
    flows = Flows(db, vault)
    await flows.save(tg_id, "invite", {"step": "unit", "note": username}, utcnow())
    assert (await users.contact((await users.get(tg_id)).id)) == Contact(tg_id, name)
    assert await Flows(db, vault).active(tg_id) == "invite"  # read back from the file
    assert await Flows(db, vault).draft(tg_id, "invite") == {"step": "unit", "note": username}
    await db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("private"))
    for needle in (str(tg_id), name, username):
        assert needle.encode() not in raw and needle.encode("utf-16-le") not in raw
    assert tg_id.to_bytes(4, "little") not in raw and tg_id.to_bytes(4, "big") not in raw


async def test_sealed_rows_cannot_be_swapped(db: Store) -> None:
    vault = Vault(SECRET)
    users = UserRepo(db, vault)
    await users.ensure(1, 1)
    await users.ensure(2, 2)
    await db.execute(
        "UPDATE users SET contact_sealed = (SELECT contact_sealed FROM users WHERE id = 2)"
        " WHERE id = 1"
    )
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        await users.contact(1)


async def test_online_backup(lite: Database, tmp_path: Path) -> None:
    await UnitRepo(lite).import_rows(parse_units_csv(UNITS_CSV))
    await lite.backup(tmp_path / "copy.db")
    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("SELECT COUNT(*) FROM units").fetchone()[0] == 6
    copy.close()
