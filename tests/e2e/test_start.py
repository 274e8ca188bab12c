"""First contact: /start, the language, menus per role, /help, /cancel, stale buttons."""

from __future__ import annotations

import pytest

from storage.models import Role
from tests.conftest import Harness

pytestmark = pytest.mark.both_backends


async def test_first_start_asks_language_then_shows_resident_menu(harness: Harness) -> None:
    lan = harness.user(1001, "Lan")
    lan.send("/start")
    prompt = await lan.next_message()
    assert "Vui lòng chọn ngôn ngữ" in prompt.text and "Please choose" in prompt.text
    assert prompt.button_texts == ["Tiếng Việt", "English"]

    cq = lan.press(prompt, "English")
    await lan.callback_answer(cq)
    menu = await lan.next_message()
    assert prompt.edited and prompt.text == "Language set: English."
    assert "send tips" in menu.text
    assert "113" in menu.text and "114" in menu.text and "115" in menu.text
    assert menu.button_texts == ["📝 Send a tip", "📋 My tips", "🌐 Language", "❓ Help"]

    user = await harness.services.users.get(1001)
    assert user is not None and user.locale == "en" and user.role() is Role.RESIDENT

    # A second /start goes straight to the menu, in the chosen language.
    lan.send("/start")
    again = await lan.next_message()
    assert again.button_texts == ["📝 Send a tip", "📋 My tips", "🌐 Language", "❓ Help"]


async def test_language_change_sets_the_chat_command_menu(harness: Harness) -> None:
    lan = await harness.enter(1002, "Lan")
    lan.send("/language")
    prompt = await lan.next_message()
    lan.press(prompt, "English")
    await lan.wait_until(lambda: prompt.text == "Language set: English.")
    lan.send("/help")
    help_msg = await lan.next_message()
    assert help_msg.text.startswith("Commands")
    chat_menus = [c for c in harness.emu.calls("setMyCommands")
                  if (c.params.get("scope") or {}).get("chat_id") == 1002]
    assert chat_menus, "no per-chat command menu was set"
    names = [c["command"] for c in chat_menus[-1].params["commands"]]
    descriptions = [c["description"] for c in chat_menus[-1].params["commands"]]
    assert names == ["start", "newtip", "mytips", "status", "help", "language", "cancel"]
    assert "Main screen" in descriptions


async def test_default_command_menus_per_language_set_at_start(harness: Harness) -> None:
    default_vi = harness.emu.commands({"type": "default"}, None)
    default_en = harness.emu.commands({"type": "default"}, "en")
    assert [c["command"] for c in default_vi] == [
        "start", "newtip", "mytips", "status", "help", "language", "cancel"
    ]
    assert default_vi[0]["description"] == "Màn hình chính"
    assert default_en[0]["description"] == "Main screen"


async def test_menus_per_role(harness: Harness) -> None:
    await harness.load_units()
    bay = await harness.enter(2001, "Bảy")
    minh = await harness.enter(2002, "Minh")
    await harness.grant(2001, Role.REPORTER, "TH-ANPHU")
    await harness.grant(2002, Role.COORDINATOR, "TANHOA")

    bay.send("/start")
    reporter_menu = await bay.next_message()
    assert "người báo cáo" in reporter_menu.text
    assert "Ấp An Phú, Xã Tân Hòa" in reporter_menu.text
    assert reporter_menu.button_texts == [
        "📊 Báo cáo định kỳ", "🚨 Báo vụ việc", "📝 Gửi tin báo", "📋 Tin báo của tôi",
        "🌐 Ngôn ngữ", "❓ Hướng dẫn"
    ]

    minh.send("/start")
    coordinator_menu = await minh.next_message()
    assert "cán bộ điều phối" in coordinator_menu.text
    assert "Xã Tân Hòa" in coordinator_menu.text
    assert coordinator_menu.button_texts == [
        "📥 Hộp tin báo", "✉️ Mời người tham gia", "🏘 Đơn vị", "🌐 Ngôn ngữ", "❓ Hướng dẫn"
    ]
    minh.press(coordinator_menu, "🏘 Đơn vị")
    units = await minh.next_message()
    assert "Ấp An Phú" in units.text and "Ấp Phước Hậu" in units.text
    assert "Sóc Đồn" not in units.text  # another commune: outside his scope
    assert "1 người báo cáo" in units.text  # An Phú has Bảy

    # The settings' admin sees every commune.
    admin = await harness.enter(9001, "Admin")
    admin.send("/units")
    tree = await admin.next_message()
    assert "Sóc Đồn" in tree.text and "Ấp An Phú" in tree.text


async def test_resident_cannot_use_coordinator_commands(harness: Harness) -> None:
    lan = await harness.enter(1003)
    lan.send("/units")
    assert "Chỉ cán bộ điều phối" in (await lan.next_message()).text
    lan.send("/invite")
    assert "Chỉ cán bộ điều phối" in (await lan.next_message()).text


async def test_help_cancel_and_unexpected_input(harness: Harness) -> None:
    lan = await harness.enter(1004)
    lan.send("/help")
    assert "/language" in (await lan.next_message()).text
    lan.send("/cancel")
    assert (await lan.next_message()).text == "Không có thao tác nào đang làm để hủy."
    lan.send_sticker()  # not something a tip is made of: the menu, with a hint
    assert "Tôi chưa hiểu" in (await lan.next_message()).text
    assert "📝 Gửi tin báo" in (await lan.next_message()).button_texts
    lan.send("xin chào")  # text outside a flow is offered as a tip, not thrown away
    offer = await lan.next_message()
    assert "thành tin báo" in offer.text and "8 ký tự" in offer.text
    lan.send("/xyz")
    assert "Không có lệnh /xyz" in (await lan.next_message()).text
    assert "/cancel" in (await lan.next_message()).text  # the offer is still open
    lan.press(offer, "✖ Không, bỏ qua")
    assert "Đã bỏ qua" in (await lan.next_message()).text


async def test_stale_button_is_answered_not_ignored(harness: Harness) -> None:
    await harness.load_units()
    minh = await harness.enter_as(2003, "Minh", Role.COORDINATOR, "TANHOA")
    minh.send("/invite")
    step1 = await minh.next_message()
    minh.send("/cancel")  # ends the flow; the step-1 message keeps its buttons
    assert "Đã hủy" in (await minh.next_message()).text
    cq = minh.press(step1, "Người báo cáo")
    answer = await minh.callback_answer(cq)
    assert "đã kết thúc" in answer["text"]
    await harness.settle()
    assert minh.unread() == 0  # nothing else happened


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_second_bot_on_the_same_postgresql_database_is_refused(
        harness: Harness) -> None:
    """Until replicas are supported, a second bot process on one database would send what
    the first sends: it stops at start with one line, and the first goes on answering."""
    from bot.app import start_bot
    from storage.db import UnusableDatabase

    assert harness.settings is not None
    with pytest.raises(UnusableDatabase) as refused:
        await start_bot(harness.settings)
    assert "another bot process is running on this database" in str(refused.value)
    assert refused.value.setting == "BINHYEN_DATABASE_URL"
    assert "@" not in str(refused.value)  # the password stays out of it

    lan = harness.user(1009, "Lan")
    lan.send("/start")
    prompt = await lan.next_message()
    assert prompt.button_texts == ["Tiếng Việt", "English"]

    # Stopped (or killed: the server drops its connection's lock), the first lets a new one in.
    await harness.stop()
    await harness.start()
    lan.send("/start")
    assert (await lan.next_message()).button_texts == ["Tiếng Việt", "English"]
