"""Pieces every handler uses: who is writing, in which language, and replying."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes, ConversationHandler
from telegram.warnings import PTBUserWarning

from handlers.services import Services, services
from locales import t
from storage.models import Role, Unit, User

log = logging.getLogger(__name__)


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


class _SerialisedOnce:
    """A Telegram object that is never changed, so its JSON form is computed once.

    PTB turns every reply_markup into a dict on every call; for a keyboard that
    is sent thousands of times a day (a step of the tip flow, a menu) that was a
    fifth of the time spent on an update. The cached dict is only read (json.dumps).
    """

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict:
        cached = getattr(self, "_as_dict", None)
        if cached is None:
            cached = super().to_dict(recursive)  # type: ignore[misc]
            object.__setattr__(self, "_as_dict", cached)  # PTB objects are frozen
        return cached


class Keyboard(_SerialisedOnce, InlineKeyboardMarkup):
    """An inline keyboard serialised once; build shared ones once (``functools.cache``)."""

    __slots__ = ("_as_dict",)


class _NoPreview(_SerialisedOnce, LinkPreviewOptions):
    __slots__ = ("_as_dict",)


NO_PREVIEW = _NoPreview(is_disabled=True)


async def say(update: Update, text: str, **kwargs) -> None:
    """Reply in the chat the update came from (HTML, no link previews)."""
    chat = update.effective_chat
    assert chat is not None
    kwargs.setdefault("parse_mode", ParseMode.HTML)
    kwargs.setdefault("link_preview_options", NO_PREVIEW)
    await chat.send_message(text, **kwargs)


async def drop_keyboard(message: Message | None) -> None:
    """Take the buttons off a step's message once it has been answered."""
    if message is None:
        return
    try:
        await message.edit_reply_markup(None)
    except TelegramError as exc:  # already edited, or too old to edit: harmless
        log.debug("could not remove a keyboard: %s", exc)


async def reply_in_place(update: Update, text: str, markup=None, *, in_place: bool = True) -> None:
    """Answer a button in place of the pressed message, or with a new message.

    A reply keyboard cannot be put on an edited message, and an edit can fail (the
    message is too old, or unchanged): then the pressed message loses its buttons
    and the answer comes as a new message.
    """
    query = update.callback_query
    message = query.message if query is not None else None
    if message is not None and in_place:
        if not isinstance(markup, ReplyKeyboardMarkup | ReplyKeyboardRemove):
            try:
                await query.edit_message_text(text, reply_markup=markup, parse_mode=ParseMode.HTML,
                                              link_preview_options=NO_PREVIEW)
                return
            except BadRequest as exc:
                log.debug("could not edit a step in place: %s", exc)
        await drop_keyboard(message)
    await say(update, text, reply_markup=markup)


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


class KeyedLocks:
    """One asyncio lock per key (a chat, a tip), kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the key's lock; whoever asked first goes first."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


FLOWS = ("tip", "report", "event")  # the long, persistent flows: one at a time per user


def end_other_flows(update: Update, context: ContextTypes.DEFAULT_TYPE, keep: str) -> None:
    """Entering one long flow ends the others for this user (their drafts are kept).

    Otherwise a tip left half-way would go on taking the text meant for a report.
    PTB offers no public way to end a conversation from outside it; this uses the
    same internal call its handlers use when they return END.
    """
    for handler in context.application.handlers.get(0, []):
        if isinstance(handler, ConversationHandler) and handler.name in FLOWS \
                and handler.name != keep:
            handler._update_state(ConversationHandler.END, handler._get_key(update))
