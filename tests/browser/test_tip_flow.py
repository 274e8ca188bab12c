"""A tip through the sandbox page: Chị Lan files it anonymously in six steps, Anh Minh receives
its card, acknowledges it, and Chị Lan is told. Nothing in Anh Minh's chat names her."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from .conftest import (
    bot_messages,
    chat_text,
    choose_person,
    press_button,
    press_key,
    scroll_to,
    send_text,
    wait_for_bot_text,
    wait_for_toast,
)

RESIDENT = "Chị Lan"  # tg id 1001, Telegram first name "Lan", last name "Nguyễn Thị"
COORDINATOR = "Anh Minh"  # tg id 1004, coordinator of Xã Tân Hòa
SENDER_NAME_PARTS = ("Lan", "Nguyễn Thị")
CODE = re.compile(r"TB-[346789ACDEFGHJKMNPQRTUVWXY]{5}")
DESCRIPTION = "Mất trộm xe máy trước cổng chợ lúc 5 giờ sáng."


async def assert_sender_not_shown(page: Page) -> None:
    """The open chat (the coordinator's) carries no part of the anonymous sender's name."""
    text = await chat_text(page)
    for part in SENDER_NAME_PARTS:
        assert part not in text, f"{part!r} in the coordinator's chat: {text!r}"


async def file_anonymous_tip(page: Page, tmp_path: Path) -> str:
    """Chị Lan files a theft tip at Ấp An Phú, today, anonymously; returns its case code."""
    await choose_person(page, RESIDENT)
    await send_text(page, "/start")
    await wait_for_bot_text(page, "Bạn có thể gửi tin báo")
    await press_button(page, "📝 Gửi tin báo")

    # 1. What kind: category buttons, and the emergency numbers.
    step1 = await wait_for_bot_text(page, "Bước 1/6 — Loại sự việc")
    for number in ("113", "114", "115"):
        await expect(step1).to_contain_text(number)
    await expect(step1.locator(".ikb button", has_text="Trộm cắp")).to_be_visible()
    await press_button(page, "Trộm cắp", message=step1)

    # 2. What happened: typed text is counted, then Next.
    await wait_for_bot_text(page, "Bước 2/6")
    await send_text(page, DESCRIPTION)
    ack = await wait_for_bot_text(page, f"Đã nhận: {len(DESCRIPTION)} ký tự")
    await press_button(page, "Tiếp ➡️", message=ack)

    # 3. Where: a reply keyboard under the chat; the commune's hamlets come as inline buttons.
    await wait_for_bot_text(page, "Bước 3/6 — Ở đâu")
    keys = page.locator("#replykb button")
    for key in ("📍 Gửi vị trí hiện tại", "🏘 Chọn thôn, ấp", "Bỏ qua ➡️", "⬅️ Quay lại",
                "✖️ Hủy"):
        await expect(keys.filter(has_text=key)).to_have_count(1)
    await press_key(page, "🏘 Chọn thôn, ấp")
    # The lone province and its lone commune open by themselves: the hamlets at once.
    hamlets = await wait_for_bot_text(page, "Chọn nơi xảy ra — Xã Tân Hòa")
    await expect(hamlets.locator(".ikb button", has_text="Ấp Sóc Đồn")).to_be_visible()
    await press_button(page, "Ấp An Phú", message=hamlets)
    await wait_for_bot_text(page, "Đã ghi: Ấp An Phú")
    # A place is set, so Skip has become Next.
    await expect(keys.filter(has_text="Tiếp ➡️")).to_have_count(1)
    await expect(keys.filter(has_text="Bỏ qua ➡️")).to_have_count(0)
    await press_key(page, "Tiếp ➡️")

    # 4. When.
    await wait_for_bot_text(page, "Bước 4/6")
    await expect(page.locator("#replykb")).to_be_hidden()  # step 3's keyboard is gone
    await press_button(page, "Hôm nay")

    # 5. Anonymous or named: what anonymity does and does not hide.
    step5 = await wait_for_bot_text(page, "Bước 5/6")
    await expect(step5).to_contain_text("Telegram vẫn biết")
    await press_button(page, "🔒 Gửi ẩn danh", message=step5)

    # 6. Review, then send.
    review = await wait_for_bot_text(page, "Bước 6/6")
    for expected in ("Trộm cắp", DESCRIPTION, "Ấp An Phú", "ẩn danh"):
        await expect(review).to_contain_text(expected)
    await press_button(page, "✅ Gửi tin báo", message=review)

    sent = await wait_for_bot_text(page, "Mã của bạn")
    match = CODE.search(await sent.inner_text())
    assert match, await sent.inner_text()
    code = match[0]
    await expect(sent).to_contain_text(f"/status {code}")
    await expect(page.locator("#pinned")).to_contain_text(code)  # the code is pinned
    await page.screenshot(path=tmp_path / "1-resident-sent.png")
    return code


async def test_resident_files_anonymous_tip_and_coordinator_acknowledges(
    page: Page, tmp_path: Path
) -> None:
    code = await file_anonymous_tip(page, tmp_path)

    # The coordinator has the card: the code, what, anonymous, where, and the next actions.
    await choose_person(page, COORDINATOR)
    card = bot_messages(page).filter(has_text=code)
    await expect(card).to_have_count(1)
    for expected in ("Trộm cắp", "Ẩn danh", "Ấp An Phú", DESCRIPTION, "Mới"):
        await expect(card).to_contain_text(expected)
    for button in ("✅ Tiếp nhận", "🔎 Xác minh"):
        await expect(card.locator(".ikb button", has_text=button)).to_have_count(1)
    await assert_sender_not_shown(page)
    await scroll_to(card)
    await page.screenshot(path=tmp_path / "2-coordinator-card.png")
    messages_before = await bot_messages(page).count()

    await press_button(page, "✅ Tiếp nhận", message=card)
    await wait_for_toast(page, ": Đã tiếp nhận")  # "TB-…: Đã tiếp nhận"
    # The same card, edited in place: new status, next actions, marked as edited.
    await expect(card).to_contain_text("Trạng thái: Đã tiếp nhận")
    await expect(card.locator(".foot")).to_contain_text("đã sửa")
    await expect(card.locator(".ikb button", has_text="✅ Tiếp nhận")).to_have_count(0)
    await expect(card.locator(".ikb button", has_text="🔎 Xác minh")).to_have_count(1)
    await expect(bot_messages(page)).to_have_count(messages_before)
    await assert_sender_not_shown(page)
    await page.screenshot(path=tmp_path / "3-coordinator-acknowledged.png")

    # The resident is told, and the page marks her chat as having news.
    resident = page.locator("#users li").filter(has_text=RESIDENT)
    await expect(resident.locator(".badge")).to_have_text("1")
    await choose_person(page, RESIDENT)
    await wait_for_bot_text(page, f"🔔 Tin báo {code}: Đã tiếp nhận.")
