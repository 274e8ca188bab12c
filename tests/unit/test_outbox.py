"""The outbox on a real SQLite file, the sender against a fake Bot on a fake clock, quiet
hours, and which reporters a reminder wave writes to.

No test sleeps: the sender's ``now`` and ``sleep`` are a :class:`FakeTime` whose clock moves
only when a sleeper is due, so pacing is checked on the fake timestamps of the calls.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from bot.app import make_services
from bot.outbox import (
    MAX_ATTEMPTS,
    MAX_ATTEMPTS_NOW,
    PREVIOUS,
    Address,
    OutboxSender,
    Part,
    backoff,
)
from bot.reminders import (
    enqueue_report_reminders,
    in_quiet_hours,
    quiet_begins,
    quiet_until,
    reminder_period,
    render,
)
from bot.settings import load_settings
from storage.crypto import Vault
from storage.db import Database
from storage.models import Role
from storage.outbox import (
    AFTER_SENT,
    IMMEDIATE,
    LEASE,
    NewItem,
    OutboxItem,
    OutboxRepo,
    now_item,
)
from storage.reporting import Period, indicator_sets
from storage.units import parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "unit-test-secret-0123456789abcdefghijkl"
FRIDAY = datetime(2026, 11, 20, 16, 0, tzinfo=VN)  # week 47 (16–22/11), due Monday 23/11
EPS = 1e-6


# ---------------------------------------------------------------------- fixtures


class FakeTime:
    """A clock that moves only to wake sleepers, earliest first, once the loop has settled.

    ``drive()`` runs beside the code under test: whenever nothing but sleepers is left (no
    change for a few real milliseconds), it moves the clock to the earliest sleeper's
    moment and wakes it. Moving early (a slow database hop) only delays senders, so the
    limits checked on the timestamps still hold.
    """

    def __init__(self, start: datetime) -> None:
        self.now_dt = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.changes = 0

    def now(self) -> datetime:
        return self.now_dt

    def advance(self, delta: timedelta) -> None:
        self.now_dt += delta

    async def sleep(self, seconds: float) -> None:
        self.changes += 1
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut = asyncio.get_running_loop().create_future()
        target = self.now_dt + timedelta(seconds=seconds)
        heapq.heappush(self._sleepers, (target, next(self._seq), fut))
        await fut

    async def drive(self) -> None:
        while True:
            seen = -1
            while seen != self.changes or not self._sleepers:  # settle
                seen = self.changes
                await asyncio.sleep(0.001)
            target, _, fut = heapq.heappop(self._sleepers)
            self.now_dt = max(self.now_dt, target)
            fut.set_result(None)
            self.changes += 1


@dataclass
class Call:
    at: datetime
    chat_id: int
    kind: str
    text: str | None
    ok: bool


class FakeBot:
    """Records calls with the fake time; raises the errors queued for a chat, in order."""

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.calls: list[Call] = []
        self.errors: dict[int, list[Exception]] = {}
        self.after_call: Callable[[], object] = lambda: None
        self._ids = itertools.count(1)

    def _call(self, chat_id: int, kind: str, text: str | None) -> SimpleNamespace:
        self.clock.changes += 1
        queued = self.errors.get(chat_id)
        self.calls.append(Call(self.clock.now(), chat_id, kind, text, not queued))
        self.after_call()
        if queued:
            raise queued.pop(0)
        return SimpleNamespace(message_id=next(self._ids))

    async def send_message(self, chat_id: int, text: str, **kwargs: object) -> SimpleNamespace:
        assert kwargs["parse_mode"] == "HTML"
        assert kwargs["link_preview_options"].is_disabled
        return self._call(chat_id, "text", text)

    async def send_photo(self, chat_id: int, photo: object, **kwargs: object) -> SimpleNamespace:
        return self._call(chat_id, "photo", kwargs.get("caption"))  # type: ignore[arg-type]

    async def send_document(self, chat_id: int, document: object,
                            **kwargs: object) -> SimpleNamespace:
        return self._call(chat_id, "document", kwargs.get("caption"))  # type: ignore[arg-type]

    async def edit_message_text(self, text: str, *, chat_id: int, message_id: int,
                                **kwargs: object) -> SimpleNamespace:
        return self._call(chat_id, f"edit:{message_id}", text)

    async def pin_chat_message(self, chat_id: int, message_id: int,
                               **kwargs: object) -> bool:
        self._call(chat_id, f"pin:{message_id}", None)
        return True

    async def send_media_group(self, chat_id: int, media: list,
                               **kwargs: object) -> list[SimpleNamespace]:
        return [self._call(chat_id, "album", None) for _ in media]

    async def copy_message(self, chat_id: int, from_chat_id: int, message_id: int,
                           **kwargs: object) -> SimpleNamespace:
        reply = kwargs.get("reply_parameters")
        target = reply.message_id if reply is not None else None
        return self._call(chat_id, f"copy:{from_chat_id}:{message_id}>{target}", None)

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.ok and (chat_id is None or c.chat_id == chat_id)]


@dataclass
class World:
    db: Database
    repo: OutboxRepo
    users: UserRepo
    clock: FakeTime
    bot: FakeBot
    ids: dict[int, int]  # Telegram id (= chat id) → users.id

    def sender(self, **kwargs: object) -> OutboxSender:
        return OutboxSender(self.bot, self.repo, self.users, _render,  # type: ignore[arg-type]
                            now=self.clock.now, sleep=self.clock.sleep, **kwargs)

    async def enqueue(self, chats: list[int], kind: str = "test", period: str = "2026-W47",
                      **payload: object) -> None:
        items = [NewItem(kind, period, self.ids[c], {"text": f"hi {c}", **payload})
                 for c in chats]
        await self.repo.enqueue(items, self.clock.now())

    async def status(self, chat: int, kind: str = "test") -> tuple:
        rows = await self.db.fetch(
            "SELECT status, attempts, next_try_at, error, parts_sent FROM outbox"
            " WHERE user_id = ? AND kind = ?", (self.ids[chat], kind))
        return tuple(rows[0])

    async def active(self, chat: int) -> bool:
        rows = await self.db.fetch(
            "SELECT active FROM users WHERE id = ?", (self.ids[chat],))
        return bool(rows[0][0])


async def _render(item: OutboxItem) -> list[Part]:
    if "parts_of" in item.payload:
        return PARTS[item.payload["parts_of"]]
    if item.payload.get("parts") == 3:
        return [Part("text", item.payload["text"]),
                Part("photo", "chart", data=b"png", filename="chart.png"),
                Part("document", None, data=b"xlsx", filename="digest.xlsx")]
    return [Part("text", item.payload["text"])]


CHATS = list(range(5001, 5061))
# Several-part items the tests below send (render looks them up by name).
PARTS: dict[str, list[Part]] = {
    "receipt": [Part("edit", "receipt", message_id=900, or_else=Part("text", "receipt anew")),
                Part("pin", message_id=PREVIOUS, optional=True)],
    "relay": [Part("text", "head"), Part("copy", source=(4242, 17), reply_to=PREVIOUS)],
    "card": [Part("album", "code", media=(("photo", "P1"), ("photo", "P2"))),
             Part("text", "card")],
}


@pytest.fixture
async def world(store) -> AsyncIterator[World]:
    """On each backend in turn (tests/conftest.py)."""
    db = store
    users = UserRepo(db, Vault(SECRET))
    ids = {chat: (await users.ensure(chat, chat)).id for chat in CHATS}
    clock = FakeTime(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    driver = asyncio.create_task(clock.drive())
    try:
        yield World(db, OutboxRepo(db), users, clock, FakeBot(clock), ids)
    finally:
        driver.cancel()
        await asyncio.gather(driver, return_exceptions=True)


# ---------------------------------------------------------------------- the repository


async def test_enqueue_is_idempotent(world: World) -> None:
    now = world.clock.now()
    first = [NewItem("reminder.friday", "2026-W47", world.ids[c], {"text": "x"})
             for c in CHATS[:3]]
    assert await world.repo.enqueue(first, now) == 3
    again = [*first, NewItem("reminder.friday", "2026-W47", world.ids[CHATS[3]], {"text": "y"})]
    assert await world.repo.enqueue(again, now) == 1  # only the fourth person is new
    other = [NewItem("reminder.eve", "2026-W47", world.ids[CHATS[0]], {"text": "x"}),
             NewItem("reminder.friday", "2026-W48", world.ids[CHATS[0]], {"text": "x"})]
    assert await world.repo.enqueue(other, now) == 2  # another occasion, another period
    assert await world.repo.enqueue([], now) == 0
    assert await world.repo.counts("reminder.friday", "2026-W47") == {
        "pending": 4, "sending": 0, "sent": 0, "failed": 0}


async def test_claim_recover_and_every_transition(world: World) -> None:
    repo, now = world.repo, world.clock.now()
    await world.enqueue(CHATS[:3], payload_key="v")
    later = [NewItem("test", "2026-W47", world.ids[CHATS[3]], {"text": "later"})]
    await repo.enqueue(later, now + timedelta(minutes=1))  # due a minute from now

    claimed = await repo.claim(now, 2)
    assert [i.user_id for i in claimed] == [world.ids[c] for c in CHATS[:2]]  # oldest first
    assert all(i.status == "sending" for i in claimed)
    assert claimed[0].payload == {"text": f"hi {CHATS[0]}", "payload_key": "v"}
    assert [i.user_id for i in await repo.claim(now, 5)] == [world.ids[CHATS[2]]]
    assert await repo.claim(now, 5) == []  # the fourth is not due yet
    assert await repo.claim(now, 5, kind="other") == []

    # A crash: all three were left 'sending'; recover puts them back, claim takes them again.
    assert await repo.recover(now) == 3
    assert await repo.counts("test", "2026-W47") == {
        "pending": 4, "sending": 0, "sent": 0, "failed": 0}
    a, b, c = await repo.claim(now, 3)

    await repo.mark_sent(a.id, now, 77)
    done = await repo.get(a.id)
    assert (done.status, done.message_id, done.sent_at) == ("sent", 77, now)

    await repo.mark_retry(b.id, now, now + timedelta(seconds=5), "TimedOut: x")
    retry = await repo.get(b.id)
    assert (retry.status, retry.attempts, retry.error) == ("pending", 1, "TimedOut: x")
    assert retry.next_try_at == now + timedelta(seconds=5)
    assert await repo.claim(now, 5) == []
    assert [i.id for i in await repo.claim(now + timedelta(seconds=5), 1)] == [b.id]
    await repo.postpone(b.id, now, now + timedelta(hours=10))
    put_off = await repo.get(b.id)
    assert (put_off.status, put_off.attempts) == ("pending", 1)  # no attempt counted

    await repo.mark_progress(c.id, now, 1, 41)
    assert (await repo.get(c.id)).parts_sent == 1
    await repo.mark_failed(c.id, now, "Forbidden: bot was blocked by the user",
                           deactivate_user=True)
    failed = await repo.get(c.id)
    assert (failed.status, failed.error) == ("failed", "Forbidden: bot was blocked by the user")
    assert not await world.active(CHATS[2])
    assert await world.active(CHATS[1])

    assert await repo.counts("test", "2026-W47") == {
        "pending": 2, "sending": 0, "sent": 1, "failed": 1}
    assert await repo.sent_count("test") == 1
    assert await repo.open_count("test") == 2 and await repo.open_count("nothing") == 0
    assert await repo.recover(now) == 0


async def test_times_must_be_aware(world: World) -> None:
    with pytest.raises(ValueError):
        await world.repo.claim(datetime(2026, 11, 20, 9, 0), 1)


# ---------------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(("at", "quiet"), [
    (time(20, 59, 59), False), (time(21, 0), True), (time(23, 59), True), (time(0, 0), True),
    (time(3, 30), True), (time(6, 59, 59), True), (time(7, 0), False), (time(12, 0), False),
])
def test_quiet_hours_wrap_over_midnight(at: time, quiet: bool) -> None:
    assert in_quiet_hours(at) is quiet
    assert in_quiet_hours(datetime.combine(FRIDAY.date(), at, tzinfo=VN)) is quiet


def test_quiet_hours_other_windows() -> None:
    assert in_quiet_hours(time(13, 30), time(13), time(14))
    assert not in_quiet_hours(time(14), time(13), time(14))
    assert not in_quiet_hours(time(3), time(7), time(7))  # start == end: none


def test_quiet_hook_puts_reminders_off_to_the_morning() -> None:
    hold = quiet_until(VN)

    def item(kind: str) -> OutboxItem:
        return OutboxItem(1, kind, "2026-W47", 1, {}, "sending", 0, FRIDAY, FRIDAY, None,
                          None, None)

    evening = datetime(2026, 11, 20, 22, 15, tzinfo=VN)
    night = datetime(2026, 11, 21, 3, 0, tzinfo=VN)
    assert hold(item("reminder.friday"), evening) == datetime(2026, 11, 21, 7, 0, tzinfo=VN)
    assert hold(item("reminder.eve"), night.astimezone(UTC)) == datetime(
        2026, 11, 21, 7, 0, tzinfo=VN)
    assert hold(item("reminder.friday"), FRIDAY) is None
    assert hold(item("digest.week"), evening) is None  # only reminders wait
    assert quiet_begins(FRIDAY, VN) == datetime(2026, 11, 20, 21, 0, tzinfo=VN)
    assert quiet_begins(evening, VN) == datetime(2026, 11, 21, 21, 0, tzinfo=VN)


# ---------------------------------------------------------------------- the sender


def _gaps(times: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() for a, b in itertools.pairwise(sorted(times))]


async def test_pacing_respects_the_overall_rate_and_each_chats_interval(world: World) -> None:
    multi = CHATS[0]
    await world.repo.enqueue([NewItem("test", "2026-W47", world.ids[multi],
                                      {"text": "digest", "parts": 3})], world.clock.now())
    await world.enqueue(CHATS[1:])
    # Two items for one person: sent one after the other, a chat interval apart.
    await world.repo.enqueue([NewItem("test2", "2026-W47", world.ids[CHATS[1]],
                                      {"text": "second"})], world.clock.now())
    start = world.clock.now()
    finished = await world.sender(rate=29.0, per_chat_interval=1.05, concurrency=16).run_once()
    assert finished == len(CHATS) + 1
    calls = world.bot.calls
    assert len(calls) == len(CHATS) + 3 and all(c.ok for c in calls)
    assert min(_gaps([c.at for c in calls])) >= 1 / 29 - EPS  # overall: ≤ 29 a second
    for chat in CHATS:
        assert all(gap >= 1.05 - EPS for gap in _gaps([c.at for c in world.bot.sent(chat)]))
    assert [c.kind for c in world.bot.sent(multi)] == ["text", "photo", "document"]
    assert [c.text for c in world.bot.sent(CHATS[1])] == [f"hi {CHATS[1]}", "second"]
    elapsed = (max(c.at for c in calls) - start).total_seconds()
    assert elapsed <= (len(calls) / 29) * 1.25  # near the ceiling, not far under it
    assert await world.repo.counts("test", "2026-W47") == {
        "pending": 0, "sending": 0, "sent": len(CHATS), "failed": 0}
    status, attempts, _, _, parts_sent = await world.status(multi)
    assert (status, attempts, parts_sent) == ("sent", 0, 2)


async def test_retry_after_pauses_everyone_as_told(world: World) -> None:
    slow = CHATS[3]
    world.bot.errors[slow] = [RetryAfter(timedelta(seconds=7))]
    await world.enqueue(CHATS[:10])
    assert await world.sender().run_once() == 10
    calls = world.bot.calls
    refused = next(n for n, c in enumerate(calls) if not c.ok)
    later = calls[refused + 1:]
    assert later and all((c.at - calls[refused].at).total_seconds() >= 7 - EPS for c in later)
    assert [c.ok for c in world.bot.calls if c.chat_id == slow] == [False, True]
    status, attempts, *_ = await world.status(slow)
    assert (status, attempts) == ("sent", 0)  # waiting as told is not a failed attempt


async def test_retry_after_as_a_number_is_accepted_too(world: World) -> None:
    world.bot.errors[CHATS[0]] = [RetryAfter(3)]
    await world.enqueue(CHATS[:1])
    assert await world.sender().run_once() == 1
    first, second = world.bot.calls
    assert (second.at - first.at).total_seconds() >= 3 - EPS


async def test_timeouts_back_off_and_finally_fail(world: World) -> None:
    chat = CHATS[0]
    world.bot.errors[chat] = [TimedOut(), NetworkError("Bad Gateway")] * MAX_ATTEMPTS
    await world.enqueue([chat])
    sender = world.sender()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await sender.run_once() == (1 if attempt == MAX_ATTEMPTS else 0)
        status, attempts, next_try_at, error, _ = await world.status(chat)
        assert attempts == attempt
        if status == "failed":
            break
        assert status == "pending" and error.startswith(("TimedOut", "NetworkError"))
        due = datetime.fromisoformat(next_try_at)
        waits.append((due - world.clock.now()).total_seconds())
        assert await sender.run_once() == 0  # not due yet: nothing is tried
        world.clock.now_dt = due
    assert waits == [5, 10, 20, 40, 80, 160, 320]
    assert backoff(20) == timedelta(minutes=10)  # capped
    assert (status, attempts) == ("failed", MAX_ATTEMPTS)
    assert len(world.bot.calls) == MAX_ATTEMPTS


async def test_blocked_bot_marks_the_user_inactive(world: World) -> None:
    blocked, unknown = CHATS[0], CHATS[1]
    world.bot.errors[blocked] = [Forbidden("Forbidden: bot was blocked by the user")]
    world.bot.errors[unknown] = [BadRequest("Chat not found")]
    await world.enqueue(CHATS[:3])
    assert (await world.users.get(blocked)).active  # cached as active
    assert await world.sender().run_once() == 3
    assert (await world.status(blocked))[0] == "failed"
    assert not await world.active(blocked)
    assert not (await world.users.get(blocked)).active  # and the cache knows at once
    assert (await world.status(unknown))[0:1] == ("failed",)
    assert "Chat not found" in (await world.status(unknown))[3]
    assert await world.active(unknown)  # an unknown chat says nothing about the person
    assert (await world.status(CHATS[2]))[0] == "sent"
    assert len(world.bot.calls) == 3  # no retries for either


async def test_a_retry_goes_on_after_the_parts_already_sent(world: World) -> None:
    chat = CHATS[0]
    await world.enqueue([chat], parts=3)
    world.bot.errors[chat] = []
    sender = world.sender()
    original = world.bot.send_photo

    async def photo_times_out_once(chat_id: int, photo: object, **kwargs: object):
        world.bot.send_photo = original  # type: ignore[method-assign]
        world.bot.calls.append(Call(world.clock.now(), chat_id, "photo", None, False))
        raise TimedOut()

    world.bot.send_photo = photo_times_out_once  # type: ignore[method-assign]
    assert await sender.run_once() == 0
    assert (await world.status(chat))[4] == 1  # the text is out
    world.clock.advance(timedelta(seconds=5))
    assert await sender.run_once() == 1
    assert [c.kind for c in world.bot.sent(chat)] == ["text", "photo", "document"]


async def test_quiet_hours_hold_reminders_back_without_an_attempt(world: World) -> None:
    world.clock.now_dt = datetime(2026, 11, 20, 22, 0, tzinfo=VN)
    await world.enqueue(CHATS[:2], kind="reminder.friday")
    await world.enqueue(CHATS[2:3], kind="digest.week")
    sender = world.sender(quiet=quiet_until(VN))
    assert await sender.run_once() == 1  # the digest goes; the reminders wait
    assert [c.chat_id for c in world.bot.calls] == [CHATS[2]]
    status, attempts, next_try_at, *_ = await world.status(CHATS[0], "reminder.friday")
    assert (status, attempts) == ("pending", 0)
    assert datetime.fromisoformat(next_try_at) == datetime(2026, 11, 21, 7, 0, tzinfo=VN)
    world.clock.now_dt = datetime(2026, 11, 21, 7, 0, tzinfo=VN)
    assert await sender.run_once() == 2


async def test_drain_sends_only_its_kind_and_waits_for_retries(world: World) -> None:
    world.bot.errors[CHATS[0]] = [TimedOut()]
    await world.enqueue(CHATS[:3], kind="reminder.friday")
    await world.enqueue(CHATS[3:5], kind="digest.week")
    assert await world.sender().drain("reminder.friday") == 3  # the timed-out one after 5 s
    assert await world.repo.counts("reminder.friday", "2026-W47") == {
        "pending": 0, "sending": 0, "sent": 3, "failed": 0}
    assert await world.repo.open_count("digest.week") == 2  # not its business


async def test_an_invalid_token_stops_the_sender(world: World) -> None:
    world.bot.errors[CHATS[0]] = [InvalidToken()]
    await world.enqueue(CHATS[:1])
    with pytest.raises(InvalidToken):
        await world.sender().run_once()
    assert await world.repo.recover(world.clock.now()) == 1  # sent after the next start


async def test_run_forever_stops_taking_items_when_told(world: World) -> None:
    await world.enqueue(CHATS[:30])
    stop = asyncio.Event()
    world.bot.after_call = lambda: stop.set() if len(world.bot.calls) == 2 else None
    await asyncio.wait_for(world.sender(concurrency=4).run_forever(stop), 5)
    sent = await world.repo.sent_count("test")
    assert 2 <= sent < 2 + 4  # those in flight (≤ concurrency) finish; no new ones are taken
    assert await world.repo.counts("test", "2026-W47") == {
        "pending": 30 - sent, "sending": 0, "sent": sent, "failed": 0}


# ---------------------------------------------------------------------- reminder waves


@pytest.fixture
async def svc(tmp_path: Path):
    settings = load_settings(db=tmp_path / "rem.db", secret_key=SECRET)
    db = await Database.open(settings.db)
    services = make_services(settings, db, Vault(SECRET))
    await services.reports.sync_sets(indicator_sets())
    await services.units.import_rows(parse_units_csv(UNITS_CSV))
    yield services
    await db.close()


async def _reporter(svc, tg_id: int, *hamlets: str, locale: str = "vi") -> int:
    user = await svc.users.ensure(tg_id, tg_id)
    await svc.users.set_locale(tg_id, locale)
    for code in hamlets:
        await svc.users.grant(tg_id, Role.REPORTER, (await svc.units.by_code(code)).id)
    return user.id


async def test_a_wave_reminds_each_reporter_once_for_their_missing_hamlets(svc) -> None:
    both = await _reporter(svc, 3001, "TH-ANPHU", "TH-PHUOCHAU")
    filed_one = await _reporter(svc, 3002, "TH-ANPHU", "KA-SOC")
    english = await _reporter(svc, 3003, "KA-SOC", locale="en")
    done = await _reporter(svc, 3004, "TH-PHUOCHAU")  # files for Phước Hậu below
    await _reporter(svc, 3005, "KA-SOC")
    await svc.users.set_active(3005, False)  # blocked the bot: not reminded
    hamlet = await svc.units.by_code("TH-PHUOCHAU")
    values = {i.code: 1 for i in indicator_sets()[0].indicators}
    await svc.reports.submit("antt", Period.from_key("2026-W47"), hamlet.id, values, done,
                             FRIDAY)

    assert await enqueue_report_reminders(svc, FRIDAY, occasion="friday") == 3
    rows = await svc.db.conn.execute_fetchall(
        "SELECT user_id, kind, period_key, payload FROM outbox ORDER BY user_id")
    by_user = {r[0]: r for r in rows}
    assert set(by_user) == {both, filed_one, english}  # not `done` (filed), not the inactive
    assert all(r[1] == "reminder.friday" and r[2] == "2026-W47" for r in rows)
    repo = OutboxRepo(svc.db)
    items = {i.user_id: i for i in await repo.claim(FRIDAY, 10)}
    text = items[both].payload["text"]
    assert "Ấp An Phú" in text and "Ấp Phước Hậu" not in text  # filed hamlets are left out
    assert "/report" in text and "23/11/2026" in text and "47" in text
    assert items[both].payload["unit_ids"] == [(await svc.units.by_code("TH-ANPHU")).id]
    two = items[filed_one].payload["text"]
    assert "Ấp An Phú" in two and "Ấp Sóc Đồn" in two  # one message for both hamlets
    assert "No report yet" in items[english].payload["text"]  # in the reporter's language
    assert await render(items[english]) == [Part("text", items[english].payload["text"])]

    # The same wave again (a restart, the command run twice): nothing new.
    assert await enqueue_report_reminders(svc, FRIDAY + timedelta(hours=1),
                                          occasion="friday") == 0
    # Another occasion of the same period is another reminder.
    assert await enqueue_report_reminders(svc, FRIDAY, occasion="eve") == 3


async def test_a_wave_can_be_limited_to_some_hamlets(svc) -> None:
    anphu = await _reporter(svc, 3001, "TH-ANPHU", "KA-SOC")
    await _reporter(svc, 3002, "KA-SOC")
    tanhoa = [(await svc.units.by_code(c)).id for c in ("TH-ANPHU", "TH-PHUOCHAU")]
    assert await enqueue_report_reminders(svc, FRIDAY, occasion="friday", units=tanhoa) == 1
    [item] = await OutboxRepo(svc.db).claim(FRIDAY, 10)
    assert item.user_id == anphu and "Ấp Sóc Đồn" not in item.payload["text"]
    assert await enqueue_report_reminders(svc, FRIDAY, occasion="friday", units=[]) == 0


async def test_no_wave_in_quiet_hours(svc) -> None:
    await _reporter(svc, 3001, "TH-ANPHU")
    with pytest.raises(ValueError):
        await enqueue_report_reminders(svc, datetime(2026, 11, 20, 21, 30, tzinfo=VN),
                                       occasion="friday")
    with pytest.raises(ValueError):
        await enqueue_report_reminders(svc, datetime(2026, 11, 21, 6, 0, tzinfo=VN),
                                       occasion="eve")
    assert await OutboxRepo(svc.db).open_count() == 0


async def test_the_period_is_the_one_due_next(svc) -> None:
    # Friday and Sunday evening: this week. Monday (last week's due day): last week.
    for moment, key in [(FRIDAY, "2026-W47"),
                        (datetime(2026, 11, 22, 19, 0, tzinfo=VN), "2026-W47"),
                        (datetime(2026, 11, 23, 18, 0, tzinfo=VN), "2026-W47"),
                        (datetime(2026, 11, 24, 8, 0, tzinfo=VN), "2026-W48")]:
        assert reminder_period(svc, moment)[1].key == key, moment


# ---------------------------------------------------------------------- the command line


def test_send_reminders_in_quiet_hours_enqueues_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.setenv("BINHYEN_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("BINHYEN_SECRET_KEY", SECRET)
    monkeypatch.setenv("BINHYEN_TOKEN", "7000000002:TEST-emulator-token-abcdefghijkl")
    monkeypatch.setenv("BINHYEN_BOT_API_URL", "http://127.0.0.1:9/bot")  # never contacted
    # Without an offset, --now is read in the settings' time zone (Asia/Ho_Chi_Minh).
    assert main(["send-reminders", "--occasion", "eve", "--now", "2026-11-20T22:30"]) == 0
    assert capsys.readouterr().out == (
        "reminder.eve 2026-W47: quiet hours (21:00–07:00), nothing enqueued\n")
    with pytest.raises(SystemExit) as exit_:
        main(["send-reminders", "--now", "Friday"])
    assert exit_.value.code == 2
    assert "ISO 8601" in capsys.readouterr().err
    monkeypatch.delenv("BINHYEN_TOKEN")
    assert main(["send-reminders"]) == 2
    assert "BINHYEN_TOKEN" in capsys.readouterr().err


async def test_the_running_sender_says_it_is_alive_and_goes(world: World) -> None:
    repo = world.repo
    assert not await repo.sender_alive()
    stop = asyncio.Event()
    task = asyncio.create_task(world.sender().run_forever(stop))
    for _ in range(100):
        if await repo.sender_alive():
            break
        await asyncio.sleep(0.01)
    assert await repo.sender_alive()
    stop.set()
    await task
    assert not await repo.sender_alive()  # a clean stop leaves no note behind


# ---------------------------------------------------------------------- the immediate lane


async def test_the_immediate_lane_goes_first_and_edits_coalesce(world: World) -> None:
    repo, now = world.repo, world.clock.now()
    await world.enqueue(CHATS[:3], kind="reminder.friday")  # a wave, waiting
    card = now_item("tip.card", "tip:1", world.ids[CHATS[5]], {"text": "card"})
    await repo.enqueue([card], now + timedelta(seconds=1))  # enqueued later, due later
    claimed = await repo.claim(now + timedelta(seconds=1), 2)
    assert [i.kind for i in claimed] == ["tip.card", "reminder.friday"]  # the card first
    assert claimed[0].lane == IMMEDIATE

    edit = now_item("tip.edit", "tip:1", world.ids[CHATS[5]], coalesce=True)
    assert await repo.enqueue([edit], now) == 1
    assert await repo.enqueue([edit, edit], now) == 0  # one pending edit shows the last state
    [taken] = await repo.claim(now, 1, kind="tip.edit")
    assert await repo.enqueue([edit], now) == 1  # taken: a change now needs a new edit
    assert await repo.enqueue([card], now) == 0  # the same card twice: once
    again = now_item("tip.card", "tip:1", world.ids[CHATS[5]], {"text": "card"}, seq="copy-2")
    assert await repo.enqueue([again], now) == 1  # another copy (/tip) is another item
    assert taken.person == ("user", world.ids[CHATS[5]])


async def test_a_sealed_payload_is_not_in_the_file(world: World) -> None:
    repo = OutboxRepo(world.db, Vault(SECRET))
    secret = "Kẻ trộm là người quen ở xóm trên"
    item = now_item("reply", "chat:1", world.ids[CHATS[0]], {"text": secret}, seq=1,
                    sealed=True)
    await repo.enqueue([item], world.clock.now())
    [stored] = await repo.items("reply")
    assert stored.payload == {"text": secret}
    db = world.db
    if db.dialect == "sqlite":  # the file and its journal
        raw = b"".join(p.read_bytes() for p in db.path.parent.iterdir()
                       if p.name.startswith(db.path.name))
    else:  # every row of the table
        raw = repr(await db.fetch("SELECT * FROM outbox")).encode()
    assert len(raw) > 100 and secret.encode() not in raw
    with pytest.raises(RuntimeError):  # without the key it cannot be read
        await OutboxRepo(world.db).items("reply")


async def test_an_item_for_a_tips_sender_names_nobody_and_is_addressed_when_sent(
        world: World) -> None:
    """user_id NULL: whoever the address callback finds (the tip's sealed link, in the bot)."""
    repo = world.repo
    [(tip_id,)] = await world.db.fetch(
        "INSERT INTO tips (code, category, status, occurred_kind, occurred_at, body, anonymous,"
        " created_at) VALUES ('TB-33333', 'theft', 'new', 'today', '2026-11-20', 'x', 1, ?)"
        " RETURNING id", (world.clock.now().isoformat(),))
    notice = now_item("tip.notice", f"tip:{tip_id}", None, {"text": "đã tiếp nhận"},
                      tip_id=tip_id, seq="a")
    blocked = now_item("tip.notice", f"tip:{tip_id}", None, {"text": "again"}, tip_id=tip_id,
                       seq="b")
    await repo.enqueue([notice, blocked], world.clock.now())
    rows = await world.db.fetch("SELECT user_id, dedupe FROM outbox")
    assert [r[0] for r in rows] == [None, None]
    assert all(str(CHATS[1]) not in r[1] for r in rows)
    sender_chat = CHATS[1]

    async def address(item: OutboxItem) -> Address:
        assert item.user_id is None and item.tip_id == tip_id
        return Address(sender_chat, world.ids[sender_chat])

    world.bot.errors[sender_chat] = [Forbidden("bot was blocked by the user")]
    sender = OutboxSender(world.bot, repo, world.users, _render, address=address,  # type: ignore
                          now=world.clock.now, sleep=world.clock.sleep)
    await sender.run_once()
    assert len(world.bot.sent(sender_chat)) == 1  # the first was refused, the second went
    assert not await world.active(sender_chat)  # the resident blocked us: marked inactive
    assert sorted(i.status for i in await repo.items("tip.notice")) == ["failed", "sent"]


async def test_parts_use_the_message_before_them_and_fall_back(world: World) -> None:
    chat = CHATS[0]
    items = [now_item("test", f"subject:{name}", world.ids[chat], {"parts_of": name})
             for name in ("receipt", "relay", "card")]
    await world.repo.enqueue(items, world.clock.now())
    world.bot.errors[chat] = [BadRequest("Message to edit not found")]  # the review is gone
    await world.sender(chat_burst=3).run_once()
    # The receipt: the edit refused, sent anew, and that new message (the bot's first: 1)
    # pinned.
    assert [c.kind for c in world.bot.calls[:3]] == ["edit:900", "text", "pin:1"]
    assert world.bot.calls[1].text == "receipt anew"
    head = world.bot.calls[3]
    assert head.kind == "text" and head.text == "head"
    assert world.bot.calls[4].kind == "copy:4242:17>3"  # under the head just sent (3)
    assert [c.kind for c in world.bot.calls[5:]] == ["album", "album", "text"]
    done = {i.payload["parts_of"]: i for i in await world.repo.items("test")}
    assert {k: i.status for k, i in done.items()} == dict.fromkeys(done, "sent")
    assert done["card"].message_id == 7  # the card's own message: what later edits change


async def test_an_optional_pin_and_an_unchanged_edit_are_not_failures(world: World) -> None:
    chat = CHATS[0]
    await world.repo.enqueue([now_item("test", "s", world.ids[chat], {"parts_of": "receipt"})],
                             world.clock.now())
    world.bot.errors[chat] = [BadRequest("Message is not modified: specified new message "
                                         "content and reply markup are exactly the same"),
                              BadRequest("Not enough rights to manage pinned messages")]
    await world.sender().run_once()
    [item] = await world.repo.items("test")
    assert item.status == "sent" and item.message_id == 900


async def test_immediate_items_retry_sooner_and_longer(world: World) -> None:
    assert backoff(1, IMMEDIATE) == timedelta(seconds=1)
    assert backoff(3, IMMEDIATE) == timedelta(seconds=4)
    assert backoff(1) == timedelta(seconds=5)
    assert backoff(30, IMMEDIATE) == timedelta(minutes=10)
    total = sum(backoff(n, IMMEDIATE).total_seconds() for n in range(1, MAX_ATTEMPTS_NOW))
    assert total > 3600  # an hour of outage before an immediate item is given up
    chat = CHATS[0]
    await world.repo.enqueue([now_item("tip.card", "tip:9", world.ids[chat], {"text": "c"})],
                             world.clock.now())
    world.bot.errors[chat] = [NetworkError("Bad Gateway")]
    await world.sender().run_once()
    [item] = await world.repo.items("tip.card")
    assert item.status == "pending" and item.next_try_at == world.clock.now() + timedelta(
        seconds=1)


async def test_what_a_kind_records_when_sent_is_in_the_same_transaction(world: World) -> None:
    recorded: list[tuple[int, int | None]] = []
    AFTER_SENT["test.recorded"] = lambda conn, item, message_id: recorded.append(
        (conn.in_transaction, message_id))
    try:
        await world.repo.enqueue([now_item("test.recorded", "s", world.ids[CHATS[0]],
                                           {"text": "x"})], world.clock.now())
        await world.sender().run_once()
    finally:
        del AFTER_SENT["test.recorded"]
    assert recorded == [(True, 1)]


async def test_the_running_sender_wakes_when_a_row_is_added(world: World,
                                                          monkeypatch) -> None:
    """No second-long poll stands between a new card and its sending: with the poll made an
    hour long, an enqueued item still goes out."""
    import bot.outbox as outbox_module

    monkeypatch.setattr(outbox_module, "POLL", 3600.0)
    stop = asyncio.Event()
    running = asyncio.create_task(world.sender().run_forever(stop))
    await asyncio.sleep(0)
    await world.repo.enqueue([now_item("tip.card", "tip:5", world.ids[CHATS[0]],
                                       {"text": "card"})], world.clock.now())
    for _ in range(2000):
        if world.bot.sent(CHATS[0]):
            break
        await asyncio.sleep(0.005)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert [c.text for c in world.bot.sent(CHATS[0])] == ["card"]


# ---------------------------------------------------------------------- unanswered sends


def unanswered() -> TimedOut:
    """What PTB raises when Telegram took the request and the answer never came."""
    exc = TimedOut()
    exc.__cause__ = httpx.ReadTimeout("timed out")
    return exc


async def test_an_unanswered_reminder_is_counted_and_sent_again_once_after_a_pause(
    world: World
) -> None:
    world.bot.errors[CHATS[0]] = [unanswered()]
    await world.enqueue(CHATS[:1], kind="reminder.friday")
    start = world.clock.now()
    sender = world.sender(unanswered_delay=(5.0, 60.0))
    assert await sender.run_once() == 0
    status, attempts, next_try_at, error, _ = await world.status(CHATS[0], "reminder.friday")
    assert (status, attempts) == ("pending", 1) and error.startswith("unanswered: TimedOut")
    assert datetime.fromisoformat(next_try_at) == start + timedelta(seconds=60)
    world.clock.advance(timedelta(seconds=60))
    assert await sender.run_once() == 1
    assert await world.repo.unanswered("reminder.friday", "2026-W47") == 1  # may be twice
    assert [c.chat_id for c in world.bot.calls] == [CHATS[0]] * 2


async def test_a_reminder_unanswered_twice_is_given_up_as_may_have_arrived(world: World) -> None:
    world.bot.errors[CHATS[0]] = [unanswered(), unanswered()]
    await world.enqueue(CHATS[:1], kind="reminder.friday")
    sender = world.sender(unanswered_delay=(5.0, 60.0))
    assert await sender.run_once() == 0
    world.clock.advance(timedelta(seconds=60))
    assert await sender.run_once() == 1
    status, _, _, error, _ = await world.status(CHATS[0], "reminder.friday")
    assert status == "failed" and error.startswith("unanswered")
    assert await world.repo.unanswered("reminder.friday", "2026-W47") == 2
    assert len(world.bot.calls) == 2  # not a third copy


async def test_an_unanswered_card_goes_on_being_tried_and_a_5xx_is_an_answer(
    world: World
) -> None:
    world.bot.errors[CHATS[0]] = [unanswered()] * 3
    world.bot.errors[CHATS[1]] = [NetworkError("Bad Gateway")]  # Telegram answered: not sent
    items = [NewItem("tip.card", "t1", world.ids[c], {"text": "card"}, lane=IMMEDIATE)
             for c in CHATS[:2]]
    await world.repo.enqueue(items, world.clock.now())
    sender = world.sender(unanswered_delay=(5.0, 60.0))
    for _ in range(3):
        await sender.run_once()
        world.clock.advance(timedelta(seconds=5))
    assert await sender.run_once() >= 1
    assert await world.repo.counts("tip.card", "t1") == {
        "pending": 0, "sending": 0, "sent": 2, "failed": 0}
    assert await world.repo.unanswered("tip.card", "t1") == 3  # the 5xx is not counted


# ---------------------------------------------------------------------- several senders


async def test_a_person_in_flight_at_one_sender_is_not_taken_by_another(world: World) -> None:
    repo, now = world.repo, world.clock.now()
    a, b = CHATS[0], CHATS[1]
    await world.enqueue([a, b], period="p1")
    await world.enqueue([a], period="p2")
    [first] = await repo.claim(now, 1, by="one")
    assert first.user_id == world.ids[a]
    # Sender "two" gets b's item, not a's second one: a's messages come from one at a time.
    assert [i.user_id for i in await repo.claim(now, 10, by="two")] == [world.ids[b]]
    # "one" itself may take it (it sends them in order, see run_once).
    [second] = await repo.claim(now, 10, by="one")
    assert second.user_id == world.ids[a] and second.period_key == "p2"

    # "one" is alive: nobody else takes back what it has in flight.
    await repo.beat("one")
    await repo.beat("two")
    assert await repo.recover(now, "two", own=False) == 0
    # Silent for longer than the lease (killed): the other sender takes its two rows back.
    await world.db.execute("UPDATE outbox_senders SET seen_at = ? WHERE name = 'one'",
                           ((datetime.now(UTC) - LEASE * 2).isoformat(),))
    assert await repo.recover(now, "two", own=False) == 2
    assert (await world.status(a))[0] == "pending"
    # A sender starting again takes back its own, alive or not; never a live other's.
    assert await repo.recover(now, "one") == 0  # "two"'s row stays with "two"
    assert await repo.recover(now, "two") == 1


async def test_two_senders_on_one_database_send_everything_once_in_order(
        world: World) -> None:
    """Two processes' senders (two connections) drain one outbox together: every item once,
    each person's messages in the order they were enqueued."""
    from tests.unit.test_caches import _beside

    chats = CHATS[:4]  # few people with many items each: the senders meet on each person
    periods = [f"p{n:02}" for n in range(25)]
    for period in periods:
        await world.enqueue(chats, period=period)
    other = await _beside(world.db)
    try:
        senders = [
            OutboxSender(world.bot, repo, world.users, _render,  # type: ignore[arg-type]
                         now=world.clock.now, sleep=world.clock.sleep, name=name,
                         rate=1000, per_chat_interval=0, concurrency=8)
            for name, repo in (("one", world.repo), ("two", OutboxRepo(other)))]

        async def work(sender: OutboxSender, repo: OutboxRepo) -> int:
            done = 0
            while await repo.open_count():
                done += await sender.run_once()
                await asyncio.sleep(0.001)
            return done

        done = await asyncio.gather(work(senders[0], world.repo),
                                    work(senders[1], OutboxRepo(other)))
    finally:
        await other.close()
    assert sum(done) == len(chats) * len(periods), done  # (one may have had every person)
    sent = world.bot.sent()
    assert len(sent) == len(chats) * len(periods)
    for chat in chats:
        rows = await world.db.fetch(
            "SELECT period_key FROM outbox WHERE user_id = ? ORDER BY message_id",  # call order
            (world.ids[chat],))
        assert [r[0] for r in rows] == periods, chat
    assert {r[0] for r in await world.db.fetch("SELECT status FROM outbox")} == {"sent"}
