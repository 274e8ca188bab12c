"""Every message fits Telegram's limits by construction: the worst cases, screen by screen.

A tip of the longest body the flow accepts (full of characters HTML escapes), a card with
the longest place, long notes and many tags, a province's worth of units, completeness and
inbox lists, a report corrected many times, and text made only of invisible characters.
The emulator refuses what Telegram refuses (over 4,096 characters): no call may be refused.
"""

from __future__ import annotations

from storage.models import Role
from tests.conftest import Harness, card_for, collect
from tests.e2e.test_tips import CODE, enter_resident

LIMIT = 4096
# Every '&' and '<' becomes five or four characters once escaped for HTML.
NASTY = ("Kẻ gian <b>đột nhập</b> & lấy đồ; " * 200)[:3999] + "!"


def province(communes: int = 10, hamlets: int = 12) -> str:
    rows = ["code,name,level,parent_code", "CM,Tỉnh Cà Mau,province,"]
    rows += ["TANHOA,Xã Tân Hòa,commune,CM", "TH-ANPHU,Ấp An Phú,hamlet,TANHOA"]
    for c in range(communes):
        rows.append(f"X{c:02d},Xã Có Cái Tên Khá Dài Số {c:02d},commune,CM")
        rows += [f"X{c:02d}-H{h:02d},Ấp Có Cái Tên Rất Dài Của Vùng Sông Nước Số {h:02d},"
                 f"hamlet,X{c:02d}" for h in range(hamlets)]
    return "\n".join(rows) + "\n"


def refused(harness: Harness) -> list:
    """Calls Telegram would refuse (an edit that changes nothing is not one of ours)."""
    return [(c.method, c.description) for c in harness.emu.call_log
            if c.error_code == 400 and "not modified" not in (c.description or "")]


def long_messages(user) -> list:
    return [m for m in user.messages() if len(m.text or "") > LIMIT]


async def test_the_longest_tip_is_reviewed_sent_carded_and_shown_whole(harness: Harness):
    await harness.load_units()
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    thuy, _ = await enter_resident(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send(NASTY)
    ack = await thuy.next_message()
    assert "4.000 ký tự" in ack.text
    thuy.press(ack, "Tiếp ➡️")
    await thuy.next_message()
    thuy.send("đ" * 300)  # the longest place typed
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
    assert review.text.startswith("Bước 6/6") and "4.000 ký tự" in review.text
    thuy.press(review, "✅ Gửi tin báo")
    await thuy.wait_until(lambda: CODE.search(review.text or ""))
    code = CODE.search(review.text)[0]
    card = await card_for(minh, code)
    assert f"/tip {code}" in card.text  # cut, and where to read it all

    # Long notes and many tags: the card goes on changing with the tip.
    for i in range(3):
        minh.press(card, "🗒 Ghi chú")
        await minh.next_message()
        minh.send(f"Ghi chú {i}: " + "x&y " * 245)  # just under 1,000
        await minh.next_message()
    for batch in ("a1,a2,a3,a4,a5,a6,a7,a8,a9,a10", "b1,b2,b3,b4,b5,b6,b7,b8,b9,b10"):
        minh.press(card, "🏷 Gắn nhãn")
        await minh.next_message()
        minh.send(batch)
        await minh.next_message()
    minh.press(card, "✅ Tiếp nhận")
    await minh.wait_until(lambda: "Đã tiếp nhận" in card.text and "Ghi chú 2" in card.text)
    assert "+5" in card.text  # more tags than a card shows: counted

    assert not refused(harness), refused(harness)
    minh.send(f"/tip {code}")
    # The card (cut), and the whole text in as many messages as it takes. Telegram trims
    # the spaces at the ends of a message, so the pieces are compared without spaces.
    got = await collect(minh, lambda ms: any(m.buttons for m in ms) and sum(
        len(m.text or "") for m in ms if not m.buttons) >= 3990)
    whole = "".join(m.text for m in got if not m.buttons)
    assert "".join(whole.split()) == "".join(NASTY.split())  # every character, in pieces
    assert not refused(harness)
    assert not long_messages(minh) and not long_messages(thuy)


async def test_a_province_of_units_completeness_inbox_and_reports(harness: Harness):
    await harness.load_units(province())
    admin = await harness.enter_as(2010, "Quân", Role.COORDINATOR, "CM")
    admin.send("/units")
    page = await admin.next_message()
    assert "trang 1/" in page.text and len(page.text) <= LIMIT
    pages = int(page.text.split("trang 1/")[1].split(")")[0])
    assert pages >= 3
    for _ in range(pages - 1):
        admin.press(page, "▶")
        page = await admin.next_edit(page)
    assert "X09-H11" in page.text  # the last hamlet, on the last page
    admin.send("/completeness")
    completeness = await admin.next_message()
    assert "dòng nữa" in completeness.text and len(completeness.text) <= LIMIT

    # A hamlet corrected forty times: its /reports view still fits.
    svc = harness.services
    bay = await harness.enter_as(2011, "Bảy", Role.REPORTER, "X00-H00")
    bay.skip_messages()
    from storage.reporting import Period

    unit = await svc.units.by_code("X00-H00")
    stored = svc.reports.sets()[0]
    period = Period.from_key("2026-W47")
    for version in range(40):
        values = {code: version % 7 for code in stored.codes}
        await svc.reports.submit(stored.code, period, unit.id, values,
                                 (await svc.users.get(2011)).id, svc.now())
    admin.send("/reports 2026-W47 X00-H00")
    view = await admin.next_message()
    assert "lần 40" in view.text and len(view.text) <= LIMIT

    # Many open tips in hamlets with long names: /inbox pages them, each page fits.
    from storage.tip_lifecycle import Draft

    resident = await svc.users.ensure(2012, 2012)
    for n in range(30):
        hamlet = await svc.units.by_code(f"X{n % 10:02d}-H{n % 12:02d}")
        draft = Draft(step="review", category="theft", body=NASTY, unit_id=hamlet.id,
                      place_text="đ" * 300, occurred_kind="today", occurred_at="2026-11-20",
                      anonymous=True)
        await svc.tips.create(draft, resident.id, svc.now())
    admin.send("/inbox")
    inbox = await admin.next_message()
    assert "30" in inbox.text and len(inbox.text) <= LIMIT and "▶" in inbox.button_texts
    assert not refused(harness)


async def test_text_made_of_invisible_characters_is_empty(harness: Harness):
    await harness.load_units()
    await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    thuy, _ = await enter_resident(harness)
    thuy.send("/newtip")
    step = await thuy.next_message()
    thuy.press(step, "Trộm cắp")
    await thuy.next_edit(step)
    thuy.send("\u200b\u200c\u200d\u2060\u200e\u200f\ufeff")
    assert "trống" in (await thuy.next_message()).text
    assert (await harness.draft(3777001, "tip")).body == ""


def failed_sends(harness: Harness) -> list:
    """Outbox items given up on (a card too long is one: the sender logs it and goes on)."""
    return harness.query("SELECT kind, error FROM outbox WHERE status = 'failed'")


async def test_emoji_count_double_on_cards(harness: Harness):
    """Telegram counts an emoji as two: a tip of 2,000 emoji was too long to review, and an
    event card with six notes of 300 emoji stopped updating and could not be opened again."""
    from tests.e2e.test_event_desk import coordinator, file_event
    from tests.e2e.test_reports import WEDNESDAY, at, reporter
    from tests.e2e.test_tips import file_tip

    await harness.load_units()
    at(harness, WEDNESDAY)
    minh = await coordinator(harness, 2002, "Minh")
    thuy, _ = await enter_resident(harness)
    code = await file_tip(thuy, text="Trộm xe 🛵" + "😡" * 2000)
    await card_for(minh, code)
    bay = await reporter(harness, 2001, "Bảy")
    event = await file_event(bay, photo=False)
    card = await card_for(minh, event)
    for _ in range(6):
        minh.press(card, "🗒 Ghi chú")
        await minh.next_message()
        minh.send("🚓" * 300)
        assert "Đã ghi chú" in (await minh.next_message()).text
    await minh.wait_until(lambda: card.text.count("ghi chú: «") >= 3)
    minh.send(f"/tip {event}")
    again = await card_for(minh, event)
    assert "(và " in again.text  # the oldest notes are counted, not shown
    await harness.settle()
    assert failed_sends(harness) == [] and refused(harness) == []
