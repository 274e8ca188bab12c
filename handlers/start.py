"""/start, the language choice, role menus and /help.

A first /start asks the language; a deep-link payload (an invitation, or a hamlet
poster) waits in the drafts table until the language is chosen, then is acted on.
"""

from __future__ import annotations

import functools
import html

from handlers.callbacks import data
from handlers.commands import set_chat_commands
from handlers.common import Keyboard, Turn, button, cut, scope, who_of
from locales import LANGUAGE_NAMES, LOCALES, t
from storage.models import Role

WAITING = "welcome"  # drafts kind of a payload waiting for the language choice


async def start(turn: Turn) -> None:
    """/start [payload]: the language first time, then the payload or the menu."""
    from handlers.enrolment import act_on_payload

    payload = turn.args[0] if turn.args else None
    if turn.me.user.locale is None:
        if payload:
            await turn.svc.flows.save(turn.tg_id, WAITING, {"step": "language",
                                                            "payload": payload[:64]},
                                      turn.svc.now(), activate=False)
        ask_language(turn, first=True)
        return
    if payload:
        await act_on_payload(turn, payload)
        return
    await show_menu(turn)


def ask_language(turn: Turn, *, first: bool = False) -> None:
    """The language buttons (the prompt is bilingual: we don't know the language yet)."""
    keyboard = Keyboard([[button(LANGUAGE_NAMES[code], data("lang", code))
                          for code in LOCALES]])
    text = t("vi", "lang.choose") + "\n" + t("en", "lang.choose")
    if first:
        text = t("vi", "start.hello") + "\n\n" + text
    turn.say(text, keyboard)


async def language_command(turn: Turn) -> None:
    """/language: choose again."""
    ask_language(turn)


async def language_chosen(turn: Turn) -> None:
    """A language button: remember it, set the command menu, carry on."""
    from handlers.enrolment import act_on_payload

    code = turn.press.action
    if code not in LOCALES:
        turn.answer(t(None, "callback.stale"))
        return
    svc = turn.svc
    first_time = turn.me.user.locale is None
    user = await svc.users.set_locale(turn.tg_id, code)
    turn.me = who_of(user, svc, turn.tg_id)
    turn.show(turn.tr("lang.set", language=LANGUAGE_NAMES[code]), None)
    await set_chat_commands(turn.context.bot, turn.chat_id, turn.me.role, code)
    waiting = await svc.flows.draft(turn.tg_id, WAITING)
    if waiting is not None:
        await svc.flows.finish(turn.tg_id, WAITING)
        await act_on_payload(turn, str(waiting.get("payload", "")))
        return
    if first_time:
        await show_menu(turn)


async def show_menu(turn: Turn) -> None:
    """The welcome and buttons of the user's role."""
    me = turn.me
    svc = turn.svc
    tree = await svc.units.tree()
    lines = [me.tr(f"menu.{me.role.value}")]
    if me.role is Role.REPORTER:
        units = ", ".join(tree.path(u) for u in me.user.units_for(Role.REPORTER)
                          if u in tree.by_id)
        lines.append(me.tr("menu.your_units", units=html.escape(cut(units, 1500))))
    elif me.staff:
        units = ", ".join(tree.path(u.id) for u in await scope(svc, me)) or me.tr("units.none")
        lines.append(me.tr("menu.your_scope", units=html.escape(cut(units, 1500))))
    lines.append(me.tr("emergency"))
    turn.say("\n\n".join(lines), _menu_keyboard(me.locale, me.role))


@functools.cache
def _menu_keyboard(locale: str, role: Role) -> Keyboard:
    """The menu's buttons for a role in one language (built once)."""
    def b(key: str, *fields: object):
        return button(t(locale, key), data("menu", *fields))

    rows = []
    if role is Role.REPORTER:
        rows.append([b("menu.btn.report", "report"), b("menu.btn.event", "event")])
    if role in (Role.RESIDENT, Role.REPORTER):
        rows.append([b("menu.btn.tip", "tip"), b("menu.btn.mytips", "mytips")])
    if role in (Role.COORDINATOR, Role.ADMIN):
        rows.append([b("menu.btn.inbox", "inbox")])
        rows.append([b("menu.btn.invite", "invite"), b("menu.btn.units", "units")])
    rows.append([b("menu.btn.language", "language"), b("menu.btn.help", "help")])
    return Keyboard(rows)


async def help_command(turn: Turn) -> None:
    """/help: what this user can do."""
    turn.say(turn.tr(f"help.{turn.me.role.value}") + "\n\n" + turn.tr("emergency"))

