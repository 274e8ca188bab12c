"""Faults on the way out: every card, receipt, relay and notice arrives once the fault clears.

The emulator fails chosen Bot API calls the ways Telegram and networks fail (5xx, 429, a
timeout after Telegram acted, a dropped connection). Each test counts what arrived: nothing
may be lost, and one recipient's trouble holds nobody else up. The one duplicate the Bot API
makes unavoidable (Telegram delivered, the answer was lost) is counted where it happens.
"""

from __future__ import annotations

import pytest

from bot import outbox as sending
from bot.emulator.core import tiny_png
from storage.models import Role
from storage.tip_lifecycle import Status
from tests.conftest import Harness, card_for, collect
from tests.e2e.test_routing import ask
from tests.e2e.test_tips import CODE, enter_resident

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL


async def people(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    hanh = await harness.enter_as(2004, "Hạnh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    hanh.skip_messages()
    thuy, _ = await enter_resident(harness)
    return minh, hanh, thuy


async def send_tip(thuy, *, photos: int = 0, arm=None) -> tuple[str, object]:
    """A tip to Ấp An Phú through the flow; returns its code and the receipt message.

    ``arm()`` runs just before "Send" is pressed (faults for the sending itself)."""
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("Mất trộm máy bơm nước ngoài đồng.")
    ack = await thuy.next_message()
    for _ in range(photos):
        thuy.send_photo(tiny_png(), media_group_id="album-f" if photos > 1 else None)
    if photos:
        ack = await thuy.next_message()
    thuy.press(ack, "Tiếp ➡️")
    await thuy.next_message()
    thuy.reply_keyboard_press("🏘 Chọn thôn, ấp")
    units = await thuy.next_message()
    thuy.press(units, "Xã Tân Hòa ›")
    thuy.press(await thuy.next_edit(units), "Ấp An Phú")
    await thuy.next_message()
    thuy.reply_keyboard_press("Tiếp ➡️")
    await thuy.next_message()
    step = await thuy.next_message()
    thuy.press(step, "Hôm nay")
    thuy.press(await thuy.next_edit(step), "🔒 Gửi ẩn danh")
    review = await thuy.next_edit(step)
    if arm is not None:
        arm()
    pressed = thuy.press(review, "✅ Gửi tin báo")
    toast = await thuy.callback_answer(pressed)
    code = CODE.search(toast["text"])[0]  # the code is in the button's answer at once
    return code, review


def cards_of(user, code: str) -> list:
    return [m for m in user.messages() if code in (m.text or "") and m.buttons]


async def test_a_500_on_one_coordinators_card_holds_up_nobody(harness: Harness):
    minh, hanh, thuy = await people(harness)
    fault = harness.emu.faults.add("sendMessage", chat_id=minh.id, status=500)
    code, review = await send_tip(thuy)
    await thuy.wait_until(lambda: code in review.text)  # the receipt does not wait
    await card_for(hanh, code)
    card = await card_for(minh, code)  # retried after the fault
    assert fault.hits == 1
    assert len(cards_of(minh, code)) == 1 and len(cards_of(hanh, code)) == 1  # once each
    # The card arrived late, and it is the one that later changes edit.
    minh.press(card, "✅ Tiếp nhận")
    await minh.wait_until(lambda: "Đã tiếp nhận" in card.text)
    await hanh.wait_until(lambda: "Đã tiếp nhận" in cards_of(hanh, code)[0].text)


async def test_an_album_and_a_card_through_502s_429s_and_a_dropped_connection(harness):
    minh, hanh, thuy = await people(harness)
    faults = [harness.emu.faults.add("sendMediaGroup", chat_id=minh.id, status=502),
              harness.emu.faults.add("sendMessage", chat_id=hanh.id, retry_after=1, times=4),
              harness.emu.faults.add("sendMediaGroup", chat_id=hanh.id, drop=True)]
    code, review = await send_tip(thuy, photos=3)
    await thuy.wait_until(lambda: code in review.text)
    for coordinator in (minh, hanh):
        got = await collect(coordinator, lambda ms: any(code in (m.text or "") and m.buttons
                                                        for m in ms), timeout=30)
        albums = [m for m in got if m.photo]
        assert len(albums) == 3, coordinator  # the album once, not once per attempt
        assert albums[0].text and code in albums[0].text  # captioned with the tip's code
        assert len(cards_of(coordinator, code)) == 1
    assert [f.hits for f in faults] == [1, 4, 1]


async def test_a_slow_telegram_is_waited_for_not_sent_twice(harness: Harness):
    """Telegram delivers the card but answers after 6 s (PTB's own read timeout is 5 s, which
    once sent a reporter the same reminder twice): the outbox waits, and there is one card."""
    minh, hanh, thuy = await people(harness)
    fault = harness.emu.faults.add("sendMessage", chat_id=minh.id, delay=6, after=True)
    code, review = await send_tip(thuy)
    await card_for(hanh, code)  # at once: the slow call holds nobody up
    await thuy.wait_until(lambda: code in review.text)
    await minh.wait_until(lambda: len(cards_of(minh, code)) == 1, timeout=20)
    await harness.settle()
    assert fault.hits == 1 and len(cards_of(minh, code)) == 1
    tip = await harness.services.tips.by_code(code)
    assert await harness.services.outbox.unanswered("tip.card", f"tip:{tip.id}") == 0


async def test_an_answer_that_never_comes_is_counted_and_sent_again_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
):
    """What remains: Telegram delivered, its answer never came back. The send is counted as
    unanswered and made again after a pause; the coordinator has the card twice, and the
    second copy is the one kept current."""
    monkeypatch.setattr(sending, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(sending, "UNANSWERED_DELAY_NOW", 0.5)
    await harness.restart()
    minh, hanh, thuy = await people(harness)
    fault = harness.emu.faults.add("sendMessage", chat_id=minh.id, delay=3, after=True)
    code, _ = await send_tip(thuy)
    await card_for(hanh, code)
    await minh.wait_until(lambda: len(cards_of(minh, code)) == 2, timeout=20)
    assert fault.hits == 1
    tip = await harness.services.tips.by_code(code)
    assert await harness.services.outbox.unanswered("tip.card", f"tip:{tip.id}") == 1
    latest = cards_of(minh, code)[-1]
    hanh.press(cards_of(hanh, code)[0], "✅ Tiếp nhận")
    await minh.wait_until(lambda: "Đã tiếp nhận" in latest.text)


async def test_a_500_on_the_receipt_and_on_every_notice(harness: Harness):
    minh, hanh, thuy = await people(harness)
    armed = []
    code, review = await send_tip(thuy, arm=lambda: armed.append(harness.emu.faults.add(
        "editMessageText", chat_id=thuy.id, status=500)))
    receipt_fault = armed[0]
    await thuy.wait_until(lambda: code in review.text and not review.buttons)
    await thuy.wait_until(lambda: thuy.pinned is not None and code in thuy.pinned.text)
    assert receipt_fault.hits == 1
    card = await card_for(minh, code)

    # A status notice to the resident, a question, and the answer under both cards.
    notice_fault = harness.emu.faults.add("sendMessage", chat_id=thuy.id, status=500, times=2)
    minh.press(card, "✅ Tiếp nhận")
    told = await thuy.next_message(timeout=15)
    assert code in told.text and "Đã tiếp nhận" in told.text
    await ask(minh, card, "Máy bơm hiệu gì?")
    question = await thuy.next_message(timeout=15)
    assert "Máy bơm hiệu gì?" in question.text
    assert notice_fault.hits == 2
    relay_fault = harness.emu.faults.add("copyMessage", chat_id=hanh.id, status=502)
    thuy.press(question, "✍️ Trả lời")
    await thuy.next_message()
    thuy.send("Hiệu Honda, màu đỏ.")
    assert "Đã chuyển" in (await thuy.next_message()).text
    for coordinator in (minh, hanh):
        got = await collect(coordinator, lambda ms: any(m.text == "Hiệu Honda, màu đỏ."
                                                        for m in ms), timeout=15)
        assert sum(1 for m in got if m.text == "Hiệu Honda, màu đỏ.") == 1
    assert relay_fault.hits == 1
    tip = await harness.services.tips.by_code(code)
    assert tip.status is Status.ACKNOWLEDGED
    await harness.settle()  # the answer was seen before the sender marked the copy sent
    counts = await harness.services.db.fetch(
        "SELECT status, COUNT(*) FROM outbox WHERE lane = 0 GROUP BY status")
    assert dict(counts) == {"sent": dict(counts)["sent"]}  # nothing failed, nothing pending
