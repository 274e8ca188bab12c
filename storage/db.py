"""The SQLite connection: WAL, foreign keys, busy timeout, and migrations.

aiosqlite runs every awaited call on its own thread, so repositories make one
call per query (``execute_fetchall``, ``execute_insert``) rather than
execute + fetch + close.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The packaged migrations, in order; numbering gaps or duplicates are a bug."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.version:04d} out of sequence")
    return found


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on a raw connection (inside :meth:`Database.run_sync`).

    IMMEDIATE takes the write lock up front, so two writers queue on the busy
    timeout instead of failing half-way.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def utcnow() -> datetime:
    """Now, timezone-aware UTC (stored as ISO text)."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A moment as stored: UTC ISO text, so that text order is time order in SQL."""
    return moment.astimezone(UTC).isoformat()


class Database:
    """One aiosqlite connection with our pragmas; the repositories share it."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # Set when outbox rows were added in this process: the sender wakes at once
        # instead of at its next look (the immediate lane goes out within a second).
        self.outbox_ready = asyncio.Event()

    def outbox_added(self) -> None:
        """Say that outbox rows were committed (called after the transaction)."""
        self.outbox_ready.set()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating if needed) and bring the schema up to date."""
        path = Path(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        db = cls(conn, path)
        if migrate:
            await db.migrate()
        return db

    async def close(self) -> None:
        """Close the connection (checkpointing the WAL); every write is committed already."""
        await self.conn.close()

    async def migrate(self, migrations: list[Migration] | None = None) -> list[int]:
        """Apply each migration not yet recorded, each in its own transaction."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        rows = await self.conn.execute_fetchall("SELECT version FROM schema_migrations")
        done = {row[0] for row in rows}
        applied = []
        for migration in migrations if migrations is not None else load_migrations():
            if migration.version in done:
                continue
            await self._apply(migration)
            applied.append(migration.version)
            log.info("applied migration %04d_%s", migration.version, migration.name)
        return applied

    async def _apply(self, migration: Migration) -> None:
        # executescript would commit on its own; run statements inside one transaction.
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                for statement in _split_sql(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utcnow().isoformat()),
                )

        await self.run_sync(run)

    async def run_sync(self, fn):  # type: ignore[no-untyped-def]
        """Run ``fn(sqlite3_connection)`` on the connection's thread: one hop for a batch."""
        return await self.conn._execute(fn, self.conn._conn)

    async def backup(self, target: Path | str) -> None:
        """An online backup to ``target`` (SQLite's backup API; safe while running)."""

        def run(conn: sqlite3.Connection) -> None:
            dest = sqlite3.connect(str(target))
            try:
                conn.backup(dest)
            finally:
                dest.close()

        await self.run_sync(run)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations have no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
