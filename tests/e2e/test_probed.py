"""What a session that tried the bot as residents, coordinators and attackers found, fixed:
each test is one thing that went astray, was lost, or ended in "Xin lỗi, đã có lỗi…"."""

from __future__ import annotations

import pytest

from bot.emulator.core import tiny_png
from storage.models import Role
from storage.tip_lifecycle import Resolution, Status
from tests.conftest import Harness, card_for, collect, has
from tests.e2e.test_routing import ask, setup
from tests.e2e.test_tips import enter_resident, file_tip

GENERIC = "Xin lỗi, đã có lỗi"


def copies_of(user, text: str) -> list:
    return [m for m in user.messages() if (m.text or "") == text]


async def question(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    await ask(minh, card, "Bạn có chụp được ảnh không?")
    return minh, thuy, code, card, await thuy.next_message()


async def test_an_album_and_a_second_line_reach_the_officer_with_the_answer(harness):
    minh, thuy, code, _, asked = await question(harness)
    thuy.press(asked, "✍️ Trả lời")
    await thuy.next_message()
    for i in range(3):
        thuy.send_photo(tiny_png(), caption="Ảnh lúc 22 giờ" if i == 0 else None,
                        media_group_id="answer-album")
    sent = await thuy.next_message()
    assert "Đã chuyển" in sent.text and "✅ Xong" in sent.button_texts
    thuy.send("Nhưng tôi nhớ biển số 69B1-123.45")  # a second line, no button pressed
    assert "Đã chuyển" in (await thuy.next_message()).text
    # One chat, paced at about one message a second: a moment for all of it.
    await minh.wait_until(lambda: sum(1 for m in minh.messages() if m.photo) == 3
                          and copies_of(minh, "Nhưng tôi nhớ biển số 69B1-123.45"), timeout=20)
    heads = [m for m in minh.messages() if "trả lời về" in (m.text or "")]
    assert len(heads) == 2  # one line for the album, one for the second message
    assert all("thành tin báo" not in (m.text or "") for m in thuy.messages())
    tip = await harness.services.tips.by_code(code)
    history = [h.kind for h in await harness.services.tips.history(tip.id)]
    assert history.count("answer") == 4

    # Ten minutes on, what is written is read afresh: a new story is not an old answer.
    real_now = harness.services.now
    harness.services.now = lambda: real_now() + __import__("datetime").timedelta(minutes=11)
    thuy.send("Hôm nay có trộm vào nhà bên cạnh.")
    assert "thành tin báo" in (await thuy.next_message()).text


async def test_messages_sent_before_saying_which_tip_all_go_there(harness: Harness):
    minh, thuy = await setup(harness)
    first = await file_tip(thuy)
    second = await file_tip(thuy, category="Cờ bạc")
    got = await collect(minh, lambda ms: sum(1 for m in ms if m.buttons) >= 2)
    cards = {c: next(m for m in got if c in m.text) for c in (first, second)}
    await ask(minh, cards[first], "Mấy giờ?")
    await thuy.next_message()
    await ask(minh, cards[second], "Ở đâu?")
    await thuy.next_message()
    thuy.send("Khoảng 9 giờ tối")
    which = await thuy.next_message()
    thuy.send("ở sau chợ Phước Hậu")  # before choosing: kept with the first
    again = await thuy.next_message()
    assert "2 tin nhắn" in again.text
    thuy.press(again, first)
    # Two answers, each a head and a copy, in one chat paced at Telegram's one a second.
    await minh.wait_until(lambda: copies_of(minh, "Khoảng 9 giờ tối")
                          and copies_of(minh, "ở sau chợ Phước Hậu"), timeout=20)
    assert which.text


async def test_a_menu_command_inside_a_note_says_the_note_is_still_open(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    minh.press(card, "🗒 Ghi chú")
    await minh.next_message()
    minh.send("/start")
    got = await collect(minh, lambda ms: any("/cancel" in (m.text or "") for m in ms))
    assert any("ghi chú cho" in (m.text or "") for m in got)


async def test_leaving_the_where_step_takes_its_keyboard_away(harness: Harness):
    _, thuy, _, _, asked = await question(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("Mất xe đạp.")
    thuy.press(await thuy.next_message(), "Tiếp ➡️")
    await thuy.next_message()
    assert "Bỏ qua ➡️" in thuy.reply_keyboard_texts
    thuy.press(asked, "✍️ Trả lời")  # another flow: the tip is left for later
    kept = await thuy.next_message()
    assert "/newtip" in kept.text and thuy.reply_keyboard is None


async def test_an_invitation_and_a_workbook_survive_a_5xx(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.send("/invite")
    step = await minh.next_message()
    minh.press(step, "Người báo cáo")
    step = await minh.next_edit(step)
    minh.press(step, "Ấp An Phú, Xã Tân Hòa")
    step = await minh.next_edit(step)
    fault = harness.emu.faults.add("sendPhoto", chat_id=minh.id, status=500)
    minh.press(step, "✅ Tạo lời mời")
    card = (await collect(minh, has("photo"), timeout=30))[-1]
    assert "start=j_" in card.text and fault.hits == 1  # the link arrived after all
    fault = harness.emu.faults.add("sendDocument", chat_id=minh.id, status=502)
    minh.send("/export 2026-W47")
    book = (await collect(minh, has("document"), timeout=30))[-1]
    assert book.document.file_name.endswith(".xlsx") and fault.hits == 1


async def test_what_was_left_for_later_is_taken_up_again(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    bay = await harness.enter_as(2001, "Bảy", Role.REPORTER, "TH-ANPHU")
    bay.send("/event")
    step = await bay.next_message()
    bay.press(step, "Trộm cắp")
    step = await bay.next_edit(step)
    bay.send("/newtip")
    assert "/event" in (await bay.next_message()).text
    await bay.next_message()
    bay.send("/event")
    assert "/newtip" in (await bay.next_message()).text  # now the tip is left for later
    assert "Tiếp tục" in (await bay.next_message()).text
    assert (await bay.next_message()).text.startswith("Bước 2/7")

    # A report half-filled is not replaced by /report HAMLET.
    bay.send("/report")
    assert "/event" in (await bay.next_message()).text  # the event, left for later again
    screen = await bay.next_message()
    bay.press(screen, next(b for b in screen.button_texts if b.startswith("Tuần")))
    await bay.next_edit(screen)
    bay.send("4")
    await bay.next_message()
    bay.send("/report TH-ANPHU")
    resume = await bay.next_message()
    assert "Tiếp tục" in " ".join(resume.button_texts)
    assert (await harness.draft(2001, "report")).values == {"propaganda_sessions": 4}


async def test_text_offered_as_a_tip_then_newtip_keeps_the_text(harness: Harness):
    _, thuy = await setup(harness)
    thuy.send("Có người lạ đi xe không biển số.")
    await thuy.next_message()
    thuy.send("/newtip")
    step = await thuy.next_message()
    assert step.text.startswith("Bước 1/6")
    assert (await harness.draft(3777001, "tip")).body == "Có người lạ đi xe không biển số."


async def test_cancel_under_an_older_prompt_cancels_nothing(harness: Harness):
    minh, thuy = await setup(harness)
    first = await file_tip(thuy)
    second = await file_tip(thuy, category="Cờ bạc")
    got = await collect(minh, lambda ms: sum(1 for m in ms if m.buttons) >= 2)
    cards = {c: next(m for m in got if c in m.text) for c in (first, second)}
    minh.press(cards[first], "🗒 Ghi chú")
    older = await minh.next_message()
    minh.press(cards[second], "❓ Hỏi người gửi")
    await collect(minh, lambda ms: any(second in (m.text or "") and "Gõ câu hỏi" in m.text
                                       for m in ms))
    pressed = minh.press(older, "✖ Hủy")
    assert "kết thúc" in (await minh.callback_answer(pressed))["text"]
    minh.send("Bạn thấy lúc mấy giờ?")
    assert "Đã gửi câu hỏi" in (await minh.next_message()).text


async def test_a_coordinators_telegram_reply_is_asked_about_not_dropped(harness: Harness):
    minh, thuy, code, card, asked = await question(harness)
    thuy.send("Màu đỏ", reply_to=asked)
    await thuy.next_message()
    await minh.wait_until(lambda: copies_of(minh, "Màu đỏ"))
    minh.skip_messages()
    minh.send("Biển số bao nhiêu?", reply_to=copies_of(minh, "Màu đỏ")[0])
    choice = await minh.next_message()
    assert code in choice.text
    minh.press(choice, "❓ Gửi làm câu hỏi cho người báo tin")
    assert "Đã gửi câu hỏi" in (await minh.next_message()).text
    assert "Biển số bao nhiêu?" in (await thuy.next_message()).text
    minh.send("Đã cử người đến xác minh", reply_to=card)
    choice = await minh.next_message()
    minh.press(choice, "🗒 Lưu làm ghi chú nội bộ")
    assert "Đã ghi chú" in (await minh.next_message()).text
    await minh.wait_until(lambda: "Đã cử người đến xác minh" in card.text)


async def test_no_question_goes_out_on_a_tip_a_colleague_closed(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    minh.press(card, "❓ Hỏi người gửi")
    await minh.next_message()
    tip = await harness.services.tips.by_code(code)
    await harness.services.tips.change_status(tip.id, None, Status.CLOSED,
                                              harness.services.now(),
                                              resolution=Resolution.RESOLVED)
    minh.send("Bạn còn ở đó không?")
    assert "vừa được kết thúc" in (await minh.next_message()).text
    assert all("còn ở đó" not in (m.text or "") for m in thuy.messages())


@pytest.mark.parametrize("kind", ["video_note", "audio"])
async def test_round_videos_and_audio_files_are_part_of_a_tip(harness: Harness, kind: str):
    _, thuy = await setup(harness)
    sent = getattr(thuy, f"send_{kind}")()
    offer = await thuy.next_message()
    assert "thành tin báo" in offer.text
    assert ("video tròn" if kind == "video_note" else "tệp âm thanh") in offer.text
    thuy.press(offer, "📝 Gửi thành tin báo")
    await thuy.next_edit(offer)
    assert [k for k, _ in (await harness.draft(3777001, "tip")).media] == [kind]
    assert sent.message_id


async def test_a_photo_at_any_step_goes_into_the_tip_and_an_album_is_answered_once(harness):
    _, thuy = await setup(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    for _ in range(3):
        thuy.send_photo(tiny_png(), media_group_id="early-album")
    added = await thuy.next_message()
    assert "3 ảnh" in added.text
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("Mất trộm bình gas.")
    thuy.press(await thuy.next_message(), "Tiếp ➡️")
    await thuy.next_message()
    thuy.reply_keyboard_press("Bỏ qua ➡️")
    await thuy.next_message()
    step = await thuy.next_message()
    thuy.press(step, "Xã Tân Hòa")
    step = await thuy.next_edit(step)
    thuy.press(step, "Hôm nay")
    step = await thuy.next_edit(step)
    thuy.press(step, "🔒 Gửi ẩn danh")
    review = await thuy.next_edit(step)
    thuy.send_photo(tiny_png(), caption="Ảnh bình gas")  # at the review: added, not refused
    assert "4 ảnh" in (await thuy.next_message()).text
    again = await thuy.next_message()
    assert again.text.startswith("Bước 6/6") and "Ảnh bình gas" in again.text
    assert review.text


async def test_an_event_photos_caption_is_kept(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    bay = await harness.enter_as(2001, "Bảy", Role.REPORTER, "TH-ANPHU")
    bay.send("/event")
    step = await bay.next_message()
    bay.press(step, "Cháy, nổ")
    step = await bay.next_edit(step)
    bay.press(step, "Vừa xảy ra")
    step = await bay.next_edit(step)
    bay.press(step, "Bỏ qua ➡️")
    await bay.next_edit(step)
    bay.send("Cháy đống rơm sau nhà.")
    step = await bay.next_message()
    bay.press(step, "0")
    await bay.next_edit(step)
    bay.send_photo(tiny_png(), caption="Lửa đã được dập")
    await bay.next_message()
    draft = await harness.draft(2001, "event")
    assert draft.description == "Cháy đống rơm sau nhà.\nLửa đã được dập"


async def test_a_keyboard_from_before_a_language_change_still_works(harness: Harness):
    _, thuy = await setup(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("Mất trộm.")
    thuy.press(await thuy.next_message(), "Tiếp ➡️")
    await thuy.next_message()
    thuy.send("/language")
    thuy.press((await collect(thuy, lambda ms: any(m.buttons for m in ms)))[-1], "English")
    await thuy.next_message()
    thuy.reply_keyboard_press("Bỏ qua ➡️")  # the Vietnamese keyboard still on screen
    got = await collect(thuy, lambda ms: any("commune" in (m.text or "") for m in ms))
    assert (await harness.draft(3777001, "tip")).place_text is None
    assert got


async def test_odd_input_that_used_to_end_in_an_error(harness: Harness):
    minh, thuy = await setup(harness)
    for command in ("/<b>", "/a<b", "/completeness 9999-W52", "/completeness 31/12/9999",
                    "/reports 0001-W01 TH-ANPHU", "/summary year 9999", "/export 0001-01"):
        minh.send(command)
        reply = await minh.next_message()
        assert GENERIC not in reply.text, (command, reply.text)
    # The inbox on screen outlives a closed tip: its next page is the last one there is.
    for _ in range(9):
        await file_tip(thuy)
    await collect(minh, lambda ms: sum(1 for m in ms if m.buttons) >= 9)
    minh.send("/inbox")
    inbox = await minh.next_message()
    svc = harness.services
    [tip, *_] = (await svc.tips.open_in([(await svc.units.by_code("TH-ANPHU")).id],
                                        unitless=False, offset=0, limit=1))[0]
    await svc.tips.change_status(tip.id, None, Status.CLOSED, svc.now(),
                                 resolution=Resolution.RESOLVED)
    minh.press(inbox, "▶")
    page = await minh.next_edit(inbox)
    assert "8" in page.text and GENERIC not in page.text


async def test_a_double_tap_on_acknowledge_is_not_someone_elses(harness: Harness):
    minh, thuy = await setup(harness)
    code = await file_tip(thuy)
    card = await card_for(minh, code)
    first, second = minh.press(card, "✅ Tiếp nhận"), minh.press(card, "✅ Tiếp nhận")
    answers = [await minh.callback_answer(first), await minh.callback_answer(second)]
    assert all("Đã tiếp nhận" in (a.get("text") or "") for a in answers), answers
    assert not any(a.get("show_alert") for a in answers)


async def test_a_copied_number_with_an_invisible_mark_is_read(harness: Harness):
    await harness.load_units()
    bay = await harness.enter_as(2001, "Bảy", Role.REPORTER, "TH-ANPHU")
    bay.send("/report")
    screen = await bay.next_message()
    bay.press(screen, next(b for b in screen.button_texts if b.startswith("Tuần")))
    await bay.next_edit(screen)
    bay.send("5\u200b")
    assert "Bước 2/11" in (await bay.next_message()).text
    assert (await harness.draft(2001, "report")).values == {"propaganda_sessions": 5}
    other, _ = await enter_resident(harness, 3777010)
    assert other


async def test_a_round_video_answer_reaches_the_officer(harness: Harness):
    """An answer given as a round video was lost: copying it was refused (the emulator did
    not copy video notes, as Telegram does), and the outbox gave up on it."""
    minh, thuy, _, _, asked = await question(harness)
    thuy.press(asked, "✍️ Trả lời")
    await thuy.next_message()
    thuy.send_video_note()
    assert "Đã chuyển" in (await thuy.next_message()).text
    arrived = await collect(minh, lambda ms: any(m.raw.get("video_note") for m in ms))
    assert arrived[-1].raw["video_note"]


async def test_a_hamlet_named_in_the_address_is_the_tips_hamlet(harness: Harness):
    """'gần chợ ấp An Phú' went to the commune only: the hamlet's name was not read."""
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    thuy, _ = await enter_resident(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("Mất xe đạp.")
    thuy.press(await thuy.next_message(), "Tiếp ➡️")
    await thuy.next_message()
    thuy.send("Trước cổng chợ ấp an phú")
    got = await thuy.next_message()
    assert "Ấp An Phú" in got.text
    draft = await harness.draft(3777001, "tip")
    assert draft.unit_id == (await harness.services.units.by_code("TH-ANPHU")).id
    thuy.send("Sau nhà văn hóa")  # a second address replaces the first, and says so
    assert "được thay bằng địa chỉ mới" in (await thuy.next_message()).text
