"""The SQLite connection: WAL, foreign keys, busy timeout, and migrations.

aiosqlite runs every awaited call on its own thread, so repositories make one
call per query (:meth:`Database.fetch`, :meth:`Database.execute`), or run a batch of
statements in one hop (:meth:`Database.run_sync`), rather than execute + fetch + close.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
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


def insert_id(conn, sql: str, params: Sequence[object]) -> int:  # type: ignore[no-untyped-def]
    """Run ``INSERT …`` inside a batch and return the new row's id (``RETURNING id``: both
    backends take it; the cursor is read to its end so that SQLite can commit after)."""
    return int(conn.execute(sql + " RETURNING id", params).fetchall()[0][0])


def utcnow() -> datetime:
    """Now, timezone-aware UTC (stored as ISO text)."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A moment as stored: UTC ISO text, so that text order is time order in SQL."""
    return moment.astimezone(UTC).isoformat()


BUSY_TIMEOUT_MS = 5000  # how long a write waits for another process holding the lock


class UnusableDatabase(Exception):
    """The database file cannot be used; the message is one line for the operator."""

    def __init__(self, path: Path | str, reason: str, setting: str = "BINHYEN_DB") -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.setting = setting  # the environment setting that names it


# The SQL the repositories share with PostgreSQL needs INSERT … RETURNING (3.35) and
# IS [NOT] DISTINCT FROM (3.39); Debian 12's SQLite, and Python 3.11's own, are 3.40.
SQLITE_AT_LEAST = (3, 39)


def check_path(path: Path) -> None:
    """Refuse, before SQLite tries, a path that cannot be our database file (or an SQLite
    too old for our SQL)."""
    if sqlite3.sqlite_version_info < SQLITE_AT_LEAST:
        raise UnusableDatabase(path, f"needs SQLite {'.'.join(map(str, SQLITE_AT_LEAST))} or"
                                     f" newer; this Python has {sqlite3.sqlite_version}")
    if path.is_dir():
        raise UnusableDatabase(path, "is a folder, not a database file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UnusableDatabase(path, f"the folder {folder} does not exist")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise UnusableDatabase(path, "cannot be read and written (check its permissions)")
        with path.open("rb") as fh:
            head = fh.read(16)
        if head and head != b"SQLite format 3\x00":
            raise UnusableDatabase(path, "is not an SQLite database (some other file?)")
    if not os.access(folder, os.W_OK):
        # SQLite writes its journal (-wal, -shm) beside the file: the folder must be writable.
        raise UnusableDatabase(path, f"the folder {folder} is not writable")


_TABLES = ("SELECT name FROM sqlite_master WHERE type = 'table'"
           " AND name NOT LIKE 'sqlite_%' ORDER BY name")


def refuse_foreign(path: Path, tables: list[str]) -> None:
    """An SQLite file must be ours (it has ``schema_migrations``) or empty."""
    if tables and "schema_migrations" not in tables:
        shown = ", ".join(tables[:3]) + (", …" if len(tables) > 3 else "")
        raise UnusableDatabase(path, f"holds tables that are not Bình Yên's ({shown});"
                                     " point BINHYEN_DB at our own file")


def probe(path: Path) -> None:
    """Everything :meth:`Database.open` would refuse that can be seen without writing.

    Synchronous and cheap, for the long-running commands to call before they import and start
    everything else; read-only, so a fresh path stays absent.
    """
    check_path(path)
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            refuse_foreign(path, [row[0] for row in conn.execute(_TABLES)])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise UnusableDatabase(path, describe(exc, path)) from None


def describe(exc: sqlite3.Error, path: Path) -> str:
    """What an SQLite error opening ``path`` means, in one line."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return (f"is locked by another process (waited {BUSY_TIMEOUT_MS / 1000:g} s);"
                " is another bot or command running on it?")
    if "not a database" in text or "malformed" in text:
        return "is not a Bình Yên database, or it is damaged"
    if "readonly" in text or "read-only" in text:
        return "is read-only"
    if "unable to open" in text:
        return "cannot be opened (check the folder and its permissions)"
    return f"cannot be used ({exc})"


class Store:
    """What both backends share: the caches' invalidation and the outbox's wake-up.

    The repositories take a store and call :meth:`fetch`, :meth:`execute` and
    :meth:`run_sync`; one SQL text serves both backends wherever the dialects agree, and
    ``dialect`` (``"sqlite"`` or ``"postgresql"``) chooses where they do not.
    """

    dialect = ""
    # What the backend raises when a statement or the connection fails.
    errors: tuple[type[Exception], ...] = ()

    def __init__(self) -> None:
        # Set when outbox rows were added in this process: the sender wakes at once
        # instead of at its next look (the immediate lane goes out within a second).
        self.outbox_ready = asyncio.Event()
        # What the repositories' caches forget when another connection has written.
        self._forgetters: list[Callable[[], None]] = []
        self.generation = 0  # moves each time another connection's commits are seen

    def outbox_added(self) -> None:
        """Say that outbox rows were committed (called after the transaction)."""
        self.outbox_ready.set()

    def on_outside_write(self, forget: Callable[[], None]) -> None:
        """Have ``forget`` called whenever another connection has committed (a command such
        as ``binhyen units import`` run beside the bot, another replica): a per-process
        cache drops what it holds, and reads the database again on next use."""
        self._forgetters.append(forget)

    def _forget_all(self) -> None:
        self.generation += 1
        for forget in self._forgetters:
            forget()


class Database(Store):
    """One aiosqlite connection with our pragmas; the repositories share it."""

    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        super().__init__()
        self.conn = conn
        self.path = path
        self._data_version: int | None = None

    async def notice_outside_writes(self) -> bool:
        """Look whether another connection committed since the last look; if one did, every
        cache registered with :meth:`on_outside_write` forgets (True is returned).

        SQLite's ``PRAGMA data_version`` moves only for commits made through other
        connections, never for this one's own (which update the caches as they write). A
        cache filled from a read that was queued on this connection's thread before this
        look is filled before it forgets: aiosqlite runs the calls, and resolves them, in
        order.
        """
        rows = await self.conn.execute_fetchall("PRAGMA data_version")
        version = rows[0][0]
        seen, self._data_version = self._data_version, version
        if seen is None or seen == version:
            return False
        self._forget_all()
        return True

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating if needed) and bring the schema up to date.

        Raises :class:`UnusableDatabase`, whose message is one line for the operator, when the
        path cannot hold our database (a folder, a missing folder, a file that is not SQLite,
        no permission, locked by another process); the connection's thread is closed first,
        so nothing is left running.
        """
        path = Path(path)
        check_path(path)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Read before anything is written into the file (WAL mode is written into it).
            tables = [row[0] for row in await conn.execute_fetchall(_TABLES)]
            refuse_foreign(path, tables)
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
            db = cls(conn, path)
            if migrate:
                await db.migrate()
            await db.notice_outside_writes()  # where later looks start from
        except sqlite3.Error as exc:
            await conn.close()
            raise UnusableDatabase(path, describe(exc, path)) from None
        except BaseException:
            await conn.close()
            raise
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
        if migrations is None:
            migrations = load_migrations()
            known = max((m.version for m in migrations), default=0)
            if done and max(done) > known:
                # Written by a newer release: running old code on it would misread it.
                raise UnusableDatabase(self.path, f"was brought to schema {max(done):04d} by a"
                                                  f" newer Bình Yên; this one knows up to"
                                                  f" {known:04d}: run the newer release")
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            if await self._apply(migration):
                applied.append(migration.version)
                log.info("applied migration %04d_%s", migration.version, migration.name)
        return applied

    async def _apply(self, migration: Migration) -> bool:
        """Apply one migration unless another process did meanwhile (False then).

        The check is inside the migration's own write transaction: a command and the bot
        started together on a new file both see the migration missing, and the second to
        take the write lock finds it recorded and skips it instead of failing half-way.
        """
        # executescript would commit on its own; run statements inside one transaction.
        def run(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                                (migration.version,)).fetchone():
                    return False
                for statement in split_sql(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utcnow().isoformat()),
                )
            return True

        return await self.run_sync(run)

    async def fetch(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """The rows of one query (one hop to the connection's thread)."""
        return await self.conn.execute_fetchall(sql, params)  # type: ignore[return-value]

    async def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """One statement, committed (one hop)."""
        await self.conn.execute_insert(sql, params)

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


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations have no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
