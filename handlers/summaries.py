"""Coordinators ask for a summary or a workbook on demand: /summary and /export.

/summary [week|month|quarter|half|year] [PERIOD|now]: the last complete span by
default, a named one (``2026-W47``, ``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``),
or the current one so far (``now``); the same text, chart and workbook as the
scheduled digest. /export [PERIOD]: the workbook alone. Building is the composition
root's (bot.deliveries), reached through ``Services.summaries``.
"""

from __future__ import annotations

import logging

from telegram.constants import ChatAction
from telegram.error import TelegramError

from handlers.common import Turn, scope

log = logging.getLogger(__name__)


class NotBegun(ValueError):
    """The span asked for has not begun: it has no figures yet (bot.deliveries raises it)."""

KINDS = {"week": "week", "tuần": "week", "tuan": "week", "month": "month", "tháng": "month",
         "thang": "month", "quarter": "quarter", "quý": "quarter", "quy": "quarter",
         "half": "half", "sơkết": "half", "soket": "half", "6tháng": "half", "year": "year",
         "năm": "year", "nam": "year", "tổngkết": "year"}


async def summary(turn: Turn) -> None:
    """/summary [kind] [period|now]."""
    await _answer(turn, workbook_only=False)


async def export(turn: Turn) -> None:
    """/export [period]: the workbook of a week (default: last week) or a named span."""
    await _answer(turn, workbook_only=True)


async def _answer(turn: Turn, *, workbook_only: bool) -> None:
    svc = turn.svc
    if not turn.me.staff:
        turn.say(turn.tr("tipdesk.not_allowed"))
        return
    words = [w.lower() for w in turn.args]
    kind = "week"
    if words and words[0] in KINDS:
        kind = KINDS[words.pop(0)]
    which = " ".join(words) if words else None  # "Q4 2026" is one period
    roots = [u.id for u in await scope(svc, turn.me)]
    if not roots:
        turn.say(turn.tr("delivery.no_scope"))
        return
    try:  # it takes a moment: say so (a convenience; nothing depends on it)
        await turn.context.bot.send_chat_action(turn.chat_id, ChatAction.UPLOAD_DOCUMENT)
    except TelegramError as exc:
        log.debug("chat action not shown: %s", exc)
    try:
        parts = await svc.summaries(turn.me.user.id, roots, kind, which)
    except NotBegun:
        turn.say(turn.tr("summary.not_begun"))
        return
    except ValueError:
        turn.say(turn.tr("summary.bad_period"))
        return
    for part in parts:
        if workbook_only and part.kind != "document":
            continue
        if part.kind == "text":
            turn.say(part.text)
        elif part.kind == "photo":
            turn.photo(part.data, part.filename, part.text)
        else:
            turn.document(part.data, part.filename, part.text)
