"""Every message lands in exactly one place: the seams where text used to go astray.

Each test is one of the misroutings found when the bot was tried as a new user would: an
answer that swallowed a new tip, a note lost to an open invitation, text and photos thrown
away outside a flow, a reply under a question dropped, an edit that crashed a step, an
unknown command unanswered, a group chat taken for a private one, and a role that kept its
power after it ended.
"""

from __future__ import annotations

import json

import pytest

from bot.emulator.core import tiny_png
from storage.models import Role
from tests.conftest import Harness, card_for, collect
from tests.e2e.test_tips import CODE, enter_resident, file_tip

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL


async def ask(coordinator, card, question: str) -> None:
    """A coordinator asks the sender of the card's tip a question."""
    coordinator.press(card, "❓ Hỏi người gửi")
    await coordinator.next_message()
    coordinator.send(question)
    assert "Đã gửi câu hỏi" in (await coordinator.next_message()).text


async def setup(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    thuy, _ = await enter_resident(harness)
    return minh, thuy


async def test_an_answer_left_unsent_does_not_swallow_a_new_tip(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    await ask(minh, card, "Xe màu gì?")
    question = await thuy.next_message()
    thuy.press(question, "✍️ Trả lời")
    assert code in (await thuy.next_message()).text  # "send your answer…" — and then not
    thuy.send("/newtip")
    dropped = await thuy.next_message()
    assert "Đã bỏ câu trả lời cho" in dropped.text and code in dropped.text
    step1 = await thuy.next_message()
    thuy.press(step1, "Cờ bạc")
    await thuy.next_edit(step1)
    thuy.send("Có sòng bạc ở nhà văn hóa ấp.")
    assert "ký tự" in (await thuy.next_message()).text
    draft = await harness.draft(3777001, "tip")
    assert draft.body == "Có sòng bạc ở nhà văn hóa ấp."  # the new tip got the text
    tip = await harness.services.tips.by_code(code)
    assert [h.kind for h in await harness.services.tips.history(tip.id)] == ["status", "ask"]
    await harness.settle()
    assert minh.unread() == 0  # and the coordinator got nothing


async def test_a_note_typed_while_an_invitation_is_open_is_the_note(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    minh.send("/invite")
    step1 = await minh.next_message()
    assert step1.text.startswith("Bước 1/3")
    minh.press(card, "🗒 Ghi chú")
    kept = await minh.next_message()
    assert "lời mời" in kept.text and "/invite" in kept.text  # left for later, and said so
    assert code in (await minh.next_message()).text  # the note's prompt
    minh.send("Đã cử tổ tuần tra đến xem.")
    assert "Đã ghi chú" in (await minh.next_message()).text
    await minh.wait_until(lambda: "Đã cử tổ tuần tra" in card.text)  # the card shows it
    assert await harness.active(2002) is None
    assert (await harness.draft(2002, "invite")) is not None  # the invitation can go on
    minh.send("/invite")
    assert "Bước 1/3" in (await minh.next_message()).text


async def test_text_and_photos_outside_a_flow_are_offered_as_a_tip(harness: Harness):
    _, thuy = await setup(harness)
    thuy.send("Tối qua có người lạ dò xét nhà ông Năm.")
    offer = await thuy.next_message()
    assert "thành tin báo" in offer.text and "113" in offer.text
    thuy.send_photo(tiny_png(), caption="Người đó đi xe không biển số")
    more = await thuy.next_message()
    assert "1 ảnh" in more.text
    for _ in range(2):  # an album: acknowledged once
        thuy.send_photo(tiny_png(), media_group_id="album-9")
    album = await thuy.next_message()
    assert "3 ảnh" in album.text
    thuy.press(album, "📝 Gửi thành tin báo")
    step1 = await thuy.next_edit(album)  # the offer becomes the flow's first step
    assert step1.text.startswith("Bước 1/6")
    draft = await harness.draft(3777001, "tip")
    assert draft.body == "Tối qua có người lạ dò xét nhà ông Năm.\nNgười đó đi xe không biển số"
    assert [k for k, _ in draft.media] == ["photo", "photo", "photo"]
    thuy.press(step1, "Người lạ, đối tượng khả nghi")
    step2 = await thuy.next_edit(step1)
    assert "3 ảnh" in step2.text  # what was sent is already in the tip
    # A voice note alone, from someone else, outside any flow: offered too.
    lan, _ = await enter_resident(harness, 3777009)
    lan.send_voice()
    assert "tin nhắn thoại" in (await lan.next_message()).text


async def test_a_reply_under_a_question_is_the_answer(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    await ask(minh, card, "Khoảng mấy giờ?")
    question = await thuy.next_message()
    thuy.send("Khoảng 10 giờ tối.", reply_to=question)  # Telegram's reply, no button pressed
    assert "Đã chuyển câu trả lời" in (await thuy.next_message()).text
    head, copy = await minh.next_message(), await minh.next_message()
    assert code in head.text and copy.text == "Khoảng 10 giờ tối."
    assert "3777001" not in json.dumps(copy.raw) and copy.forward_origin is None


async def test_text_while_one_question_is_open_is_its_answer_and_several_ask_which(harness):
    minh, thuy = await setup(harness)
    first = await file_tip(thuy)
    await ask(minh, await card_for(minh, first), "Có ai bị thương không?")
    await thuy.next_message()
    thuy.send("Không ai bị thương.")  # no reply, no button: the one open question
    assert first in (await thuy.next_message()).text
    head, _ = await minh.next_message(), await minh.next_message()
    assert first in head.text

    second = await file_tip(thuy, category="Cờ bạc")
    third = await file_tip(thuy, category="Khác")
    got = await collect(minh, lambda ms: sum(1 for m in ms if m.buttons) == 2)
    cards = {code: next(m for m in got if code in m.text) for code in (second, third)}
    await ask(minh, cards[second], "Sòng bạc ở đâu?")
    await thuy.next_message()
    await ask(minh, cards[third], "Bạn thấy lúc nào?")
    await thuy.next_message()
    thuy.send("Sau nhà văn hóa.")
    which = await thuy.next_message()
    assert "mã nào" in which.text and second in which.button_texts \
        and third in which.button_texts
    thuy.press(which, second)
    assert second in (await thuy.next_message()).text
    head, copy = await minh.next_message(), await minh.next_message()
    assert second in head.text and copy.text == "Sau nhà văn hóa."


async def test_an_edited_message_and_an_unknown_command_in_a_flow(harness: Harness):
    _, thuy = await setup(harness)
    thuy.send("/newtip")
    step1 = await thuy.next_message()
    thuy.press(step1, "Trộm cắp")
    await thuy.next_edit(step1)
    sent = thuy.send("Mất trộm gà.")
    await thuy.next_message()
    thuy.edit(sent, "Mất trộm vịt.")
    assert "đã sửa" in (await thuy.next_message()).text
    assert (await harness.draft(3777001, "tip")).body == "Mất trộm gà."  # as first sent
    thuy.send("/dangky")
    assert "Không có lệnh /dangky" in (await thuy.next_message()).text
    reminder = await thuy.next_message()
    assert "tin báo đang soạn" in reminder.text and "Bước 2/6" in reminder.text
    thuy.send("Hai con.")  # the flow is where it was
    assert "ký tự" in (await thuy.next_message()).text
    assert (await harness.draft(3777001, "tip")).body == "Mất trộm gà.\nHai con."


async def test_the_bot_works_in_private_chats_only(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    await card_for(minh, code)
    group = harness.emu.group(-100777, "Nhóm Zalo ấp An Phú", "supergroup")
    stranger = harness.user(5550001, "Người Lạ")
    group.send(stranger, "/start")
    line = await group.next_message()
    assert "tin nhắn riêng" in line.text
    assert await harness.services.users.get(5550001) is None  # a group makes nobody a contact
    group.send(minh, "/inbox")
    assert "tin nhắn riêng" in (await group.next_message()).text
    assert all(code not in (m.text or "") for m in group.messages())  # no tip shown there
    group.send(thuy, "Có chuyện muốn báo")  # not a command: privacy mode, not even seen
    channel = harness.emu.channel(-100888, "Kênh tin xã")
    channel.post("/start")
    added = harness.emu.group(-100999, "Nhóm khác", bot_member=False)
    added.add_bot(by=stranger)
    assert "tin nhắn riêng" in (await added.next_message()).text
    await added.wait_until(lambda: not added.bot_present)  # and the bot left
    thuy.send("/mytips")  # private chats go on as before
    assert code in (await thuy.next_message()).text
    assert channel.messages() == []
    assert len(group.messages()) == 2


async def test_a_coordinator_replaced_mid_invitation_can_no_longer_mint_one(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.send("/invite")
    step1 = await minh.next_message()
    minh.press(step1, "Cán bộ điều phối")
    step2 = await minh.next_edit(step1)
    minh.press(step2, "Xã Tân Hòa, Tỉnh Cà Mau")
    confirm = await minh.next_edit(step2)
    assert confirm.text.startswith("Bước 3/3")
    # Meanwhile a handover gives Minh's commune to Khoa.
    code = await harness.invite("TANHOA", Role.COORDINATOR, handover=True)
    khoa = await harness.enter(2009, "Khoa")
    khoa.send(f"/start {code}")
    await collect(khoa, lambda ms: any("tham gia" in (m.text or "") for m in ms))
    await collect(minh, lambda ms: any("bàn giao" in (m.text or "") for m in ms))
    pressed = minh.press(confirm, "➕ Tạo lời mời — thêm người")
    answer = await minh.callback_answer(pressed)
    assert "không còn giữ vai trò" in answer["text"]
    stopped = await minh.next_message()
    assert "không còn giữ vai trò" in stopped.text
    assert await harness.active(2002) is None
    rows = await harness.services.db.fetch(
        "SELECT COUNT(*) FROM invitations WHERE created_by = ?",
        ((await harness.services.users.get(2002)).id,))
    assert rows[0][0] == 0  # nothing was minted
    again = minh.press(confirm, "➕ Tạo lời mời — thêm người")  # the button does nothing now
    assert "kết thúc" in (await minh.callback_answer(again))["text"]


async def test_a_reporter_replaced_mid_event_cannot_send_it(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    bay = await harness.enter_as(2001, "Bảy", Role.REPORTER, "TH-ANPHU")
    bay.send("/event")
    step = await bay.next_message()
    bay.press(step, "Gây rối, đánh nhau")
    step = await bay.next_edit(step)
    bay.press(step, "Vừa xảy ra")
    step = await bay.next_edit(step)
    bay.press(step, "Bỏ qua ➡️")
    step = await bay.next_edit(step)
    bay.send("Hai nhóm xô xát trước chợ.")
    step = await bay.next_message()
    bay.press(step, "0")
    step = await bay.next_edit(step)
    bay.press(step, "Không có ảnh ➡️")
    review = await bay.next_edit(step)
    assert "Gửi cho cán bộ xã" in " ".join(review.button_texts)
    code = await harness.invite("TH-ANPHU", Role.REPORTER, handover=True)
    sau = await harness.enter(2008, "Sáu")
    sau.send(f"/start {code}")
    await collect(bay, lambda ms: any("bàn giao" in (m.text or "") for m in ms))
    pressed = bay.press(review, "🚨 Gửi cho cán bộ xã")
    assert "không còn phụ trách" in (await bay.callback_answer(pressed))["text"]
    rows = await harness.services.db.fetch("SELECT COUNT(*) FROM events")
    assert rows[0][0] == 0
    await harness.settle()
    assert minh.unread() == 0
    assert CODE.search(review.text) is None


async def test_an_update_telegram_sends_again_is_not_applied_twice(harness: Harness):
    """Telegram sends an update again when the bot died before confirming it: the flow does
    not take the same text twice (a report value would land on the next indicator)."""
    from telegram import Update

    _, thuy = await setup(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    sent = thuy.send("Mất trộm bình ắc quy.")
    await thuy.next_message()
    app = harness.running.app
    again = Update.de_json({"update_id": sent.record.update_id, "message": sent.raw}, app.bot)
    await app.process_update(again)
    shown = await thuy.next_message()  # where the person is, shown again
    assert shown.text.startswith("Bước 2/6")
    assert (await harness.draft(3777001, "tip")).body == "Mất trộm bình ắc quy."  # once
    thuy.send("Xe đậu ngoài sân.")  # the next, new update is taken as usual
    await thuy.next_message()
    assert (await harness.draft(3777001, "tip")).body == "Mất trộm bình ắc quy.\nXe đậu ngoài sân."


async def test_an_offer_longer_than_a_tip_is_kept_in_part_and_said_so(harness: Harness):
    """What is offered as a tip joins a draft left for later; past the tip's 4,000
    characters the end is left out, and the resident is told (it was cut unseen)."""
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    await ask(minh, await card_for(minh, code), "Xe màu gì?")
    question = await thuy.next_message()
    part = "Người lạ đứng trước cổng nhà văn hóa. " * 80  # 3,040 characters
    thuy.send("/newtip")
    step1 = await thuy.next_message()
    thuy.press(step1, "Cờ bạc")
    await thuy.next_edit(step1)
    thuy.send(part)
    await thuy.next_message()
    thuy.press(question, "✍️ Trả lời")  # the tip is left for later, the answer flow opens
    await thuy.next_message()
    thuy.send("Màu đỏ.")
    done = await collect(thuy, lambda ms: any("✅ Xong" in m.button_texts for m in ms))
    thuy.press(next(m for m in done if "✅ Xong" in m.button_texts), "✅ Xong")
    await harness.settle()
    thuy.send(part)
    offer = await collect(thuy, lambda ms: any("📝 Gửi thành tin báo" in m.button_texts
                                               for m in ms))
    thuy.press(next(m for m in offer if "📝 Gửi thành tin báo" in m.button_texts),
               "📝 Gửi thành tin báo")
    await harness.settle()
    said = [m.text for m in thuy.messages() if "phần cuối đã bị bỏ" in (m.text or "")]
    assert len(said) == 1 and "6.079 ký tự" in said[0]  # each part arrives trimmed: 3,039
    draft = await harness.draft(3777001, "tip")
    assert len(draft.body) == 4000 and draft.body.startswith(part.strip())
