"""Events on a real SQLite file: codes (new ones, and those migration 0011 gives events filed
before it), the status moves and their conflicts, the history, and the desk's page of tips
and events together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.crypto import Vault
from storage.db import Database, load_migrations
from storage.events import EventConflict, EventDraft, EventRepo, EventStatus, event_next
from storage.tip_lifecycle import CODE_ALPHABET, Draft, TipPolicy, event_code, normalise_code
from storage.tips import TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

SECRET = "unit-test-secret-0123456789abcdefghijkl"
T0 = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)


def draft(unit_id: int, text: str = "Hai nhóm xô xát") -> EventDraft:
    return EventDraft(step="review", type="disorder", unit_id=unit_id, occurred_kind="now",
                      occurred_at=T0.isoformat(), description=text, people=2)


@pytest.fixture
async def world(store):
    """On each backend in turn (tests/conftest.py)."""
    db = store
    vault = Vault(SECRET)
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    users = UserRepo(db, vault)
    bay = (await users.ensure(2001, 2001)).id
    minh = (await users.ensure(2002, 2002)).id
    tree = await units.tree()
    return db, vault, EventRepo(db), tree, bay, minh


def test_event_codes_are_read_as_typed() -> None:
    assert event_code("vv 7k3q9") == "VV-7K3Q9" == event_code("VV-7K3Q9")
    assert event_code("7K3Q9") is None  # five letters alone are a tip's
    assert normalise_code("VV-7K3Q9") is None and normalise_code("7k3q9") == "TB-7K3Q9"
    assert event_code("VV-7K3Q0") is None  # 0 is not in the alphabet


def test_an_event_only_moves_forward() -> None:
    assert event_next(EventStatus.NEW) == [EventStatus.ACKNOWLEDGED, EventStatus.HANDLED]
    assert event_next(EventStatus.ACKNOWLEDGED) == [EventStatus.HANDLED]
    assert event_next(EventStatus.HANDLED) == []


async def test_status_moves_are_written_with_who_and_when(world) -> None:
    db, _, events, tree, bay, minh = world
    anphu = tree.by_code["TH-ANPHU"].id
    made = await events.create(draft(anphu), bay, T0)
    assert made.code.startswith("VV-") and all(c in CODE_ALPHABET for c in made.code[3:])
    assert (await events.by_code(made.code)).id == made.id
    await events.change_status(made.id, minh, EventStatus.ACKNOWLEDGED, T0 + timedelta(hours=1))
    with pytest.raises(EventConflict):  # a colleague's second press
        await events.change_status(made.id, minh, EventStatus.ACKNOWLEDGED, T0)
    await events.add_entry(made.id, minh, "note", T0 + timedelta(hours=2), text="Đã đến nơi")
    await events.change_status(made.id, minh, EventStatus.HANDLED, T0 + timedelta(hours=3))
    with pytest.raises(EventConflict):
        await events.change_status(made.id, minh, EventStatus.HANDLED, T0)
    got = await events.get(made.id)
    assert got.status is EventStatus.HANDLED and not got.is_open
    assert (got.acknowledged_at, got.handled_at) == (T0 + timedelta(hours=1),
                                                     T0 + timedelta(hours=3))
    history = await events.history(made.id)
    assert [(h.kind, h.actor_id, h.to_status) for h in history] == [
        ("status", minh, EventStatus.ACKNOWLEDGED), ("note", minh, None),
        ("status", minh, EventStatus.HANDLED)]
    assert history[1].detail == {"text": "Đã đến nơi"}
    audit = await db.fetch(
        "SELECT action, detail FROM audit_log WHERE subject = ? ORDER BY id", (f"event:{made.id}",))
    assert [r[0] for r in audit] == ["event.create", "event.status", "event.note", "event.status"]
    assert "Đã đến nơi" not in " ".join(r[1] for r in audit)  # that a note was written, not what


async def test_a_question_is_open_until_answered(world) -> None:
    _, _, events, tree, bay, minh = world
    made = await events.create(draft(tree.by_code["TH-ANPHU"].id), bay, T0)
    assert await events.open_questions(bay) == []
    await events.add_entry(made.id, minh, "ask", T0, text="Có ai bị thương?")
    assert [(q[0], q[1]) for q in await events.open_questions(bay)] == [(made.id, made.code)]
    await events.add_entry(made.id, bay, "answer", T0, text="Không")
    assert await events.open_questions(bay) == []


async def test_the_desk_page_mixes_tips_and_events_oldest_first(world) -> None:
    db, vault, events, tree, bay, _ = world
    tips = TipRepo(db, vault, TipPolicy())
    anphu, soc = tree.by_code["TH-ANPHU"].id, tree.by_code["KA-SOC"].id
    first = await events.create(draft(anphu), bay, T0)
    tip = Draft(category="theft", body="Mất xe", unit_id=anphu, occurred_kind="today",
                occurred_at=T0.date().isoformat(), anonymous=True)
    made_tip = (await tips.create(tip, bay, T0 + timedelta(minutes=5)))[0]
    later = await events.create(draft(anphu), bay, T0 + timedelta(minutes=10))
    await events.create(draft(soc), bay, T0)  # another commune
    handled = await events.create(draft(anphu), bay, T0 + timedelta(minutes=1))
    await events.change_status(handled.id, bay, EventStatus.HANDLED, T0)
    page, total, n_events = await events.desk_page([anphu], unitless=False, offset=0, limit=2)
    assert page == [("event", first.id), ("tip", made_tip.id)] and (total, n_events) == (3, 2)
    page, _, _ = await events.desk_page([anphu], unitless=False, offset=2, limit=2)
    assert page == [("event", later.id)]
    assert await events.desk_page([], unitless=False, offset=0, limit=5) == ([], 0, 0)


async def test_migration_0011_gives_earlier_events_a_code(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    await db.migrate([m for m in load_migrations() if m.version <= 10])

    def run(conn) -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO users (id, tg_hash, contact_sealed, created_at)"
                     " VALUES (1, x'00', x'00', '2026-11-01T00:00:00+00:00')")
        for event_id in (1, 2, 27, 11_881_375):
            conn.execute(
                "INSERT INTO events (id, type, occurred_kind, occurred_at, description, people,"
                " reporter_id, created_at) VALUES (?, 'fire', 'today', '2026-11-01', 'x', 0,"
                " 1, '2026-11-01T00:00:00+00:00')", (event_id,))
        conn.execute("COMMIT")

    await db.run_sync(run)
    await db.migrate()
    rows = await db.conn.execute_fetchall("SELECT id, code, status FROM events ORDER BY id")
    codes = {r[0]: r[1] for r in rows}
    assert codes[1] == "VV-33334" and codes[2] == "VV-33336" and codes[27] == "VV-33344"
    assert codes[11_881_375] == "VV-YYYYY"  # 26^5 - 1: the last one five letters hold
    assert {r[2] for r in rows} == {"new"} and all(event_code(c) == c for c in codes.values())
    made = await EventRepo(db).create(
        EventDraft(step="review", type="fire", occurred_kind="now",
                   occurred_at=T0.isoformat(), description="y", people=0), 1, T0)
    assert made.code not in codes.values()
    await db.close()
