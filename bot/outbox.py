"""The outbox sender: works through storage.outbox within Telegram's limits.

Telegram allows a bot about 30 messages a second overall and about one a second per chat;
going faster earns ``429 Too Many Requests: retry after N``. The sender paces itself below
both (``rate`` overall; per chat a bucket of ``chat_burst`` messages refilled one per
``per_chat_interval``; a message is one API call, so an item of three parts takes three of
its chat's slots), with up to ``concurrency`` items in flight at once so that network round
trips overlap, and never two items of one person at once (their messages arrive in order).
The immediate lane (cards, receipts, relays, notices) is claimed before the scheduled one
(waves, digests), and the sender wakes as soon as this process adds a row, so an immediate
item normally goes out within a second even in the middle of a wave.

What happens to an item:

- ``RetryAfter``: everyone waits as long as Telegram says, then the item is tried again (not
  an attempt: nothing was wrong with it).
- ``TimedOut``, other network errors, HTTP 5xx: tried again later with exponential backoff
  (immediate lane: 1 s, 2 s, 4 s … at most 10 minutes, given up after 16 attempts, about an
  hour and a quarter; scheduled lane: 5 s, 10 s, 20 s …, given up after 8). Meanwhile the
  other items go on: one recipient's failure never holds up another's.
- ``Forbidden`` (the user blocked the bot): failed, and the user is marked inactive.
- ``BadRequest`` (chat not found, a malformed message): failed — except for a part marked
  optional (a pin) or one with a fallback (an edit of a message that is gone is sent as a
  new message), and "message is not modified", which is what an edit wanted anyway.
- ``InvalidToken``: a configuration problem, not the item's: the sender stops (the item stays
  claimed and is sent after the next start's :meth:`OutboxRepo.recover`).
Each failure is logged once, with the item id (never a chat id).

What remains at-least-once, exactly: an item is claimed ('sending', committed) before its
first Bot API call and marked 'sent' (committed) right after Telegram's answer to its last;
a several-part item commits each part as it goes (``parts_sent``). The Bot API has no
idempotency key, so Telegram may deliver a message whose answer never reaches us — the
process dies between the two, or the answer times out or the connection drops after
Telegram acted. A slow answer is waited for (``READ_TIMEOUT``, 30 s, where PTB waits 5 s:
a Telegram that answered after 6 s once got a reporter the same reminder twice). A send that
still goes unanswered (the read timed out, or the connection broke after the request went
out; a 5xx is an answer, and means not sent) is counted on its item (``unanswered``, which
``send-reminders`` reports) and made again once after a pause; a scheduled item unanswered a
second time is given up as "may have arrived", an immediate one (a card) goes on, since
losing it is worse than a second copy. So a message arrives twice only when Telegram
delivered it and its answer was lost: after a crash at most the parts in flight
(≤ ``concurrency`` items, one part each), otherwise the unanswered ones counted. Edits and
pins repeated are harmless (the second edit is "not modified"). Nothing is lost: a part is
marked done only once Telegram said it was accepted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
from telegram import (
    Bot,
    InputFile,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from handlers.callbacks import Signer, has_callbacks
from storage.outbox import IMMEDIATE, SENDER, OutboxItem, OutboxRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

# RetryAfter.retry_after as a timedelta (bot/app.py opts in too; this module may run without it).
os.environ.setdefault("PTB_TIMEDELTA", "1")

FIRST_BACKOFF = 5.0  # seconds before the first retry (scheduled lane); doubled each time
FIRST_BACKOFF_NOW = 1.0  # the same for the immediate lane
MAX_BACKOFF = 600.0
MAX_ATTEMPTS = 8
MAX_ATTEMPTS_NOW = 16
POLL = 1.0  # seconds between looks at the outbox when nothing wakes the sender
# How long a send waits for Telegram's answer: six times PTB's 5 s. A slow Bot API that
# answers after 6 s must not be taken for a failure (the message arrived; sent again, it
# arrived twice: the reminder a reporter once got twice).
READ_TIMEOUT = 30.0
# After a send Telegram never answered (it may have arrived): the pause before the one
# more try, per lane (a card must still come soon; a reminder can wait a minute).
UNANSWERED_DELAY_NOW = 5.0
UNANSWERED_DELAY = 60.0
BEAT = 10.0  # seconds between the running sender's "alive" notes
SENDER_NAME = SENDER  # the bot's sender's name (a replica would need one of its own)
PREVIOUS = -1  # Part.reply_to / Part.message_id: the message the part before made

_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# Given an item and now: None to send it now, or the moment it may be sent (quiet hours).
Quiet = Callable[[OutboxItem, datetime], datetime | None]


@dataclass(frozen=True)
class Part:
    """One Bot API call of an item.

    ``text``: a message (HTML), a caption, or an edit's new text. ``photo``/``document``: an
    upload (``data``) or a Telegram file (``file_id``); ``video``/``voice`` by file id;
    ``album``: photos and videos (or documents) by file id, one media group; ``location``;
    ``copy``: a copy of ``source`` (chat, message), never a forward; ``edit``: new text and
    keyboard for ``message_id``; ``pin``: pin ``message_id``. ``reply_to`` and ``message_id``
    may be :data:`PREVIOUS`. A BadRequest on an ``optional`` part is tolerated; on a part
    with ``or_else``, that part is sent instead.
    """

    kind: Literal["text", "photo", "document", "video", "voice", "video_note", "audio", "album",
                  "location", "copy", "edit", "pin"]
    text: str | None = None
    data: bytes | None = None
    filename: str | None = None
    file_id: str | None = None
    media: tuple[tuple[str, str], ...] = ()
    markup: object | None = None
    reply_to: int | None = None
    location: tuple[float, float] | None = None
    source: tuple[int, int] | None = None
    message_id: int | None = None
    optional: bool = False
    or_else: Part | None = None


@dataclass(frozen=True)
class Address:
    """Where an item goes: the chat, and the user (to mark inactive if they blocked us)."""

    chat_id: int
    user_id: int | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, lane: int | None = None) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s … ≤ 10 min
    (1 s, 2 s, 4 s … for the immediate lane)."""
    first = FIRST_BACKOFF_NOW if lane == IMMEDIATE else FIRST_BACKOFF
    return timedelta(seconds=min(first * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def max_attempts(lane: int) -> int:
    """Attempts before an item of ``lane`` is given up."""
    return MAX_ATTEMPTS_NOW if lane == IMMEDIATE else MAX_ATTEMPTS


def seconds(value: timedelta | float) -> float:
    """A RetryAfter's wait in seconds (a timedelta under PTB_TIMEDELTA=1, else a number)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def may_have_arrived(exc: TelegramError) -> bool:
    """Whether Telegram may have acted on a request whose answer never came: the request went
    out whole and then the answer timed out or the connection broke. A 5xx is an answer (it
    was not done); a connection never made, or a pool timeout, sent nothing."""
    cause = exc.__cause__
    return isinstance(cause, (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError))


def _describe(exc: TelegramError) -> str:
    return f"{type(exc).__name__}: {exc.message}"


def _not_modified(exc: BadRequest) -> bool:
    return "not modified" in exc.message.lower()


class OutboxSender:
    """Sends what the outbox holds, paced under Telegram's limits (see the module docstring).

    ``render`` turns an item into its messages; ``address`` (default: the item's user's
    chat) says where it goes; ``now`` and ``sleep`` are injectable so that tests drive time
    instead of waiting. ``quiet``, if given, may hold an item back: it returns when the item
    may go (quiet hours), and the item is postponed to then without counting an attempt.
    """

    def __init__(
        self,
        bot: Bot,
        repo: OutboxRepo,
        users: UserRepo,
        render: Callable[[OutboxItem], Awaitable[list[Part]]],
        *,
        address: Callable[[OutboxItem], Awaitable[Address]] | None = None,
        rate: float = 29.0,
        per_chat_interval: float = 1.05,
        chat_burst: int = 1,
        concurrency: int = 16,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        quiet: Quiet | None = None,
        pace_clock: Callable[[], float] | None = None,
        buttons: Signer | None = None,
        read_timeout: float = READ_TIMEOUT,
        unanswered_delay: tuple[float, float] = (UNANSWERED_DELAY_NOW, UNANSWERED_DELAY),
        name: str = SENDER_NAME,
    ) -> None:
        if rate <= 0 or per_chat_interval < 0 or concurrency < 1 or chat_burst < 1:
            raise ValueError("rate must be > 0, per_chat_interval ≥ 0, concurrency ≥ 1,"
                             " chat_burst ≥ 1")
        self._bot = bot
        self._name = name  # in outbox_senders and on the rows it claims (claimed_by)
        self._repo = repo
        self._users = users
        self._render = render
        self._address = address or self._user_address
        self._buttons = buttons
        self._timeouts = {"read_timeout": read_timeout}
        self._unanswered_delay = unanswered_delay
        self._interval = 1.0 / rate
        self._per_chat = per_chat_interval
        self._burst = chat_burst
        self._concurrency = concurrency
        self._now = now
        self._sleep = sleep
        self._quiet = quiet
        # Pacing needs time that moves: the bot passes a monotonic clock, since its ``now``
        # may be a test's fixed moment; tests of pacing drive ``now`` and ``sleep`` instead.
        self._pace_clock = pace_clock
        # Pacing, in seconds of self._clock().
        self._next_slot = 0.0  # the next free slot under the overall rate
        # chat id → when its bucket is full again (each message adds per_chat_interval)
        self._chat_full: dict[int, float] = {}
        self._resume_at = 0.0  # after a RetryAfter nobody sends before this
        self._last_t: float | None = None
        self._offset = 0.0
        self._stop: asyncio.Event | None = None

    async def _user_address(self, item: OutboxItem) -> Address:
        if item.user_id is None:
            raise LookupError(f"outbox item {item.id} names no user and no address was given")
        contact, _locale = await self._users.reach(item.user_id)
        return Address(contact.chat_id, item.user_id)

    # ------------------------------------------------------------------ public

    async def run_once(self, kind: str | None = None) -> int:
        """Send everything due now (of ``kind`` if given); how many items were finished
        (sent or failed; not those put off for a retry or quiet hours)."""
        finished = 0
        running: dict[asyncio.Task[bool], OutboxItem] = {}
        busy: set[tuple[str, int]] = set()  # people with an item in flight
        waiting: list[OutboxItem] = []  # claimed; their person has another item in flight
        exhausted = False
        try:
            while True:
                # Claim only what can start: at most `concurrency` rows are 'sending' at once.
                free = self._concurrency - len(running) - len(waiting)
                if free > 0 and not exhausted and not self._stopping():
                    claimed = await self._repo.claim(self._now(), free, kind=kind,
                                                     by=self._name)
                    exhausted = not claimed
                    waiting.extend(claimed)
                still = []
                for item in waiting:
                    if item.person in busy:
                        still.append(item)
                    else:
                        busy.add(item.person)
                        running[asyncio.create_task(self._deliver(item))] = item
                waiting = still
                if not running:
                    break
                wake = asyncio.ensure_future(self._repo.ready.wait())
                try:
                    done, _ = await asyncio.wait([*running, wake],
                                                 return_when=asyncio.FIRST_COMPLETED)
                finally:
                    wake.cancel()
                if self._repo.ready.is_set():  # new rows meanwhile: look for them now
                    self._repo.ready.clear()
                    exhausted = False
                for task in done:
                    if task not in running:
                        continue
                    item = running.pop(task)
                    busy.discard(item.person)
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
        """Send what comes due until ``stop`` is set: at once when this process adds rows,
        else looking every second.

        On stop no new item is taken; those in flight finish (so none is left half-known).
        What the sender cannot handle (a refused token, a database error) ends it with that
        exception; the items it had claimed are sent after the next start's recover().
        """
        self._stop = stop
        beat_at = 0.0
        ready = self._repo.ready
        try:
            while not stop.is_set():
                if time.monotonic() >= beat_at:  # "the bot sends the outbox" (see beat())
                    await self._repo.beat(self._name)
                    # A sender that stopped beating (killed, its machine gone): what it had
                    # in flight is sent by this one (its lease ran out).
                    if taken := await self._repo.recover(self._now(), self._name, own=False):
                        log.warning("%d outbox items of a sender gone silent are sent again",
                                    taken)
                    beat_at = time.monotonic() + BEAT
                ready.clear()
                await self.run_once()
                if ready.is_set():
                    continue
                waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(ready.wait())]
                try:
                    await asyncio.wait(waits, timeout=POLL, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        finally:
            self._stop = None
            await self._repo.gone(self._name)

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
            address = await self._address(item)
            parts = await self._render(item)
        except Exception as exc:  # this item cannot be sent (a bug, a lost user): the wave goes on
            log.exception("outbox item %d (%s) could not be prepared", item.id, item.kind)
            await self._repo.mark_failed(item.id, self._now(), f"prepare: {type(exc).__name__}")
            return True
        if not parts:  # nothing left to say (an edit of a card that was never sent)
            await self._repo.mark_sent(item, self._now(), item.message_id)
            return True
        message_id = item.message_id
        for index in range(item.parts_sent, len(parts)):
            try:
                message_id = await self._send_part(address.chat_id, parts[index], message_id)
            except Forbidden as exc:
                return await self._fail(item, exc, deactivate=address.user_id)
            except (BadRequest, ChatMigrated) as exc:  # BadRequest is a NetworkError: first
                return await self._fail(item, exc)
            except InvalidToken:
                log.error("the Bot API refused the token: the outbox sender stops")
                raise
            except TelegramError as exc:  # TimedOut, NetworkError (5xx included), others
                if may_have_arrived(exc) and parts[index].kind not in ("edit", "pin"):
                    return await self._unanswered(item, exc)
                return await self._retry(item, exc)
            if index + 1 < len(parts):
                await self._repo.mark_progress(item.id, self._now(), index + 1, message_id)
        await self._repo.mark_sent(item, self._now(), message_id)
        return True

    async def _send_part(self, chat_id: int, part: Part, previous: int | None) -> int | None:
        """One part (or its fallback): the message id it made or changed (``previous`` if
        none)."""
        try:
            return await self._send_paced(chat_id, part, previous)
        except BadRequest as exc:
            if part.kind == "edit" and _not_modified(exc):
                return self._target(part.message_id, previous)
            if part.or_else is not None:
                log.info("outbox part refused (%s); sending its fallback", exc.message)
                return await self._send_part(chat_id, part.or_else, previous)
            if part.optional:
                log.info("optional outbox part refused: %s", exc.message)
                return previous
            raise

    async def _send_paced(self, chat_id: int, part: Part, previous: int | None) -> int | None:
        """One API call in its slot; RetryAfter makes everyone wait, then it is tried again."""
        while True:
            await self._wait_slot(chat_id)
            try:
                return await self._send(chat_id, part, previous)
            except RetryAfter as exc:
                wait = seconds(exc.retry_after)
                self._resume_at = max(self._resume_at, self._clock() + wait)
                log.info("flood control: sending paused for %.1f s", wait)

    @staticmethod
    def _target(value: int | None, previous: int | None) -> int | None:
        return previous if value == PREVIOUS else value

    async def _send(self, chat_id: int, part: Part, previous: int | None) -> int | None:
        bot = self._bot
        reply = None
        target = self._target(part.reply_to, previous)
        if target is not None:
            reply = ReplyParameters(target, allow_sending_without_reply=True)
        html = {"parse_mode": ParseMode.HTML}
        wait = self._timeouts  # longer than a slow Telegram takes (READ_TIMEOUT)
        kind = part.kind
        if self._buttons is not None:  # each button signed for the person it goes to
            part = replace(part, markup=self._buttons.markup(part.markup, chat_id))
        elif has_callbacks(part.markup):
            raise ValueError("a keyboard with callback buttons needs the sender's signer")
        if kind == "text":
            sent = await bot.send_message(chat_id, part.text or "", reply_markup=part.markup,
                                          reply_parameters=reply, link_preview_options=_NO_PREVIEW,
                                          **html, **wait)
            return sent.message_id
        if kind == "edit":
            message_id = self._target(part.message_id, previous)
            if message_id is None:
                raise ValueError("an edit part needs a message id")
            await bot.edit_message_text(part.text or "", chat_id=chat_id, message_id=message_id,
                                        reply_markup=part.markup,
                                        link_preview_options=_NO_PREVIEW, **html, **wait)
            return message_id
        if kind == "pin":
            message_id = self._target(part.message_id, previous)
            if message_id is None:
                raise ValueError("a pin part needs a message id")
            await bot.pin_chat_message(chat_id, message_id, disable_notification=True, **wait)
            return previous
        if kind == "location":
            assert part.location is not None
            sent = await bot.send_location(chat_id, *part.location, reply_parameters=reply,
                                           **wait)
            return sent.message_id
        if kind == "copy":
            assert part.source is not None
            copied = await bot.copy_message(chat_id, part.source[0], part.source[1],
                                            reply_parameters=reply, **wait)
            return copied.message_id
        if kind == "album":
            media = [InputMediaPhoto(fid) if k == "photo" else
                     InputMediaVideo(fid) if k == "video" else InputMediaDocument(fid)
                     for k, fid in part.media]
            if part.text and media:  # the caption of an album is its first item's
                first = media[0]
                media[0] = type(first)(first.media, caption=part.text, parse_mode=ParseMode.HTML)
            sent_all = await bot.send_media_group(chat_id, media, reply_parameters=reply, **wait)
            return sent_all[-1].message_id
        media = part.file_id
        if media is None:
            if part.data is None:
                raise ValueError(f"a {kind} part needs data or a file id")
            media = InputFile(part.data, filename=part.filename)  # type: ignore[assignment]
        send = getattr(bot, f"send_{kind}")  # send_photo, send_document, send_video, …
        if kind == "video_note":  # a round video takes no caption
            sent = await send(chat_id, media, reply_markup=part.markup, reply_parameters=reply,
                              **wait)
        else:
            sent = await send(chat_id, media, caption=part.text, reply_markup=part.markup,
                              reply_parameters=reply, **html, **wait)
        return sent.message_id

    async def _fail(self, item: OutboxItem, exc: TelegramError, *,
                    deactivate: int | None = None) -> bool:
        error = _describe(exc)
        log.warning("outbox item %d (%s) failed: %s", item.id, item.kind, error)
        await self._repo.mark_failed(item.id, self._now(), error,
                                     deactivate_user=deactivate or False)
        if deactivate:
            # The row changed behind the user cache: drop it (and the holders derived from
            # it), so nobody keeps being sent to until a restart.
            self._users.forget()
        return True

    async def _unanswered(self, item: OutboxItem, exc: TelegramError) -> bool:
        """Telegram took the request and never answered: the message may have arrived.

        Counted on the item. It is sent again once, after a pause; a scheduled item (a
        reminder, a digest) that goes unanswered a second time is given up ("may have
        arrived"), since twice unanswered most likely means twice delivered; an immediate one
        (a card, a notice, a relay) goes on being tried, each time after the pause, because
        losing it is worse than a second copy.
        """
        error = f"unanswered: {_describe(exc)}"
        now = self._now()
        if item.lane != IMMEDIATE and item.unanswered >= 1:
            log.warning("outbox item %d (%s) unanswered twice; it may have arrived: given up",
                        item.id, item.kind)
            await self._repo.mark_unanswered(item.id, now, now, error)
            await self._repo.mark_failed(item.id, now, error)
            return True
        if item.attempts + 1 >= max_attempts(item.lane):
            return await self._retry(item, exc)
        pause = self._unanswered_delay[0 if item.lane == IMMEDIATE else 1]
        log.warning("outbox item %d (%s): Telegram did not answer (%s); it may have arrived:"
                    " sent again in %.0f s", item.id, item.kind, error, pause)
        await self._repo.mark_unanswered(item.id, now, now + timedelta(seconds=pause), error)
        return False

    async def _retry(self, item: OutboxItem, exc: TelegramError) -> bool:
        attempts = item.attempts + 1
        error = _describe(exc)
        now = self._now()
        if attempts >= max_attempts(item.lane):
            log.warning("outbox item %d (%s) failed after %d attempts: %s", item.id, item.kind,
                        attempts, error)
            await self._repo.mark_failed(item.id, now, error)
            return True
        wait = backoff(attempts, item.lane)
        log.info("outbox item %d (%s): attempt %d failed (%s); next in %s", item.id, item.kind,
                 attempts, error, wait)
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
        """Wait until this chat may have its next message and an overall slot is ours.

        A chat's bucket holds ``chat_burst`` messages and refills one per
        ``per_chat_interval``: it is empty while ``full_at - t`` exceeds what the burst allows.
        """
        allowance = (self._burst - 1) * self._per_chat
        while True:
            t = self._clock()
            full_at = max(self._chat_full.get(chat_id, t), t)
            # The chat first: an overall slot reserved while the chat must still wait would be
            # lost to everyone else.
            ready = max(full_at - allowance, self._resume_at)
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
            self._chat_full[chat_id] = max(self._chat_full.get(chat_id, t), t) + self._per_chat
            return

    def _forget_idle_chats(self) -> None:
        t = self._clock()
        self._chat_full = {c: full for c, full in self._chat_full.items() if full > t}

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()
