"""/units: the part of the organisation tree a coordinator or admin oversees, paged."""

from __future__ import annotations

import html

from telegram import InlineKeyboardMarkup

from handlers.callbacks import data
from handlers.common import MAX_TEXT, Turn, Who, cut, pager, paginate, scope
from locales import catalog
from storage.models import Role


def level_name(me: Who, level: str) -> str:
    """A level's name in the user's language; levels not in the catalog show as written."""
    key = f"level.{level}"
    return me.tr(key) if key in catalog(me.locale) else level


async def units_command(turn: Turn) -> None:
    """List the units in scope as an indented tree, with how many reporters each has."""
    me = turn.me
    if not me.staff:
        turn.say(turn.tr("units.not_allowed"))
        return
    svc = turn.svc
    tree = await svc.units.tree()
    roots = await scope(svc, me)
    if not roots:
        turn.say(turn.tr("units.none"))
        return
    listed = [(root, unit) for root in roots for unit in tree.descendants(root.id)]
    leaves = [unit.id for _, unit in listed if not tree.children.get(unit.id)]
    reporters = await svc.users.count_members(leaves, Role.REPORTER)
    lines = []
    for root, unit in listed:
        depth = len(tree.ancestors(unit.id)) - len(tree.ancestors(root.id))
        line = "  " * min(depth, 8) + f"• {html.escape(cut(unit.name, 80))} ("
        line += f"{html.escape(level_name(me, unit.level))}, <code>{html.escape(unit.code)}</code>)"
        if not tree.children.get(unit.id):
            line += " — " + turn.tr("units.reporters",
                                   count=turn.number(reporters.get(unit.id, 0)))
        lines.append(line)
    pages = paginate(lines, budget=MAX_TEXT - 200)
    page = turn.press.int(0) or 0 if turn.press is not None and turn.press.kind == "units" else 0
    page = max(0, min(page, len(pages) - 1))
    head = turn.tr("units.title")
    if len(pages) > 1:
        head += " " + turn.tr("flow.page", page=page + 1, pages=len(pages))
    rows = [pager(page, len(pages), lambda p: data("units", p))]
    turn.show("\n".join([head, *pages[page]]),
              InlineKeyboardMarkup([r for r in rows if r]) if len(pages) > 1 else None)
