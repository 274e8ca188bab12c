"""Update handling throughput: Bình Yên against a bare PTB echo bot, same run, in-process.

Both applications get the same Bot whose HTTP layer answers at once in memory,
so the figures measure handler work (PTB dispatch, our cache, SQLite hops),
not the network. Traffic: residents and reporters mixing /start, /help and text.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bot.app import build_application
from bot.settings import load_settings
from storage.db import Database
from storage.models import Role
from storage.units import parse_units_csv
from tests.conftest import UNITS_CSV

TOKEN = "7000000009:BENCH-token-abcdefghijklmnopqrst"
USERS = 2000
UPDATES = 6000


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
        elif name.startswith("send"):
            self._message_id += 1
            result = {"message_id": self._message_id, "date": 0,
                      "chat": {"id": int(params.get("chat_id", 0)), "type": "private"},
                      "text": str(params.get("text", ""))}
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()


def _updates(n: int) -> list[dict]:
    texts = ["/start", "/help", "xin chào", "/start", "còn gì nữa không?"]
    out = []
    for i in range(n):
        uid = 10_000 + i % USERS
        text = texts[i % len(texts)]
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text)}] if text[0] == "/" else []
        )
        out.append({"update_id": i + 1, "message": {
            "message_id": i + 1, "date": 0, "text": text, "entities": entities,
            "chat": {"id": uid, "type": "private"},
            "from": {"id": uid, "is_bot": False, "first_name": "U"}}})
    return out


async def _drive(app: Application, raw: list[dict]) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for data in raw:
        t0 = time.perf_counter()
        await app.process_update(Update.de_json(data, app.bot))
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


async def _echo() -> Application:
    app = ApplicationBuilder().token(TOKEN).request(InstantRequest()).build()

    async def echo(update, context):
        await update.effective_chat.send_message(update.effective_message.text)

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
    for i in range(USERS):  # every user known and with a language; a tenth are reporters
        uid = 10_000 + i
        await svc.users.ensure(uid, uid)
        await svc.users.set_locale(uid, "vi")
        if i % 10 == 0:
            await svc.users.grant(uid, Role.REPORTER, hamlet.id)
    svc.users.forget()  # start cold, as after a restart
    return app, db


def _report(name: str, elapsed: float, latencies: list[float]) -> float:
    rate = len(latencies) / elapsed
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:>10}: {rate:8.0f} updates/s"
          f"  p50 {q[49] * 1e3:6.2f} ms  p99 {q[98] * 1e3:6.2f} ms")
    return rate


async def _main() -> None:
    raw = _updates(UPDATES)
    echo = await _echo()
    echo_rate = _report("echo", *await _drive(echo, raw))
    await echo.shutdown()
    with tempfile.TemporaryDirectory() as folder:
        app, db = await _binhyen(Path(folder))
        ours = _report("binhyen", *await _drive(app, raw))
        await app.shutdown()
        await db.close()
    print(f"ratio binhyen/echo: {ours / echo_rate:.2f} (target ≥ 0.50)")


def main() -> None:
    """Print the figures."""
    asyncio.run(_main())


if __name__ == "__main__":
    main()
