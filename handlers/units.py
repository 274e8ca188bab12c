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
    listed = [(root, unit) for root in roots for unit in tree.descendants(root.id)][:MAX_LINES]
    leaves = [unit.id for _, unit in listed if not tree.children.get(unit.id)]
    reporters = await svc.users.count_members(leaves, Role.REPORTER)
    lines = [me.tr("units.title")]
    for root, unit in listed:
        depth = len(tree.ancestors(unit.id)) - len(tree.ancestors(root.id))
        line = "  " * depth + f"• {html.escape(unit.name)} ({level_name(me, unit.level)}, "
        line += f"<code>{html.escape(unit.code)}</code>)"
        if not tree.children.get(unit.id):
            count = formats.number(reporters.get(unit.id, 0), me.locale)
            line += " — " + me.tr("units.reporters", count=count)
        lines.append(line)
    if len(listed) == MAX_LINES:
        lines.append(me.tr("units.more"))
    await say(update, "\n".join(lines))


def handlers() -> list:
    """/units and its menu button."""
    return [
        CommandHandler("units", units_command),
        CallbackQueryHandler(units_command, pattern=r"^menu:units$"),
    ]
