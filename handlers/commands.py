"""The command menu Telegram shows, per language and per role.

Residents get the default menu (per language); reporters, coordinators and
admins get a per-chat menu in their chosen language, set when they enrol or
change language. A failure here is logged and tolerated: the menu is a
convenience, the commands work without it.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from locales import LOCALES, t
from storage.models import Role

log = logging.getLogger(__name__)

_BASE = ("start", "newtip", "mytips", "status", "help", "language", "cancel")
_REPORTER = ("report", "event")
_DESK = ("inbox", "tip", "completeness", "reports", "summary", "export", "invite", "units")
COMMANDS: dict[Role, tuple[str, ...]] = {
    Role.RESIDENT: _BASE,
    Role.REPORTER: (*_REPORTER, *_BASE),
    Role.COORDINATOR: (*_BASE, *_DESK),
    Role.ADMIN: (*_BASE, *_DESK),
}


def commands_for(role: Role, locale: str) -> list[BotCommand]:
    """The menu of one role in one language."""
    return [BotCommand(name, t(locale, f"cmd.{name}")) for name in COMMANDS[role]]


async def set_default_commands(bot: Bot) -> None:
    """The residents' menu in every language (called at start-up)."""
    for locale in LOCALES:
        try:
            await bot.set_my_commands(
                commands_for(Role.RESIDENT, locale),
                scope=BotCommandScopeDefault(),
                language_code=None if locale == LOCALES[0] else locale,
            )
        except TelegramError as exc:
            log.warning("could not set the default command menu (%s): %s", locale, exc)


async def set_chat_commands(bot: Bot, chat_id: int, role: Role, locale: str) -> None:
    """One user's menu, in their language (called on enrolment and language change)."""
    try:
        await bot.set_my_commands(
            commands_for(role, locale), scope=BotCommandScopeChat(chat_id)
        )
    except TelegramError as exc:
        log.warning("could not set a chat's command menu: %s", exc)
