"""Memory and cold start of ``binhyen run`` over the preloaded province (issue 15).

The bot runs on a copy of the province of :mod:`tests.bench.preload` (100,000 users,
1,000,000 sealed tips, 10,020,000 indicator values; ``quick``: a tenth of each), started as
an operator starts it: a separate process running ``binhyen run`` (``bot.cli.main``) against
the Bot API emulator (``bot.emulator``) over loopback HTTP. Then:

1. **cold start**: the time from starting the process to the bot's answer to a ``/start``
   that was waiting for it in the emulator when the process started;
2. **traffic**: 11,000 distinct people (10,000 residents and 1,000 reporters spread over
   the province; quick: 1,100) each send ``/newtip`` and read the tip flow's first step;
   3,000 of them (quick: 300) send ``/start`` and read the menu first, and 100 of the
   residents (quick: 50) go on and file the whole tip (category, text, no place: the
   commune of their earlier tips, today, anonymous, send), so that a card goes to their
   commune's coordinator and a receipt to them through the outbox: about 14,700 updates
   (quick: 1,750). Every person's user, flow and tip draft is read and cached, and there
   are more people than those caches hold (10,000 each: storage/users.py,
   storage/flows.py), so the bounds are reached and the first people are forgotten; the
   caches of contacts and of senders' standing see only the tips' senders and
   coordinators. The quick province has 10,000 users in all: its caches are never full.
   ``CONCURRENT`` people are at it at once, each waiting for the answer before the next
   step;
3. **peak RSS**: ``VmHWM`` of the bot's process once the traffic is answered and the outbox
   has sent everything it owed (receipts and cards);
4. the bot is stopped with SIGTERM and must exit 0;
5. **cold start again**, on the same file after the traffic: what a restart after a deploy
   meets (nearly 11,000 tip drafts and active flows stored). The figure is the slower start.

Two things differ from production, both so that the traffic is limited by the bot alone: the
emulator's flood control is off, and PTB's limiter in the bot's process does not pace
(``overall_max_rate=0``; at Telegram's 30 messages/s the answers alone would take eight
minutes). The outbox sender keeps its own pacing (29/s), as in production. The scheduler is
off (``BINHYEN_SCHEDULE=0``): what time of the week the benchmark runs must not decide
whether a reminder wave or a digest is part of the figure (bench_reminders and bench_digest
measure those).

The numbers are what fits about three and a quarter minutes at full size (quick: half a
minute), besides building the preload the first time: the bot answers about 80 updates a
second over loopback HTTP on two cores (about 90 on the quick province), using a whole core
meanwhile (its CPU time and this process's, the emulator and the people, are printed beside
the rate), so more concurrency does not raise it; a /start and a /newtip for each of 11,000
people would take four and a half minutes of traffic alone. The preload's old tips are as
housekeeping leaves them (senders unlinked after the retention period), so its first run a
minute after the start has nothing to catch up on.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.emulator.client import CallbackQueryRef, MessageView, UserHandle
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from locales import t
from storage.db import stamp, utcnow
from storage.flows import _DRAFTS_CACHED, _PEOPLE_CACHED
from storage.users import _USERS_CACHED
from tests.bench.common import cli
from tests.bench.preload import SECRET, People, database

TOKEN = "7000000015:BENCH-memory-token-abcdefghijkl"
# (quick, full): the residents and reporters who visit (each sends /newtip), and of them
# how many send /start first and how many residents file the whole tip.
RESIDENTS = (1_000, 10_000)
REPORTERS = (100, 1_000)
STARTING = (300, 3_000)
WHOLE = (50, 100)
CONCURRENT = 64  # people mid-conversation at once: as many as the bot handles at once
START_TIMEOUT = 60.0  # seconds a start may take before the benchmark gives up
ANSWER_TIMEOUT = 60.0  # seconds an answer may take (a stuck bot fails the run, never hangs it)
OUTBOX_TIMEOUT = 120.0  # seconds the outbox may take to send what it owes after the traffic
STOP_TIMEOUT = 60.0  # seconds the bot may take to stop after SIGTERM

# The bot's process: ``binhyen run`` exactly (bot.cli.main), with PTB's limiter told not to
# pace (see the module docstring).
RUN = """\
import functools
import bot.app
from telegram.ext import AIORateLimiter
bot.app.AIORateLimiter = functools.partial(AIORateLimiter, overall_max_rate=0)
from bot.cli import main
raise SystemExit(main(["run"]))
"""


def _plain(key: str, **fields: object) -> str:
    """A catalog text as the chat shows it (the emulator parses the HTML away)."""
    return html.unescape(re.sub(r"<[^>]+>", "", t("vi", key, **fields)))


# Every preloaded user has chosen Vietnamese. What the answers must say and the buttons
# pressed, from the catalog: the menu ends with the emergency numbers, the tip flow's first
# step asks for a category.
MENU = _plain("emergency")
CATEGORY = _plain("tips.category.ask")
THEFT = t("vi", "tipcat.theft")
NEXT = t("vi", "tips.btn.next")
WHERE_SKIP = t("vi", "tips.where.btn.skip")
TODAY = t("vi", "tips.when.today")
ANONYMOUS = t("vi", "tips.anon.btn.yes")
SEND = t("vi", "tips.btn.send")
TIP_TEXT = "Mất trộm xe máy trước cổng chợ lúc rạng sáng."
CODE = re.compile(r"TB-[0-9A-Z]{5,}")


class Stuck(Exception):
    """The bot showed a person what their script did not expect (counted, not fatal)."""


class Replies:
    """Wakes whoever waits for something in a chat, from the emulator's change feed.

    One watcher for all chats: a waiter per chat, each woken by every change of any chat
    (``Emulator.wait_until``), would cost the benchmark more CPU than the bot. It only looks
    at the chats the new events name (all waiting chats when the feed was trimmed meanwhile),
    and fails every waiter at once if the bot's process is gone. Reading what came is left to
    the emulator's own readers (``next_message``, ``next_edit``, ``callback_answer``).
    """

    def __init__(self, emu: Emulator, alive: Callable[[], bool]) -> None:
        self.emu = emu
        self.alive = alive
        self._waiting: dict[int, tuple[Callable[[], object], asyncio.Future[None]]] = {}
        self._seq = emu.event_seq
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Replies:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _watch(self) -> None:
        while True:
            await self.emu.wait_for_change(1.0)
            events, seq = self.emu.events, self.emu.event_seq
            first = events[0]["seq"] if events else seq + 1
            if first > self._seq + 1:  # trimmed since the last look: look at every chat
                chats = set(self._waiting)
            else:  # the feed's seqs are consecutive: the new events are its tail
                chats = {e["chat_id"] for e in events[self._seq + 1 - first:]}
            self._seq = seq
            for chat_id in chats & self._waiting.keys():
                done, waiting = self._waiting[chat_id]
                if done():
                    del self._waiting[chat_id]
                    waiting.set_result(None)
            if self._waiting and not self.alive():
                for _, waiting in self._waiting.values():
                    waiting.set_exception(RuntimeError("the bot's process is gone"))
                self._waiting.clear()

    async def until(self, person: UserHandle, done: Callable[[], object], what: str,
                    timeout: float = ANSWER_TIMEOUT) -> None:
        """Back once ``done()`` holds for ``person``'s chat; TimeoutError after ``timeout``."""
        if done():
            return
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[person.id] = done, waiting
        try:
            async with asyncio.timeout(timeout):
                await waiting
        except TimeoutError:
            shown = "; ".join(repr(m) for m in person.history()[-6:])
            raise TimeoutError(f"{person.id}: no {what} within {timeout:.0f} s; the chat: "
                               f"{shown}") from None
        finally:
            self._waiting.pop(person.id, None)

    async def message(self, person: UserHandle, timeout: float = ANSWER_TIMEOUT) -> MessageView:
        """The bot's next message to ``person``."""
        await self.until(person, lambda: person.unread() > 0, "message", timeout)
        return await person.next_message(timeout=0)

    async def edit(self, person: UserHandle, message: MessageView, seen: int) -> MessageView:
        """``message`` once it has more than ``seen`` versions (the next step shown in
        place); Stuck if a new message comes instead."""
        await self.until(person, lambda: len(message.versions) > seen or person.unread(),
                         "edit")
        if len(message.versions) > seen:
            return await person.next_edit(message, timeout=0)
        text = (await person.next_message(timeout=0)).text or ""
        raise Stuck(f"{person.id}: a new message instead of the step in place: {text[:300]!r}")

    async def answer(self, person: UserHandle, pressed: CallbackQueryRef) -> str:
        """The text of the bot's answer to a press."""
        await self.until(person, lambda: pressed.record.answered, "answer to a press")
        return (await person.callback_answer(pressed, timeout=0)).get("text") or ""


class Bot:
    """``binhyen run`` in its own process, its output in a file."""

    def __init__(self, folder: Path, db: Path, api: str, files: str) -> None:
        self.log = folder / "bot.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "BINHYEN_TOKEN": TOKEN,
            "BINHYEN_SECRET_KEY": SECRET,  # the preload's: its users' hashes and seals
            "BINHYEN_BOT_API_URL": api,
            "BINHYEN_BOT_FILE_URL": files,
            "BINHYEN_DB": str(db),
            "BINHYEN_SCHEDULE": "0",
            "BINHYEN_LOG_LEVEL": "WARNING",
        }
        if "PYTHONPATH" in os.environ:  # benching another checkout than the installed one
            self.env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.folder = folder
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> float:
        """Start the process; the moment it was started (``time.perf_counter``)."""
        with self.log.open("a") as out:
            began = time.perf_counter()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", RUN, env=self.env, cwd=self.folder, stdout=out,
                stderr=asyncio.subprocess.STDOUT)
        return began

    def _status(self, field_name: str) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {field_name} in /proc/<pid>/status")

    def peak_rss_mb(self) -> float:
        """The process's peak resident set so far (VmHWM), in MB (10^6 bytes)."""
        return self._status("VmHWM") / 1e6

    def rss_mb(self) -> float:
        """Its resident set now (VmRSS), in MB."""
        return self._status("VmRSS") / 1e6

    def cpu_s(self) -> float:
        """The CPU time the process has used so far (user + system), in seconds."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> None:
        """SIGTERM, and it must exit 0 on its own."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:  # awaited here, so the emulator goes on answering while the bot stops
            async with asyncio.timeout(STOP_TIMEOUT):
                code = await self.proc.wait()
        except TimeoutError:
            raise RuntimeError(f"the bot did not stop within {STOP_TIMEOUT:.0f} s after"
                               f" SIGTERM:\n{self.tail()}") from None
        if code != 0:
            raise RuntimeError(f"the bot exited {code} on SIGTERM:\n{self.tail()}")

    async def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


async def cold_start(bot: Bot, replies: Replies, person: UserHandle) -> float:
    """Seconds from starting the process to its answer to a /start waiting for it."""
    person.skip_messages()
    person.send("/start")
    began = await bot.start()
    text = (await replies.message(person, START_TIMEOUT)).text or ""
    took = time.perf_counter() - began
    if MENU not in text:
        raise AssertionError(f"/start answered with {text[:300]!r}")
    return took


@dataclass
class Traffic:
    """The people's scripts, and what they did."""

    replies: Replies
    updates: int = 0
    tips: int = 0
    stuck: list[str] = field(default_factory=list)

    def send(self, person: UserHandle, text: str) -> None:
        self.updates += 1
        person.send(text)

    def press(self, person: UserHandle, message: MessageView, button: str) -> CallbackQueryRef:
        self.updates += 1
        try:
            return person.press(message, button)
        except LookupError as exc:
            raise Stuck(f"{person.id}: {exc}: {(message.text or '')[:400]!r}") from None

    async def visit(self, person: UserHandle, start: bool, whole: bool) -> None:
        """With ``start``, /start and the menu; /newtip and its first step; with ``whole``,
        the whole tip."""
        replies = self.replies
        person.skip_messages()
        if start:
            self.send(person, "/start")
            text = (await replies.message(person)).text or ""
            if MENU not in text:
                raise Stuck(f"{person.id}: /start answered with {text[:300]!r}")
        self.send(person, "/newtip")
        step = await replies.message(person)
        if CATEGORY not in (step.text or ""):
            raise Stuck(f"{person.id}: /newtip answered with {(step.text or '')[:300]!r}")
        if whole:
            await self.tip(person, step)

    async def tip(self, person: UserHandle, step: MessageView) -> None:
        """From the category to «Gửi tin báo»: each answer read before the next step."""
        replies = self.replies
        seen = len(step.versions)
        self.press(person, step, THEFT)
        await replies.edit(person, step, seen)  # the step asks what happened
        self.send(person, TIP_TEXT)
        noted = await replies.message(person)
        self.press(person, noted, NEXT)
        await replies.message(person)  # where: the reply keyboard
        self.updates += 1
        try:
            person.reply_keyboard_press(WHERE_SKIP)  # no place: the commune of earlier tips
        except LookupError as exc:
            raise Stuck(f"{person.id}: {exc}") from None
        await replies.message(person)  # "where: none"
        step = await replies.message(person)
        if TODAY not in step.button_texts:  # no earlier tip to go by: the commune is asked
            seen = len(step.versions)
            self.press(person, step, step.buttons[0][0]["callback_data"])
            await replies.edit(person, step, seen)
        for label in (TODAY, ANONYMOUS):
            seen = len(step.versions)
            self.press(person, step, label)
            await replies.edit(person, step, seen)
        answer = await replies.answer(person, self.press(person, step, SEND))
        if not CODE.search(answer):
            raise Stuck(f"{person.id}: «{SEND}» answered with {answer[:300]!r}")
        self.tips += 1

    async def run(self, people: list[tuple[UserHandle, bool, bool]]) -> float:
        """Everyone's visit, ``CONCURRENT`` at once; the seconds it took."""
        emu = self.replies.emu
        queue = iter(people)
        done = 0
        every = max(1, len(people) // 10)
        began = time.perf_counter()

        async def worker() -> None:
            nonlocal done
            for person, start, whole in queue:
                try:
                    await self.visit(person, start, whole)
                except Stuck as exc:
                    self.stuck.append(str(exc))
                done += 1
                if done % every == 0:
                    emu.call_log.clear()  # the benchmark's own memory: these were answered
                    rate = self.updates / (time.perf_counter() - began)
                    print(f"  {done:,}/{len(people):,} people ({rate:,.0f} updates/s)",
                          flush=True)

        await asyncio.gather(*(worker() for _ in range(CONCURRENT)))
        return time.perf_counter() - began


def _owed(db: sqlite3.Connection) -> int:
    """Messages the outbox has still to send (or is sending)."""
    return db.execute("SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
                      ).fetchone()[0]


def _cast(people: People, quick: bool) -> tuple[list[tuple[int, bool, bool]], list[int]]:
    """Who visits (residents and reporters spread over the province, mixed), each with
    whether they send /start first and whether they file the whole tip; and two residents
    who do neither (one for each cold start)."""
    size = people.size
    residents, reporters, starting, whole = (n[0] if quick else n[1] for n in (
        RESIDENTS, REPORTERS, STARTING, WHOLE))
    step = people.residents // (residents + 2)
    visiting = [people.resident(n * step) for n in range(residents)]
    tipping = set(visiting[:: residents // whole][:whole])
    visiting += [people.reporter(h * (size.hamlets // reporters)) for h in range(reporters)]
    visiting.sort(key=lambda tg: tg * 7919 % 10007)
    total = len(visiting)  # ``starting`` of them, spread evenly, send /start first
    cast = [(tg, n * starting // total != (n + 1) * starting // total, tg in tipping)
            for n, tg in enumerate(visiting)]
    starters = [people.resident(people.residents - 1), people.resident(people.residents - 2)]
    return cast, starters


async def _run(folder: Path, db: Path, people: People, quick: bool) -> dict:
    cast, starters = _cast(people, quick)
    bound = max(_USERS_CACHED, _PEOPLE_CACHED, _DRAFTS_CACHED)
    print(f"{len(cast):,} distinct people visit; the caches of users, flows and drafts hold"
          f" {bound:,} each" + ("" if len(cast) > bound else
                               " (more than visit: their bound is not reached)"), flush=True)
    emu = Emulator(rate_limits=False)
    emu.add_bot(TOKEN, username="binhyen_bench_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    bot = Bot(folder, db, server.base_url, server.base_file_url)
    for c in range(people.size.communes):  # the tips' cards go to them: they joined long ago
        emu.user(people.coordinator(c), "Cán bộ").state.started = True
    visitors = [(emu.user(tg, "Người"), start, whole) for tg, start, whole in cast]
    first_start, second_start = (emu.user(tg, "Người") for tg in starters)
    try:
        async with Replies(emu, lambda: bot.alive) as replies:
            first = await cold_start(bot, replies, first_start)
            print(f"cold start: {first:.2f} s (RSS then {bot.rss_mb():.0f} MB)", flush=True)
            traffic = Traffic(replies)
            cpu_bot, cpu_us = bot.cpu_s(), time.process_time()
            since = stamp(utcnow())
            took = await traffic.run(visitors)
            cpu_bot, cpu_us = bot.cpu_s() - cpu_bot, time.process_time() - cpu_us
            print(f"traffic: {traffic.updates:,} updates from {len(visitors):,} people"
                  f" ({traffic.tips:,} whole tips) in {took:.0f} s"
                  f" ({traffic.updates / took:,.0f}/s); CPU: the bot {cpu_bot:.0f} s"
                  f" ({cpu_bot / took:.0%}), the emulator and the people {cpu_us:.0f} s"
                  f" ({cpu_us / took:.0%})", flush=True)
            for gone in traffic.stuck[:10]:
                print(f"STUCK: {gone[:600]}", flush=True)
            if traffic.stuck:
                print(f"{len(traffic.stuck):,} people stuck", flush=True)
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as ro:
                t0 = time.perf_counter()
                owed = _owed(ro)
                if not await emu.wait_until(lambda: _owed(ro) == 0, OUTBOX_TIMEOUT, poll=0.5):
                    raise RuntimeError(f"the outbox still owes {_owed(ro):,} messages"
                                       f" {OUTBOX_TIMEOUT:.0f} s after the traffic")
                print(f"outbox: {owed:,} messages still owed after the traffic, sent in"
                      f" {time.perf_counter() - t0:.1f} s", flush=True)
                rss = bot.peak_rss_mb()
                print(f"peak RSS: {rss:.0f} MB (now {bot.rss_mb():.0f} MB)", flush=True)
                await bot.stop()
                filed = ro.execute("SELECT COUNT(*) FROM tips WHERE created_at >= ?",
                                   (since,)).fetchone()[0]
            if filed != traffic.tips:
                print(f"LOST: {traffic.tips:,} tips sent, {filed:,} stored", flush=True)
            emu.call_log.clear()
            again = await cold_start(bot, replies, second_start)
            print(f"cold start after the traffic: {again:.2f} s", flush=True)
            await bot.stop()
    except BaseException:
        await bot.kill()
        print(bot.tail(), file=sys.stderr)
        raise
    finally:
        await server.stop()
    return {"rss_mb": round(rss, 1), "cold_start_s": round(max(first, again), 2)}


def run(quick: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="binhyen-memory-") as name:
        folder = Path(name)
        db, people = database(folder, quick)
        return asyncio.run(_run(folder, db, people, quick))


if __name__ == "__main__":
    cli(run)
