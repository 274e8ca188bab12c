"""Moving up: `binhyen migrate --to postgresql://…` copies an SQLite database, as it is, into
an empty PostgreSQL database (storage.moving)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest

from bot.cli import main
from bot.sandbox import seed_demo
from storage.crypto import Vault
from storage.db import Database, utcnow
from storage.outbox import OutboxRepo, now_item
from storage.units import UnitRepo, parse_units_csv
from tests.conftest import UNITS_CSV

SECRET = "move-test-secret-0123456789abcdefghijk"


@pytest.fixture
def populated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sandbox's demo commune (units, staff, sealed tips, reports with values), a unit
    tree whose parents come after their children, and outbox rows in several states."""
    path = tmp_path / "old.db"
    monkeypatch.setenv("BINHYEN_DB", str(path))
    monkeypatch.setenv("BINHYEN_SECRET_KEY", SECRET)
    asyncio.run(_populate(path))
    return path


async def _populate(path: Path) -> None:
    db = await Database.open(path)
    try:
        vault = Vault(SECRET)
        await seed_demo(db, vault)
        # A re-import that moves a commune under a province created after it: its parent's
        # id is higher than its own, as happens in a real tree over the years.
        await UnitRepo(db).import_rows(parse_units_csv(
            UNITS_CSV + "MIEN,Miền Tây,region,\n"))
        await UnitRepo(db).import_rows(parse_units_csv(
            UNITS_CSV.replace("CM,Tỉnh Cà Mau,province,", "CM,Tỉnh Cà Mau,province,MIEN")
            + "MIEN,Miền Tây,region,\n"))
        outbox = OutboxRepo(db, vault)
        user_id = (await db.conn.execute_fetchall("SELECT min(id) FROM users"))[0][0]
        await outbox.enqueue([now_item("notice", f"test:{n}", user_id, {"text": f"n{n}"})
                              for n in range(3)], utcnow())
        await db.conn.execute("UPDATE outbox SET status = 'sent', sent_at = created_at,"
                              " attempts = 2 WHERE dedupe LIKE '%test:1%'")
        await db.conn.execute("UPDATE outbox SET status = 'failed', attempts = 9,"
                              " error = 'Forbidden' WHERE dedupe LIKE '%test:2%'")
    finally:
        await db.close()


def _rows(conn, table: str, columns: list[str]) -> list[tuple]:
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = conn.execute(f'SELECT {listed} FROM "{table}" ORDER BY {listed}').fetchall()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]


def test_every_row_is_copied_as_it_is_and_new_ids_come_after(
        populated: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--to", pg_url]) == 0
    printed = capsys.readouterr()
    assert "every table's count checked" in printed.out, printed.err

    lite = sqlite3.connect(populated)
    try:
        tables = [r[0] for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name != 'schema_migrations'")]
        with psycopg.connect(pg_url) as pg:
            copied = 0
            for table in tables:
                columns = [r[1] for r in lite.execute(f'PRAGMA table_info("{table}")')]
                here, there = _rows(lite, table, columns), _rows(pg, table, columns)
                assert here == there, table  # ids, sealed bytes, states: all the same
                copied += len(here)
            statuses = {r[0] for r in pg.execute("SELECT status FROM outbox")}
            assert {"pending", "sent", "failed"} <= statuses
            assert pg.execute("SELECT count(*) FROM tips").fetchone()[0] >= 3
            # The unit tree's reference that pointed forward (to a later id) is there.
            assert pg.execute("SELECT p.code FROM units u JOIN units p ON p.id = u.parent_id"
                              " WHERE u.code = 'CM'").fetchone()[0] == "MIEN"
            # A row added after the copy takes the next id, not one already used.
            top = pg.execute("SELECT max(id) FROM units").fetchone()[0]
            new = pg.execute("INSERT INTO units (code, name, level, created_at, updated_at)"
                             " VALUES ('X', 'X', 'hamlet', '', '') RETURNING id").fetchone()[0]
            assert new == top + 1
    finally:
        lite.close()
    assert f"{copied:,} rows in" in printed.out


def test_a_database_that_is_not_empty_is_refused_and_left_alone(
        populated: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--to", pg_url]) == 0
    capsys.readouterr()
    with psycopg.connect(pg_url) as pg:
        before = pg.execute("SELECT count(*) FROM units").fetchone()[0]
    assert main(["migrate", "--to", pg_url]) == 1
    assert "is not empty (its table" in capsys.readouterr().err
    with psycopg.connect(pg_url) as pg:
        assert pg.execute("SELECT count(*) FROM units").fetchone()[0] == before


def test_someone_else_s_database_is_refused(
        populated: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(pg_url) as pg:
        pg.execute("CREATE TABLE invoices (id BIGINT)")
    assert main(["migrate", "--to", pg_url]) == 1
    err = capsys.readouterr().err
    assert "holds tables that are not Bình Yên's (invoices)" in err
    assert pg_url.split("@")[0] not in err or "@" not in pg_url  # no user:password printed


def test_a_url_that_is_not_postgresql_or_cannot_be_reached_is_one_line(
        populated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--to", "mysql://x@y/z"]) == 1
    assert "a PostgreSQL URL is postgresql://" in capsys.readouterr().err
    assert main(["migrate", "--to", "postgresql://nobody:secret@127.0.0.1:9/none"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "secret" not in err and len(err.splitlines()) == 1
