"""Events handled like tips: a code, a status, card buttons, questions to the reporter and
their answers, notes, every card copy kept current, /inbox, /tip and the digest's counts."""

from __future__ import annotations

import re

import pytest

from bot.emulator.core import tiny_png
from storage.models import Role
from storage.users import Contact
from tests.conftest import Harness, collect
from tests.e2e.test_reports import WEDNESDAY, at, reporter

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL

EVENT_CODE = re.compile(r"VV-[346789ACDEFGHJKMNPQRTUVWXY]{5}")


async def coordinator(harness: Harness, tg_id: int, name: str, unit: str = "TANHOA"):
    user = await harness.enter_as(tg_id, name, Role.COORDINATOR, unit)
    await harness.services.users.set_contact(tg_id, Contact(tg_id, f"Cán bộ {name}"))
    user.skip_messages()
    return user


async def file_event(bay, *, photo: bool = True) -> str:
    """Bảy reports a fight step by step; the event's code."""
    review = await event_review(bay, photo=photo)
    bay.press(review, "🚨 Gửi cho cán bộ xã")
    sent = await bay.next_edit(review)
    return EVENT_CODE.search(sent.text)[0]


async def event_review(bay, *, photo: bool = True, description: str =
                       "Hai nhóm thanh niên xô xát trước cổng chợ.", people: str = "6"):
    """Bảy writes a fight up to its review step; the review."""
    bay.send("/event")
    step = await bay.next_message()
    bay.press(step, "Gây rối, đánh nhau")
    step = await bay.next_edit(step)
    bay.press(step, "Vừa xảy ra")
    step = await bay.next_edit(step)
    bay.press(step, "Bỏ qua ➡️")
    await bay.next_edit(step)
    bay.send(description)
    await bay.next_message()
    bay.send(people)
    step = await bay.next_message()
    if photo:
        bay.send_photo(tiny_png())
        step = await bay.next_message()
    bay.press(step, "Xong ➡️" if photo else "Không có ảnh ➡️")
    return await bay.next_edit(step)


def replied_to(message) -> int | None:
    return (message.raw.get("reply_to_message") or {}).get("message_id")


async def test_an_event_is_acknowledged_asked_about_answered_noted_and_handled(
        harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    hanh = await coordinator(harness, 2004, "Hạnh")
    khoa = await coordinator(harness, 2003, "Khoa", "KHANHAN")

    code = await file_event(bay)
    # The photo first, captioned with the code, then the card with its buttons.
    arrived = await collect(minh, lambda ms: any(m.buttons for m in ms))
    assert arrived[0].photo is not None and code in arrived[0].text
    card = arrived[-1]
    assert replied_to(card) == arrived[0].message_id  # the card answers its photo
    for expected in (code, "Gây rối", "Trạng thái: Mới", "Ấp An Phú", "Số người liên quan: 6",
                     "Người báo: Bảy", "xô xát", "1 ảnh"):
        assert expected in card.text, expected
    assert card.button_texts == ["📥 Tiếp nhận", "✅ Đã xử lý xong", "❓ Hỏi người báo",
                                 "🗒 Ghi chú", "📎 Xem ảnh, video (1)"]
    hanh_card = (await collect(hanh, lambda ms: any(m.buttons for m in ms)))[-1]

    # Acknowledged: the press says what changed, both coordinators' cards show who did it,
    # the reporter is told who took it up.
    pressed = minh.press(card, "📥 Tiếp nhận")
    assert (await minh.callback_answer(pressed))["text"] == f"{code}: Đã tiếp nhận"
    await minh.wait_until(lambda: "Trạng thái: Đã tiếp nhận" in card.text)
    assert "Cán bộ Minh: tiếp nhận" in card.text and "Diễn biến" in card.text
    assert card.button_texts[0] == "✅ Đã xử lý xong" and "📥 Tiếp nhận" not in card.button_texts
    await hanh.wait_until(lambda: "Cán bộ Minh: tiếp nhận" in hanh_card.text)
    told = await bay.next_message()
    assert code in told.text and "Cán bộ Minh" in told.text and "tiếp nhận" in told.text
    # A colleague's stale press: nothing changes twice, she is told how it stands.
    pressed = hanh.press(hanh_card, "✅ Đã xử lý xong")
    await hanh.callback_answer(pressed)

    # Hạnh's press handled it; Minh still asks: the card's ask button is refused now.
    await minh.wait_until(lambda: "Đã xử lý xong" in card.text)
    assert "Cán bộ Hạnh: xác nhận đã xử lý xong" in card.text
    assert card.button_texts == ["🗒 Ghi chú", "📎 Xem ảnh, video (1)"]
    done = await bay.next_message()
    assert code in done.text and "Cán bộ Hạnh" in done.text and "xử lý xong" in done.text

    # Another commune's coordinator cannot open it.
    khoa.send(f"/tip {code}")
    assert "Không tìm thấy vụ việc" in (await khoa.next_message()).text
    assert khoa.unread() == 0


async def test_the_reporter_answers_a_question_under_the_card(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    code = await file_event(bay, photo=False)
    card = (await collect(minh, lambda ms: any(m.buttons for m in ms)))[-1]
    assert card.photo is None and "📎" not in card.text

    minh.press(card, "❓ Hỏi người báo")
    prompt = await minh.next_message()
    assert code in prompt.text
    minh.send("Có ai bị thương không?")
    assert "Đã gửi câu hỏi" in (await minh.next_message()).text
    question = await bay.next_message()
    assert "Cán bộ Minh" in question.text and "Có ai bị thương không?" in question.text
    assert code in question.text and question.button_texts == ["✍️ Trả lời"]
    await minh.wait_until(lambda: "hỏi người báo: «Có ai bị thương không?»" in card.text)

    bay.press(question, "✍️ Trả lời")
    assert code in (await bay.next_message()).text
    bay.send("Một người bị xây xát nhẹ, đã sơ cứu.")
    sent = await bay.next_message()
    assert "Đã chuyển câu trả lời" in sent.text and code in sent.text
    relayed = await minh.next_message()
    assert "Bảy" in relayed.text and "Một người bị xây xát nhẹ" in relayed.text
    assert replied_to(relayed) == card.message_id  # under the card
    await minh.wait_until(lambda: "trả lời: «Một người bị xây xát nhẹ" in card.text)
    # For a few minutes more goes to the same event: a photo, copied under the card.
    bay.send_photo(tiny_png())
    await bay.next_message()
    copied = await collect(minh, lambda ms: any(m.photo for m in ms))
    assert copied[-1].photo is not None
    bay.press(sent, "✅ Xong")
    await harness.settle()

    # Asked again, the reporter simply replies to the question in Telegram.
    minh.press(card, "❓ Hỏi người báo")
    await minh.next_message()
    minh.send("Mấy giờ thì giải tán?")
    await minh.next_message()
    question = await bay.next_message()
    bay.send("Khoảng 22h.", reply_to=question)
    assert "Đã chuyển câu trả lời" in (await bay.next_message()).text
    assert "Khoảng 22h." in (await minh.next_message()).text

    # The coordinator replies to the card in Telegram: a question, or a note?
    minh.send("Đã cử tổ tuần tra đến.", reply_to=card)
    which = await minh.next_message()
    assert code in which.text
    minh.press(which, "🗒 Lưu làm ghi chú nội bộ")
    assert "Đã ghi chú" in (await minh.next_message()).text
    await minh.wait_until(lambda: "ghi chú: «Đã cử tổ tuần tra đến.»" in card.text)
    await harness.settle()
    assert bay.unread() == 0  # a note is not sent to the reporter
    history = await harness.services.events.history(
        (await harness.services.events.by_code(code)).id)
    assert [h.kind for h in history] == ["ask", "answer", "answer", "ask", "answer", "note"]


async def test_inbox_lists_events_with_tips_and_tip_opens_a_card(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    code = await file_event(bay, photo=False)
    card = (await collect(minh, lambda ms: any(m.buttons for m in ms)))[-1]
    minh.send("/inbox")
    inbox = await minh.next_message()
    assert "đang mở: 1" in inbox.text and "Vụ việc: 1" in inbox.text
    assert code in inbox.text and "Gây rối" in inbox.text and "Mới" in inbox.text
    minh.press(inbox, code)
    second = await minh.next_message()
    assert code in second.text and second.buttons and second.message_id != card.message_id
    minh.send(f"/tip {code.lower().replace('-', ' ')}")
    third = await minh.next_message()
    assert code in third.text
    # Every copy is kept current.
    minh.press(third, "📥 Tiếp nhận")
    for copy in (card, second, third):
        await minh.wait_until(lambda c=copy: "Trạng thái: Đã tiếp nhận" in c.text)
    minh.press(third, "✅ Đã xử lý xong")
    await minh.wait_until(lambda: "Đã xử lý xong" in card.text)
    minh.send("/inbox")
    assert "Không có tin báo hay vụ việc" in (await minh.next_message()).text


# ---------------------------------------------------------------------- what a probe found


async def _ask(coordinator_, card, text: str) -> None:
    coordinator_.press(card, "❓ Hỏi người báo")
    await coordinator_.next_message()
    coordinator_.send(text)
    assert "Đã gửi câu hỏi" in (await coordinator_.next_message()).text


async def _end_role(harness: Harness, tg_id: int) -> None:
    svc = harness.services
    user = await svc.users.get(tg_id)
    (membership,) = [m for m in user.memberships if m.role is Role.COORDINATOR]
    await svc.users.end_role(user.id, membership.id, reason="handover", actor_id=None)


async def test_an_answer_reaches_who_is_in_charge_now_not_who_was(harness: Harness):
    """Minh asked, then handed the commune over to Hạnh, who never had the card: the answer
    went to Minh's old card, and Hạnh never saw it. Minh's card also kept updating."""
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    code = await file_event(bay, photo=False)
    card = (await collect(minh, lambda ms: any(m.buttons for m in ms)))[-1]
    await _ask(minh, card, "Có ai bị thương không?")
    question = await bay.next_message()
    await _end_role(harness, 2002)
    hanh = await coordinator(harness, 2004, "Hạnh")
    bay.send("Một người bị thương nhẹ.", reply_to=question)
    assert "Đã chuyển câu trả lời" in (await bay.next_message()).text
    relayed = await hanh.next_message()
    assert code in relayed.text and "Một người bị thương nhẹ." in relayed.text
    hanh.send(f"/tip {code}")
    hcard = (await collect(hanh, lambda ms: any(m.buttons for m in ms)))[-1]
    hanh.press(hcard, "📥 Tiếp nhận")
    await hanh.wait_until(lambda: "Trạng thái: Đã tiếp nhận" in hcard.text)
    await harness.settle()
    assert "Một người bị thương" not in " ".join(m.text or "" for m in minh.messages())
    assert "Trạng thái: Mới" in card.text  # his old card is no longer kept current


async def test_an_event_nobody_could_receive_is_not_sent(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")  # no coordinator, no admin has started
    review = await event_review(bay, photo=False, description="Xô xát.", people="2")
    assert "chưa có cán bộ nào nhận được" in review.text and "113" in review.text
    assert "🚨 Gửi cho cán bộ xã" not in review.button_texts
    assert await harness.draft(2001, "event") is not None  # kept for when someone can


async def test_a_free_answer_with_a_tip_and_an_event_question_open_asks_which(
        harness: Harness):
    """Bảy, a reporter who also sent a tip, was asked about both: what he wrote went to the
    tip, silently. Now he is asked which, and the event is one of the choices."""
    from tests.e2e.test_tips import file_tip

    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    tip = await file_tip(bay)
    tcard = next(m for m in await collect(minh, lambda ms: any(
        tip in (m.text or "") and m.buttons for m in ms)) if tip in (m.text or ""))
    bay.skip_messages()
    code = await file_event(bay, photo=False)
    ecard = (await collect(minh, lambda ms: any(code in (m.text or "") and m.buttons
                                                 for m in ms)))[-1]
    await _ask(minh, ecard, "Có ai bị thương không?")
    await bay.next_message()
    minh.press(tcard, "❓ Hỏi người gửi")
    await minh.next_message()
    minh.send("Xe màu gì?")
    await minh.next_message()
    await bay.next_message()
    bay.send("Không ai bị thương.")
    which = await bay.next_message()
    assert code in which.button_texts and tip in which.button_texts
    bay.press(which, code)
    assert "Đã chuyển câu trả lời" in (await bay.next_message()).text
    relayed = await collect(minh, lambda ms: any("Không ai bị thương." in (m.text or "")
                                                 for m in ms))
    assert code in relayed[-1].text
    event = await harness.services.events.by_code(code)
    assert [h.kind for h in await harness.services.events.history(event.id)] == [
        "ask", "answer"]


async def test_an_answer_typed_as_a_colleague_closes_the_event_still_arrives(
        harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await coordinator(harness, 2002, "Minh")
    code = await file_event(bay, photo=False)
    card = (await collect(minh, lambda ms: any(m.buttons for m in ms)))[-1]
    await _ask(minh, card, "Có ai bị thương không?")
    question = await bay.next_message()
    bay.press(question, "✍️ Trả lời")
    await bay.next_message()
    minh.press(card, "✅ Đã xử lý xong")
    await bay.next_message()  # told it was handled
    bay.send("Có, hai người bị thương nặng, đã đưa đi viện.")
    assert "Đã chuyển câu trả lời" in (await bay.next_message()).text
    relayed = await collect(minh, lambda ms: any("hai người bị thương" in (m.text or "")
                                                 for m in ms))
    assert code in relayed[-1].text
    await minh.wait_until(lambda: "trả lời: «Có, hai người" in card.text)


async def test_the_reporter_follows_his_event_with_status(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    sau = await reporter(harness, 2006, "Sáu", "TH-PHUOCHAU")
    minh = await coordinator(harness, 2002, "Minh")
    code = await file_event(bay, photo=False)
    card = (await collect(minh, lambda ms: any(m.buttons for m in ms)))[-1]
    minh.press(card, "🗒 Ghi chú")
    await minh.next_message()
    minh.send("Nội bộ: đã gọi trưởng ấp")
    await minh.next_message()
    minh.press(card, "📥 Tiếp nhận")
    await bay.next_message()
    bay.send(f"/status {code}")
    status = await bay.next_message()
    assert code in status.text and "Đã tiếp nhận" in status.text and "Cán bộ Minh" in status.text
    assert "Nội bộ" not in status.text  # notes stay on the card
    sau.send(f"/status {code}")
    assert "Không tìm thấy vụ việc" in (await sau.next_message()).text
    minh.send("/tip VV-ABC")
    assert "Không tìm thấy vụ việc" in (await minh.next_message()).text
