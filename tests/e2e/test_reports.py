"""Hamlet reports and events end to end: filing, wrong input, corrections, locking, events."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.emulator.core import tiny_png
from storage.models import Role
from storage.reporting import Period
from storage.users import Contact
from tests.conftest import Harness, collect

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=VN)  # week 47 (16–22/11); week 46 still open
FRIDAY = datetime(2026, 11, 20, 10, 0, tzinfo=VN)  # week 46 locked since Thursday 00:00
W45, W46, W47 = (Period.from_key(k) for k in ("2026-W45", "2026-W46", "2026-W47"))
PAST = {"propaganda_sessions": 2, "propaganda_attendees": 40, "mediation_cases": 2,
        "mediation_resolved": 1, "patrols": 4, "community_education": 1,
        "reintegration_support": 0, "youth_legal_education": 10, "information_provided": 1,
        "security_incidents": 1}


def at(harness: Harness, moment: datetime) -> None:
    """Set the bot's clock (after every restart too)."""
    harness.services.now = lambda: moment


async def reporter(harness: Harness, tg_id: int, name: str, unit: str = "TH-ANPHU"):
    """A reporter of ``unit`` whose name coordinators and colleagues see."""
    user = await harness.enter_as(tg_id, name, Role.REPORTER, unit)
    await harness.services.users.set_contact(tg_id, Contact(chat_id=tg_id, name=name))
    user.skip_messages()
    return user


async def seed_history(harness: Harness, tg_id: int) -> None:
    """Weeks 45 and 46 already filed for An Phú."""
    svc = harness.services
    user = await svc.users.get(tg_id)
    anphu = await svc.units.by_code("TH-ANPHU")
    for period in (W45, W46):
        await svc.reports.submit("antt", period, anphu.id, PAST, user.id, WEDNESDAY)


async def test_a_full_weekly_report_with_every_wrong_input_then_a_correction(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    await seed_history(harness, 2001)

    bay.send("/report")
    periods = await bay.next_message()
    assert periods.button_texts[:2] == ["Tuần 47/2026 (16/11–22/11)",
                                        "Tuần 46/2026 (09/11–15/11) — đã nộp (lần 1), sửa"]
    bay.press(periods, "Tuần 47/2026 (16/11–22/11)")
    step = await bay.next_edit(periods)
    assert "Bước 1/11" in step.text and "Số buổi tuyên truyền" in step.text
    assert "Kỳ trước: 2" in step.text
    bay.press(step, "= Kỳ trước (2)")
    step = await bay.next_edit(step)
    assert "Bước 2/11" in step.text and "Lượt người tham dự" in step.text

    bay.send("1")  # fewer attendees than sessions: a warning, not a refusal
    step = await bay.next_message()
    assert "⚠️" in step.text and "Bước 3/11" in step.text
    bay.send("1.403")  # read the Vietnamese way: 1403, far above the history
    sure = await bay.next_message()
    assert "1.403" in sure.text and "chắc chắn" in sure.text
    bay.press(sure, "Nhập lại")
    await bay.next_edit(sure)
    bay.send("3")
    step = await bay.next_message()
    assert "Bước 4/11" in step.text and "hòa giải thành" in step.text
    for typed, reason in (("5", "không được lớn hơn"), ("-3", "âm"), ("1,5", "số nguyên"),
                          ("abc", "không phải là một số"), ("١٢", "0–9"), ("1.40", "3 chữ số"),
                          ("1 20", "Mỗi lần chỉ gõ một số"), ("", None)):
        if typed:
            bay.send(typed)
            reply = await bay.next_message()
            # Why, over the step again, with the buttons the step offers under it.
            assert reason in reply.text and "Bước 4/11" in reply.text, typed
            assert "0" in reply.button_texts, typed
    bay.send_sticker()
    reply = await bay.next_message()
    assert "không phải là một số" in reply.text and "0" in reply.button_texts
    draft = await harness.draft(2001, "report")
    assert draft.step == 3 and draft.values["mediation_cases"] == 3  # nothing lost
    bay.send("2")
    step = await bay.next_message()
    for _ in range(6):  # the rest: "0"
        bay.press(step, "0")
        step = await bay.next_edit(step)
    assert "Kiểm tra lại" in step.text and "Bước 11/11" in step.text
    for line in ("Số buổi tuyên truyền, vận động: 2", "Lượt người tham dự: 1",
                 "Số vụ hòa giải ở cơ sở: 3", "Số vụ hòa giải thành: 2", "⚠️"):
        assert line in step.text.replace("<b>", ""), line
    bay.press(step, "✅ Nộp báo cáo")
    sent = await bay.next_edit(step)
    assert "Đã nộp" in sent.text and "lần 1" in sent.text
    assert "Số vụ hòa giải thành: 2" in sent.text.replace("<b>", "").replace("</b>", "")
    anphu = await harness.services.units.by_code("TH-ANPHU")
    report = await harness.services.reports.get("antt", W47.key, anphu.id)
    assert report.values["propaganda_attendees"] == 1 and report.values["patrols"] == 0

    # A correction starts at the review; the old version is kept.
    bay.send("/report")
    periods = await bay.next_message()
    bay.press(periods, "Tuần 47/2026 (16/11–22/11) — đã nộp (lần 1), sửa")
    review = await bay.next_edit(periods)
    assert "đang sửa báo cáo đã nộp (lần 1)" in review.text
    bay.press(review, "✏️ Sửa một dòng")
    lines = await bay.next_edit(review)
    bay.press(lines, "Số lượt tuần tra: 0")
    step = await bay.next_edit(lines)
    assert "Đã nộp: 0" in step.text
    bay.send("7")
    review = await bay.next_message()
    assert "Số lượt tuần tra: 7" in review.text.replace("<b>", "").replace("</b>", "")
    bay.press(review, "✅ Nộp báo cáo")
    assert "lần 2" in (await bay.next_edit(review)).text
    versions = await harness.services.reports.versions("antt", W47.key, anphu.id)
    assert [v.values["patrols"] for v in versions] == [0, 7]


async def test_two_reporters_of_one_hamlet_the_later_wins_and_both_are_told(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    tu = await reporter(harness, 2005, "Tư")
    svc = harness.services
    anphu = await svc.units.by_code("TH-ANPHU")
    bay_id = (await svc.users.get(2001)).id
    await svc.reports.submit("antt", W47, anphu.id, PAST, bay_id, WEDNESDAY)

    tu.send("/report")
    periods = await tu.next_message()
    tu.press(periods, "Tuần 47/2026 (16/11–22/11) — đã nộp (lần 1), sửa")
    review = await tu.next_edit(periods)
    tu.press(review, "✅ Nộp báo cáo")
    mine = await tu.next_edit(review)
    assert "lần 2" in mine.text and "Bảy" in mine.text  # whose version it replaced
    told = await bay.next_message()
    assert "Tư" in told.text and "lần 2" in told.text and "lần 1" in told.text


async def test_a_locked_period_is_refused_and_a_coordinator_reopens_it(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()

    bay.send("/report")
    periods = await bay.next_message()
    bay.press(periods, "Tuần 46/2026 (09/11–15/11)")  # still open on Wednesday
    step = await bay.next_edit(periods)
    for _ in range(10):
        bay.press(step, "0")
        step = await bay.next_edit(step)
    at(harness, FRIDAY)  # the week locked meanwhile
    bay.press(step, "✅ Nộp báo cáo")
    refused = await bay.next_message()
    assert "đã khóa sổ" in refused.text
    assert await harness.draft(2001, "report") is not None  # kept for a reopening
    bay.send("/report")
    offer = await bay.next_message()
    bay.press(offer, "🔄 Bắt đầu lại")
    periods = await bay.next_edit(offer)
    assert not any("Tuần 46" in b for b in periods.button_texts)  # no longer offered
    bay.press(periods, "✖ Hủy")
    await bay.next_edit(periods)

    minh.send("/reports 2026-W46 TH-ANPHU")
    view = await minh.next_message()
    assert "Chưa có báo cáo" in view.text and "Đã khóa sổ" in view.text
    minh.press(view, "🔓 Mở lại kỳ này cho thôn, ấp")
    view = await minh.next_edit(view)
    assert "Đã mở lại" in view.text
    notice = await bay.next_message()
    assert "Tuần 46/2026" in notice.text and "/report" in notice.text

    bay.send("/report")
    periods = await bay.next_message()
    bay.press(periods, "Tuần 46/2026 (09/11–15/11)")
    step = await bay.next_edit(periods)
    for _ in range(10):
        bay.press(step, "0")
        step = await bay.next_edit(step)
    bay.press(step, "✅ Nộp báo cáo")
    assert "lần 1" in (await bay.next_edit(step)).text
    audit = await harness.services.audit.recent(5)
    assert "report.reopen" in [a.action for a in audit]


async def test_a_reporter_cannot_report_for_another_hamlet_nor_a_resident_at_all(
        harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    bay.send("/report TH-PHUOCHAU")
    refused = await bay.next_message()
    assert "chỉ báo cáo được cho địa bàn của mình" in refused.text and "Ấp An Phú" in refused.text
    assert await harness.draft(2001, "report") is None
    lan = await harness.enter(3001, "Lan")
    lan.send("/report")
    assert "dành cho người báo cáo" in (await lan.next_message()).text
    lan.send("/event")
    assert "/newtip" in (await lan.next_message()).text


async def test_restart_in_the_middle_keeps_the_report_draft(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    bay.send("/report")
    periods = await bay.next_message()
    bay.press(periods, "Tuần 47/2026 (16/11–22/11)")
    step = await bay.next_edit(periods)
    bay.send("4")
    await bay.next_message()
    await harness.restart()
    at(harness, WEDNESDAY)
    bay.send("120")  # still step 2: attendees
    step = await bay.next_message()
    assert "Bước 3/11" in step.text
    draft = await harness.draft(2001, "report")
    assert draft.values == {"propaganda_sessions": 4, "propaganda_attendees": 120}


async def test_completeness_shows_who_reported_on_time_late_or_not_at_all(harness: Harness):
    await harness.load_units()
    svc = harness.services
    at(harness, datetime(2026, 11, 25, 9, 0, tzinfo=VN))  # Wednesday of week 48
    bay = await reporter(harness, 2001, "Bảy")
    await reporter(harness, 2006, "Sáu", "TH-PHUOCHAU")
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    bay_id = (await svc.users.get(2001)).id
    anphu = await svc.units.by_code("TH-ANPHU")
    await svc.reports.submit("antt", W47, anphu.id, PAST, bay_id,
                             datetime(2026, 11, 22, 20, 0, tzinfo=VN))  # before Monday's end
    minh.send("/completeness tuần trước")  # W47, as people say it
    view = await minh.next_message()
    assert "Xã Tân Hòa" in view.text and "1/2 (50,0%)" in view.text
    assert "✅ Ấp An Phú — 22/11/2026" in view.text
    assert "❌ Ấp Phước Hậu — chưa nộp, đã quá hạn" in view.text
    assert "Sóc Đồn" not in view.text  # another commune
    # "🔔 Nhắc": Phước Hậu's reporter is reminded now, once an hour, never at night.
    sau = harness.user(2006)
    pressed = minh.press(view, "🔔 Nhắc các thôn, ấp chưa nộp")
    assert "Đã nhắc 1 người báo cáo: Ấp Phước Hậu" in (await minh.callback_answer(pressed))["text"]
    reminder = await sau.next_message()
    assert "Ấp Phước Hậu" in reminder.text and "/report" in reminder.text
    pressed = minh.press(view, "🔔 Nhắc các thôn, ấp chưa nộp")
    assert "đã được nhắc trong giờ này" in (await minh.callback_answer(pressed))["text"]
    at(harness, datetime(2026, 11, 25, 22, 0, tzinfo=VN))
    pressed = minh.press(view, "🔔 Nhắc các thôn, ấp chưa nộp")
    assert "giờ nghỉ" in (await minh.callback_answer(pressed))["text"]
    await harness.settle()
    assert sau.unread() == 0  # one reminder in all
    at(harness, datetime(2026, 11, 25, 9, 0, tzinfo=VN))
    minh.press(view, "Tuần 48/2026 (23/11–29/11) ▶")
    view = await minh.next_edit(view)
    assert "0/2 (0,0%)" in view.text and "▫️ Ấp An Phú — chưa nộp" in view.text
    assert "chưa có người báo cáo" not in view.text  # both hamlets have a reporter
    # Sáu's role ends: Phước Hậu is a gap no reminder can close, marked as such.
    sau = await svc.users.get(2006)
    await svc.users.end_role(sau.id, sau.memberships[0].id, reason="handover", actor_id=None)
    minh.send("/completeness 2026-W47")
    view = await minh.next_message()
    assert "👤 Ấp Phước Hậu — chưa có người báo cáo" in view.text
    assert "1 thôn, ấp chưa có người báo cáo" in view.text and "/invite" in view.text
    # "📨 Mời": the invitation for that hamlet, confirmed as with /invite; the view stays.
    # One half made with /invite is replaced, and he is told so.
    minh.send("/invite")
    await minh.next_message()
    minh.press(view, "📨 Mời người báo cáo: Ấp Phước Hậu")
    assert "được thay bằng lời mời này" in (await minh.next_message()).text
    confirm = await minh.next_message()
    assert confirm.text.startswith("Bước 3/3") and "Ấp Phước Hậu" in confirm.text
    minh.press(confirm, "✅ Tạo lời mời")
    card = await minh.next_message(timeout=15)
    assert card.photo is not None and "start=" in card.text
    assert "👤 Ấp Phước Hậu" in view.text  # the completeness view was not replaced
    assert any(b.startswith("📨 Mời") for b in view.button_texts)  # nor its buttons taken
    # A locked week: nothing a reminder could ask for, so no 🔔; a forged press is refused.
    minh.send("/completeness W40")
    locked = await minh.next_message()
    assert "Tuần 40/2026" in locked.text and not any("🔔" in b for b in locked.button_texts)
    forged = minh.press_forged(locked, svc.buttons.sign("nudge:2026-W40", 2002))
    assert "đã khóa" in (await minh.callback_answer(forged))["text"]
    # The first week a period may be in: shown, with no ◀ to a year nobody could mean.
    minh.send("/completeness 1/1/1900")
    first = await minh.next_message()
    assert "1900" in first.text and not any(b.startswith("◀") for b in first.button_texts)
    minh.send("/summary W52")  # a week not begun: no page of zeros
    assert "chưa bắt đầu" in (await minh.next_message()).text
    bay.send("/completeness")
    assert "cán bộ điều phối" in (await bay.next_message()).text
    # Another commune's coordinator pressing his own old "Mời" after a handover is told why.
    await svc.users.end_role((await svc.users.get(2002)).id,
                             (await svc.users.get(2002)).memberships[0].id,
                             reason="handover", actor_id=None)
    await harness.grant(2002, Role.COORDINATOR, "KHANHAN")
    pressed = minh.press(view, "📨 Mời người báo cáo: Ấp Phước Hậu")
    assert "không còn thuộc địa bàn" in (await minh.callback_answer(pressed))["text"]


async def test_an_event_reaches_the_coordinator_at_once(harness: Harness):
    await harness.load_units()
    at(harness, WEDNESDAY)
    bay = await reporter(harness, 2001, "Bảy")
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    khoa = await harness.enter_as(2003, "Khoa", Role.COORDINATOR, "KHANHAN")
    minh.skip_messages()
    khoa.skip_messages()

    bay.send("/event")
    step = await bay.next_message()
    assert "Bước 1/7" in step.text and "113" in step.text
    bay.press(step, "Gây rối, đánh nhau")
    step = await bay.next_edit(step)
    bay.send("01/01/2099")
    assert "tương lai" in (await bay.next_message()).text
    assert "Hôm qua" in step.button_texts
    bay.send("hôm qua lúc 9h tối")  # as people say it: Tuesday 17/11 at 21:00
    step = await bay.next_message()
    assert "Bước 3/7" in step.text
    bay.send("Ngã ba chợ An Phú")
    step = await bay.next_message()
    bay.send("x" * 1001)
    assert "1.001" in (await bay.next_message()).text
    bay.send("Hai nhóm thanh niên xô xát, đã được tổ ANTT can ngăn.")
    step = await bay.next_message()
    assert "Bước 5/7" in step.text
    bay.send("-2")
    assert "âm" in (await bay.next_message()).text
    bay.send("6")
    step = await bay.next_message()
    bay.send_document(b"%PDF", filename="a.pdf")
    assert "không nhận" in (await bay.next_message()).text
    await bay.next_message()  # the step again
    bay.send_photo(tiny_png())
    step = await bay.next_message()
    assert "1 ảnh" in step.text
    bay.press(step, "Xong ➡️")
    review = await bay.next_edit(step)
    for expected in ("Gây rối", "Ngã ba chợ An Phú", "xô xát", "6"):
        assert expected in review.text, expected
    bay.press(review, "🚨 Gửi cho cán bộ xã")
    assert "1 cán bộ" in (await bay.next_edit(review)).text

    arrived = await collect(minh, lambda ms: any("Ngã ba chợ An Phú" in (m.text or "")
                                                 for m in ms))
    assert arrived[0].photo is not None
    card = arrived[-1]
    for expected in ("Gây rối", "Ấp An Phú", "Ngã ba chợ An Phú", "6", "xô xát", "Bảy",
                     "21:00 17/11/2026"):
        assert expected in card.text, expected
    await harness.settle()
    assert khoa.unread() == 0
    events = await harness.services.events.between(
        [(await harness.services.units.by_code("TH-ANPHU")).id],
        WEDNESDAY - timedelta(days=1), WEDNESDAY + timedelta(days=1))
    assert [(e.type, e.people) for e in events] == [("disorder", 6)]
