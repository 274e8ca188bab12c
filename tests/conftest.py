"""Shared fixtures: a clean environment, and a harness that runs the real bot
against the Bot API emulator over loopback."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from bot.app import Running, start_bot, stop_bot
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.settings import Settings, load_settings
from handlers.services import Services
from storage.models import Role
from storage.units import parse_units_csv

TOKEN = "7000000002:TEST-emulator-token-abcdefghijkl"
SECRET = "test-secret-key-0123456789-abcdefghij"
ADMIN_ID = 9001

UNITS_CSV = """code,name,level,parent_code
CM,Tỉnh Cà Mau,province,
TANHOA,Xã Tân Hòa,commune,CM
TH-ANPHU,Ấp An Phú,hamlet,TANHOA
TH-PHUOCHAU,Ấp Phước Hậu,hamlet,TANHOA
KHANHAN,Xã Khánh An,commune,CM
KA-SOC,Ấp Sóc Đồn,hamlet,KHANHAN
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No BINHYEN_* from the developer's shell or .env leaks into a test."""
    for name in list(os.environ):
        if name.startswith("BINHYEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True, scope="session")
def chart_fonts() -> None:
    """matplotlib builds its font cache on first import, which on a fresh machine (an empty
    MPLCONFIGDIR) takes seconds; build it once here, before any test waits for a chart."""
    from matplotlib import font_manager

    assert font_manager.fontManager.ttflist  # the cache exists and lists fonts


class Harness:
    """The emulator, a database file, and the real bot started against them."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        # Tests type faster than people: a roomier per-chat burst keeps them from waiting on
        # 429s (the limits themselves are tested in tests/emulator).
        self.emu = Emulator(chat_burst=60)
        self.emu.add_bot(TOKEN, username="binhyen_test_bot", first_name="Bình Yên")
        self.server = EmulatorServer(self.emu)
        self.db_path = tmp_path / "bot.db"  # the SQLite file, unless on PostgreSQL:
        self.database_url = database_url
        self._pg = None  # the test's own connection to PostgreSQL, for query()
        self.running: Running | None = None
        self.settings: Settings | None = None
        self.processed: set[int] = set()  # ids of the updates the bot has handled, any run

    async def start(self, **overrides: object) -> None:
        """Start (or start again) the bot on the same database."""
        if self.settings is None:
            await self.server.start()
            self.settings = load_settings(
                token=TOKEN, db=self.db_path, secret_key=SECRET,
                bot_api_url=self.server.base_url, bot_file_url=self.server.base_file_url,
                admins=frozenset({ADMIN_ID}), database_url=self.database_url,
                # Scheduled sends follow the wall clock; tests tick with their own.
                **{"schedule": False, **overrides},
            )
        self.running = await start_bot(self.settings)
        self.running.app.update_processor.observer = self.processed.add

    async def restart(self, **overrides: object) -> None:
        """Stop, change settings if asked, and start again on the same database."""
        await self.stop()
        if overrides:
            assert self.settings is not None
            self.settings = self.settings.model_copy(update=overrides)
        await self.start()

    async def stop(self) -> None:
        """Stop the bot cleanly (messages in flight finished)."""
        if self.running is not None:
            await stop_bot(self.running)
            self.running = None

    def idle(self) -> bool:
        """Nothing in flight: every update handled, no outbox item sending or due (scheduled
        kinds held for the night aside), no album waiting to be acknowledged."""
        if not set(self.emu.produced()) <= self.processed or self.running is None:
            return False
        if any(job.name and job.name.startswith("album:")
               for job in self.running.app.job_queue.jobs()):
            return False
        sql = ("SELECT COUNT(*) FROM outbox WHERE status = 'sending' OR (status = 'pending'"
               " AND next_try_at <= ? AND kind NOT LIKE 'reminder.%'"
               " AND kind NOT LIKE 'digest.%' AND kind NOT LIKE 'overdue%')")
        return self.query(sql, (self.services.now().astimezone(UTC).isoformat(
            timespec="microseconds"),))[0][0] == 0

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """The rows of one query, read beside the bot on its own connection (SQLite's ``?``
        style on either backend)."""
        if self.database_url is None:
            conn = sqlite3.connect(self.db_path)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        import psycopg

        from storage.postgres import pg_sql

        if self._pg is None:
            self._pg = psycopg.connect(self.database_url, autocommit=True)
        return self._pg.execute(pg_sql(sql), params).fetchall()

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until :meth:`idle`: the emulator's and the bot's idle signal, not a quiet
        window; a check that "nothing else arrived" is sound only after this."""
        if not await self.emu.wait_until(self.idle, timeout):
            raise TimeoutError(f"the bot was still busy after {timeout} s: handled "
                               f"{len(self.processed)} of {len(self.emu.produced())} updates")

    @property
    def services(self) -> Services:
        assert self.running is not None
        return self.running.app.bot_data["services"]

    async def draft(self, tg_id: int, kind: str):
        """A user's stored draft of a flow (typed as the flow reads it), or None."""
        from handlers import flows

        data = await self.services.flows.draft(tg_id, kind)
        return None if data is None else flows.FLOWS[kind].load(data)

    async def active(self, tg_id: int) -> str | None:
        """The kind of the user's active flow, as the database says."""
        return await self.services.flows.active(tg_id)

    async def load_units(self, text: str = UNITS_CSV) -> None:
        await self.services.units.import_rows(parse_units_csv(text))

    async def grant(self, tg_id: int, role: Role, unit_code: str) -> None:
        """Give an emulator user a role directly (they must have /start-ed)."""
        unit = await self.services.units.by_code(unit_code)
        assert unit is not None
        await self.services.users.grant(tg_id, role, unit.id)

    async def invite(self, unit_code: str, role: Role, **kwargs: object) -> str:
        unit = await self.services.units.by_code(unit_code)
        assert unit is not None
        code, _ = await self.services.invitations.create(unit_id=unit.id, role=role, **kwargs)
        return code

    def user(self, tg_id: int, first_name: str = "Lan", **kwargs: object):
        return self.emu.user(tg_id, first_name, **kwargs)

    async def enter(self, tg_id: int, first_name: str = "Lan", locale_button: str = "Tiếng Việt"):
        """A new user: /start, pick the language, read the menu."""
        user = self.user(tg_id, first_name)
        user.send("/start")
        prompt = await user.next_message()
        user.press(prompt, locale_button)
        menu = await user.next_message()  # the prompt is edited in place; the menu is new
        assert "113" in menu.text, menu.text
        return user

    async def enter_as(self, tg_id: int, first_name: str, role: Role, unit_code: str):
        """A user who has started the bot and holds ``role`` for the unit."""
        user = await self.enter(tg_id, first_name)
        await self.grant(tg_id, role, unit_code)
        return user


async def collect(user, done, timeout: float = 20.0) -> list:
    """The bot messages a user receives from now until ``done(messages)`` holds.

    Waits for what is expected, however slow the machine, instead of for a quiet window.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: list = []
    while not done(got):
        left = deadline - loop.time()
        if left <= 0:
            raise TimeoutError(f"expected messages did not arrive; got {got}")
        got.append(await user.next_message(timeout=left))
    return got


def is_card(code: str):
    """``done`` for :func:`collect`: the card of tip ``code`` has arrived."""
    return lambda got: any(code in (m.text or "") and m.buttons for m in got)


async def card_for(user, code: str):
    """The card of ``code`` once it has reached ``user`` (the messages before it are read)."""
    got = await collect(user, is_card(code))
    return next(m for m in got if code in (m.text or "") and m.buttons)


def has(kind: str):
    """``done`` for :func:`collect`: a message with a photo/document has arrived."""
    return lambda got: any(getattr(m, kind) for m in got)


class ErrorLog(logging.Handler):
    """Collects what the bot's error handler logs (a test fails if it logged anything), or
    whatever is logged at ``level`` or above where it is attached."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the harness's bot runs on: SQLite, unless the test is marked
    ``both_backends`` (then it runs once on each)."""
    return getattr(request, "param", "sqlite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    chosen = any("backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if "backend" in metafunc.fixturenames and not chosen \
            and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
async def harness(tmp_path: Path, backend: str,
                  request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The bot running against the emulator; a test fails if the bot's error handler fired."""
    errors = ErrorLog()
    logging.getLogger("handlers.errors").addHandler(errors)
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    h = Harness(tmp_path, url)
    await h.start()
    try:
        yield h
    finally:
        await h.stop()
        await h.server.stop()
        h.close()
        logging.getLogger("handlers.errors").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


ONE_WEEK = timedelta(days=7)


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server of this test session's own (tests/postgres.py), started on the
    first test that asks for one."""
    from tests.postgres import Cluster

    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> object:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):
    """A new database of each backend in turn (storage.db.Store): the repositories' tests
    take this and run on both. PostgreSQL's server starts only when a test asks for it."""
    from storage.db import Database

    if request.param == "sqlite":
        db = await Database.open(tmp_path / "store.db")
    else:
        from storage.postgres import PgDatabase

        db = await PgDatabase.open(request.getfixturevalue("pg_url"))
    try:
        yield db
    finally:
        await db.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the database threads that failed tests left open.

    A test that fails before it closes its database keeps the connection alive (pytest keeps
    the failure's traceback until the end), and aiosqlite's thread is not a daemon: Python
    would wait for it forever at exit, and a red run would hang until CI's timeout instead
    of failing at once.
    """
    import gc

    import aiosqlite

    for obj in gc.get_objects():
        if isinstance(obj, aiosqlite.Connection) and obj._thread.is_alive():
            obj.stop()
