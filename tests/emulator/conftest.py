"""Fixtures: an emulator on loopback and a real python-telegram-bot Application against it.

The emulator's flood-control clock is a ManualClock here, so rate limits only refill when a test
advances it; each test sends few messages per chat unless it is testing the limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.emulator import Emulator, EmulatorServer, ManualClock, tiny_png

TOKEN = "123456:TEST-emulator-token"
BOT_ID = 123456
COORDINATOR_ID = 2002


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Emulator:
    emulator = Emulator(clock=clock)
    emulator.add_bot(TOKEN, bot_id=BOT_ID, username="binhyen_test_bot", first_name="Bình Yên")
    return emulator


@pytest.fixture
async def server(emu: Emulator) -> AsyncIterator[EmulatorServer]:
    srv = EmulatorServer(emu)
    await srv.start()
    yield srv
    await srv.stop()


def build_app(server: EmulatorServer, seen: dict[str, list[Any]]) -> Application:
    """A tiny bot exercising the features the product relies on."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Đồng ý", callback_data="yes")],
                [InlineKeyboardButton("Hủy", callback_data="no")],
            ]
        )
        name = update.effective_user.first_name
        seen.setdefault("start_args", []).append(context.args)
        await update.message.reply_text(
            f"Xin chào <b>{name}</b> 👋", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer(f"Đã chọn {query.data}")
        await query.edit_message_text(f"Bạn chọn: {query.data}")

    async def photo_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_photo(
            tiny_png(4, 3), caption="Ảnh <i>thử</i>", parse_mode=ParseMode.HTML
        )

    async def got_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        file = await update.message.photo[-1].get_file()
        data = await file.download_as_bytearray()
        await update.message.reply_text(f"nhận {len(data)} byte, {bytes(data[:4])!r}")

    async def location_cmd(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton("Chia sẻ vị trí", request_location=True)], ["Bỏ qua"]],
            resize_keyboard=True,
        )
        await update.message.reply_text("Bạn ở đâu?", reply_markup=markup)

    async def got_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        loc = update.message.location
        await update.message.reply_text(
            f"vị trí {loc.latitude},{loc.longitude}", reply_markup=ReplyKeyboardRemove()
        )

    async def tip(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.message.text
        if text.startswith("FWD"):
            await update.message.forward(COORDINATOR_ID)
        else:
            await context.bot.copy_message(
                COORDINATOR_ID, update.effective_chat.id, update.message.message_id
            )
        await update.message.reply_text("Đã chuyển")

    async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        seen.setdefault("member", []).append(
            (change.chat.id, change.old_chat_member.status, change.new_chat_member.status)
        )

    async def other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.setdefault("other", []).append(update.message.to_dict())

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("photo", photo_cmd))
    app.add_handler(CommandHandler("where", location_cmd))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.PHOTO, got_photo))
    app.add_handler(MessageHandler(filters.LOCATION, got_location))
    app.add_handler(MessageHandler(filters.Regex(r"^(Tin báo|FWD)"), tip))
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.ALL, other))
    return app


@pytest.fixture
def seen() -> dict[str, list[Any]]:
    return {}


@asynccontextmanager
async def polling(application: Application) -> AsyncIterator[Application]:
    """Run ``application`` with long polling against the emulator for the block's duration."""
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=5)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


@pytest.fixture
async def app(server: EmulatorServer, seen: dict[str, list[Any]]) -> AsyncIterator[Application]:
    async with polling(build_app(server, seen)) as application:
        yield application


@pytest.fixture
async def bot(server: EmulatorServer) -> AsyncIterator[Any]:
    """A plain PTB Bot (no polling) for calling the API directly."""
    from telegram import Bot

    async with Bot(TOKEN, base_url=server.base_url, base_file_url=server.base_file_url) as b:
        yield b
