"""Pieces every handler uses: who is writing, in which language, and replying."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes, ConversationHandler
from telegram.warnings import PTBUserWarning

from handlers.services import Services, services
from locales import t
from storage.models import Role, Unit, User


@dataclass(frozen=True)
class Who:
    """The user behind an update, their role and language."""

    user: User
    role: Role
    locale: str
    is_admin: bool

    def tr(self, key: str, /, **values: object) -> str:
        """A text in this user's language."""
        return t(self.locale, key, **values)


async def who(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Who:
    """Load (or create, as a resident) the user behind ``update``; cached after first use."""
    svc = services(context)
    tg_user = update.effective_user
    chat = update.effective_chat
    assert tg_user is not None and chat is not None  # private-chat handlers only
    user = await svc.users.ensure(tg_user.id, chat.id)
    if not user.active:
        # They wrote to us, so they have unblocked the bot.
        await svc.users.set_active(tg_user.id, True)
        user = await svc.users.ensure(tg_user.id, chat.id)
    is_admin = tg_user.id in svc.admins
    return Who(user, user.role(is_admin=is_admin), user.locale or svc.default_locale, is_admin)


async def say(update: Update, text: str, **kwargs) -> None:
    """Reply in the chat the update came from (HTML, no link previews)."""
    chat = update.effective_chat
    assert chat is not None
    kwargs.setdefault("parse_mode", ParseMode.HTML)
    kwargs.setdefault("disable_web_page_preview", True)
    await chat.send_message(text, **kwargs)


def button(text: str, data: str) -> InlineKeyboardButton:
    """An inline button; callback data must fit Telegram's 64 bytes."""
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(text, callback_data=data)


def pager(page: int, pages: int, data: Callable[[int], str]) -> list[InlineKeyboardButton]:
    """◀ 2/5 ▶ under a paged list (empty when one page is enough)."""
    if pages <= 1:
        return []
    row = [button("◀", data(page - 1))] if page > 0 else []
    row.append(button(f"{page + 1}/{pages}", data(page)))
    if page < pages - 1:
        row.append(button("▶", data(page + 1)))
    return row


def step_header(who_: Who, step: int, total: int, title: str) -> str:
    """'Bước 2/3 — title' for multi-step flows."""
    return who_.tr("flow.step", step=step, total=total) + " — " + title


async def scope(svc: Services, who_: Who) -> list[Unit]:
    """The units whose subtrees the user coordinates; every root for the settings' admins."""
    tree = await svc.units.tree()
    if who_.is_admin:
        return list(tree.children.get(None, []))
    ids = who_.user.units_for(Role.COORDINATOR, Role.ADMIN)
    return [tree.by_id[i] for i in ids if i in tree.by_id]


def persistent_conversation(name: str, **kwargs) -> ConversationHandler:
    """A ConversationHandler kept in the database (a restart resumes it), re-enterable.

    Its buttons are tracked per user, not per message, on purpose: our flows span
    several messages, so PTB's warning about ``per_message=False`` is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=PTBUserWarning)
        return ConversationHandler(name=name, persistent=True, allow_reentry=True, **kwargs)
