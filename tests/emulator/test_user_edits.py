"""The user's side of editing and replying, as a python-telegram-bot Application receives it:
``edited_message`` with the same message_id, an edit_date and the current text or caption."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.emulator import Emulator, EmulatorServer, tiny_png

from .conftest import TOKEN, polling


def build_recording_app(server: EmulatorServer, seen: dict[str, list[Any]]) -> Application:
    """A bot that records new and edited messages, and answers "ok" to new texts."""

    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.setdefault("edited", []).append(update.edited_message)

    async def new(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.setdefault("new", []).append(update.message)
        if update.effective_chat.type == "private" and update.message.text:
            await update.message.reply_text(f"ok: {update.message.text}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, edited))
    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, new))
    return app


@pytest.fixture
async def recording(
    server: EmulatorServer, seen: dict[str, list[Any]]
) -> AsyncIterator[Application]:
    async with polling(build_recording_app(server, seen)) as application:
        yield application


async def test_editing_a_text_queues_edited_message(
    emu: Emulator, recording: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan")
    tip = lan.send("Tin báo: có trộm")
    await lan.next_message()
    edited = lan.edit(tip, "Tin báo: có trộm xe máy ở ấp An Phú")
    assert edited.message_id == tip.message_id and tip.edited and tip.delivered
    await lan.wait_until(lambda: seen.get("edited"))
    got = seen["edited"][0]
    assert got.message_id == tip.message_id and got.chat.id == 1001
    assert got.text == "Tin báo: có trộm xe máy ở ấp An Phú" and got.edit_date is not None
    assert [v["text"] for v in tip.versions] == [
        "Tin báo: có trộm", "Tin báo: có trộm xe máy ở ấp An Phú"
    ]
    assert len(seen["new"]) == 1  # an edit is not a new message

    # A command typed again keeps its entity, measured on the new text.
    command = lan.send("/statu")
    await lan.next_message()
    lan.edit(command, "/status AB12")
    await lan.wait_until(lambda: len(seen["edited"]) == 2)
    assert seen["edited"][1].entities[0].type == "bot_command"
    assert seen["edited"][1].entities[0].length == len("/status")


async def test_editing_a_caption_of_a_photo(
    emu: Emulator, recording: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan")
    photo = lan.send_photo(tiny_png(), caption="ảnh")
    lan.edit(photo, caption="ảnh hiện trường, 21:30")
    await lan.wait_until(lambda: seen.get("edited"))
    got = seen["edited"][0]
    assert got.caption == "ảnh hiện trường, 21:30" and got.photo and got.edit_date
    lan.edit(photo, caption="")  # removing the caption is an edit too
    await lan.wait_until(lambda: len(seen["edited"]) == 2)
    assert seen["edited"][1].caption is None
    assert photo.text is None


async def test_edits_a_client_could_not_make_are_refused(
    emu: Emulator, recording: Application
) -> None:
    lan = emu.user(1001, "Lan")
    text = lan.send("xin chào")
    reply = await lan.next_message()
    photo = lan.send_photo(tiny_png())
    with pytest.raises(ValueError, match="no text"):
        lan.edit(photo, "chữ")
    with pytest.raises(ValueError, match="no caption"):
        lan.edit(text, caption="chú thích")
    with pytest.raises(ValueError, match="not modified"):
        lan.edit(text, "xin chào")
    with pytest.raises(ValueError, match="own messages"):
        lan.edit(reply, "sửa lời bot")
    with pytest.raises(ValueError, match="own messages"):
        emu.user(1002, "Minh").edit(text, "của người khác")
    with pytest.raises(ValueError, match="text, or the new caption"):
        lan.edit(text)


async def test_a_reply_carries_reply_to_message(
    emu: Emulator, recording: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan")
    lan.send("câu hỏi")
    question = await lan.next_message()
    lan.send("trả lời", reply_to=question)
    await lan.wait_until(lambda: len(seen.get("new", [])) == 2)
    replied = seen["new"][1].reply_to_message
    assert replied.message_id == question.message_id
    assert replied.from_user.is_bot and replied.text == "ok: câu hỏi"


async def test_an_edit_in_a_group_follows_privacy_mode(
    emu: Emulator, recording: Application, seen: dict[str, list[Any]]
) -> None:
    group = emu.group(-1001, "Ấp An Phú")
    lan = emu.user(1001, "Lan")
    chatter = group.send(lan, "chuyện trò")
    group.edit(lan, chatter, "vẫn chuyện trò")  # the bot was not given it, nor the edit
    command = group.send(lan, "/inbox")
    group.edit(lan, command, "/inbox tuần này")
    await lan.wait_until(lambda: seen.get("edited"))
    assert [m.text for m in seen["edited"]] == ["/inbox tuần này"]
    assert seen["edited"][0].chat.type == "group" and seen["edited"][0].from_user.id == 1001
    assert [m.text for m in seen["new"]] == ["/inbox"]
