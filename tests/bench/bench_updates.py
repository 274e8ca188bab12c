"""Update handling throughput: Bình Yên against a bare PTB echo bot, same run, in-process.

Both applications get the same Bot whose HTTP layer answers at once in memory,
so the figures measure handler work (PTB dispatch, our cache, SQLite hops),
not the network. The database holds a million tips (``BENCH_TIPS``) before the
run. Traffic: residents filing a tip step by step (/newtip, buttons, text, send:
a real insert and a card to the commune's coordinator), /mytips, /status, /start
and /help; reporters mixing /start, /help and text.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from bot.settings import load_settings
from storage.db import Database
from storage.models import Role
from storage.tip_lifecycle import CODE_ALPHABET, CODE_LENGTH, CODE_PREFIX, categories
from storage.units import parse_units_csv
from tests.conftest import UNITS_CSV

TOKEN = "7000000009:BENCH-token-abcdefghijklmnopqrst"
USERS = 2000
TIPS = int(os.environ.get("BENCH_TIPS", "1000000"))
# What each resident does, one update per round (reporters: the first three kinds only).
RESIDENT_SCRIPT = [
    ("text", "/start"), ("text", "/mytips"), ("status", ""), ("text", "/newtip"),
    ("press", "tipf:cat:theft"), ("text", "Mất trộm xe máy trước cổng chợ lúc rạng sáng."),
    ("press", "tipf:next"), ("text", "Bỏ qua ➡️"), ("press", "tipf:when:today"),
    ("press", "tipf:anon:yes"), ("press", "tipf:send"), ("text", "/help"),
]
REPORTER_SCRIPT = [("text", "/start"), ("text", "/help"), ("text", "xin chào")]


class InstantRequest(BaseRequest):
    """Answers every Bot API call in memory, as a fast Telegram would."""

    def __init__(self) -> None:
        self.calls = 0
        self._message_id = 0

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, url, method, request_data: RequestData | None = None, **_):
        self.calls += 1
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "getMe":
            result = {"id": 7000000009, "is_bot": True, "first_name": "B", "username": "bench_bot"}
        elif name.startswith(("send", "edit")):  # Telegram returns the (edited) message
            if name.startswith("send"):
                self._message_id += 1
            result = {"message_id": int(params.get("message_id", self._message_id)), "date": 0,
                      "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                      "text": str(params.get("text", ""))}
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def _code(n: int) -> str:
    """The n-th case code (seeded tips get distinct, valid codes)."""
    chars = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[r])
    return CODE_PREFIX + "".join(chars)


def _is_reporter(i: int) -> bool:
    return i % 10 == 0


def _updates() -> list[dict]:
    """Round by round: every user takes the next step of their script."""
    out: list[dict] = []
    rounds = len(RESIDENT_SCRIPT)
    for step in range(rounds):
        for i in range(USERS):
            script = REPORTER_SCRIPT if _is_reporter(i) else RESIDENT_SCRIPT
            kind, value = script[step % len(script)]
            uid = 10_000 + i
            n = len(out) + 1
            user = {"id": uid, "is_bot": False, "first_name": "U"}
            chat = {"id": uid, "type": "private"}
            if kind == "press":
                message = {"message_id": n, "date": 0, "chat": chat, "text": "…",
                           "from": {"id": 7000000009, "is_bot": True, "first_name": "B"}}
                out.append({"update_id": n, "callback_query": {
                    "id": str(n), "from": user, "chat_instance": str(uid), "data": value,
                    "message": message}})
                continue
            text = f"/status {_code(i)}" if kind == "status" else value
            entities = ([{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
                        if text[0] == "/" else [])
            out.append({"update_id": n, "message": {
                "message_id": n, "date": 0, "text": text, "entities": entities,
                "chat": chat, "from": user}})
    return out


async def _drive(app: Application, raw: list[dict]) -> tuple[float, list[float]]:
    """Feed the updates through the application's update processor, one at a time.

    One at a time: in-process there is no network round trip to overlap, so running
    updates concurrently only adds task switches (measured: both bots get slower). Going
    through the processor still counts what ours costs per update (a chat lock, a slot).
    """
    latencies: list[float] = []
    processor = app.update_processor
    start = time.perf_counter()
    for data in raw:
        t0 = time.perf_counter()
        update = Update.de_json(data, app.bot)
        await processor.process_update(update, app.process_update(update))
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


async def _echo() -> Application:
    app = ApplicationBuilder().token(TOKEN).request(InstantRequest()).build()

    async def echo(update, context):
        if update.callback_query:
            await update.callback_query.answer()
        await update.effective_chat.send_message(update.effective_message.text or "…")

    app.add_handler(MessageHandler(filters.ALL, echo))
    await app.initialize()
    return app


async def _binhyen(folder: Path) -> tuple[Application, Database]:
    settings = load_settings(token=TOKEN, db=folder / "bench.db",
                             secret_key="bench-secret-0123456789abcdefghijkl")
    db = await Database.open(settings.db)
    app = build_application(settings, db, rate_limiter=False)  # the echo bot has none
    app.bot._request = (InstantRequest(), InstantRequest())  # type: ignore[attr-defined]
    await app.initialize()
    svc = app.bot_data["services"]
    await svc.units.import_rows(parse_units_csv(UNITS_CSV))
    hamlet = await svc.units.by_code("TH-ANPHU")
    commune = await svc.units.by_code("TANHOA")
    officer = 9_000
    await svc.users.ensure(officer, officer)
    await svc.users.set_locale(officer, "vi")
    await svc.users.grant(officer, Role.COORDINATOR, commune.id)  # every new tip reaches him
    user_ids = []
    for i in range(USERS):  # every user known and with a language; a tenth are reporters
        uid = 10_000 + i
        user_ids.append((await svc.users.ensure(uid, uid)).id)
        await svc.users.set_locale(uid, "vi")
        if _is_reporter(i):
            await svc.users.grant(uid, Role.REPORTER, hamlet.id)
    t0 = time.perf_counter()
    await _seed_tips(db, svc, user_ids)
    print(f"seeded {TIPS:,} tips in {time.perf_counter() - t0:.1f} s")
    svc.users.forget()  # start cold, as after a restart
    return app, db


async def _seed_tips(db: Database, svc, user_ids: list[int]) -> None:
    """A million tips over two years in three hamlets; each bench user sent some of them."""
    tree = await svc.units.tree()
    hamlets = [u.id for u in tree.by_id.values() if not tree.children.get(u.id)]
    cats = [c.code for c in categories()]
    rng = random.Random(7)
    start = datetime(2024, 11, 21, tzinfo=UTC)
    filler = os.urandom(60)  # stands for a sealed sender id (never opened here)
    own = {i: svc.tips.sender_tag(uid) for i, uid in enumerate(user_ids)}

    def rows():
        for n in range(TIPS):
            mine = n < USERS  # tip n belongs to user n: their /status code
            owner = n if mine else rng.randrange(USERS * 20)
            tag = own[owner] if owner < USERS else rng.randbytes(16)
            sealed = (svc.tips._vault.seal_json({"user_id": user_ids[owner], "name": None},
                                                context=b"tip:" + _code(n).encode())
                      if mine else filler)
            created = start + timedelta(minutes=n * 1.05)
            closed = created + timedelta(days=3) if n % 3 else None
            content = svc.tips.seal_content(_code(n), {  # sealed like every filed tip
                "body": "Một tin báo cũ để đo hiệu năng.", "place_text": None,
                "latitude": None, "longitude": None, "media": []})
            yield (_code(n), rng.choice(cats), "closed" if closed else "acknowledged",
                   "resolved" if closed else None, rng.choice(hamlets), "today",
                   created.date().isoformat(), "", content, 1, tag, sealed,
                   created.isoformat(), closed.isoformat() if closed else None)

    def run(conn) -> None:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO tips (code, category, status, resolution, unit_id, occurred_kind,"
            " occurred_at, body, content, anonymous, sender_tag, sender_sealed, created_at,"
            " closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows())
        conn.execute("COMMIT")
        conn.execute("ANALYZE")

    await db.run_sync(run)


def _report(name: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:>10}: {rate:8.0f} updates/s"
          f"  p50 {q[49] * 1e3:6.2f} ms  p99 {q[98] * 1e3:6.2f} ms")
    return rate


async def _main() -> None:
    raw = _updates()
    echo = await _echo()
    echo_rate = _report("echo", *await _drive(echo, raw))
    await echo.shutdown()
    with tempfile.TemporaryDirectory() as folder:
        app, db = await _binhyen(Path(folder))
        ours = _report("binhyen", *await _drive(app, raw))
        filed = await db.conn.execute_fetchall("SELECT COUNT(*) FROM tips")
        print(f"tips stored after the run: {filed[0][0]:,}"
              f" ({filed[0][0] - TIPS:,} filed during it)")
        await app.shutdown()
        await db.close()
    print(f"ratio binhyen/echo: {ours / echo_rate:.2f} (target ≥ 0.50)")


def main() -> None:
    """Print the figures."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
