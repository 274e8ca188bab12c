"""Coordinators at work on tips: posters, /inbox and /tip, duplicates, assigning, blocking."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.models import Role
from storage.users import Contact
from tests.conftest import ADMIN_ID, Harness, card_for
from tests.e2e.test_tips import CODE, enter_resident, file_tip

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL


async def coordinator(harness: Harness, tg_id: int = 2002, name: str = "Minh",
                      unit: str = "TANHOA"):
    user = await harness.enter_as(tg_id, name, Role.COORDINATOR, unit)
    # Staff go by a name (set when an invitation is redeemed; here the role is granted).
    await harness.services.users.set_contact(tg_id, Contact(tg_id, f"Cán bộ {name}"))
    user.skip_messages()
    return user


async def test_poster_link_opens_the_flow_with_the_hamlet_set(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    thuy, _ = await enter_resident(harness)
    thuy.send("/start t_TH-PHUOCHAU")
    welcome = await thuy.next_message()
    assert "Ấp Phước Hậu" in welcome.text
    step1 = await thuy.next_message()
    assert step1.text.startswith("Bước 1/6")
    thuy.press(step1, "Trộm cắp")
    await thuy.next_edit(step1)
    thuy.send("Trộm chó.")
    thuy.press(await thuy.next_message(), "Tiếp ➡️")
    step3 = await thuy.next_message()
    assert "Ấp Phước Hậu" in step3.text and "Tiếp ➡️" in thuy.reply_keyboard_texts
    thuy.reply_keyboard_press("Tiếp ➡️")
    await thuy.next_message()
    step4 = await thuy.next_message()
    thuy.press(step4, "Hôm nay")
    thuy.press(await thuy.next_edit(step4), "🔒 Gửi ẩn danh")
    thuy.press(await thuy.next_edit(step4), "✅ Gửi tin báo")
    code = CODE.search((await thuy.next_edit(step4)).text)[0]
    card = await minh.next_message()
    assert code in card.text and "Ấp Phước Hậu" in card.text

    # Someone new from a poster: language first, then straight into the same flow.
    newcomer = harness.user(3900001, "Tư")
    newcomer.send("/start t_TH-ANPHU")
    newcomer.press(await newcomer.next_message(), "Tiếng Việt")
    welcome = await newcomer.next_message()
    assert "Ấp An Phú" in welcome.text
    step1 = await newcomer.next_message()
    assert step1.text.startswith("Bước 1/6")
    draft = await harness.draft(3900001, "tip")
    anphu = await harness.services.units.by_code("TH-ANPHU")
    assert draft is not None and draft.unit_id == anphu.id and draft.unit_from_poster


async def test_inbox_marks_overdue_and_tip_shows_the_card(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    khoa = await coordinator(harness, 2003, "Khoa", "KHANHAN")
    thuy, _ = await enter_resident(harness)
    first = await file_tip(thuy)
    second = await file_tip(thuy, category="Cờ bạc", hamlet="Ấp Phước Hậu")
    await card_for(minh, first)
    await card_for(minh, second)
    cards = [m for m in minh.messages() if m.buttons and CODE.search(m.text or "")]
    assert sorted(CODE.search(m.text)[0] for m in cards) == sorted([first, second])
    svc = harness.services
    real_now = svc.now
    svc.now = lambda: real_now() + timedelta(hours=30)  # past the 24 h to acknowledge
    minh.send("/inbox")
    inbox = await minh.next_message()
    assert "2" in inbox.text and inbox.text.index(first) < inbox.text.index(second)
    assert inbox.text.count("⏰") == 3  # two overdue tips and the legend
    assert inbox.button_texts == [first, second]
    minh.press(inbox, second)
    card = await minh.next_message()
    assert second in card.text and "Quá hạn tiếp nhận" in card.text
    khoa.send("/inbox")
    assert "Không có tin báo" in (await khoa.next_message()).text
    khoa.send(f"/tip {first}")
    assert "Không tìm thấy" in (await khoa.next_message()).text  # another commune's tip
    thuy.send(f"/tip {first}")
    assert "cán bộ điều phối" in (await thuy.next_message()).text
    minh.send(f"/tip {first.removeprefix('TB-').lower()}")
    card = await minh.next_message()
    assert first in card.text and "Trộm cắp" in card.text


async def test_duplicates_suggested_and_merging_tells_both_senders(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    thuy, _ = await enter_resident(harness)
    other, _ = await enter_resident(harness, 3777003)
    first = await file_tip(thuy, category="Cờ bạc")
    second = await file_tip(other, category="Cờ bạc")
    card = await card_for(minh, second)
    assert second in card.text and f"Có thể trùng: {first}" in card.text
    minh.press(card, "🏁 Kết thúc")
    await minh.wait_until(lambda: "Trùng với tin báo khác" in card.button_texts)
    minh.press(card, "Trùng với tin báo khác")
    await minh.wait_until(lambda: first in card.button_texts)
    minh.press(card, first)
    told_second = await other.next_message()
    assert second in told_second.text and first in told_second.text and "gộp" in told_second.text
    told_first = await thuy.next_message()
    assert first in told_first.text and "bổ sung" in told_first.text
    await minh.wait_until(lambda: "Đã gộp vào tin báo khác" in card.text)
    tip = await harness.services.tips.by_code(second)
    target = await harness.services.tips.by_code(first)
    assert tip.duplicate_of == target.id and tip.resolution.value == "duplicate"


async def test_assign_note_tag_and_typed_duplicate_code(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    hanh = await coordinator(harness, 2004, "Hạnh")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    await card_for(hanh, code)

    minh.press(card, "👥 Giao")
    await minh.wait_until(lambda: "Cán bộ Hạnh" in card.button_texts)
    minh.press(card, "Cán bộ Hạnh")
    told = await hanh.next_message()
    assert code in told.text and "Cán bộ Minh" in told.text
    await minh.wait_until(lambda: "Phụ trách: Cán bộ Hạnh" in card.text)

    minh.press(card, "🗒 Ghi chú")
    await minh.next_message()
    minh.send_sticker()
    assert "bằng chữ" in (await minh.next_message()).text
    minh.send("Đã gọi trưởng ấp xác minh")
    assert "Đã ghi chú" in (await minh.next_message()).text
    await minh.wait_until(lambda: "Đã gọi trưởng ấp xác minh" in card.text)
    assert "Đã gọi trưởng ấp" not in " ".join(m.text or "" for m in thuy.messages())

    minh.press(card, "🏷 Gắn nhãn")
    await minh.next_message()
    minh.send("!!!")
    assert "chữ và số" in (await minh.next_message()).text
    minh.send("xe máy, tái phạm")
    assert "Đã gắn nhãn" in (await minh.next_message()).text
    await minh.wait_until(lambda: "#tái_phạm" in card.text and "#xe_máy" in card.text)

    minh.press(card, "🏁 Kết thúc")
    await minh.wait_until(lambda: "Trùng với tin báo khác" in card.button_texts)
    minh.press(card, "Trùng với tin báo khác")
    await minh.wait_until(lambda: "⌨️ Gõ mã tin báo khác" in card.button_texts)
    minh.press(card, "⌨️ Gõ mã tin báo khác")
    await minh.next_message()
    minh.send(code)  # itself
    assert "Không có tin báo nào khác" in (await minh.next_message()).text
    minh.send("/cancel")
    assert "hủy" in (await minh.next_message()).text.lower()
    tip = await harness.services.tips.by_code(code)
    kinds = [h.kind for h in await harness.services.tips.history(tip.id)]
    assert kinds == ["status", "assign", "note", "tag"]


async def test_blocking_a_sender_without_learning_who(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    minh.press(card, "🚫 Chặn người gửi")
    explain = await minh.next_message()
    assert code in explain.text and "giữ kín" in explain.text
    minh.press(card, "🚫 Xác nhận chặn")
    assert "Đã chặn" in (await minh.next_message()).text
    await minh.wait_until(lambda: "bị chặn" in card.text)
    assert "🚫 Chặn người gửi" not in card.button_texts
    thuy.send("/newtip")
    refusal = await thuy.next_message()
    assert "không gửi được tin báo" in refusal.text and not refusal.buttons
    assert "3777001" not in refusal.text


async def test_a_tip_with_no_unit_goes_to_the_admins(harness: Harness):
    await harness.load_units()
    minh = await coordinator(harness)
    admin = await harness.enter(ADMIN_ID, "Quản trị")
    admin.skip_messages()
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy, hamlet=None)
    card = await admin.next_message()
    assert code in card.text and "không rõ" in card.text
    await harness.settle()
    assert minh.unread() == 0
    admin.send("/inbox")
    assert code in (await admin.next_message()).text


async def test_every_copy_of_a_card_stays_current(harness: Harness):
    """Anh Minh opens a tip again with /tip: a colleague's press changes both his cards (the
    first stopped updating once the second was sent)."""
    await harness.load_units()
    minh = await coordinator(harness)
    hanh = await coordinator(harness, 2004, "Hạnh")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    first = await card_for(minh, code)
    minh.send(f"/tip {code}")
    second = await card_for(minh, code)
    assert second.message_id != first.message_id
    hanh.press(await card_for(hanh, code), "✅ Tiếp nhận")
    await minh.wait_until(lambda: "Đã tiếp nhận" in first.text and "Đã tiếp nhận" in second.text)
    await harness.settle()
    tip = await harness.services.tips.by_code(code)
    minh_id = (await harness.services.users.get(2002)).id
    assert sorted(m for u, m in await harness.services.tips.cards(tip.id) if u == minh_id) == [
        first.message_id, second.message_id]


async def test_a_card_says_who_did_what_and_the_assignee_and_sender_are_told(harness: Harness):
    """The field trial's cards: who acknowledged, assigned and closed, with when; the assignee
    told when the tip changes hands or status; the sender told the outcome in words, and the
    officer's own closing message."""
    await harness.load_units()
    minh = await coordinator(harness)
    hanh = await coordinator(harness, 2004, "Hạnh")
    tam = await coordinator(harness, 2005, "Tâm")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    await card_for(hanh, code)
    await card_for(tam, code)
    thuy.skip_messages()

    pressed = minh.press(card, "✅ Tiếp nhận")
    assert (await minh.callback_answer(pressed))["text"] == f"{code}: Đã tiếp nhận"
    await minh.wait_until(lambda: "Cán bộ Minh: tiếp nhận" in card.text)
    assert "Diễn biến" in card.text
    await thuy.next_message()  # "Đã tiếp nhận"

    minh.press(card, "👥 Giao")
    await minh.wait_until(lambda: "Cán bộ Hạnh" in card.button_texts)
    pressed = minh.press(card, "Cán bộ Hạnh")
    assert (await minh.callback_answer(pressed))["text"] == f"{code}: đã giao cho Cán bộ Hạnh."
    assert "giao cho bạn" in (await hanh.next_message()).text
    await minh.wait_until(lambda: "Cán bộ Minh: giao cho Cán bộ Hạnh" in card.text)
    # Given to Tâm instead: Hạnh is told it left her hands.
    minh.press(card, "👥 Giao")
    await minh.wait_until(lambda: "Cán bộ Tâm" in card.button_texts)
    minh.press(card, "Cán bộ Tâm")
    moved = await hanh.next_message()
    assert code in moved.text and "Cán bộ Minh" in moved.text and "Cán bộ Tâm" in moved.text
    assert "giao cho bạn" in (await tam.next_message()).text
    # A colleague moves it: Tâm, who has it, is told; Minh, who acts, is not told by a notice.
    hcard = next(m for m in hanh.messages() if code in (m.text or "") and m.buttons)
    hanh.press(hcard, "🔎 Xác minh")
    told = await tam.next_message()
    assert code in told.text and "Cán bộ Hạnh" in told.text and "Đang xác minh" in told.text
    await thuy.next_message()  # "Đang xác minh"

    # A question and its answer are on the card's history too.
    minh.press(card, "❓ Hỏi người gửi")
    await minh.next_message()
    minh.send("Xe màu gì?")
    await minh.next_message()
    asked = await thuy.next_message()
    thuy.press(asked, "✍️ Trả lời")
    await thuy.next_message()
    thuy.send("Màu đỏ.")
    await thuy.next_message()
    await minh.wait_until(lambda: "Cán bộ Minh: hỏi người báo tin: «Xe màu gì?»" in card.text
                          and "Người báo tin: trả lời: «Màu đỏ.»" in card.text)
    await harness.settle()
    for colleague in (minh, hanh, tam):  # the answer, copied under each card
        colleague.skip_messages()
    minh.press(card, "🏁 Kết thúc")
    await minh.wait_until(lambda: "Đã giải quyết" in card.button_texts)
    pressed = minh.press(card, "Đã giải quyết")
    assert (await minh.callback_answer(pressed))["text"] == \
        f"{code}: Đã kết thúc — Đã giải quyết"
    offer = await minh.next_message()
    assert code in offer.text and offer.button_texts == ["✉️ Nhắn kết quả cho người báo tin"]
    outcome = await thuy.next_message()
    assert "Đã giải quyết" in outcome.text and "đã xác minh và xử lý" in outcome.text
    assert "Đã kết thúc" in (await tam.next_message()).text
    await minh.wait_until(lambda: "Cán bộ Minh: kết thúc — Đã giải quyết" in card.text)
    assert card.button_texts[0] == "✉️ Nhắn kết quả cho người báo tin"

    minh.press(offer, "✉️ Nhắn kết quả cho người báo tin")
    assert code in (await minh.next_message()).text
    minh.send("Đã thu hồi xe, mời anh chị lên công an xã nhận lại.")
    assert "Đã gửi lời nhắn kết quả" in (await minh.next_message()).text
    message = await thuy.next_message()
    assert code in message.text and "Đã thu hồi xe" in message.text and not message.buttons
    await minh.wait_until(lambda: "nhắn người báo tin: «Đã thu hồi xe" in card.text)
    tip = await harness.services.tips.by_code(code)
    history = await harness.services.tips.history(tip.id)
    assert [h.kind for h in history][-1] == "closing"
    assert history[-1].detail["text"].startswith("Đã thu hồi xe")


async def test_a_press_on_a_copy_no_longer_kept_current_changes_it_too(harness: Harness):
    """Four copies of one card: the oldest is not kept current (three are); pressing on it
    changes it where it was pressed, and it is kept current from then on."""
    await harness.load_units()
    minh = await coordinator(harness)
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    oldest = await card_for(minh, code)
    for _ in range(3):
        minh.send(f"/tip {code}")
        await card_for(minh, code)
    await harness.settle()
    tip = await harness.services.tips.by_code(code)
    held = [m for _, m in await harness.services.tips.cards(tip.id)]
    assert oldest.message_id not in held and len(held) == 3
    minh.press(oldest, "✅ Tiếp nhận")
    await minh.wait_until(lambda: "Trạng thái: <b>Đã tiếp nhận" in (oldest.html or "")
                          or "Trạng thái: Đã tiếp nhận" in oldest.text)
    assert oldest.message_id in [m for _, m in await harness.services.tips.cards(tip.id)]
