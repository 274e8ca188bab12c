"""The sandbox page in Chromium: a reporter reports an event, a coordinator acknowledges it,
asks him something and closes it from the card; the reporter answers from his chat; and a
restart of the sandbox shows every chat as it was."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.conftest import (
    Sandbox,
    bot_messages,
    choose_person,
    press_button,
    scroll_to,
    send_text,
    wait_for_bot_text,
    wait_for_toast,
)

COORDINATOR = "Anh Minh"  # coordinator of Xã Tân Hòa
REPORTER = "Ông Bảy"  # reporter of Ấp An Phú
CODE = re.compile(r"VV-[346789ACDEFGHJKMNPQRTUVWXY]{5}")


async def test_a_coordinator_works_an_event_from_its_card(
    page: Page, sandbox: Sandbox, tmp_path: Path
) -> None:
    await choose_person(page, REPORTER)
    await send_text(page, "/event")
    await press_button(page, "Gây rối, đánh nhau")
    await press_button(page, "Vừa xảy ra")
    await wait_for_bot_text(page, "Địa điểm cụ thể")
    await send_text(page, "Ngã ba chợ An Phú")
    await wait_for_bot_text(page, "Mô tả ngắn sự việc")
    await send_text(page, "Hai nhóm thanh niên xô xát, tổ ANTT đã can ngăn.")
    await wait_for_bot_text(page, "Có bao nhiêu người liên quan")
    await send_text(page, "6")
    await press_button(page, "Không có ảnh")
    await press_button(page, "🚨 Gửi cho cán bộ xã")
    sent = await wait_for_bot_text(page, "Đã gửi vụ việc")
    code = CODE.search(await sent.text_content() or "")[0]
    await page.screenshot(path=tmp_path / "1-reporter-sent.png")

    await choose_person(page, COORDINATOR)
    await wait_for_bot_text(page, code)
    # The card itself (later messages name the code too: "Đã gửi câu hỏi … VV-…").
    card = bot_messages(page).filter(has_text=code).filter(has_text="Người báo:").first
    for expected in ("Trạng thái: Mới", "Ngã ba chợ An Phú", "Số người liên quan: 6",
                     "Người báo: Trần Văn Bảy"):
        await expect(card).to_contain_text(expected)
    await press_button(page, "📥 Tiếp nhận", message=card)
    await wait_for_toast(page, f"{code}: Đã tiếp nhận")
    await expect(card).to_contain_text("Trạng thái: Đã tiếp nhận")
    await expect(card).to_contain_text("Phạm Quang Minh: tiếp nhận")
    await press_button(page, "❓ Hỏi người báo", message=card)
    await wait_for_bot_text(page, "Gõ câu hỏi gửi người báo")
    await send_text(page, "Có ai bị thương không?")
    await wait_for_bot_text(page, "Đã gửi câu hỏi")
    await scroll_to(card)
    await page.screenshot(path=tmp_path / "2-coordinator-card.png")

    await choose_person(page, REPORTER)
    question = await wait_for_bot_text(page, "Có ai bị thương không?")
    await expect(question).to_contain_text("Phạm Quang Minh")
    await press_button(page, "✍️ Trả lời", message=question)
    await wait_for_bot_text(page, "Hãy gửi câu trả lời")
    await send_text(page, "Một người xây xát nhẹ, đã sơ cứu.")
    await wait_for_bot_text(page, "Đã chuyển câu trả lời")
    await page.screenshot(path=tmp_path / "3-reporter-answered.png")

    await choose_person(page, COORDINATOR)
    await wait_for_bot_text(page, "Một người xây xát nhẹ")
    card = bot_messages(page).filter(has_text=code).filter(has_text="Diễn biến").first
    await expect(card).to_contain_text("trả lời: «Một người xây xát nhẹ")
    await press_button(page, "✅ Đã xử lý xong", message=card)
    await wait_for_toast(page, f"{code}: Đã xử lý xong")
    await expect(card).to_contain_text("Trạng thái: Đã xử lý xong")
    await expect(card.locator(".ikb button", has_text="❓ Hỏi người báo")).to_have_count(0)
    await scroll_to(card)
    await page.screenshot(path=tmp_path / "4-handled.png")

    # A restart: the page shows the same chats, and the card still works.
    await sandbox.restart()
    await page.reload()
    await choose_person(page, COORDINATOR)
    card = bot_messages(page).filter(has_text=code).filter(has_text="Diễn biến").first
    await expect(card).to_contain_text("Trạng thái: Đã xử lý xong")
    await press_button(page, "🗒 Ghi chú", message=card)
    await wait_for_bot_text(page, "Gõ ghi chú cho")
    await send_text(page, "Đã bàn giao cho tổ hòa giải.")
    await expect(card).to_contain_text("ghi chú: «Đã bàn giao cho tổ hòa giải.»")
    await page.screenshot(path=tmp_path / "5-after-restart.png")
    await choose_person(page, REPORTER)
    await expect(bot_messages(page).filter(has_text="xác nhận xử lý xong")).to_have_count(1)
