"""Smoke test of the sandbox chat page in a real browser: choose a person, talk, press a button."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from .conftest import bot_messages, choose_person, press_button, send_text, wait_for_bot_text


async def test_resident_starts_and_opens_help(page: Page, tmp_path: Path) -> None:
    await choose_person(page, "Chị Lan")

    await send_text(page, "/start")
    await wait_for_bot_text(page, "Bạn có thể gửi tin báo")  # the resident's menu
    await wait_for_bot_text(page, "113")  # and the emergency numbers under it

    await press_button(page, "Hướng dẫn")
    help_text = await wait_for_bot_text(page, "/language — đổi ngôn ngữ")
    await expect(help_text).to_contain_text("113")
    await expect(bot_messages(page)).to_have_count(2)  # the menu, then the help

    await page.screenshot(path=tmp_path / "sandbox.png")
