"""Coordinators ask for a summary or a workbook on demand: /summary and /export.

/summary [week|month|quarter|half|year] [PERIOD|now]: the last complete span by
default, a named one (``2026-W47``, ``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``),
or the current one so far (``now``); the same text, chart and workbook as the
scheduled digest. /export [PERIOD]: the workbook alone. Building is the composition
root's (bot.deliveries), reached through ``Services.summaries``.
"""

from __future__ import annotations

import logging

from telegram import InputFile, Update
from telegram.constants import ChatAction
from telegram.ext import CommandHandler, ContextTypes

from handlers.common import NO_PREVIEW, say, scope, who
from handlers.services import services
from storage.models import Role

log = logging.getLogger(__name__)

KINDS = {"week": "week", "tuần": "week", "tuan": "week", "month": "month", "tháng": "month",
         "thang": "month", "quarter": "quarter", "quý": "quarter", "quy": "quarter",
         "half": "half", "sơkết": "half", "soket": "half", "6tháng": "half", "year": "year",
         "năm": "year", "nam": "year", "tổngkết": "year"}


async def summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/summary [kind] [period|now]."""
    await _answer(update, context, workbook_only=False)


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export [period]: the workbook of a week (default: last week) or a named span."""
    await _answer(update, context, workbook_only=True)


async def _answer(update: Update, context: ContextTypes.DEFAULT_TYPE, *,
                  workbook_only: bool) -> None:
    me = await who(update, context)
    svc = services(context)
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        await say(update, me.tr("tipdesk.not_allowed"))
        return
    words = [w.lower() for w in context.args or []]
    kind = "week"
    if words and words[0] in KINDS:
        kind = KINDS[words.pop(0)]
    which = words[0] if words else None
    roots = [u.id for u in await scope(svc, me)]
    if not roots:
        await say(update, me.tr("delivery.no_scope"))
        return
    await update.effective_chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    try:
        parts = await svc.summaries(me.user.id, roots, kind, which)
    except ValueError:
        await say(update, me.tr("summary.bad_period"))
        return
    for part in parts:
        if workbook_only and part.kind != "document":
            continue
        if part.kind == "text":
            await update.effective_chat.send_message(part.text, parse_mode="HTML",
                                                     link_preview_options=NO_PREVIEW)
        elif part.kind == "photo":
            await update.effective_chat.send_photo(InputFile(part.data, part.filename),
                                                   caption=part.text)
        else:
            await update.effective_chat.send_document(InputFile(part.data, part.filename),
                                                      caption=part.text)


def handlers() -> list:
    """The on-demand commands."""
    return [CommandHandler("summary", summary), CommandHandler("export", export)]
