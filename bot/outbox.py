"""The outbox sender: works through storage.outbox within Telegram's limits.

Telegram allows a bot about 30 messages a second overall and about one a second per chat;
going faster earns ``429 Too Many Requests: retry after N``. The sender paces itself below
both (``rate`` overall, ``per_chat_interval`` per chat; a message is one API call, so an
item of three parts takes three of its chat's slots), with up to ``concurrency`` items in
flight at once so that network round trips overlap, and never two items of one person at
once (their messages arrive in order).

What happens to an item:

- ``RetryAfter``: everyone waits as long as Telegram says, then the item is tried again (not
  an attempt: nothing was wrong with it).
- ``TimedOut``, other network errors, HTTP 5xx: tried again later with exponential backoff
  (5 s, 10 s, 20 s … at most 10 minutes); after 8 attempts it is marked failed.
- ``Forbidden`` (the user blocked the bot): failed, and the user is marked inactive.
- ``BadRequest`` (chat not found, a malformed message): failed.
- ``InvalidToken``: a configuration problem, not the item's: the sender stops (the item stays
  claimed and is sent after the next start's :meth:`OutboxRepo.recover`).
Each failure is logged once, with the item id (never a chat id).

Exactly once, as far as Telegram allows: an item is claimed ('sending', committed) before its
Bot API call and marked 'sent' (committed) right after Telegram's answer; a several-part item
also commits each part. A crash therefore leaves at most the items in flight in 'sending', and
``recover()`` at the next start sends them again. The Bot API has no idempotency key, so a
message Telegram delivered whose answer was lost in the crash is sent a second time: at most
the in-flight items of one crash (≤ ``concurrency``), never a whole wave.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from telegram import Bot, InputFile, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from storage.outbox import OutboxItem, OutboxRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

# RetryAfter.retry_after as a timedelta (bot/app.py opts in too; this module may run without it).
os.environ.setdefault("PTB_TIMEDELTA", "1")

FIRST_BACKOFF = 5.0  # seconds before the first retry; doubled each time
MAX_BACKOFF = 600.0
MAX_ATTEMPTS = 8
POLL = 1.0  # seconds between looks at the outbox (run_forever, drain)
BEAT = 10.0  # seconds between the running sender's "alive" notes
SENDER_NAME = "bot"

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# Given an item and now: None to send it now, or the moment it may be sent (quiet hours).
Quiet = Callable[[OutboxItem, datetime], datetime | None]


@dataclass(frozen=True)
class Part:
    """One message of an item: a text (HTML), or a photo/document with an optional caption."""

    kind: Literal["text", "photo", "document"]
    text: str | None = None
    data: bytes | None = None
    filename: str | None = None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s … ≤ 10 min."""
    return timedelta(seconds=min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def seconds(value: timedelta | float) -> float:
    """A RetryAfter's wait in seconds (a timedelta under PTB_TIMEDELTA=1, else a number)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _describe(exc: TelegramError) -> str:
    return f"{type(exc).__name__}: {exc.message}"


class OutboxSender:
    """Sends what the outbox holds, paced under Telegram's limits (see the module docstring).

    ``render`` turns an item into its messages; ``now`` and ``sleep`` are injectable so that
    tests drive time instead of waiting. ``quiet``, if given, may hold an item back: it returns
    when the item may go (quiet hours), and the item is postponed to then without counting an
    attempt.
    """

    def __init__(
        self,
        bot: Bot,
        repo: OutboxRepo,
        users: UserRepo,
        render: Callable[[OutboxItem], Awaitable[list[Part]]],
        *,
        rate: float = 29.0,
        per_chat_interval: float = 1.05,
        concurrency: int = 16,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        quiet: Quiet | None = None,
        pace_clock: Callable[[], float] | None = None,
    ) -> None:
        if rate <= 0 or per_chat_interval < 0 or concurrency < 1:
            raise ValueError("rate must be > 0, per_chat_interval ≥ 0, concurrency ≥ 1")
        self._bot = bot
        self._repo = repo
        self._users = users
        self._render = render
        self._interval = 1.0 / rate
        self._per_chat = per_chat_interval
        self._concurrency = concurrency
        self._now = now
        self._sleep = sleep
        self._quiet = quiet
        # Pacing needs time that moves: the bot passes a monotonic clock, since its ``now``
        # may be a test's fixed moment; tests of pacing drive ``now`` and ``sleep`` instead.
        self._pace_clock = pace_clock
        # Pacing, in seconds of self._clock().
        self._next_slot = 0.0  # the next free slot under the overall rate
        self._chat_free: dict[int, float] = {}  # chat id → earliest time of its next message
        self._resume_at = 0.0  # after a RetryAfter nobody sends before this
        self._last_t: float | None = None
        self._offset = 0.0
        self._stop: asyncio.Event | None = None

    # ------------------------------------------------------------------ public

    async def run_once(self, kind: str | None = None) -> int:
        """Send everything due now (of ``kind`` if given); how many items were finished
        (sent or failed; not those put off for a retry or quiet hours)."""
        finished = 0
        running: dict[asyncio.Task[bool], OutboxItem] = {}
        busy: set[int] = set()  # users with an item in flight
        waiting: list[OutboxItem] = []  # claimed; their user has another item in flight
        exhausted = False
        try:
            while True:
                # Claim only what can start: at most `concurrency` rows are 'sending' at once.
                free = self._concurrency - len(running) - len(waiting)
                if free > 0 and not exhausted and not self._stopping():
                    claimed = await self._repo.claim(self._now(), free, kind=kind)
                    exhausted = not claimed
                    waiting.extend(claimed)
                still = []
                for item in waiting:
                    if item.user_id in busy:
                        still.append(item)
                    else:
                        busy.add(item.user_id)
                        running[asyncio.create_task(self._deliver(item))] = item
                waiting = still
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    item = running.pop(task)
                    busy.discard(item.user_id)
                    finished += task.result()  # raises what _deliver could not handle
                exhausted = False  # a slot is free: look again (retries may have come due)
        finally:
            # Only on an error (or cancellation): items in flight stay 'sending' and are sent
            # again after the next start's recover().
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            self._forget_idle_chats()
        return finished

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send what comes due, looking every second, until ``stop`` is set.

        On stop no new item is taken; those in flight finish (so none is left half-known).
        What the sender cannot handle (a refused token, a database error) ends it with that
        exception; the items it had claimed are sent after the next start's recover().
        """
        self._stop = stop
        beat_at = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= beat_at:  # "the bot sends the outbox" (see beat())
                    await self._repo.beat(SENDER_NAME)
                    beat_at = time.monotonic() + BEAT
                await self.run_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL)
        finally:
            self._stop = None
            await self._repo.gone(SENDER_NAME)

    async def drain(self, kind: str | None = None, *, deadline: datetime | None = None) -> int:
        """Send until nothing of ``kind`` (any kind if None) is pending or sending, or until
        ``deadline`` (e.g. when quiet hours begin); how many items were finished."""
        finished = 0
        while True:
            finished += await self.run_once(kind)
            if await self._repo.open_count(kind) == 0:
                return finished
            if deadline is not None and self._now() >= deadline:
                return finished
            await self._sleep(POLL)

    # ------------------------------------------------------------------ one item

    async def _deliver(self, item: OutboxItem) -> bool:
        """Send one claimed item; True when it is finished (sent or failed)."""
        if self._quiet is not None:
            now = self._now()
            until = self._quiet(item, now)
            if until is not None:
                await self._repo.postpone(item.id, now, until)
                return False
        try:
            contact, _locale = await self._users.reach(item.user_id)
            parts = await self._render(item)
        except Exception as exc:  # this item cannot be sent (a bug, a lost user): the wave goes on
            log.exception("outbox item %d could not be prepared", item.id)
            await self._repo.mark_failed(item.id, self._now(), f"prepare: {type(exc).__name__}")
            return True
        if not parts:
            log.warning("outbox item %d has nothing to send", item.id)
            await self._repo.mark_failed(item.id, self._now(), "nothing to send")
            return True
        message_id = item.message_id
        for index in range(item.parts_sent, len(parts)):
            try:
                message = await self._send_paced(contact.chat_id, parts[index])
            except Forbidden as exc:
                return await self._fail(item, exc, deactivate_user=True)
            except (BadRequest, ChatMigrated) as exc:  # BadRequest is a NetworkError: first
                return await self._fail(item, exc)
            except InvalidToken:
                log.error("the Bot API refused the token: the outbox sender stops")
                raise
            except TelegramError as exc:  # TimedOut, NetworkError (5xx included), others
                return await self._retry(item, exc)
            message_id = message.message_id
            if index + 1 < len(parts):
                await self._repo.mark_progress(item.id, self._now(), index + 1, message_id)
        await self._repo.mark_sent(item.id, self._now(), message_id)
        return True

    async def _send_paced(self, chat_id: int, part: Part) -> Message:
        """One API call in its slot; RetryAfter makes everyone wait, then it is tried again."""
        while True:
            await self._wait_slot(chat_id)
            try:
                return await self._send(chat_id, part)
            except RetryAfter as exc:
                wait = seconds(exc.retry_after)
                self._resume_at = max(self._resume_at, self._clock() + wait)
                log.info("flood control: sending paused for %.1f s", wait)

    async def _send(self, chat_id: int, part: Part) -> Message:
        if part.kind == "text":
            return await self._bot.send_message(
                chat_id, part.text or "", parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW)
        if part.data is None:
            raise ValueError(f"a {part.kind} part needs data")
        upload = InputFile(part.data, filename=part.filename)
        if part.kind == "photo":
            return await self._bot.send_photo(chat_id, upload, caption=part.text,
                                              parse_mode=ParseMode.HTML)
        return await self._bot.send_document(chat_id, upload, caption=part.text,
                                             parse_mode=ParseMode.HTML)

    async def _fail(self, item: OutboxItem, exc: TelegramError, *,
                    deactivate_user: bool = False) -> bool:
        error = _describe(exc)
        log.warning("outbox item %d failed: %s", item.id, error)
        await self._repo.mark_failed(item.id, self._now(), error,
                                     deactivate_user=deactivate_user)
        if deactivate_user:
            # The row changed behind the user cache: drop it (and the holders derived from
            # it), so nobody keeps being sent to until a restart.
            self._users.forget()
        return True

    async def _retry(self, item: OutboxItem, exc: TelegramError) -> bool:
        attempts = item.attempts + 1
        error = _describe(exc)
        now = self._now()
        if attempts >= MAX_ATTEMPTS:
            log.warning("outbox item %d failed after %d attempts: %s", item.id, attempts, error)
            await self._repo.mark_failed(item.id, now, error)
            return True
        wait = backoff(attempts)
        log.info("outbox item %d: attempt %d failed (%s); next in %s", item.id, attempts,
                 error, wait)
        await self._repo.mark_retry(item.id, now, now + wait, error)
        return False

    # ------------------------------------------------------------------ pacing

    def _clock(self) -> float:
        """Seconds for pacing, from the injected clock, never going back (a wall-clock step
        back must not stall sending for as long)."""
        t = (self._pace_clock() if self._pace_clock else self._now().timestamp()) + self._offset
        if self._last_t is not None and t < self._last_t:
            self._offset += self._last_t - t
            t = self._last_t
        self._last_t = t
        return t

    async def _wait_slot(self, chat_id: int) -> None:
        """Wait until this chat may have its next message and an overall slot is ours."""
        while True:
            t = self._clock()
            # The chat first: an overall slot reserved while the chat must still wait would be
            # lost to everyone else.
            ready = max(self._chat_free.get(chat_id, t), self._resume_at)
            if ready > t:
                await self._sleep(ready - t)
                continue
            slot = max(t, self._next_slot)
            self._next_slot = slot + self._interval
            if slot > t:
                await self._sleep(slot - t)
            t = self._clock()
            if t < self._resume_at:  # a RetryAfter arrived while we waited
                continue
            self._chat_free[chat_id] = t + self._per_chat
            return

    def _forget_idle_chats(self) -> None:
        t = self._clock()
        self._chat_free = {c: free for c, free in self._chat_free.items() if free > t}

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()
