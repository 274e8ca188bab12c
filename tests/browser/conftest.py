"""Browser tests of the sandbox chat page: the sandbox in-process, Debian's Chromium through
Playwright, and helpers that act on the page as a person would.

Chromium is the system one (``BINHYEN_CHROMIUM`` or ``chromium`` on the PATH; ``make test``
installs Debian's package when it is missing). ``playwright install`` is never needed: it would
download a browser build, which this project's machines cannot fetch.

The helpers wait with Playwright's auto-retrying ``expect`` and never sleep; each waits at most
``TIMEOUT_MS``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Locator, Page, async_playwright, expect
from playwright.async_api import Error as PlaywrightError

from bot.app import Running
from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer
from bot.sandbox import Sandbox as RunningSandbox
from bot.sandbox import start_sandbox, stop_sandbox
from bot.settings import Settings, load_settings
from tests.conftest import ErrorLog

# Read at import, before the autouse ``clean_env`` fixture removes every BINHYEN_* variable.
CHROMIUM = os.environ.get("BINHYEN_CHROMIUM") or shutil.which("chromium")
# Without the background-networking flags Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long a wait may last before it fails: it ends as soon as what it waits for is there.
# Cards come through the paced outbox, which on a loaded machine (and after a 429) takes
# seconds; Playwright's own 5 s default for expect() failed once so under stress-ng.
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)

# The sandbox page's own texts (bot/emulator/static/chat.html).
SEND_BUTTON = "Gửi"
NO_ONE_CHOSEN = "Chọn một người dùng"


@dataclass
class Sandbox:
    """The running sandbox: emulator, its HTTP server (page and Bot API) and the bot."""

    emulator: Emulator
    server: EmulatorServer
    running: Running
    run: RunningSandbox  # to stop it, and to restart it keeping the chats
    settings: Settings

    async def restart(self) -> None:
        """Stop the sandbox and start it again on the same port, as `make run` would."""
        port = self.server.port
        await stop_sandbox(self.run)
        self.run = await start_sandbox(self.settings, port=port)
        self.emulator, self.server, self.running = (self.run.emulator, self.run.server,
                                                    self.run.running)

    @property
    def url(self) -> str:
        """The chat page."""
        return f"http://127.0.0.1:{self.server.port}/"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The sandbox on a free port with its own database; fails the test if the bot's error
    handler fired."""
    errors = ErrorLog()
    logging.getLogger("handlers.errors").addHandler(errors)
    settings = load_settings(db=tmp_path / "sandbox.db")
    run = await start_sandbox(settings, port=0)
    box = Sandbox(run.emulator, run.server, run.running, run, settings)
    try:
        yield box
    finally:
        try:
            await stop_sandbox(box.run)  # the one running now (a test may restart it)
        finally:
            logging.getLogger("handlers.errors").removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Headless Chromium with its profile in ``tmp_path`` (so no localStorage carries over)."""
    if CHROMIUM is None:
        pytest.fail("Chromium not found: `make test` installs it (apt-get install chromium), "
                    "or set BINHYEN_CHROMIUM to its path")
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            tmp_path / "chromium-profile",
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(browser: BrowserContext, sandbox: Sandbox) -> AsyncIterator[Page]:
    """The sandbox chat page, loaded; fails the test on any uncaught script error in it.

    It depends on ``sandbox`` so that the browser (and the page's long poll) goes away first.
    """
    page = browser.pages[0] if browser.pages else await browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))
    await page.goto(sandbox.url)
    await expect(page.locator("#botname")).to_contain_text("@", timeout=TIMEOUT_MS)
    yield page
    assert not script_errors, script_errors


# Helpers that act on the page. Texts are matched as substrings, as a person reads them.


def bot_messages(page: Page) -> Locator:
    """The bot's messages in the open chat, oldest first."""
    return page.locator("#messages .msg:not(.me)")


def my_messages(page: Page) -> Locator:
    """The chosen person's own messages in the open chat, oldest first."""
    return page.locator("#messages .msg.me")


async def chat_text(page: Page) -> str:
    """Everything the open chat shows (messages, their buttons and footers) as text."""
    return await page.locator("#messages").text_content() or ""


async def choose_person(page: Page, label: str) -> None:
    """Open the chat of the person whose label (in the left column) contains ``label``."""
    # Let the page's own first choice finish, so its answer cannot land after ours.
    await expect(page.locator("#headTitle")).not_to_have_text(NO_ONE_CHOSEN, timeout=TIMEOUT_MS)
    await page.locator("#users li").filter(has_text=label).click()
    await expect(page.locator("#users li.active")).to_contain_text(label, timeout=TIMEOUT_MS)
    await expect(page.locator("#headTitle")).to_contain_text(label, timeout=TIMEOUT_MS)


async def send_text(page: Page, text: str) -> None:
    """Type ``text`` into the message box, press Gửi, and wait until it shows in the chat."""
    box = page.locator("#text")
    await box.fill(text)
    await page.locator("#composer").get_by_role("button", name=SEND_BUTTON, exact=True).click()
    await expect(box).to_have_value("", timeout=TIMEOUT_MS)
    await expect(my_messages(page).last).to_contain_text(text, timeout=TIMEOUT_MS)


async def wait_for_bot_text(page: Page, substring: str, *, timeout: float = TIMEOUT_MS) -> Locator:
    """Wait until a bot message in the open chat contains ``substring``; returns the newest such.

    Any message counts, old ones too: wait for a text the awaited message brings anew.
    """
    message = bot_messages(page).filter(has_text=substring).last
    await expect(message).to_be_visible(timeout=timeout)
    return message


async def press_button(page: Page, text: str, *, message: Locator | None = None) -> None:
    """Press the inline button whose text contains ``text``: in ``message`` if given, else in
    the newest bot message that has such a button."""
    scope = message if message is not None else bot_messages(page).filter(
        has=page.locator(".ikb button", has_text=text)
    ).last
    await scope.locator(".ikb button", has_text=text).first.click()


async def press_key(page: Page, text: str) -> None:
    """Press the reply-keyboard key (under the chat) whose text contains ``text``."""
    await page.locator("#replykb button", has_text=text).first.click()


async def wait_for_toast(page: Page, substring: str) -> None:
    """Wait for a notice over the chat (a callback answer, an alert, or the page's own error)."""
    await expect(page.locator("#toast")).to_contain_text(substring, timeout=TIMEOUT_MS)


async def scroll_to(message: Locator) -> None:
    """Bring a message into view for a screenshot. The page redraws the chat when anything
    arrives, so the element scrolled to may be replaced mid-way: found again and tried
    again (a few times; a message that never settles fails the test)."""
    for attempt in range(5):
        await expect(message).to_be_visible(timeout=TIMEOUT_MS)
        try:
            await message.scroll_into_view_if_needed(timeout=TIMEOUT_MS)
            return
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
