"""Residents' tips end to end: filing, anonymity, the coordinator's card, status changes."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from bot.emulator.core import tiny_png
from storage.models import Role
from storage.tip_lifecycle import Resolution, Status
from tests.conftest import ADMIN_ID, Harness, card_for, collect, is_card

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL

CODE = re.compile(r"TB-[346789ACDEFGHJKMNPQRTUVWXY]{5}")
# The anonymous sender: nothing of this may reach a coordinator.
SENDER_ID, SENDER_FIRST, SENDER_LAST, SENDER_USERNAME = 3777001, "Thúy", "Đặng", "thuy_secret_77"


async def enter_resident(harness: Harness, tg_id: int = SENDER_ID):
    """A resident with a full name and username, past the language choice."""
    user = harness.user(tg_id, SENDER_FIRST, last_name=SENDER_LAST, username=SENDER_USERNAME)
    user.send("/start")
    user.press(await user.next_message(), "Tiếng Việt")
    menu = await user.next_message()
    assert "📝 Gửi tin báo" in menu.button_texts
    return user, menu


def assert_no_sender_trace(messages) -> None:
    """No coordinator-bound message names the sender, in any field."""
    for message in messages:
        raw = json.dumps(message.raw, ensure_ascii=False)
        for secret in (str(SENDER_ID), SENDER_FIRST, SENDER_LAST, SENDER_USERNAME):
            assert secret not in raw, (secret, raw)
        assert message.forward_origin is None


async def test_anonymous_tip_with_album_and_location_from_start_to_close(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    khoa = await harness.enter_as(2003, "Khoa", Role.COORDINATOR, "KHANHAN")
    minh.skip_messages()
    khoa.skip_messages()
    thuy, menu = await enter_resident(harness)

    thuy.press(menu, "📝 Gửi tin báo")
    step1 = await thuy.next_message()
    assert step1.text.startswith("Bước 1/6")
    assert "113" in step1.text and "114" in step1.text and "115" in step1.text
    thuy.press(step1, "Ma túy")
    danger = await thuy.next_edit(step1)  # a dangerous category says it again, in its place
    assert "113" in danger.text and "Bước 1/6" not in danger.text and not danger.buttons
    step2 = await thuy.next_message()
    assert step2.text.startswith("Bước 2/6")
    shown = [m.text for m in thuy.messages()]
    assert sum("113" in text for text in shown[-2:]) == 1  # not twice in a row

    thuy.send("Có nhóm thanh niên tụ tập sử dụng ma túy ở bãi đất trống sau chợ.")
    assert "ký tự" in (await thuy.next_message()).text
    for i in range(3):
        thuy.send_photo(tiny_png(), caption="Ảnh chụp lúc 22 giờ" if i == 0 else None,
                        media_group_id="album-1")
    album = await thuy.next_message()
    assert "3 ảnh" in album.text

    thuy.press(album, "Tiếp ➡️")
    step3 = await thuy.next_message()
    assert step3.text.startswith("Bước 3/6")
    assert "📍 Gửi vị trí hiện tại" in thuy.reply_keyboard_texts
    thuy.reply_keyboard_press("📍 Gửi vị trí hiện tại", latitude=9.176912, longitude=105.152399)
    assert "9.17691" in (await thuy.next_message()).text
    thuy.reply_keyboard_press("🏘 Chọn thôn, ấp")
    communes = await thuy.next_message()
    thuy.press(communes, "Xã Tân Hòa ›")
    hamlets = await thuy.next_edit(communes)  # the list opens in place
    assert "Không rõ thôn — cả Xã Tân Hòa" in hamlets.button_texts
    thuy.press(hamlets, "Ấp An Phú")
    assert "Ấp An Phú" in (await thuy.next_message()).text
    thuy.reply_keyboard_press("Tiếp ➡️")
    assert "Ấp An Phú" in (await thuy.next_message()).text
    assert thuy.reply_keyboard is None  # the location keyboard is gone once the step is done
    step4 = await thuy.next_message()
    assert step4.text.startswith("Bước 4/6")
    thuy.press(step4, "Vừa xảy ra")
    step5 = await thuy.next_edit(step4)  # a pressed step becomes the next one
    assert step5.text.startswith("Bước 5/6")
    assert "Telegram vẫn biết" in step5.text  # what anonymous means here, plainly
    thuy.press(step5, "🔒 Gửi ẩn danh")
    review = await thuy.next_edit(step5)
    assert review.text.startswith("Bước 6/6")
    for expected in ("Ma túy", "bãi đất trống", "Ảnh chụp lúc 22 giờ", "3 ảnh", "Ấp An Phú",
                     "vừa xảy ra", "ẩn danh"):
        assert expected in review.text, expected
    thuy.press(review, "✅ Gửi tin báo")
    sent = await thuy.next_edit(review)  # the review becomes the receipt
    code = CODE.search(sent.text)[0]
    assert "113" in sent.text and f"/status {code}" in sent.text and "bãi đất trống" in sent.text
    assert not sent.buttons
    await thuy.wait_until(lambda: thuy.pinned is not None)
    assert code in thuy.pinned.text

    # One acknowledgement for the album, not one per photo.
    assert sum(1 for m in thuy.messages() if "3 ảnh" in (m.text or "")
               and "Gửi thêm" in (m.text or "")) == 1
    # The coordinator of the commune gets the album, the location and the card at once;
    # the coordinator of another commune gets nothing.
    arrived = await collect(minh, is_card(code))
    card = arrived[-1]
    assert [m.media_group_id is not None for m in arrived if m.photo] == [True] * 3
    assert code in next(m for m in arrived if m.photo).raw.get("caption", "")  # one album
    location = next(m for m in arrived if m.location)
    # The card answers the location (sent after the album): one thread to read.
    assert card.raw["reply_to_message"]["message_id"] == location.message_id
    for expected in (code, "Ma túy", "Ẩn danh", "Ấp An Phú", "bãi đất trống", "3 ảnh",
                     "Hạn tiếp nhận"):
        assert expected in card.text, expected
    assert card.button_texts[:2] == ["✅ Tiếp nhận", "🔎 Xác minh"]
    assert "vừa xảy ra" not in card.text  # a card is read later: the moment, not "just now"
    await harness.settle()
    assert khoa.unread() == 0
    assert_no_sender_trace(arrived)

    # Each change: the card is edited, the resident told in their language, the audit written.
    steps = [("✅ Tiếp nhận", "Đã tiếp nhận"), ("🔎 Xác minh", "Đang xác minh"),
             ("📤 Đã chuyển / đang xử lý", "Đã chuyển, đang xử lý")]
    for pressed, status in steps:
        minh.press(card, pressed)
        told = await thuy.next_message()
        assert code in told.text and status in told.text
        await minh.wait_until(lambda status=status: status in card.text)
    minh.press(card, "🏁 Kết thúc")
    await minh.wait_until(lambda: "Đã giải quyết" in card.button_texts)
    minh.press(card, "Đã giải quyết")
    closed = await thuy.next_message()
    assert "đã kết thúc" in closed.text and "Đã giải quyết" in closed.text
    await minh.wait_until(lambda: "Đã kết thúc" in card.text)
    assert "✅ Tiếp nhận" not in card.button_texts

    thuy.send(f"/status {code.lower()}")
    status = await thuy.next_message()
    for name in ("Mới", "Đã tiếp nhận", "Đang xác minh", "Đã chuyển, đang xử lý",
                 "Đã kết thúc — Đã giải quyết"):
        assert name in status.text, name
    tip = await harness.services.tips.by_code(code)
    audit = await harness.services.audit.for_subject(f"tip:{tip.id}")
    minh_id = (await harness.services.users.get(2002)).id
    assert [(a.action, a.detail.get("from"), a.detail.get("to"), a.actor_id) for a in audit] == [
        ("tip.create", None, None, None),
        ("tip.status", "new", "acknowledged", minh_id),
        ("tip.status", "acknowledged", "verifying", minh_id),
        ("tip.status", "verifying", "in_progress", minh_id),
        ("tip.status", "in_progress", "closed", minh_id),
    ]
    assert_no_sender_trace(minh.messages())


async def file_tip(user, *, category: str = "Trộm cắp", text: str = "Mất trộm xe máy trước nhà.",
                   hamlet: str | None = "Ấp An Phú", anonymous: bool = True,
                   commune: str = "Không rõ") -> str:
    """File a tip through /newtip the short way; returns its case code.

    Without a hamlet the bot asks for the commune (the test tree has two): ``commune``."""
    user.send("/newtip")
    step1 = await user.next_message()
    user.press(step1, category)  # not a dangerous one: step 2 replaces step 1
    assert (await user.next_edit(step1)).text.startswith("Bước 2/6")
    user.send(text)
    user.press(await user.next_message(), "Tiếp ➡️")
    await user.next_message()  # step 3
    if hamlet:
        user.reply_keyboard_press("🏘 Chọn thôn, ấp")
        units = await user.next_message()
        user.press(units, "Xã Tân Hòa ›")
        user.press(await user.next_edit(units), hamlet)
        await user.next_message()
        user.reply_keyboard_press("Tiếp ➡️")
    else:
        user.reply_keyboard_press("Bỏ qua ➡️")
    await user.next_message()  # where: done
    step4 = await user.next_message()
    if "xã, phường nào" in step4.text:  # unless known from the resident's earlier tips
        user.press(step4, commune)
        step4 = await user.next_edit(step4)
    user.press(step4, "Hôm nay")
    anon = await user.next_edit(step4)
    user.press(anon, "🔒 Gửi ẩn danh" if anonymous else next(
        b for b in anon.button_texts if b.startswith("👤 Ghi tên")))
    review = await user.next_edit(anon)
    user.press(review, "✅ Gửi tin báo")
    return CODE.search((await user.next_edit(review)).text)[0]


async def test_named_tip_shows_the_name_and_the_relay_works_both_ways(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    hanh = await harness.enter_as(2004, "Hạnh", Role.COORDINATOR, "TANHOA")
    for coordinator in (minh, hanh):
        coordinator.skip_messages()
    named, _ = await enter_resident(harness, 3777002)
    code = await file_tip(named, anonymous=False)
    card = await card_for(minh, code)
    assert code in card.text and "Đặng Thúy" in card.text  # as agreed, family name first
    assert "thuy_secret_77" not in card.text and "3777002" not in card.text

    # An anonymous tip from someone else: the relay must not reveal either side.
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy, category="Cờ bạc")
    card = await card_for(minh, code)
    hanh_card = await card_for(hanh, code)
    assert code in card.text and code in hanh_card.text
    minh.press(card, "❓ Hỏi người gửi")
    prompt = await minh.next_message()
    assert code in prompt.text
    minh.send("Chiếu bạc thường bắt đầu mấy giờ?")
    assert "Đã gửi câu hỏi" in (await minh.next_message()).text
    question = await thuy.next_message()
    assert code in question.text and "Chiếu bạc thường bắt đầu mấy giờ?" in question.text
    assert "Minh" not in json.dumps(question.raw, ensure_ascii=False)
    assert "2002" not in json.dumps(question.raw)

    thuy.press(question, "✍️ Trả lời")
    assert code in (await thuy.next_message()).text
    thuy.send_photo(tiny_png(), caption="Khoảng 23 giờ, nhà cuối hẻm 5")
    assert "Đã chuyển câu trả lời" in (await thuy.next_message()).text
    for coordinator in (minh, hanh):  # under every card of the tip, copied not forwarded
        head, copy = await coordinator.next_message(), await coordinator.next_message()
        assert code in head.text and "trả lời" in head.text
        assert copy.photo is not None and copy.raw.get("caption") == "Khoảng 23 giờ, nhà cuối hẻm 5"
        assert_no_sender_trace([head, copy])
    tip = await harness.services.tips.by_code(code)
    kinds = [h.kind for h in await harness.services.tips.history(tip.id)]
    assert kinds == ["status", "ask", "answer"]


async def test_status_of_someone_elses_tip_is_the_same_not_found(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")  # someone to receive it
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    stranger = await harness.enter(3888001, "Tò Mò")
    stranger.send(f"/status {code}")
    theirs = await stranger.next_message()
    stranger.send("/status TB-33333")
    unknown = await stranger.next_message()
    assert theirs.text == unknown.text and "Không tìm thấy" in theirs.text
    stranger.send("/status")
    assert "/status TB-" in (await stranger.next_message()).text
    thuy.send("/mytips")
    mine = await thuy.next_message()
    assert code in mine.text and "Trộm cắp" in mine.text and "Mới" in mine.text
    thuy.press(mine, f"{code} · Trộm cắp")  # each tip opens with a press
    status = await thuy.next_message()
    assert code in status.text and "Mới" in status.text


async def test_daily_limit_explains_the_eleventh_tip(harness: Harness):
    await harness.load_units()
    await harness.restart(tip_daily_limit=2)
    await harness.enter(ADMIN_ID, "Quản trị")  # the admin receives what nobody else would
    thuy, _ = await enter_resident(harness)
    await file_tip(thuy)
    await file_tip(thuy, hamlet=None)
    thuy.send("/newtip")
    refusal = await thuy.next_message()
    assert "2 tin báo" in refusal.text and "113" in refusal.text
    assert not refusal.buttons
    assert await harness.draft(SENDER_ID, "tip") is None


async def test_restart_in_the_middle_keeps_the_draft(harness: Harness):
    await harness.load_units()
    thuy, _ = await enter_resident(harness)
    thuy.send("/newtip")
    step1 = await thuy.next_message()
    thuy.press(step1, "Trộm cắp")
    await thuy.next_edit(step1)
    thuy.send("Trộm gà ban đêm ở cuối xóm.")
    await thuy.next_message()
    thuy.send_voice()
    await thuy.next_message()

    await harness.restart()
    thuy.send("Hai con gà mái.")  # still step 2: added to the description
    got = await thuy.next_message()
    assert "1 tin nhắn thoại" in got.text
    thuy.press(got, "Tiếp ➡️")
    assert (await thuy.next_message()).text.startswith("Bước 3/6")

    await harness.restart()
    thuy.send("/newtip")  # coming back by command offers to carry on
    offer = await thuy.next_message()
    assert "Bước 3/6" in offer.text
    thuy.press(offer, "Tiếp tục soạn")
    assert (await thuy.next_message()).text.startswith("Bước 3/6")
    thuy.reply_keyboard_press("Bỏ qua ➡️")
    await thuy.next_message()
    commune = await thuy.next_message()  # no hamlet, and the tree has two communes
    thuy.press(commune, "Xã Tân Hòa")
    step4 = await thuy.next_edit(commune)
    thuy.press(step4, "Hôm nay")
    thuy.press(await thuy.next_edit(step4), "🔒 Gửi ẩn danh")
    review = await thuy.next_edit(step4)
    assert "Trộm gà ban đêm ở cuối xóm.\nHai con gà mái." in review.text
    assert "Xã Tân Hòa" in review.text
    assert "1 tin nhắn thoại" in review.text


async def test_wrong_input_at_every_step_is_answered_and_the_draft_kept(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")  # someone to receive it
    thuy, _ = await enter_resident(harness)
    thuy.send("/newtip")
    step1 = await thuy.next_message()
    thuy.send("ma túy")  # typing where a button is wanted
    assert "nút" in (await thuy.next_message()).text
    step1_again = await thuy.next_message()
    assert step1_again.text.startswith("Bước 1/6")
    thuy.press(step1, "Lừa đảo, không gian mạng")  # the first step-1 message still works
    step2 = await thuy.next_edit(step1)
    assert step2.text.startswith("Bước 2/6")

    thuy.press(step2, "Tiếp ➡️")  # nothing described yet
    assert "trước khi tiếp tục" in (await thuy.next_edit(step2)).text
    thuy.send_sticker()
    assert "nhãn dán" in (await thuy.next_message()).text
    thuy.send("   ")
    assert "trống" in (await thuy.next_message()).text
    thuy.send("x" * 5000)
    too_long = await thuy.next_message()
    assert "5.000" in too_long.text and "4.000" in too_long.text
    thuy.send("Có người gọi điện giả danh công an đòi chuyển tiền.")
    await thuy.next_message()
    thuy.send("y" * 3990)  # together more than 4,000
    assert "4.000" in (await thuy.next_message()).text
    old = thuy.press(step1_again, "Ma túy")  # a button from an old message
    answer = await thuy.callback_answer(old)
    assert "Bước 2/6" in answer["text"] and answer.get("show_alert")
    assert (await thuy.next_message()).text.startswith("Bước 2/6")  # shown again
    thuy.send_document(tiny_png(), filename="anh.png", mime_type="image/png")
    warning = await thuy.next_message()
    assert "EXIF" in warning.text
    got = await thuy.next_message()
    assert "1 tệp" in got.text
    thuy.press(got, "Tiếp ➡️")

    await thuy.next_message()  # step 3
    thuy.send_sticker()
    assert "vị trí" in (await thuy.next_message()).text
    thuy.send("đ" * 301)
    assert "300" in (await thuy.next_message()).text
    thuy.send("Số 12 đường Lý Văn Lâm")
    assert "Số 12 đường Lý Văn Lâm" in (await thuy.next_message()).text
    # The time typed here, as if the next step were open: not a new address.
    thuy.send("tối qua 9h")
    kept = await thuy.next_message()
    assert "là thời gian" in kept.text and "Số 12 đường Lý Văn Lâm" in kept.text
    assert (await harness.draft(3777001, "tip")).place_text == "Số 12 đường Lý Văn Lâm"
    thuy.reply_keyboard_press("Tiếp ➡️")
    await thuy.next_message()
    commune = await thuy.next_message()  # a typed address names no hamlet: which commune?
    assert "xã, phường nào" in commune.text and "Không rõ" in commune.button_texts
    thuy.press(commune, "Xã Tân Hòa")
    step4 = await thuy.next_edit(commune)
    assert step4.text.startswith("Bước 4/6")

    assert step4.button_texts[:3] == ["Vừa xảy ra", "Hôm nay", "Hôm qua"]
    for typed, reason in (("ngày mai", "tương lai"), ("31/02/2026", "Lịch không có ngày này"),
                          ("22", "Chưa đọc được"), ("01/01/2099", "tương lai"),
                          ("01/01/1990", "10 năm")):
        thuy.send(typed)
        assert reason in (await thuy.next_message()).text, typed
    thuy.send_sticker()
    assert "Chưa đọc được" in (await thuy.next_message()).text
    thuy.send("15/11/2026 khoảng 22h")  # as people write it, with a time of day
    step5 = await thuy.next_message()
    assert step5.text.startswith("Bước 5/6")

    # Anonymous with a file: refused with the reason; dropping it keeps everything else.
    thuy.press(step5, "🔒 Gửi ẩn danh")
    files = await thuy.next_edit(step5)
    assert "EXIF" in files.text and "GPS" in files.text
    thuy.press(files, "🗑 Bỏ các tệp, gửi ẩn danh")
    review = await thuy.next_edit(files)
    assert review.text.startswith("Bước 6/6")
    for expected in ("Lừa đảo", "giả danh công an", "Số 12 đường Lý Văn Lâm",
                     "22:00 15/11/2026", "ẩn danh"):
        assert expected in review.text, expected
    assert "tệp" not in review.text

    # Editing one field comes back to the review; files are now refused at once.
    thuy.press(review, "✏️ Nội dung")
    assert (await thuy.next_edit(review)).text.startswith("Bước 2/6")
    thuy.send_document(b"%PDF-1.4", filename="bang_chung.pdf")
    assert "Tin ẩn danh không nhận tệp" in (await thuy.next_message()).text
    thuy.send_photo(tiny_png())
    got = await thuy.next_message()
    thuy.press(got, "Tiếp ➡️")
    review = await thuy.next_edit(got)
    assert review.text.startswith("Bước 6/6") and "1 ảnh" in review.text
    thuy.send("gửi đi")
    assert "nút" in (await thuy.next_message()).text
    shown_again = await thuy.next_message()
    thuy.press(shown_again, "✖ Hủy")
    assert "Không có gì được gửi" in (await thuy.next_message()).text
    assert await harness.draft(SENDER_ID, "tip") is None
    stale = thuy.press(review, "✅ Gửi tin báo")  # the flow is over: an old button is explained
    assert "đã kết thúc" in (await thuy.callback_answer(stale))["text"]
    thuy.send("/mytips")
    assert "chưa gửi tin báo nào" in (await thuy.next_message()).text


async def test_the_database_file_does_not_contain_the_anonymous_sender(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    thuy.send("/newtip")  # and a draft in progress, with the conversation state stored
    step1 = await thuy.next_message()
    thuy.press(step1, "Khác")
    await thuy.next_edit(step1)
    thuy.send("Bản nháp còn dang dở")
    await thuy.next_message()
    await harness.stop()
    if harness.database_url is None:  # the file and its journal
        raw = b"".join(p.read_bytes() for p in harness.db_path.parent.iterdir()
                       if p.name.startswith(harness.db_path.name))
    else:  # every row of every table (the server's files are not ours to read)
        tables = [r[0] for r in harness.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        raw = b"".join(repr(harness.query(f"SELECT * FROM {t}")).encode() for t in tables)
        # a Telegram id as an integer column would show as its digits in the repr
    assert code.encode() in raw  # the database was read, and it holds the tip
    for needle in (str(SENDER_ID), SENDER_FIRST, SENDER_LAST, SENDER_USERNAME,
                   "Bản nháp còn dang dở"):
        assert needle.encode() not in raw, needle
        assert needle.encode("utf-16-le") not in raw, needle
    for size in (4, 8):
        for order in ("little", "big"):
            assert SENDER_ID.to_bytes(size, order) not in raw  # type: ignore[arg-type]
    await harness.start()  # the fixture stops it again


async def test_housekeeping_unlinks_closed_tips_and_drops_abandoned_drafts(harness: Harness):
    await harness.load_units()
    await harness.enter(ADMIN_ID, "Quản trị")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy)
    svc = harness.services
    tip = await svc.tips.by_code(code)
    await svc.tips.change_status(tip.id, None, Status.CLOSED, svc.now(),
                                 resolution=Resolution.RESOLVED)
    thuy.skip_messages()
    thuy.send("/newtip")
    step1 = await thuy.next_message()
    thuy.press(step1, "Khác")
    await thuy.next_edit(step1)

    real_now = svc.now
    svc.now = lambda: real_now() + timedelta(days=91)
    app = harness.running.app
    [job] = app.job_queue.get_jobs_by_name("housekeeping")
    await job.run(app)
    assert await svc.tips.sender_of(tip.id) is None
    thuy.send(f"/status {code}")
    assert "Không tìm thấy" in (await thuy.next_message()).text
    assert await harness.draft(SENDER_ID, "tip") is None  # abandoned: dropped
    assert await harness.active(SENDER_ID) is None
    thuy.send("Nội dung gõ sau nhiều ngày")  # and what comes now is not lost: a new tip?
    gone = await thuy.next_message()
    assert "thành tin báo" in gone.text and thuy.reply_keyboard is None
