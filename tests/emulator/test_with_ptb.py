"""End-to-end: a real python-telegram-bot Application talking to the emulator over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application

from bot.emulator import Emulator, tiny_png

from .conftest import COORDINATOR_ID


async def test_start_button_press_edits_message(emu: Emulator, app: Application) -> None:
    lan = emu.user(1001, "Lan", last_name="Nguyễn", language_code="vi", label="Chị Lan")
    lan.send("/start hamlet_7")
    msg = await lan.next_message()
    assert msg.text == "Xin chào Lan 👋"
    # "Lan" starts after "Xin chào " (9 UTF-16 units); bold covers exactly the name.
    assert msg.entities == [{"type": "bold", "offset": 9, "length": 3}]
    assert msg.html == "Xin chào <b>Lan</b> 👋"
    assert msg.button_texts == ["Đồng ý", "Hủy"]

    cq = lan.press(msg, "Đồng ý")
    answer = await lan.callback_answer(cq)
    assert answer["text"] == "Đã chọn yes"
    assert answer["show_alert"] is False
    await lan.wait_until(lambda: msg.edited)
    assert msg.text == "Bạn chọn: yes"
    assert msg.buttons == []  # an edit without reply_markup drops the inline keyboard
    assert [v["text"] for v in msg.versions] == ["Xin chào Lan 👋", "Bạn chọn: yes"]
    with pytest.raises(LookupError):
        lan.press(msg, "Đồng ý")  # the button is gone from the current markup


async def test_deep_link_payload_and_user_fields(
    emu: Emulator, app: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan", username="lan_ng", language_code="vi")
    sent = lan.send("/start hamlet_7")
    assert sent.raw["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    await lan.next_message()
    assert seen["start_args"] == [["hamlet_7"]]


async def test_photo_roundtrip_both_directions(emu: Emulator, app: Application) -> None:
    lan = emu.user(1001, "Lan")
    lan.send("/photo")
    msg = await lan.next_message()
    assert msg.photo is not None
    assert (msg.photo.width, msg.photo.height) == (4, 3)
    assert msg.file_bytes() == tiny_png(4, 3)
    assert msg.text == "Ảnh thử"
    assert msg.entities == [{"type": "italic", "offset": 4, "length": 3}]

    # The user sends a photo; the bot fetches it with getFile + the file download URL.
    png = tiny_png(7, 5)
    lan.send_photo(png, caption="hiện trường")
    reply = await lan.next_message()
    assert reply.text == f"nhận {len(png)} byte, {png[:4]!r}"
    assert emu.calls("getFile")[-1].ok


async def test_copy_hides_sender_forward_reveals_it(emu: Emulator, app: Application) -> None:
    lan = emu.user(1001, "Lan")
    minh = emu.user(COORDINATOR_ID, "Minh", label="Anh Minh — Công an xã")
    minh.send("/start")
    await minh.next_message()

    lan.send("Tin báo: có người lạ")
    assert (await lan.next_message()).text == "Đã chuyển"
    copied = await minh.next_message()
    assert copied.text == "Tin báo: có người lạ"
    assert copied.forward_origin is None
    assert copied.raw["from"]["is_bot"] is True
    assert "1001" not in str(copied.raw) and "Lan" not in str(copied.raw)
    copy_call = emu.calls("copyMessage")[-1]
    assert copy_call.ok and set(copy_call.result) == {"message_id"}

    lan.send("FWD: chuyển tiếp")
    await lan.next_message()
    forwarded = await minh.next_message()
    assert forwarded.forward_origin["type"] == "user"
    assert forwarded.forward_origin["sender_user"]["id"] == 1001


async def test_reply_keyboard_location_button(emu: Emulator, app: Application) -> None:
    lan = emu.user(1001, "Lan")
    lan.send("/where")
    ask = await lan.next_message()
    assert ask.text == "Bạn ở đâu?"
    assert lan.reply_keyboard_texts == ["Chia sẻ vị trí", "Bỏ qua"]
    assert ask.reply_markup is None  # reply keyboards are not part of the Message object
    lan.reply_keyboard_press("Chia sẻ vị trí", 10.0452, 105.7469)
    reply = await lan.next_message()
    assert reply.text == "vị trí 10.0452,105.7469"
    assert lan.reply_keyboard is None  # removed by ReplyKeyboardRemove


async def test_block_sends_my_chat_member_and_403(
    emu: Emulator, app: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan")
    lan.send("/start")
    await lan.next_message()
    lan.block()
    await lan.wait_until(lambda: seen.get("member"))
    assert seen["member"] == [(1001, "member", "kicked")]
    lan.unblock()
    await lan.wait_until(lambda: len(seen.get("member", [])) == 2)
    assert seen["member"][1] == (1001, "kicked", "member")


async def test_long_polling_wakes_promptly(emu: Emulator, app: Application) -> None:
    lan = emu.user(1001, "Lan")
    # Sent once the updater waits in a long poll: the message must wake that poll.
    assert await emu.wait_until(emu.long_polling, timeout=10)
    started = time.monotonic()
    lan.send("/start")
    await lan.next_message(timeout=3)
    assert time.monotonic() - started < 1.0


async def test_unknown_input_reaches_generic_handler(
    emu: Emulator, app: Application, seen: dict[str, list[Any]]
) -> None:
    lan = emu.user(1001, "Lan")
    lan.send_sticker()
    lan.send_voice()
    lan.send_document(b"%PDF-1.4", filename="don.pdf", caption="đơn")
    await lan.wait_until(lambda: len(seen.get("other", [])) == 3)
    kinds = [next(k for k in ("sticker", "voice", "document") if k in m) for m in seen["other"]]
    assert kinds == ["sticker", "voice", "document"]
    assert seen["other"][2]["document"]["file_name"] == "don.pdf"
    assert seen["other"][2]["caption"] == "đơn"


async def test_media_group_from_bot(emu: Emulator, bot: Bot) -> None:
    from telegram import InputMediaPhoto

    lan = emu.user(1001, "Lan")
    lan.send("hi")
    sent = await bot.send_media_group(
        1001,
        [InputMediaPhoto(tiny_png(2, 2), caption="một"), InputMediaPhoto(tiny_png(3, 3))],
    )
    assert len(sent) == 2
    views = lan.messages()
    assert len(views) == 2
    assert views[0].media_group_id == views[1].media_group_id is not None
    assert views[0].text == "một"
    assert views[1].photo.width == 3
