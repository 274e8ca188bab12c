"""The per-process caches of the repositories: bounded, and never staler than the file.

Each cache is made small here so that a handful of people overflow it; after every step the
repository under test must answer what a fresh repository, reading the file, answers.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

import storage.flows
import storage.tips
import storage.users
from storage.crypto import Vault
from storage.db import Database, utcnow
from storage.flows import Flows
from storage.lru import Lru
from storage.models import Role
from storage.tip_lifecycle import Draft, TipPolicy
from storage.tips import TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import Contact, UserRepo
from tests.conftest import UNITS_CSV

SECRET = "cache-test-secret-0123456789abcdefghijk"
BOUND = 3
PEOPLE = [1000 + n for n in range(8)]  # more than BOUND


@pytest.fixture
async def db(store):
    """On each backend in turn (tests/conftest.py)."""
    await UnitRepo(store).import_rows(parse_units_csv(UNITS_CSV))
    return store


async def _beside(db):  # type: ignore[no-untyped-def]
    """Another connection to the same database: a command run beside the bot."""
    if db.dialect == "sqlite":
        return await Database.open(db.path)
    from storage.postgres import PgDatabase

    return await PgDatabase.open(db.url, migrate=False)


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every repository cache holds BOUND entries."""
    for module, names in ((storage.users, ("_USERS_CACHED", "_REACH_CACHED", "_HOLDERS_CACHED")),
                          (storage.flows, ("_PEOPLE_CACHED", "_DRAFTS_CACHED")),
                          (storage.tips, ("_STANDING_CACHED",))):
        for name in names:
            monkeypatch.setattr(module, name, BOUND)


async def statements(db: Database) -> list[str]:
    """Every SQL statement the connection runs from now on."""
    seen: list[str] = []
    await db.run_sync(lambda conn: conn.set_trace_callback(seen.append))
    return seen


def test_lru_keeps_the_most_recently_used() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now the most recent
    lru.put("c", 3)  # over the bound: b, used longest ago, goes
    assert len(lru) == 2 and "b" not in lru and lru.get("a") == 1 and lru.get("c") == 3
    lru.put("a", 10)  # a replaced, not added
    assert len(lru) == 2 and lru.get("a") == 10
    assert lru.get("zzz") is None and lru.get("zzz", "none") == "none"
    lru.pop("a")
    lru.pop("never there")
    assert "a" not in lru and len(lru) == 1
    lru.clear()
    assert len(lru) == 0
    with pytest.raises(ValueError):
        Lru(0)


def test_looking_does_not_count_as_using() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert "a" in lru
    lru.put("c", 3)
    assert "a" not in lru and "b" in lru


async def test_users_stay_within_the_bound_and_a_hit_needs_no_query(db: Database,
                                                                    small: None) -> None:
    users = UserRepo(db, Vault(SECRET))
    for tg in PEOPLE:
        await users.ensure(tg, tg)
        await users.reach((await users.get(tg)).id)
    assert len(users._cache) == BOUND and len(users._reach) == BOUND
    seen = await statements(db)
    await users.get(PEOPLE[-1])  # among the most recent
    assert seen == []
    await users.get(PEOPLE[0])  # dropped long ago: read again
    assert len(seen) == 1 and "FROM users" in seen[0]
    tanhoa = await UnitRepo(db).by_code("TANHOA")
    for unit in (await UnitRepo(db).tree()).by_id:
        await users.holders([unit], (Role.COORDINATOR,))
    await users.holders([tanhoa.id], (Role.COORDINATOR,))
    assert len(users._holders) == BOUND


async def test_users_read_after_eviction_are_what_the_file_says(db: Database,
                                                                small: None) -> None:
    """Writes to cached and to evicted users, in a random order: whatever the caches hold,
    and whatever is read, agrees with a repository that has cached nothing."""
    vault = Vault(SECRET)
    users = UserRepo(db, vault)
    unit_ids = sorted((await UnitRepo(db).tree()).by_id)
    for tg in PEOPLE:
        await users.ensure(tg, tg)
    roles = ((Role.COORDINATOR,), (Role.REPORTER, Role.COORDINATOR))
    rng = random.Random(15)
    for _ in range(400):
        tg = rng.choice(PEOPLE)
        action = rng.randrange(7)
        if action == 0:
            await users.set_locale(tg, rng.choice(("vi", "en")))
        elif action == 1:
            await users.set_active(tg, rng.random() < 0.5)
        elif action == 2:
            await users.grant(tg, rng.choice((Role.REPORTER, Role.COORDINATOR)),
                              rng.choice(unit_ids))
        elif action == 3:
            user = await users.get(tg)
            if user.memberships:
                await users.end_role(user.id, user.memberships[0].id, reason="test",
                                     actor_id=None)
        elif action == 4:
            await users.set_contact(tg, Contact(tg + 1, f"name {rng.randrange(99)}"))
        elif action == 5:
            await users.reach((await users.get(tg)).id)
        else:
            await users.holders(rng.choice((None, unit_ids[:2], unit_ids[2:])),
                                rng.choice(roles))
        fresh = UserRepo(db, vault)
        for cached_tg, user in users._cache.items():
            assert user == await fresh.get(cached_tg)
        for user_id, contact in users._reach.items():
            assert contact == await fresh.reach(user_id)
        for (ids, wanted), holders in users._holders.items():
            assert holders == await fresh.holders(list(ids) if ids is not None else None,
                                                  wanted)
        assert await users.get(tg) == await fresh.get(tg)
        assert len(users._cache) <= BOUND and len(users._reach) <= BOUND
        assert len(users._holders) <= BOUND


async def test_flows_read_after_eviction_are_what_the_file_says(db: Database,
                                                                small: None) -> None:
    vault = Vault(SECRET)
    flows = Flows(db, vault)
    kinds = ("tip", "report", "event")
    owners = {flows._owner(tg): tg for tg in PEOPLE}
    keys = {(kind, flows._key(kind, tg)): (tg, kind) for tg in PEOPLE for kind in kinds}
    rng = random.Random(16)
    update = 0
    for _ in range(400):
        tg = rng.choice(PEOPLE[:5])  # a few people, so that some stay cached
        kind = rng.choice(kinds)
        action = rng.randrange(6)
        update += 1
        if action in (0, 1):
            await flows.save(tg, kind, {"step": f"s{update}"}, utcnow(),
                             activate=action == 0, update_id=update)
        elif action == 2:
            await flows.finish(tg, kind, keep=rng.random() < 0.3)
        elif action == 3:  # another repository's transaction drops the draft
            await db.run_sync(flows.finishing(tg, kind))
            flows.finished(tg, kind)
        else:
            await flows.draft(tg, kind)
            await flows.active(tg)
        fresh = Flows(db, vault)
        for owner, (active, recent) in flows._people.items():
            assert active == await fresh.active(owners[owner])
            assert all([await fresh.applied(owners[owner], u) for u in recent])
        for key, text in flows._drafts.items():
            _person, its_kind = keys[key]
            assert (text or None) == (await fresh._text(its_kind, key[1]) or None)
        assert await flows.active(tg) == await fresh.active(tg)
        assert await flows.draft(tg, kind) == await fresh.draft(tg, kind)
        assert await flows.has_draft(tg, kind) == await fresh.has_draft(tg, kind)
        assert await flows.applied(tg, update) == await fresh.applied(tg, update)
        assert len(flows._people) <= BOUND and len(flows._drafts) <= BOUND
    await flows.purge(utcnow() + timedelta(days=1))
    for other in PEOPLE:
        assert await flows.active(other) is None and await flows.draft(other, "tip") is None


async def test_flows_read_nobody_else_s_rows(db: Database) -> None:
    """Nothing is loaded for everyone at once: a person's flow costs queries about them."""
    vault = Vault(SECRET)
    writer = Flows(db, vault)
    for tg in PEOPLE:
        await writer.save(tg, "tip", {"step": "what"}, utcnow(), update_id=tg)
    flows = Flows(db, vault)
    seen = await statements(db)
    assert await flows.active(PEOPLE[0]) == "tip"
    assert await flows.draft(PEOPLE[0], "tip") == {"step": "what"}
    assert await flows.draft(PEOPLE[0], "report") is None
    assert len(seen) == 3 and all("WHERE" in sql for sql in seen), seen
    await flows.active(PEOPLE[0])
    await flows.draft(PEOPLE[0], "report")
    assert len(seen) == 3  # then from memory


async def test_tip_standing_is_bounded_and_counts_right_after_eviction(db: Database,
                                                                      small: None) -> None:
    vault = Vault(SECRET)
    users = UserRepo(db, vault)
    tips = TipRepo(db, vault, TipPolicy())
    hamlet = await UnitRepo(db).by_code("TH-ANPHU")
    now = utcnow()
    since = now - timedelta(hours=1)
    ids = [(await users.ensure(tg, tg)).id for tg in PEOPLE]
    rng = random.Random(17)
    for _ in range(40):
        user_id = rng.choice(ids[:5])
        if rng.random() < 0.5:
            draft = Draft(category="theft", body="x", unit_id=hamlet.id,
                          occurred_kind="today", occurred_at=now.date().isoformat(),
                          anonymous=True)
            await tips.create(draft, user_id, now)
        fresh = TipRepo(db, vault, TipPolicy())
        tags = {tips.sender_tag(other): other for other in ids}
        for tag, (_since, blocked, count) in tips._standing.items():
            assert (blocked, count) == await fresh.standing(tags[tag], since)
        assert await tips.standing(user_id, since) == await fresh.standing(user_id, since)
        assert len(tips._standing) <= BOUND


async def test_writes_by_another_connection_are_forgotten_and_our_own_are_not(db) -> None:
    """What ``binhyen units import`` (another process) changes, the bot's caches drop on
    the next look (bot.app.watch_outside_writes looks twice a second); this connection's
    own writes move nothing, since its caches were updated as it wrote."""
    vault = Vault(SECRET)
    users, units = UserRepo(db, vault), UnitRepo(db)
    await users.ensure(PEOPLE[0], PEOPLE[0])
    await users.set_locale(PEOPLE[0], "vi")
    assert await units.by_code("TH-MOI") is None  # the tree is now cached
    assert await db.notice_outside_writes() is False  # our own writes

    other = await _beside(db)  # the command line, beside the bot
    try:
        await UnitRepo(other).import_rows(parse_units_csv(
            UNITS_CSV + "TH-MOI,Ấp Mới,hamlet,TANHOA\n"))
        await UserRepo(other, vault).set_locale(PEOPLE[0], "en")
    finally:
        await other.close()
    assert (await users.get(PEOPLE[0])).locale == "vi"  # stale until the look
    assert await units.by_code("TH-MOI") is None

    generation = db.generation
    # SQLite sees it at once; PostgreSQL's notice comes over the wire, soon after.
    for _ in range(200):
        if await db.notice_outside_writes():
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the other connection's writes were never noticed")
    assert db.generation == generation + 1
    assert (await users.get(PEOPLE[0])).locale == "en"
    found = await units.by_code("TH-MOI")
    assert found is not None and found.name == "Ấp Mới"
    assert await db.notice_outside_writes() is False  # nothing new since
