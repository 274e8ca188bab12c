"""The sandbox page in Chromium: a coordinator chases the week's missing hamlets from
/completeness, and the reporter reads the reminder in his own chat."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

from tests.browser.conftest import (
    Sandbox,
    choose_person,
    press_button,
    send_text,
    wait_for_bot_text,
    wait_for_toast,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
COORDINATOR = "Anh Minh"  # tg id 1004, coordinator of Xã Tân Hòa
REPORTER = "Ông Bảy"  # tg id 1002, reporter of Ấp An Phú


async def test_a_coordinator_reminds_the_missing_hamlets_from_completeness(
    page: Page, sandbox: Sandbox, tmp_path: Path
) -> None:
    svc = sandbox.running.app.bot_data["services"]
    morning = datetime.now(VN).replace(hour=10, minute=0, second=0, microsecond=0)
    svc.now = lambda: morning  # daytime, whenever the suite runs: reminders may go out

    await choose_person(page, COORDINATOR)
    await send_text(page, "/completeness")
    view = await wait_for_bot_text(page, "chưa có người báo cáo")
    # The demo's reporters have not filed this week; four hamlets have no reporter at all.
    for expected in ("▫️ Ấp An Phú — chưa nộp", "👤 Ấp Tân Thành — chưa có người báo cáo",
                     "4 thôn, ấp chưa có người báo cáo"):
        await expect(view).to_contain_text(expected)
    await expect(view.locator(".ikb button", has_text="📨 Mời người báo cáo")).to_have_count(4)
    await page.screenshot(path=tmp_path / "1-completeness.png")

    await press_button(page, "🔔 Nhắc các thôn, ấp chưa nộp", message=view)
    await wait_for_toast(page, "Đã nhắc 2 người báo cáo: Ấp An Phú, Ấp Phước Hậu")
    await page.screenshot(path=tmp_path / "2-reminded.png")

    await choose_person(page, REPORTER)
    reminder = await wait_for_bot_text(page, "/report")
    await expect(reminder).to_contain_text("Ấp An Phú")
    await page.screenshot(path=tmp_path / "3-reporter-reminded.png")
