"""Telegram's rules as enforced by the emulator, checked through a real PTB Bot over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, BotCommand, BotCommandScopeChat, InlineKeyboardButton
from telegram import InlineKeyboardMarkup as Markup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from bot.emulator import Emulator, EmulatorServer, ManualClock, tiny_png

from .conftest import TOKEN

# PTB 22 warns that RetryAfter.retry_after will become a timedelta; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")


def started(emu: Emulator, user_id: int, name: str = "U") -> None:
    emu.user(user_id, name).send("/start")


async def test_text_length_limits(emu: Emulator, bot: Bot, clock: ManualClock) -> None:
    started(emu, 1001)
    ok = await bot.send_message(1001, "x" * 4096)
    assert len(ok.text) == 4096
    clock.advance(5)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    # Limits apply after entity parsing: markup does not count.
    await bot.send_message(1001, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    clock.advance(5)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1001, "   \n ")
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(1001, tiny_png(), caption="c" * 1025)
    # Refused calls sent nothing.
    assert [len(m.text) for m in emu.user(1001).messages()] == [4096, 4096]


async def test_html_errors_match_telegram(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "div" at byte offset 0'):
        await bot.send_message(1001, "<div>x</div>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag corresponding to start tag"):
        await bot.send_message(1001, "<b>x", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)not supported by this emulator"):
        await bot.send_message(1001, "*x*", parse_mode="MarkdownV2")
    assert emu.user(1001).messages() == []


async def test_callback_data_limit_and_button_rules(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    fits = "ế" * 21  # 63 bytes in UTF-8
    msg = await bot.send_message(
        1001, "ok", reply_markup=Markup([[InlineKeyboardButton("a", callback_data=fits)]])
    )
    assert msg.reply_markup.inline_keyboard[0][0].callback_data == fits
    for too_long in ("d" * 65, "ế" * 22):
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(
                1001,
                "x",
                reply_markup=Markup([[InlineKeyboardButton("a", callback_data=too_long)]]),
            )
    raw = {"inline_keyboard": [[{"text": "no action"}]]}
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{bot.base_url}/sendMessage",
            json={"chat_id": 1001, "text": "x", "reply_markup": raw},
        )
    assert r.status_code == 400
    assert "Text buttons are unallowed" in r.json()["description"]


async def test_forbidden_and_chat_not_found(emu: Emulator, bot: Bot) -> None:
    emu.user(1001, "Never wrote")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(1001, "hello")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "hello")
    lan = emu.user(1002, "Lan")
    lan.send("hi")
    lan.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1002, "hello")
    lan.unblock()
    assert (await bot.send_message(1002, "hello")).text == "hello"
    assert [c.error_code for c in emu.calls("sendMessage")] == [403, 400, 403, None]


async def test_per_chat_flood_gives_retry_after(
    emu: Emulator, bot: Bot, clock: ManualClock
) -> None:
    started(emu, 1001)
    for i in range(3):  # the default burst of 3 is tolerated
        await bot.send_message(1001, f"m{i}")
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1001, "flood")
    # bot.app opts in to PTB_TIMEDELTA (as the running bot does): a timedelta.
    assert info.value.retry_after == timedelta(seconds=1)
    rejected = emu.calls("sendMessage")[-1]
    assert rejected.error_code == 429 and rejected.description == "Too Many Requests: retry after 1"
    assert len(emu.user(1001).messages()) == 3
    # Another chat is not affected by this chat's flood.
    started(emu, 1002)
    await bot.send_message(1002, "other chat")
    clock.advance(1.0)
    await bot.send_message(1001, "after waiting")
    assert emu.user(1001).last_message().text == "after waiting"


async def test_global_limit_30_per_second(emu: Emulator, bot: Bot, clock: ManualClock) -> None:
    for uid in range(5000, 5040):
        started(emu, uid)
    for uid in range(5000, 5030):
        await bot.send_message(uid, "wave")
    with pytest.raises(RetryAfter):
        await bot.send_message(5030, "one too many")
    clock.advance(0.1)  # 3 more slots refill at 30/s
    for uid in range(5030, 5033):
        await bot.send_message(uid, "wave")
    with pytest.raises(RetryAfter):
        await bot.send_message(5033, "again too many")
    # A media group counts per item.
    clock.advance(1.0)
    await bot.send_media_group(5039, [_photo(), _photo()])
    assert sum(1 for c in emu.calls() if c.ok and c.method.startswith("send")) == 34
    # ...also against the chat's budget: 4 items from a burst of 3 leave the chat owing 2 s.
    clock.advance(5.0)
    await bot.send_media_group(5038, [_photo() for _ in range(4)])
    with pytest.raises(RetryAfter):
        await bot.send_message(5038, "too soon")
    assert emu.calls("sendMessage")[-1].description == "Too Many Requests: retry after 2"


def _photo():
    from telegram import InputMediaPhoto

    return InputMediaPhoto(tiny_png())


async def test_edit_and_delete_rules(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    kb = Markup([[InlineKeyboardButton("A", callback_data="a")]])
    msg = await bot.send_message(1001, "Một", reply_markup=kb)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Một", 1001, msg.message_id, reply_markup=kb)
    edited = await bot.edit_message_text("Hai", 1001, msg.message_id, reply_markup=kb)
    assert edited.text == "Hai" and edited.edit_date is not None
    no_kb = await bot.edit_message_reply_markup(1001, msg.message_id)
    assert no_kb.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(1001, msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", 1001, 1)  # the user's /start
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", 1001, 999)
    assert await bot.pin_chat_message(1001, msg.message_id)
    assert emu.user(1001).pinned.message_id == msg.message_id
    assert await bot.delete_message(1001, msg.message_id)
    view = emu.user(1001).messages(include_deleted=True)[0]
    assert view.deleted and view.text == "Hai"
    assert emu.user(1001).pinned is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(1001, msg.message_id)


async def test_callback_answer_rules(emu: Emulator, bot: Bot, clock: ManualClock) -> None:
    lan = emu.user(1001, "Lan")
    lan.send("/start")
    kb = Markup([[InlineKeyboardButton("A", callback_data="a")]])
    await bot.send_message(1001, "?", reply_markup=kb)
    msg = await lan.next_message()
    first, second, third = (lan.press(msg, "a") for _ in range(3))
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(first.id, text="x" * 201)
    assert await bot.answer_callback_query(first.id, text="x" * 200, show_alert=True)
    assert first.answer == {"text": "x" * 200, "show_alert": True, "url": None, "cache_time": None}
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(first.id)
    assert await bot.answer_callback_query(second.id)
    clock.advance(15 * 60 + 1)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(third.id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")


async def test_files_from_url_refused_and_file_id_reuse(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    with pytest.raises(BadRequest, match=r"(?i)no internet"):
        await bot.send_photo(1001, "https://example.com/a.jpg")
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(1001, b"not an image")
    first = await bot.send_document(1001, b"a,b\n1,2\n", filename="bao-cao.csv")
    again = await bot.send_document(1001, first.document.file_id)
    assert again.document.file_id == first.document.file_id
    f = await bot.get_file(first.document.file_id)
    assert bytes(await f.download_as_bytearray()) == b"a,b\n1,2\n"
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(1001, "nonexistent-file-id")


async def test_commands_by_scope_and_language(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    await bot.set_my_commands([BotCommand("start", "Bắt đầu"), BotCommand("status", "Tra cứu")])
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await bot.set_my_commands([BotCommand("digest", "Tổng hợp")], scope=BotCommandScopeChat(1001))
    assert [c["command"] for c in emu.commands()] == ["start", "status"]
    assert emu.commands(language_code="en") == [{"command": "start", "description": "Start"}]
    assert emu.commands({"type": "chat", "chat_id": 1001})[0]["command"] == "digest"
    got = await bot.get_my_commands(scope=BotCommandScopeChat(1001))
    assert [c.command for c in got] == ["digest"]
    await bot.delete_my_commands(language_code="en")
    assert emu.commands(language_code="en") == []
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.set_chat_menu_button()
    assert await bot.send_chat_action(1001, "typing")
    chat = await bot.get_chat(1001)
    assert chat.first_name == "U" and chat.type == "private"


async def test_unknown_method_wrong_token_and_bodies(server: EmulatorServer, emu: Emulator) -> None:
    started(emu, 1001)
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(f"/bot{TOKEN}/noSuchMethod")
        assert (r.status_code, r.json()) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found"},
        )
        r = await client.get("/bot1:wrong/getMe")
        assert (r.status_code, r.json()["description"]) == (401, "Unauthorized")
        # GET with query string, form body, and JSON body all work; "123" text stays a string.
        r = await client.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": 1001, "text": "123"})
        assert r.json()["result"]["text"] == "123"
        server.emulator.clock.advance(5)  # type: ignore[attr-defined]
        r = await client.post(f"/bot{TOKEN}/sendMessage", data={"chat_id": "1001", "text": "true"})
        assert r.json()["result"]["text"] == "true"
        r = await client.post(f"/bot{TOKEN}/getme", json={})
        assert r.json()["result"]["username"] == "binhyen_test_bot"
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=server.base_url):
            pass


async def test_get_updates_long_poll_offset_and_webhook_conflict(
    server: EmulatorServer, emu: Emulator
) -> None:
    lan = emu.user(1001, "Lan")
    async with httpx.AsyncClient(base_url=f"{server.base_url}{TOKEN}", timeout=10) as client:
        assert (await client.post("/getUpdates", json={"timeout": 0})).json()["result"] == []
        started_at = time.monotonic()
        polls = emu.bot.poll_generation
        poll = asyncio.create_task(client.post("/getUpdates", json={"timeout": 5}))
        # The message is sent once the poll is held (each getUpdates counts a generation).
        assert await emu.wait_until(lambda: emu.bot.poll_generation > polls, 5)
        lan.send("xin chào")
        updates = (await poll).json()["result"]
        assert time.monotonic() - started_at < 1.5
        assert [u["message"]["text"] for u in updates] == ["xin chào"]
        first_id = updates[0]["update_id"]
        lan.send("hai")
        # Without an offset, unconfirmed updates come again; offset confirms them.
        again = (await client.post("/getUpdates", json={})).json()["result"]
        assert [u["update_id"] for u in again] == [first_id, first_id + 1]
        after = (await client.post("/getUpdates", json={"offset": first_id + 2})).json()
        assert after["result"] == []
        lan.send("ba")
        only_msgs = await client.post(
            "/getUpdates", data={"allowed_updates": '["callback_query"]', "timeout": "0"}
        )
        assert only_msgs.json()["result"] == []  # filtered out
        r = await client.post("/setWebhook", json={"url": "http://127.0.0.1:9/hook"})
        assert r.json() == {"ok": True, "result": True, "description": "Webhook was set"}
        r = await client.post("/getUpdates")
        assert r.status_code == 409
        assert r.json()["description"].startswith(
            "Conflict: can't use getUpdates method while webhook is active"
        )
        info = (await client.post("/getWebhookInfo")).json()["result"]
        assert info["url"] == "http://127.0.0.1:9/hook"
    async with Bot(TOKEN, base_url=server.base_url) as bot:
        with pytest.raises(Conflict):
            await bot.get_updates()
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.get_updates() == ()
