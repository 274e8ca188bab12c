"""Injected faults, seen through a real python-telegram-bot Bot over HTTP: which exception PTB
raises for each, what was (not) delivered, and what the call log says."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.emulator import ConnectionDropped, Emulator, EmulatorServer

from .conftest import TOKEN

# PTB 22 warns that RetryAfter.retry_after will become a timedelta; irrelevant here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*")


def started(emu: Emulator, *user_ids: int) -> None:
    for uid in user_ids:
        emu.user(uid, f"U{uid}").send("/start")


def seconds(value: Any) -> float:
    """RetryAfter.retry_after as seconds (a timedelta under PTB_TIMEDELTA=1, else a number)."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def texts(emu: Emulator, user_id: int) -> list[str | None]:
    return [m.text for m in emu.user(user_id).messages()]


async def test_5xx_raise_network_error_and_deliver_nothing(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    fault = emu.faults.add("sendMessage", status=500)
    with pytest.raises(NetworkError) as info:
        await bot.send_message(1001, "một")
    assert type(info.value) is NetworkError  # not a subclass such as BadRequest or TimedOut
    assert info.value.message == "Internal Server Error"
    emu.faults.add("SENDMESSAGE", status=502)  # method names match case-insensitively
    with pytest.raises(NetworkError) as info:
        await bot.send_message(1001, "hai")
    assert type(info.value) is NetworkError and info.value.message == "Bad Gateway"
    assert texts(emu, 1001) == []
    refused = emu.calls("sendMessage")[-2]
    assert (refused.fault, refused.processed, refused.ok) == (fault, False, False)
    assert (refused.status, refused.error_code, refused.description) == (
        500, 500, "Internal Server Error"
    )
    assert fault.hits == 1 and not fault.active and emu.faults.active == []
    assert (await bot.send_message(1001, "ba")).text == "ba"  # spent faults change nothing
    assert texts(emu, 1001) == ["ba"]


async def test_429_raises_retry_after_with_its_seconds(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", retry_after=7)  # retry_after alone means a 429
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1001, "một")
    assert seconds(info.value.retry_after) == 7
    assert emu.calls("sendMessage")[-1].description == "Too Many Requests: retry after 7"
    emu.faults.add("sendPhoto", status=429)
    with pytest.raises(RetryAfter) as info:
        await bot.send_photo(1001, b"not even read")
    assert seconds(info.value.retry_after) == 1  # the default
    assert texts(emu, 1001) == []


async def test_400_and_403_carry_the_given_description(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1001, "một")
    emu.faults.add("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match="Chat not found"):  # PTB capitalises, drops the prefix
        await bot.send_message(1001, "hai")
    assert texts(emu, 1001) == []
    assert not emu.user(1001).blocked  # a fault only answers; it changes no state


async def test_delay_past_the_read_timeout_times_out_and_sends_nothing(
    emu: Emulator, bot: Bot
) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", delay=30)
    started_at = time.monotonic()
    with pytest.raises(TimedOut):
        await bot.send_message(1001, "chậm", read_timeout=0.3)
    record = emu.calls("sendMessage")[-1]
    # The client hung up during the delay: the emulator gives up on the call at once.
    assert await emu.wait_until(lambda: record.done, 5)
    assert time.monotonic() - started_at < 10
    assert (record.processed, record.ok, record.status) == (False, False, None)
    assert texts(emu, 1001) == []
    assert (await bot.send_message(1001, "lần nữa")).text == "lần nữa"


async def test_delay_after_processing_delivers_although_the_client_timed_out(
    emu: Emulator, bot: Bot
) -> None:
    started(emu, 1001)
    fault = emu.faults.add("sendMessage", delay=30, after=True)
    with pytest.raises(TimedOut):
        await bot.send_message(1001, "đã tới", read_timeout=0.3)
    assert texts(emu, 1001) == ["đã tới"]  # Telegram delivered it; the answer was lost
    record = emu.calls("sendMessage")[-1]
    assert await emu.wait_until(lambda: record.done, 5)
    assert (record.processed, record.ok, record.status, record.fault) == (True, True, None, fault)
    assert record.result["text"] == "đã tới"


async def test_a_short_delay_only_slows_the_answer(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", delay=0.4)
    started_at = time.monotonic()
    sent = await bot.send_message(1001, "chậm mà chắc")
    assert time.monotonic() - started_at >= 0.4
    assert sent.text == "chậm mà chắc" and texts(emu, 1001) == ["chậm mà chắc"]
    assert emu.calls("sendMessage")[-1].status == 200


async def test_drop_closes_the_connection_before_or_after_processing(
    emu: Emulator, bot: Bot
) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", drop=True)
    with pytest.raises(NetworkError, match="Server disconnected without sending a response"):
        await bot.send_message(1001, "mất")
    assert texts(emu, 1001) == []
    emu.faults.add("sendMessage", drop=True, after=True)
    with pytest.raises(NetworkError, match="Server disconnected") as info:
        await bot.send_message(1001, "tới nơi")
    assert not isinstance(info.value, TimedOut)
    assert texts(emu, 1001) == ["tới nơi"]
    before, after = emu.calls("sendMessage")[-2:]
    assert (before.processed, before.status) == (False, None)
    assert (after.processed, after.ok, after.status) == (True, True, None)
    assert (await bot.send_message(1001, "vẫn gửi được")).text == "vẫn gửi được"


async def test_after_with_a_status_delivers_and_answers_the_error(
    emu: Emulator, bot: Bot
) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", after=True)  # after alone: delivered, answered 500
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(1001, "hai lần?")
    assert texts(emu, 1001) == ["hai lần?"]
    record = emu.calls("sendMessage")[-1]
    assert (record.ok, record.status, record.error_code) == (True, 500, 500)


async def test_per_chat_matching_order_and_times(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001, 1002, 1003)
    first = emu.faults.add("sendMessage", chat_id="1001", status=502, times=2)
    every = emu.faults.add("sendMessage", status=500, times=None)
    assert emu.faults.active == [first, every]
    other_chat = emu.faults.add("sendMessage", chat_id=1003, status=403)
    for expected in ("Bad Gateway", "Bad Gateway", "Internal Server Error"):
        with pytest.raises(NetworkError, match=expected):
            await bot.send_message(1001, "x")  # first matching fault with uses left applies
    assert (first.hits, first.remaining, first.active) == (2, 0, False)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(1002, "x")
    assert every.hits == 2 and every.remaining is None and every.active
    every.remove()
    assert emu.faults.active == [other_chat]
    assert (await bot.send_message(1002, "ok")).text == "ok"
    assert (await bot.send_message(1001, "ok")).text == "ok"
    with pytest.raises(Forbidden):
        await bot.send_message(1003, "x")
    assert other_chat.hits == 1
    assert texts(emu, 1001) == ["ok"] and texts(emu, 1002) == ["ok"] and texts(emu, 1003) == []


async def test_callback_answers_match_the_chat_of_the_pressed_message(
    emu: Emulator, bot: Bot
) -> None:
    started(emu, 1001, 1002)
    kb = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    for uid in (1001, 1002):
        await bot.send_message(uid, "?", reply_markup=kb)
    lan, minh = emu.user(1001), emu.user(1002)
    lan_press = lan.press(lan.last_message(), "A")
    minh_press = minh.press(minh.last_message(), "A")
    emu.faults.add("answerCallbackQuery", chat_id=1001, status=500)
    assert await bot.answer_callback_query(minh_press.id, text="ok")
    with pytest.raises(NetworkError):
        await bot.answer_callback_query(lan_press.id, text="mất")
    assert lan_press.record.answered is False and minh_press.answer["text"] == "ok"


async def test_every_method_context_manager_and_clear(emu: Emulator, bot: Bot) -> None:
    started(emu, 1001)
    with emu.faults.add("*", status=500, times=None) as outage:
        with pytest.raises(NetworkError):
            await bot.get_me()
        with pytest.raises(NetworkError):
            await bot.send_chat_action(1001, "typing")
    assert outage.hits == 2 and emu.faults.active == []
    assert await bot.send_chat_action(1001, "typing")
    emu.faults.add("sendMessage")
    emu.faults.add("getMe")
    emu.faults.clear()
    assert emu.faults.active == []
    assert (await bot.send_message(1001, "ok")).text == "ok"


def test_faults_that_cannot_be_are_refused(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="no answer"):
        emu.faults.add("sendMessage", drop=True, status=500)
    with pytest.raises(ValueError, match="429"):
        emu.faults.add("sendMessage", status=400, retry_after=3)
    with pytest.raises(ValueError, match="times"):
        emu.faults.add("sendMessage", times=0)
    with pytest.raises(ValueError, match="error status"):
        emu.faults.add("sendMessage", status=200)
    assert emu.faults.active == []


async def test_in_process_calls_see_a_drop_as_an_exception(emu: Emulator) -> None:
    started(emu, 1001)
    emu.faults.add("sendMessage", drop=True, after=True)
    with pytest.raises(ConnectionDropped):
        await emu.call(TOKEN, "sendMessage", {"chat_id": 1001, "text": "ở trong"})
    assert texts(emu, 1001) == ["ở trong"]
    emu.faults.add("sendMessage", chat_id=1001, status=502)
    status, body = await emu.call(TOKEN, "sendMessage", {"chat_id": 1001, "text": "x"})
    assert (status, body) == (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    # A wrong token is refused as usual and does not use up a fault.
    fault = emu.faults.add("getMe")
    assert (await emu.call("1:wrong", "getMe", {}))[0] == 401
    assert fault.hits == 0 and fault.active


async def test_a_polling_application_sees_the_fault_and_the_user_the_message(
    emu: Emulator, app: Application
) -> None:
    errors: list[BaseException] = []

    async def on_error(update: object, context: Any) -> None:
        errors.append(context.error)

    app.add_error_handler(on_error)
    lan = emu.user(1001, "Lan")
    fault = emu.faults.add("sendMessage", chat_id=1001, drop=True, after=True)
    lan.send("/start")
    reply = await lan.next_message()  # delivered, though the bot's handler got NetworkError
    assert reply.text.startswith("Xin chào")
    await lan.wait_until(lambda: errors)
    assert type(errors[0]) is NetworkError and "Server disconnected" in str(errors[0])
    assert fault.hits == 1 and emu.calls("sendMessage")[-1].status is None
    lan.send("/start")
    assert (await lan.next_message()).text.startswith("Xin chào")  # the bot carries on


SUBPROCESS_BOT = """
import asyncio, sys
from telegram import Bot
from telegram.error import TelegramError

async def main():
    token, base_url, chat_id = sys.argv[1], sys.argv[2], int(sys.argv[3])
    async with Bot(token, base_url=base_url) as bot:
        for text in ("một", "hai", "ba"):
            try:
                await bot.send_message(chat_id, text, read_timeout=0.5)
                print("ok", flush=True)
            except TelegramError as exc:
                print(type(exc).__name__, flush=True)

asyncio.run(main())
"""


async def test_faults_reach_a_bot_in_another_process(
    emu: Emulator, server: EmulatorServer
) -> None:
    started(emu, 1001)
    dropped = emu.faults.add("sendMessage", drop=True, after=True)
    slow = emu.faults.add("sendMessage", delay=30)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SUBPROCESS_BOT, TOKEN, server.base_url, "1001",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().split() == ["NetworkError", "TimedOut", "ok"]
    assert (dropped.hits, slow.hits) == (1, 1)
    assert texts(emu, 1001) == ["một", "ba"]  # the dropped answer's message did arrive
