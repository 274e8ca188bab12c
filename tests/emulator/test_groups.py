"""Groups, supergroups and channels against a private-only python-telegram-bot Application:
it answers commands in groups with "talk to me in private", leaves groups it is added to, and
ignores channel posts but for one answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.emulator import Emulator, EmulatorServer

from .conftest import BOT_ID, TOKEN, polling

PRIVATE_ONLY = "Bình Yên chỉ làm việc trong chat riêng."


def build_private_only_app(server: EmulatorServer, seen: dict[str, list[Any]]) -> Application:
    """A bot that works in private chats only, as the product does."""

    async def command_in_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, user = update.effective_chat, update.effective_user
        seen.setdefault("commands", []).append((chat.id, chat.type, user.id, update.message.text))
        button = InlineKeyboardButton("Mở chat riêng", callback_data="dm")
        keyboard = InlineKeyboardMarkup([[button]])
        await update.message.reply_text(PRIVATE_ONLY, reply_markup=keyboard)

    async def group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.setdefault("group_messages", []).append(update.message.to_dict())

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        seen.setdefault("presses", []).append(
            (query.message.chat.id, query.message.chat.type, query.from_user.id, query.data)
        )
        await query.answer("Hãy nhắn riêng cho bot")

    async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        seen.setdefault("member", []).append(
            (
                change.chat.id,
                change.from_user.id,
                change.old_chat_member.status,
                change.new_chat_member.status,
            )
        )
        joined = change.new_chat_member.status == ChatMemberStatus.MEMBER
        if joined and change.chat.type in ("group", "supergroup"):
            await context.bot.leave_chat(change.chat.id)

    async def channel_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        post = update.channel_post
        seen.setdefault("posts", []).append(post.to_dict())
        await context.bot.send_message(post.chat.id, f"Đã đọc: {post.text}")

    async def edited(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.setdefault("edited", []).append(update.to_dict())

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    # Order matters: edits and channel posts before the handlers of new group messages.
    app.add_handler(MessageHandler(filters.UpdateType.EDITED, edited))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, channel_post))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, command_in_group))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS, group_message))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    return app


@pytest.fixture
async def private_only(
    server: EmulatorServer, seen: dict[str, list[Any]]
) -> AsyncIterator[Application]:
    async with polling(build_private_only_app(server, seen)) as application:
        yield application


async def test_a_command_in_a_group_is_answered_in_the_group(
    emu: Emulator, private_only: Application, seen: dict[str, list[Any]]
) -> None:
    hamlet = emu.group(-1001, "Ấp An Phú")
    assert emu.group(-1001, "Ấp An Phú") is hamlet  # idempotent, like emu.user
    lan, minh = emu.user(1001, "Lan"), emu.user(2002, "Minh")
    sent = hamlet.send(lan, "/inbox")
    assert sent.delivered and sent.raw["entities"][0]["type"] == "bot_command"
    reply = await hamlet.next_message()
    assert reply.text == PRIVATE_ONLY
    assert reply.raw["chat"] == {"id": -1001, "type": "group", "title": "Ấp An Phú"}
    assert reply.raw["reply_to_message"]["message_id"] == sent.message_id  # PTB quotes in groups
    assert seen["commands"] == [(-1001, "group", 1001, "/inbox")]
    assert lan.messages() == [] and not lan.state.started  # the private chat is untouched
    assert [m.message_id for m in hamlet.messages()] == [reply.message_id]

    # A button of the bot's message in the group, pressed by another member.
    cq = hamlet.press(minh, reply, "Mở chat riêng")
    assert (await hamlet.callback_answer(cq))["text"] == "Hãy nhắn riêng cho bot"
    assert seen["presses"] == [(-1001, "group", 2002, "dm")]


async def test_privacy_mode_decides_what_the_bot_is_given(
    emu: Emulator, private_only: Application, seen: dict[str, list[Any]]
) -> None:
    team = emu.group(-1002345, "Tổ ANTT", kind="supergroup")
    lan = emu.user(1001, "Lan")
    chatter = team.send(lan, "xin chào mọi người")
    other_bot = team.send(lan, "/inbox@other_bot")
    mention = team.send(lan, "@BinhYen_Test_Bot giúp với")
    ours = team.send(lan, "/help@binhyen_test_bot")
    reply = await team.next_message()
    answer = team.send(lan, "cảm ơn", reply_to=reply)
    assert [m.delivered for m in (chatter, other_bot, mention, ours, answer)] == [
        False, False, True, True, True
    ]
    await team.wait_until(lambda: len(seen.get("group_messages", [])) == 2)
    assert [m["text"] for m in seen["group_messages"]] == ["@BinhYen_Test_Bot giúp với", "cảm ơn"]
    assert seen["commands"] == [(-1002345, "supergroup", 1001, "/help@binhyen_test_bot")]
    # Everything is in the group's history, delivered or not.
    assert [m.text for m in team.history()][:2] == ["xin chào mọi người", "/inbox@other_bot"]

    # Without privacy mode (BotFather's /setprivacy), or as an administrator, it gets all.
    emu.bot.privacy_mode = False
    assert team.send(lan, "chỉ là chuyện trò").delivered
    assert (await private_only.bot.get_me()).can_read_all_group_messages


async def test_a_private_only_bot_added_to_a_group_leaves_it(
    emu: Emulator, private_only: Application, seen: dict[str, list[Any]]
) -> None:
    group = emu.group(-1003, "Nhóm Zalo cũ", bot_member=False)
    lan = emu.user(1001, "Lan")
    assert not group.send(lan, "/inbox").delivered  # not in the group: the bot gets nothing
    group.add_bot(by=lan)
    # It is told of its own leaving too, as Telegram does.
    await group.wait_until(lambda: len(seen.get("member", [])) == 2)
    assert group.bot_status == "left"
    assert seen["member"] == [(-1003, 1001, "left", "member"), (-1003, BOT_ID, "member", "left")]
    # The service message announcing the bot was queued with my_chat_member, so it arrives.
    await group.wait_until(lambda: seen.get("group_messages"))
    assert seen["group_messages"][0]["new_chat_members"][0]["id"] == BOT_ID
    assert not group.send(lan, "/inbox").delivered
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await private_only.bot.send_message(-1003, "còn đây không?")
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await private_only.bot.leave_chat(-1003)
    with pytest.raises(RuntimeError, match="bot_member=False"):
        emu.group(-1004, "Đã có bot").add_bot(by=lan)


async def test_removed_from_a_supergroup_the_bot_is_kicked(emu: Emulator, bot: Bot) -> None:
    team = emu.group(-1005, "Tổ tự quản", kind="supergroup")
    minh = emu.user(2002, "Minh")
    sent = await bot.send_message(-1005, "Chào tổ")
    assert sent.chat.type == "supergroup" and sent.from_user.id == BOT_ID
    assert [m.text for m in team.messages()] == ["Chào tổ"]
    assert (await bot.edit_message_text("Chào cả tổ", -1005, sent.message_id)).text == "Chào cả tổ"
    team.remove_bot(by=minh)
    assert team.bot_status == "kicked"
    assert emu.bot.updates[-1]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(-1005, "x")
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.edit_message_text("y", -1005, sent.message_id)
    emu.user(1001, "Lan").send("/start")
    with pytest.raises(BadRequest, match=r"(?i)can't be changed in private chats"):
        await bot.leave_chat(1001)


async def test_channel_posts_and_the_bots_own_posts(
    emu: Emulator, private_only: Application, seen: dict[str, list[Any]]
) -> None:
    channel = emu.channel(-1006, "Công an xã Tân Hòa", username="cax_tanhoa")
    assert channel.bot_status == "administrator"
    post = channel.post("Thông báo: họp tổ ANTT tối nay")
    assert post.delivered and "from" not in post.raw
    answer = await channel.next_message()
    assert answer.text == "Đã đọc: Thông báo: họp tổ ANTT tối nay"
    assert answer.from_bot and "from" not in answer.raw
    assert answer.raw["sender_chat"]["id"] == -1006 and answer.raw["chat"]["type"] == "channel"
    got = seen["posts"][0]
    assert got["sender_chat"]["username"] == "cax_tanhoa" and "from" not in got
    # Channels are reachable by @username too.
    by_name = await private_only.bot.send_message("@cax_tanhoa", "Theo tên kênh")
    assert by_name.chat.id == -1006

    channel.edit(post, "Thông báo: họp tổ ANTT lúc 19:00")
    await channel.wait_until(lambda: seen.get("edited"))
    edited = seen["edited"][0]["edited_channel_post"]
    assert edited["message_id"] == post.message_id and edited["text"].endswith("19:00")

    elsewhere = emu.channel(-1007, "Kênh khác", bot_member=False)
    assert not elsewhere.post("không tới bot").delivered
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await private_only.bot.send_message(-1007, "x")
    assert elsewhere.messages() == []


def test_group_and_channel_arguments_are_checked(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="negative"):
        emu.group(1001, "dương")
    with pytest.raises(ValueError, match="kind"):
        emu.group(-1, "x", kind="channel")
    emu.channel(-2, "kênh")
    with pytest.raises(ValueError, match="is a channel"):
        emu.group(-2, "kênh")
    lan = emu.user(1001, "Lan")
    group = emu.group(-3, "nhóm")
    sent = group.send(lan, "của Lan")
    with pytest.raises(ValueError, match="own messages"):
        group.edit(emu.user(1002, "Minh"), sent, "của Minh")
