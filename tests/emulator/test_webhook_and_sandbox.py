"""Webhook delivery to a real PTB webhook receiver, and the sandbox JSON API over HTTP."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
from telegram.ext import Application

from bot.emulator import DEMO_LOCATION, Emulator, EmulatorServer, tiny_png

from .conftest import build_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_delivery_with_secret(
    emu: Emulator, server: EmulatorServer, seen: dict[str, list[Any]]
) -> None:
    app: Application = build_app(server, seen)
    port = free_port()
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url=f"http://127.0.0.1:{port}/hook",
        secret_token="s3cret-Token_1",
    )
    try:
        assert emu.bot is not None and emu.bot.webhook_url.endswith("/hook")
        assert emu.bot.webhook_secret == "s3cret-Token_1"
        lan = emu.user(1001, "Lan")
        lan.send("/start")
        reply = await lan.next_message(timeout=5)
        assert reply.text.startswith("Xin chào Lan")
        cq = lan.press(reply, "Hủy")
        assert (await lan.callback_answer(cq))["text"] == "Đã chọn no"
        await lan.wait_until(lambda: not emu.bot.updates)  # delivered updates are dropped
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_webhook_wrong_secret_is_retried_and_reported(
    emu: Emulator, server: EmulatorServer
) -> None:
    """A receiver that rejects the delivery (403) keeps the update pending with an error."""
    import tornado.httpserver
    import tornado.web

    got: list[str | None] = []

    class Hook(tornado.web.RequestHandler):
        def post(self) -> None:
            got.append(self.request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
            self.set_status(403 if len(got) == 1 else 200)

    port = free_port()
    receiver = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/hook", Hook)]))
    receiver.listen(port, "127.0.0.1")
    try:
        async with httpx.AsyncClient(base_url=f"{server.base_url}{emu.bot.token}") as client:
            r = await client.post(
                "/setWebhook", json={"url": f"http://127.0.0.1:{port}/hook", "secret_token": "abc"}
            )
            assert r.json()["ok"]
            emu.user(1001, "Lan").send("một")
            assert await emu.wait_until(lambda: emu.bot.webhook_last_error_message, 5)
            info = (await client.get("/getWebhookInfo")).json()["result"]
            assert info["pending_update_count"] == 1
            assert "403" in info["last_error_message"]
            await emu.wait_until(lambda: not emu.bot.updates, 5)  # the retry succeeded
            assert got == ["abc", "abc"]
    finally:
        receiver.stop()
        await emu.aclose()


async def test_sandbox_api(emu: Emulator, server: EmulatorServer) -> None:
    lan = emu.user(1001, "Lan", label="Chị Lan — người dân")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        state = (await client.get("/sandbox/api/state")).json()
        assert state["bot"]["username"] == "binhyen_test_bot"
        assert state["users"][0]["label"] == "Chị Lan — người dân"
        assert state["demo_location"] == DEMO_LOCATION

        created = (
            await client.post(
                "/sandbox/api/users", json={"first_name": "Bảy", "label": "Ông Bảy — trưởng ấp"}
            )
        ).json()["user"]
        assert created["label"] == "Ông Bảy — trưởng ấp" and created["id"] in emu.users

        sent = (
            await client.post("/sandbox/api/send", json={"user_id": 1001, "text": "/start"})
        ).json()["message"]
        assert sent["from_bot"] is False and sent["text"] == "/start"
        assert emu.bot.updates[-1]["message"]["text"] == "/start"

        # The bot answers (directly through the Bot API here) with a keyboard.
        seq = state["seq"]
        events = asyncio.create_task(
            client.get("/sandbox/api/events", params={"since": seq + 2, "timeout": 5})
        )
        bot_api = f"{server.base_url}{emu.bot.token}"
        markup = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}]]}
        r = await client.post(
            f"{bot_api}/sendMessage",
            json={
                "chat_id": 1001,
                "text": "<b>Chào</b>",
                "parse_mode": "HTML",
                "reply_markup": markup,
            },
        )
        mid = r.json()["result"]["message_id"]
        evs = (await events).json()["events"]
        assert any(e["type"] == "message" and e["chat_id"] == 1001 for e in evs)

        users = (await client.get("/sandbox/api/users")).json()["users"]
        assert next(u for u in users if u["id"] == 1001)["unread"] == 1
        chat = (await client.get("/sandbox/api/chat", params={"user_id": 1001})).json()
        last = chat["messages"][-1]
        assert last["html"] == "<b>Chào</b>" and last["buttons"][0][0]["callback_data"] == "yes"
        users = (await client.get("/sandbox/api/users")).json()["users"]
        assert next(u for u in users if u["id"] == 1001)["unread"] == 0

        pressed = (
            await client.post(
                "/sandbox/api/press", json={"user_id": 1001, "message_id": mid, "button": "yes"}
            )
        ).json()
        qid = pressed["callback_query_id"]
        await client.post(
            f"{bot_api}/answerCallbackQuery", json={"callback_query_id": qid, "text": "Đã nhận"}
        )
        answer = (await client.get("/sandbox/api/answer", params={"id": qid})).json()
        assert answer["answered"] and answer["answer"]["text"] == "Đã nhận"

        bad = await client.post(
            "/sandbox/api/press", json={"user_id": 1001, "message_id": mid, "button": "nope"}
        )
        assert bad.status_code == 400 and "nope" in bad.json()["error"]

        png = tiny_png(6, 4)
        up = (
            await client.post(
                "/sandbox/api/upload",
                data={"user_id": "1001", "caption": "ảnh"},
                files={"file": ("a.png", png, "image/png")},
            )
        ).json()["message"]
        assert up["file"]["kind"] == "photo" and up["file"]["width"] == 6
        assert (await client.get(up["file"]["url"])).content == png
        doc = (
            await client.post(
                "/sandbox/api/upload",
                data={"user_id": "1001"},
                files={"file": ("đơn.pdf", b"%PDF", "application/pdf")},
            )
        ).json()
        assert doc["message"]["file"]["kind"] == "document"
        assert lan.history()[-1].raw["document"]["file_name"] == "đơn.pdf"

        loc = (await client.post("/sandbox/api/location", json={"user_id": 1001})).json()
        assert loc["message"]["location"] == DEMO_LOCATION

        blocked = (
            await client.post("/sandbox/api/block", json={"user_id": 1001, "blocked": True})
        ).json()
        assert blocked["user"]["blocked"] is True and lan.blocked
        assert (await client.get("/sandbox/api/chat", params={"user_id": 5})).status_code == 404
