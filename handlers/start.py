"""/start, the language choice, role menus and /help.

A first /start asks the language; a deep-link payload (an invitation, or a hamlet
poster) waits in user data until the language is chosen, then is acted on.
"""

from __future__ import annotations

import functools
import html

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from handlers.commands import set_chat_commands
from handlers.common import Keyboard, Who, button, say, scope, who
from handlers.enrolment import act_on_payload
from handlers.services import services
from locales import LANGUAGE_NAMES, LOCALES, t
from storage.models import Role

PENDING_PAYLOAD = "pending_start_payload"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start [payload]: the language first time, then the payload or the menu."""
    me = await who(update, context)
    payload = context.args[0] if context.args else None
    if me.user.locale is None:
        if payload:
            context.user_data[PENDING_PAYLOAD] = payload
        await ask_language(update, first=True)
        return
    if payload:
        me = await act_on_payload(update, context, me, payload)
    await show_menu(update, context, me)


async def ask_language(update: Update, *, first: bool = False) -> None:
    """The language buttons (the prompt is bilingual: we don't know the language yet)."""
    keyboard = Keyboard([[button(LANGUAGE_NAMES[code], f"lang:{code}") for code in LOCALES]])
    text = t("vi", "lang.choose") + "\n" + t("en", "lang.choose")
    if first:
        text = t("vi", "start.hello") + "\n\n" + text
    await say(update, text, reply_markup=keyboard)


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language: choose again."""
    await who(update, context)
    await ask_language(update)


async def language_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A language button: remember it, set the command menu, carry on."""
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.removeprefix("lang:")
    if code not in LOCALES:
        await query.answer(t(None, "callback.stale"))
        return
    svc = services(context)
    me = await who(update, context)
    first_time = me.user.locale is None
    user = await svc.users.set_locale(update.effective_user.id, code)
    me = Who(user, me.role, code, me.is_admin)
    await query.answer()
    await query.edit_message_text(me.tr("lang.set", language=LANGUAGE_NAMES[code]))
    await set_chat_commands(context.bot, update.effective_chat.id, me.role, code)
    payload = context.user_data.pop(PENDING_PAYLOAD, None)
    if payload:
        me = await act_on_payload(update, context, me, payload)
    if first_time or payload:
        await show_menu(update, context, me)


async def show_menu(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who) -> None:
    """The welcome and buttons of the user's role."""
    svc = services(context)
    tree = await svc.units.tree()
    lines = [me.tr(f"menu.{me.role.value}")]
    if me.role is Role.REPORTER:
        units = ", ".join(tree.path(u) for u in me.user.units_for(Role.REPORTER))
        lines.append(me.tr("menu.your_units", units=html.escape(units)))
    elif me.role in (Role.COORDINATOR, Role.ADMIN):
        units = ", ".join(tree.path(u.id) for u in await scope(svc, me)) or me.tr("units.none")
        lines.append(me.tr("menu.your_scope", units=html.escape(units)))
    lines.append(me.tr("emergency"))
    await say(update, "\n\n".join(lines), reply_markup=_menu_keyboard(me.locale, me.role))


@functools.cache
def _menu_keyboard(locale: str, role: Role) -> Keyboard:
    """The menu's buttons for a role in one language (built once)."""
    def b(key: str, data: str):
        return button(t(locale, key), data)

    rows = []
    if role is Role.REPORTER:
        rows.append([b("menu.btn.report", "menu:report"), b("menu.btn.event", "menu:event")])
    if role in (Role.RESIDENT, Role.REPORTER):
        rows.append([b("menu.btn.tip", "menu:tip"), b("menu.btn.mytips", "menu:mytips")])
    if role in (Role.COORDINATOR, Role.ADMIN):
        rows.append([b("menu.btn.inbox", "inbox:0")])
        rows.append([b("menu.btn.invite", "menu:invite"), b("menu.btn.units", "menu:units")])
    rows.append([b("menu.btn.language", "menu:language"), b("menu.btn.help", "menu:help")])
    return Keyboard(rows)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: what this user can do."""
    me = await who(update, context)
    await say(update, me.tr(f"help.{me.role.value}") + "\n\n" + me.tr("emergency"))


async def menu_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Menu buttons that open a screen (invite and units have their own handlers)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if query.data == "menu:language":
        await ask_language(update)
    else:
        await help_command(update, context)


async def unknown_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything we did not expect outside a conversation."""
    me = await who(update, context)
    await say(update, me.tr("fallback.text"))


async def cancel_nothing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel outside any flow."""
    me = await who(update, context)
    await say(update, me.tr("flow.nothing"))


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button from an old message whose flow is over."""
    query = update.callback_query
    assert query is not None
    me = await who(update, context)
    await query.answer(me.tr("callback.stale"), show_alert=True)


def handlers() -> list:
    """Registered after the conversations."""
    return [
        CommandHandler("start", start),
        CommandHandler("language", language_command),
        CommandHandler("help", help_command),
        CallbackQueryHandler(language_chosen, pattern=r"^lang:"),
        CallbackQueryHandler(menu_button, pattern=r"^menu:(language|help)$"),
    ]


def fallbacks() -> list:
    """Registered last in the same group: whatever nothing else took."""
    return [
        CommandHandler("cancel", cancel_nothing),
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, unknown_text),
    ]
