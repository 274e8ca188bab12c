"""/units: the part of the organisation tree a coordinator or admin oversees."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

from handlers.common import Who, say, scope, who
from handlers.services import services
from locales import catalog, formats
from storage.models import Role

MAX_LINES = 120  # keeps the message under Telegram's 4,096 characters


def level_name(me: Who, level: str) -> str:
    """A level's name in the user's language; levels not in the catalog show as written."""
    key = f"level.{level}"
    return me.tr(key) if key in catalog(me.locale) else level


async def units_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the units in scope as an indented tree, with how many reporters each has."""
    if update.callback_query:
        await update.callback_query.answer()
    me = await who(update, context)
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        await say(update, me.tr("units.not_allowed"))
        return
    svc = services(context)
    tree = await svc.units.tree()
    roots = await scope(svc, me)
    if not roots:
        await say(update, me.tr("units.none"))
        return
    lines = [me.tr("units.title")]
    shown = 0
    for root in roots:
        base = len(tree.ancestors(root.id))
        for unit in tree.descendants(root.id):
            depth = len(tree.ancestors(unit.id)) - base
            line = "  " * depth + f"• {html.escape(unit.name)} ({level_name(me, unit.level)}, "
            line += f"<code>{html.escape(unit.code)}</code>)"
            if not tree.children.get(unit.id):
                count = len(await svc.users.members_of(unit.id, Role.REPORTER))
                line += " — " + me.tr("units.reporters", count=formats.number(count, me.locale))
            lines.append(line)
            shown += 1
            if shown >= MAX_LINES:
                lines.append(me.tr("units.more"))
                break
    await say(update, "\n".join(lines))


def handlers() -> list:
    """/units and its menu button."""
    return [
        CommandHandler("units", units_command),
        CallbackQueryHandler(units_command, pattern=r"^menu:units$"),
    ]
