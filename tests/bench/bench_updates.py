"""Update handling at full size: Bình Yên against a bare PTB echo bot, same run, in-process.

Bình Yên runs over the preloaded province (:mod:`tests.bench.preload`: 100,000 users,
1,000,000 tips, 10,020,000 indicator values). Both bots are started for real
(``initialize``, our ``post_init``, ``start``), so what production runs in the background
runs here too: the outbox sender (sending every card), the scheduler's tick, PTB's update
fetcher. Both get the same processor (``ChatOrderedProcessor``, our production limit), no
persistence (Bình Yên keeps its state in its database, not in PTB's), no rate limiter, and
updates put on ``Application.update_queue`` exactly as PTB's updater puts what it fetched
from Telegram.

The Bot API is :class:`Telegram` below: it answers every call at once in memory, as a fast
Telegram would, and remembers what each chat shows, so the simulated people read the
bot's replies and press the buttons it sent them (signed, as real ones are), step by step:

- residents come from a hamlet's poster (``/start t_<hamlet>``), file a tip through every
  step (category, text, place, time, anonymity, send: a card goes to their commune's
  coordinator), then open ``/mytips`` and ``/status`` their new code;
- reporters file last week's report: period, ten numbers typed, review, submit;
- coordinators open ``/inbox``, open a tip and act on its card.

``CONCURRENT`` people are at it at any moment, each one update at a time (a person waits
for the answer before the next step), so updates of many chats arrive together, as Telegram
delivers them. The echo bot then gets the very same updates, person by person with the same
concurrency: it answers a text with a message, a press with an answer and an edit.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot import deliveries
from bot.app import Running, build_application, post_init, stop_bot
from bot.settings import load_settings
from bot.updates import ChatOrderedProcessor
from storage.db import Database
from storage.reporting import indicator_sets
from tests.bench.common import cli
from tests.bench.preload import SECRET, People, database

TOKEN = "7000000009:BENCH-token-abcdefghijklmnopqrst"
BOT_ID = 7000000009
CONCURRENT = 100  # people mid-conversation at once
LATENCY_SHARE = 4  # the latency pass has a quarter of the throughput pass's people
LIMIT = 64  # the production ChatOrderedProcessor limit (Settings.concurrent_updates)
CODE = re.compile(r"TB-[0-9A-Z]{5,}")


@dataclass
class Shown:
    """A message the bot sent to a chat, as it stands now."""

    text: str
    markup: dict | None


class Telegram(BaseRequest):
    """Answers every Bot API call in memory and keeps what each chat shows."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.chats: dict[int, dict[int, Shown]] = defaultdict(dict)
        # What each chat was shown in answer to its latest update: the messages sent or
        # edited, and the pressed button's answer (a person reads only what just came).
        self.touched: dict[int, list[int]] = defaultdict(list)
        self.answers: dict[int, str] = {}
        self.queries: dict[str, int] = {}  # callback query id → chat
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def next_id(self) -> int:
        return next(self._ids)

    async def do_request(self, url, method, request_data: RequestData | None = None, **_):
        name = url.rsplit("/", 1)[-1]
        self.calls[name] += 1
        params = request_data.parameters if request_data else {}
        if name == "getMe":
            result: object = {"id": BOT_ID, "is_bot": True, "first_name": "B",
                              "username": "bench_bot"}
        elif name.startswith("send"):
            chat = int(params.get("chat_id", 0))
            text = str(params.get("text") or params.get("caption") or "")
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if name == "sendMediaGroup":
                result = [self._message(chat, "", None) for _ in params.get("media", [])]
            else:
                result = self._message(chat, text, markup)
        elif name.startswith("edit"):
            chat = int(params.get("chat_id", 0))
            shown = self.chats[chat].get(int(params.get("message_id", 0)))
            markup = params.get("reply_markup")
            if isinstance(markup, str):
                markup = json.loads(markup)
            if shown is not None:
                if "text" in params or "caption" in params:
                    shown.text = str(params.get("text") or params.get("caption") or "")
                shown.markup = markup
                self.touched[chat].append(int(params.get("message_id", 0)))
            result = {"message_id": int(params.get("message_id", 0)), "date": 0,
                      "chat": {"id": chat, "type": "private"},
                      "text": shown.text if shown else ""}
        elif name == "copyMessage":
            result = {"message_id": self.next_id()}
        elif name == "answerCallbackQuery":
            chat = self.queries.pop(str(params.get("callback_query_id")), None)
            if chat is not None:
                self.answers[chat] = str(params.get("text") or "")
            result = True
        elif name == "getUpdates":
            await asyncio.sleep(1)
            result = []
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _message(self, chat: int, text: str, markup: dict | None) -> dict:
        message_id = self.next_id()
        self.chats[chat][message_id] = Shown(text, markup)
        self.touched[chat].append(message_id)
        return {"message_id": message_id, "date": 0, "chat": {"id": chat, "type": "private"},
                "text": text}


@dataclass
class Feed:
    """Puts updates on an application's queue and waits until each is handled."""

    app: Application
    telegram: Telegram
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sent: dict[int, list[tuple[str, dict]]] = field(default_factory=lambda: defaultdict(list))
    _waiting: dict[int, asyncio.Future] = field(default_factory=dict)
    _update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    handling: list[float] = field(default_factory=list)
    _began: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        processor = self.app.update_processor
        assert isinstance(processor, ChatOrderedProcessor)
        processor.observer = self._handled
        # The handling time of an update starts when the processor starts the coroutine
        # (its chat's earlier updates done, a slot free), not when it was queued: with
        # CONCURRENT people waiting, the queue alone is CONCURRENT / throughput long.
        process = self.app.process_update

        async def timed(update: object) -> None:
            if isinstance(update, Update):
                self._began[update.update_id] = time.perf_counter()
            await process(update)

        self.app.process_update = timed  # type: ignore[method-assign]

    def _handled(self, update_id: int) -> None:
        began = self._began.pop(update_id, None)
        if began is not None:
            self.handling.append(time.perf_counter() - began)
        waiting = self._waiting.pop(update_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def put(self, chat: int, step: str, data: dict) -> None:
        """One update, as the updater would hand it over; back once it has been handled."""
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[data["update_id"]] = waiting
        self.sent[chat].append((step, data))
        t0 = time.perf_counter()
        await self.app.update_queue.put(Update.de_json(data, self.app.bot))
        await waiting
        self.latencies[step].append(time.perf_counter() - t0)

    def update_id(self) -> int:
        return next(self._update_ids)

    def take(self) -> Pass:
        """What was measured since the last take, and start afresh."""
        taken = Pass(dict(self.latencies), self.handling, dict(self.sent))
        self.latencies, self.handling = defaultdict(list), []
        self.sent = defaultdict(list)
        return taken


@dataclass
class Pass:
    """One pass of traffic: every update's answer time by step, handling times, updates."""

    latencies: dict[str, list[float]]
    handling: list[float]
    sent: dict[int, list[tuple[str, dict]]]
    elapsed: float = 0.0
    cpu: float = 0.0  # the process's CPU seconds (both threads): steadier than elapsed
                      # on a machine that is busy with other work
    loop_cpu: float = 0.0  # the event loop's thread alone: what bounds the rate (one GIL)
    # People whose script met a screen it did not expect (a lost draft is a bug to chase):
    # their updates so far still count, and each is printed.
    stuck: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.handling)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed


class Person:
    """Someone in a private chat with the bot: types, reads, presses."""

    def __init__(self, feed: Feed, tg_id: int) -> None:
        self.feed = feed
        self.tg_id = tg_id
        self.user = {"id": tg_id, "is_bot": False, "first_name": "Người"}
        self.chat = {"id": tg_id, "type": "private"}

    def _forget(self) -> None:
        """A new update: what the bot answers it is what the person reads next."""
        telegram = self.feed.telegram
        telegram.touched[self.tg_id] = []
        telegram.answers.pop(self.tg_id, None)

    async def send(self, text: str, step: str | None = None) -> None:
        self._forget()
        n = self.feed.update_id()
        entities = ([{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
                    if text.startswith("/") else [])
        await self.feed.put(self.tg_id, step or text.split()[0], {
            "update_id": n, "message": {
                "message_id": self.feed.telegram.next_id(), "date": int(time.time()),
                "text": text, "entities": entities, "chat": self.chat, "from": self.user}})

    def shown(self) -> dict[int, Shown]:
        return self.feed.telegram.chats[self.tg_id]

    def answered(self) -> list[tuple[int, Shown]]:
        """The messages the bot sent or edited in answer to the latest update, newest first."""
        shown = self.shown()
        touched = self.feed.telegram.touched[self.tg_id]
        return [(m, shown[m]) for m in dict.fromkeys(reversed(touched)) if m in shown]

    def last_text(self) -> str:
        answered = self.answered()
        return answered[0][1].text if answered else ""

    def toast(self) -> str:
        """The answer to the latest press (the toast), if any."""
        return self.feed.telegram.answers.get(self.tg_id, "")

    def screen(self) -> str:
        """What the person sees after the latest update, for a stuck script's report."""
        texts = [shown.text[:200] for _, shown in self.answered()] or ["(nothing)"]
        toast = f" toast {self.toast()!r}" if self.toast() else ""
        return " | ".join(texts) + toast

    def button(self, label: str = "", data: str = "") -> tuple[int, Shown, str] | None:
        """The inline button whose text starts with ``label`` and data with ``data``, among
        the messages the bot just sent or edited (newest first): a person presses what the
        bot answered, so a step the bot did not show cannot be taken by an older button."""
        for message_id, shown in self.answered():
            for row in (shown.markup or {}).get("inline_keyboard", []):
                for b in row:
                    if b["text"].startswith(label) and b.get("callback_data", "").startswith(
                            data):
                        return message_id, shown, b["callback_data"]
        return None

    async def press(self, label: str = "", step: str | None = None, *, data: str = "") -> None:
        found = self.button(label, data)
        if found is None:
            raise AssertionError(f"{self.tg_id}: no button {label or data!r};"
                                 f" the bot answered: {self.screen()}")
        message_id, shown, callback = found
        self._forget()
        n = self.feed.update_id()
        self.feed.telegram.queries[str(n)] = self.tg_id
        await self.feed.put(self.tg_id, step or f"press {label or data}", {
            "update_id": n, "callback_query": {
                "id": str(n), "from": self.user, "chat_instance": str(self.tg_id),
                "data": callback, "message": {
                    "message_id": message_id, "date": int(time.time()), "chat": self.chat,
                    "text": shown.text or "…",
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "B"}}}})


async def resident(p: Person, hamlet: str) -> None:
    """From the hamlet's poster to a filed tip, then the resident's own list and status."""
    await p.send(f"/start t_{hamlet}", "/start (poster)")
    await p.press("Trộm cắp", "category")
    await p.send("Mất trộm xe máy trước cổng chợ lúc rạng sáng.", "tip text")
    await p.press("Tiếp ➡️", "after text")
    await p.send("Tiếp ➡️", "place (poster's hamlet)")
    await p.press("Hôm nay", "when")
    await p.press("🔒 Gửi ẩn danh", "anonymous")
    await p.press("✅ Gửi tin báo", "send")
    # The press is answered with the new code at once; the receipt itself comes through the
    # outbox, paced under Telegram's 30/s like every message the bot owes.
    code = CODE.findall(p.toast())
    if not code:
        raise AssertionError(f"{p.tg_id}: no case code after «Gửi tin báo»; the bot"
                             f" answered: {p.screen()}")
    await p.send("/mytips")
    if code[0] not in p.last_text() + json.dumps([s.markup for _, s in p.answered()]):
        raise AssertionError(f"{p.tg_id}: {code[0]} not in /mytips: {p.screen()}")
    await p.send(f"/status {code[0]}", "/status")
    if code[0] not in p.last_text():
        raise AssertionError(f"{p.tg_id}: /status {code[0]} answered: {p.screen()}")


async def reporter(p: Person, values: list[int]) -> None:
    """Last week's report: period, ten numbers, review, submit."""
    await p.send("/report")
    await p.press("Tuần", "period")
    for value in values:
        await p.send(str(value), "number")
        if p.button("Đúng, ") is not None:
            await p.press("Đúng, ", "are you sure")
    await p.press("✅ Nộp báo cáo", "submit")
    if "đã nộp" not in p.last_text().lower() and "Đã nộp" not in p.last_text():
        raise AssertionError(f"{p.tg_id}: report not submitted: {p.last_text()[:300]!r}")


async def coordinator(p: Person) -> None:
    """The inbox, a tip from it, an action on its card."""
    await p.send("/inbox")
    await p.press(data="tip:", step="open a tip")
    await p.send("/inbox")


async def _scripts(feed: Feed, people: People, rounds: int, first: int, at_once: int) -> Pass:
    """The people's scripts, ``at_once`` people at a time, from person ``first`` of each kind."""
    size = people.size
    gate = asyncio.Semaphore(at_once)
    jobs = []
    for n in range(first * 6, (first + rounds) * 6):
        hamlet = People.hamlet_code((n * 7919) % size.hamlets)
        jobs.append((people.resident(n), lambda p, h=hamlet: resident(p, h)))
    for n in range(first * 3, (first + rounds) * 3):
        h = (n * 7) % size.hamlets  # 7 is prime to the hamlet counts: distinct
        base = 5 + h % 20
        jobs.append((people.reporter(h), lambda p, b=base: reporter(p, [b + k % 3 for k in
                                                                         range(10)])))
    for c in range(first, min(size.communes, first + rounds // 2)):
        jobs.append((people.coordinator(c), coordinator))
    jobs.sort(key=lambda job: job[0] * 7919 % 10007)  # mixed: residents, reporters, staff

    async def one(tg_id: int, script) -> None:
        async with gate:
            try:
                await script(Person(feed, tg_id))
            except AssertionError as exc:  # the bot showed what the script did not expect
                stuck.append(str(exc))

    stuck: list[str] = []
    t0, c0, l0 = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(one(tg, s) for tg, s in jobs))
    taken = feed.take()
    taken.elapsed, taken.cpu = time.perf_counter() - t0, time.process_time() - c0
    taken.loop_cpu = time.thread_time() - l0
    taken.stuck = stuck
    return taken


async def _replay(feed: Feed, recorded: Pass, at_once: int) -> Pass:
    """The same updates, person by person, with the same concurrency."""
    gate = asyncio.Semaphore(at_once)

    async def one(chat: int, steps: list[tuple[str, dict]]) -> None:
        async with gate:
            for step, data in steps:
                await feed.put(chat, step, data)

    t0, c0, l0 = time.perf_counter(), time.process_time(), time.thread_time()
    await asyncio.gather(*(one(c, s) for c, s in recorded.sent.items()))
    taken = feed.take()
    taken.elapsed, taken.cpu = time.perf_counter() - t0, time.process_time() - c0
    taken.loop_cpu = time.thread_time() - l0
    return taken


def _settings(folder: Path):
    return load_settings(token=TOKEN, db=folder / "bench.db", secret_key=SECRET)


async def _ours(folder: Path, people: People, rounds: int):
    """Throughput (CONCURRENT people at once), then latency (one at a time, other people)."""
    settings = _settings(folder)
    db = await Database.open(settings.db)
    app = build_application(settings, db, rate_limiter=False)  # the echo bot has none
    telegram = Telegram()
    app.bot._request = (telegram, telegram)  # type: ignore[attr-defined]
    await _caught_up(app.bot_data["services"], db)
    t0 = time.perf_counter()
    await app.initialize()
    await post_init(app)
    await app.start()
    print(f"Bình Yên started in {time.perf_counter() - t0:.2f} s", flush=True)
    feed = Feed(app, telegram)
    busy = await _scripts(feed, people, rounds, 0, CONCURRENT)
    calls = Counter(telegram.calls)
    alone = await _scripts(feed, people, rounds // LATENCY_SHARE, rounds, 1)
    filed = (await db.conn.execute_fetchall("SELECT COUNT(*) FROM tips WHERE created_at >"
                                            " date('now', '-1 day')"))[0][0]
    reports = (await db.conn.execute_fetchall("SELECT COUNT(*) FROM reports WHERE"
                                              " submitted_at > date('now', '-1 day')"))[0][0]
    await stop_bot(Running(app, db))
    return busy, alone, filed, reports, calls


async def _caught_up(svc, db: Database) -> None:
    """As if the bot had been running all along: what fell due until now was sent then.

    Otherwise the first tick would catch up this week's digests for every coordinator
    (charts and workbooks rendered in threads) while the benchmark runs: a morning after
    a long outage, not the steady traffic measured here.
    """
    await svc.reports.sync_sets(indicator_sets())
    due = await deliveries.tick(svc, svc.now())
    await db.conn.execute("UPDATE outbox SET status = 'sent', sent_at = created_at"
                          " WHERE status = 'pending'")
    await db.conn.commit()
    print(f"{due:,} scheduled messages that fell due before the run marked sent", flush=True)


async def _echo(busy: Pass, alone: Pass) -> tuple[Pass, Pass]:
    telegram = Telegram()
    app = (ApplicationBuilder().token(TOKEN).request(telegram).get_updates_request(telegram)
           .concurrent_updates(ChatOrderedProcessor(LIMIT)).build())

    async def echo(update: Update, context) -> None:
        query = update.callback_query
        if query is not None:
            await query.answer()
            await query.edit_message_text(query.data or "…")
        else:
            await update.effective_chat.send_message(update.effective_message.text or "…")

    app.add_handler(TypeHandler(Update, echo))
    await app.initialize()
    await app.start()
    feed = Feed(app, telegram)
    echoed = await _replay(feed, busy, CONCURRENT), await _replay(feed, alone, 1)
    await app.stop()
    await app.shutdown()
    return echoed


def _all(latencies: dict[str, list[float]]) -> list[float]:
    return [x for values in latencies.values() for x in values]


def _quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49] * 1e3, q[98] * 1e3


def run(quick: bool) -> dict:
    """Preload, run ours, replay to the echo bot, and return the figures."""
    rounds = 60 if quick else 250
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _, people = database(folder, quick)
        busy, alone, filed, reports, calls = asyncio.run(_ours(folder, people, rounds))
    echo_busy, echo_alone = asyncio.run(_echo(busy, alone))
    assert echo_busy.count == busy.count and echo_alone.count == alone.count
    p50, p99 = _quantiles(alone.handling)
    echo_p50, echo_p99 = _quantiles(echo_alone.handling)
    answered = _quantiles(_all(busy.latencies))
    print(f"{busy.count:,} updates from {len(busy.sent):,} people ({CONCURRENT} at once);"
          f" {filed:,} tips and {reports:,} reports filed in both passes;"
          f" {sum(calls.values()) / busy.count:.2f} Bot API calls per update"
          f" ({', '.join(f'{k} {v:,}' for k, v in calls.most_common(6))})")
    print(f"throughput, {CONCURRENT} people at once:  echo {echo_busy.rate:6.0f} updates/s,"
          f"  binhyen {busy.rate:6.0f} updates/s,  ratio {busy.rate / echo_busy.rate:.3f}")
    print(f"  CPU per update: echo {echo_busy.cpu / echo_busy.count * 1e3:.3f} ms,"
          f" binhyen {busy.cpu / busy.count * 1e3:.3f} ms,"
          f" ratio {echo_busy.cpu / echo_busy.count / (busy.cpu / busy.count):.3f}")
    # The rate is bound by the loop's thread (the database thread runs beside it, but both
    # share one GIL): its CPU per update, and the share of the wall time it sat idle.
    for name, p in (("echo", echo_busy), ("binhyen", busy)):
        print(f"  event loop thread, {name}: {p.loop_cpu / p.count * 1e3:.3f} ms of CPU per"
              f" update, idle {max(0.0, 1 - p.loop_cpu / p.elapsed):.0%} of the time;"
              f" other threads {max(0.0, p.cpu - p.loop_cpu) / p.count * 1e3:.3f} ms per update")
    print(f"  each answer came after p50 {answered[0]:.1f} ms, p99 {answered[1]:.1f} ms"
          " (queueing behind the others included)")
    print(f"latency, {alone.count:,} updates of other people, one at a time (handling time):")
    print(f"  echo    p50 {echo_p50:6.2f} ms  p99 {echo_p99:6.2f} ms  ({echo_alone.rate:.0f}/s)")
    print(f"  binhyen p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({alone.rate:.0f}/s)")
    sent = sum(1 for p in (busy, alone) for steps in p.sent.values()
               for step, _ in steps if step == "send")
    if filed != sent:  # every press of «Gửi tin báo» must leave a tip
        print(f"LOST: {sent:,} residents pressed send, {filed:,} tips were stored")
    for gone in busy.stuck + alone.stuck:
        print(f"STUCK: {gone[:600]}")
    print("  slowest steps (p99 ms, count):")
    for step, values in sorted(alone.latencies.items(),
                               key=lambda kv: -_quantiles(kv[1] * 2)[1])[:8]:
        print(f"    {step:<28} {_quantiles(values * 2)[1]:7.2f}  {len(values):,}")
    return {"update_per_s": round(busy.rate, 1),
            "echo_update_per_s": round(echo_busy.rate, 1),
            "update_ratio_vs_echo": round(busy.rate / echo_busy.rate, 3),
            "update_p50_ms": round(p50, 2), "update_p99_ms": round(p99, 2),
            "update_people_stuck": len(busy.stuck) + len(alone.stuck),
            "update_tips_lost": sent - filed}


if __name__ == "__main__":
    cli(run)
