"""Coordinators ask for a summary or a workbook on demand: /summary and /export.

/summary [week|month|quarter|half|year] [PERIOD|now]: the last complete span by
default, a named one (``2026-W47``, ``2026-11``, ``2026-Q4``, ``2026-H2``, ``2026``),
or the current one so far (``now``); the same text, chart and workbook as the
scheduled digest, and a button for the span's Word report (bot.digest_report), drafted
when it is pressed. /export [PERIOD]: the workbook alone. Building is the composition
root's (bot.deliveries), reached through ``Services.summaries``.
"""

from __future__ import annotations

import html
import logging

from telegram.constants import ChatAction
from telegram.error import TelegramError

from handlers.callbacks import data
from handlers.common import Keyboard, Turn, button, scope

log = logging.getLogger(__name__)


class NotBegun(ValueError):
    """The span asked for has not begun: it has no figures yet (bot.deliveries raises it)."""

KINDS = {"week": "week", "tuần": "week", "tuan": "week", "month": "month", "tháng": "month",
         "thang": "month", "quarter": "quarter", "quý": "quarter", "quy": "quarter",
         "half": "half", "sơkết": "half", "soket": "half", "6tháng": "half", "6thang": "half",
         "year": "year", "năm": "year", "nam": "year", "tổngkết": "year", "tongket": "year"}
# The span running now, and the last complete one, as people say them after the kind.
THIS = {"now", "nay", "này", "hiện tại", "hien tai", "this", "this week", "this month",
        "this quarter", "this year", "hiện nay"}
LAST = {"trước", "truoc", "vừa rồi", "vua roi", "last", "previous", "qua"}


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
    kind, named = "week", False
    if len(words) >= 2 and words[0] + words[1] in KINDS:  # "sơ kết", "tổng kết", "6 tháng"
        kind, named, words = KINDS[words[0] + words[1]], True, words[2:]
    elif words and words[0] in KINDS:
        kind, named = KINDS[words.pop(0)], True
    which = " ".join(words) if words else None  # "Q4 2026" is one period
    if which in THIS:  # "tuần này", "tháng này", "this week": so far
        which = "now"
    elif which in LAST:  # "tuần trước", "last month": the last complete one (the default)
        which = None
    roots = [u.id for u in await scope(svc, turn.me)]
    if not roots:
        turn.say(turn.tr("delivery.no_scope"))
        return
    try:  # it takes a moment: say so (a convenience; nothing depends on it)
        await turn.context.bot.send_chat_action(turn.chat_id, ChatAction.UPLOAD_DOCUMENT)
    except TelegramError as exc:
        log.debug("chat action not shown: %s", exc)
    try:
        made, key, parts = await svc.summaries(turn.me.user.id, roots, kind, which)
    except NotBegun:
        turn.say(turn.tr("summary.not_begun"))
        return
    except ValueError:
        turn.say(turn.tr("summary.bad_period"))
        return
    if named and made != kind:
        # "/summary tuần 11/2026": the form names a month; say that this is what comes.
        turn.say(turn.tr("summary.kind_from_form", typed=html.escape(which or ""),
                         kind=turn.tr(f"summary.kind.{made}"),
                         asked=turn.tr(f"summary.kind.{kind}")))
    for part in parts:
        if workbook_only and part.kind != "document":
            continue
        if part.kind == "text":
            turn.say(part.text)
        elif part.kind == "photo":
            turn.photo(part.data, part.filename, part.text)
        else:
            turn.document(part.data, part.filename, part.text)
    if not workbook_only:  # the report to send upward, drafted on request
        turn.say(turn.tr("summary.word.offer"), Keyboard([[
            button(turn.tr("summary.word.button"), data("docx", key))]]))


async def word_pressed(turn: Turn) -> None:
    """📄 Báo cáo (Word) under a summary: the span's report, drafted now for this scope."""
    svc = turn.svc
    if not turn.me.staff:
        turn.answer(turn.tr("tipdesk.not_allowed"), alert=True)
        return
    roots = [u.id for u in await scope(svc, turn.me)]
    if not roots:
        turn.answer()
        turn.say(turn.tr("delivery.no_scope"))
        return
    turn.answer(turn.tr("summary.word.making"))
    try:
        await turn.context.bot.send_chat_action(turn.chat_id, ChatAction.UPLOAD_DOCUMENT)
    except TelegramError as exc:
        log.debug("chat action not shown: %s", exc)
    try:
        content, filename, caption, notes = await svc.word_report(
            turn.me.user.id, roots, turn.press.action)
    except NotBegun:
        turn.say(turn.tr("summary.not_begun"))
        return
    turn.document(content, filename, caption)
    for note in notes:
        turn.say(note)
