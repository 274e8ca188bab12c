"""Coordinators and reports: who has reported, a hamlet's values and versions, reopening.

/completeness [period]: the hamlets in scope that reported on time, late, or not at
all, ``x/y (z%)`` per commune. /reports [period] [HAMLET]: a hamlet's standing values
and every earlier version; a locked period can be reopened for that hamlet here.
Views change in place when their buttons are pressed. The first indicator set is the
one shown (the default data has one; a choice of set is not built yet).
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta
from itertools import pairwise

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, ContextTypes

from handlers.common import Who, button, pager, reply_in_place, say, scope, who
from handlers.reports import indicator_name, period_label
from handlers.services import Services, services
from locales import formats, t
from storage.models import Role
from storage.reporting import Period, due_at, locks_at, parse_period, period_of
from storage.reports import StoredSet
from storage.units import UnitTree

log = logging.getLogger(__name__)

HAMLETS_PER_PAGE = 8


def _allowed(me: Who) -> bool:
    return me.role in (Role.COORDINATOR, Role.ADMIN)


async def _hamlets(svc: Services, me: Who, tree: UnitTree) -> list[int]:
    """Hamlets (units with nothing under them) in the user's scope, in tree order."""
    return [u.id for u in tree.leaves([root.id for root in await scope(svc, me)])]


def _period(svc: Services, stored: StoredSet, text: str) -> Period | None:
    today = svc.now().astimezone(svc.timezone).date()
    if not text.strip():
        return period_of(stored.spec.period, today)
    return parse_period(text, stored.spec.period, today)


# ---------------------------------------------------------------------- completeness


async def completeness(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/completeness [period] (or its ◀ ▶ buttons)."""
    me = await who(update, context)
    svc = services(context)
    if update.callback_query:
        await update.callback_query.answer()
    if not _allowed(me):
        await say(update, me.tr("tipdesk.not_allowed"))
        return
    stored = svc.reports.sets()[0]
    if update.callback_query:
        period = Period.from_key(update.callback_query.data.removeprefix("cmpl:"))
    else:
        period = _period(svc, stored, " ".join(context.args or []))
        if period is None:
            await say(update, me.tr("report.period_bad", kind=me.tr(
                f"period.kind.{stored.spec.period.value}")))
            return
    tree = await svc.units.tree()
    hamlets = await _hamlets(svc, me, tree)
    submitted = await svc.reports.submitted(stored.code, period.key, hamlets)
    now = svc.now()
    due = due_at(period, stored.spec.due_days, svc.timezone)
    lines = [me.tr("report.completeness.head", set=me.tr(f"indicatorset.{stored.code}"),
                   period=period_label(me.locale, period),
                   due=formats.day(due - timedelta(seconds=1), me.locale, svc.timezone))]
    groups: dict[int | None, list[int]] = {}
    for hamlet in hamlets:
        groups.setdefault(tree.by_id[hamlet].parent_id, []).append(hamlet)
    for parent, members in groups.items():
        done = sum(1 for h in members if h in submitted)
        name = tree.by_id[parent].name if parent in tree.by_id else "—"
        lines.append(f"\n<b>{html.escape(name)}</b>: "
                     + formats.fraction(done, len(members), me.locale))
        for hamlet in members:
            lines.append(_status_line(me, svc, tree.by_id[hamlet].name, submitted.get(hamlet),
                                      due, now))
    if len(groups) > 1:
        done = sum(1 for h in hamlets if h in submitted)
        lines.append("\n" + me.tr("report.completeness.total",
                                  n=formats.fraction(done, len(hamlets), me.locale)))
    if not hamlets:
        lines.append(me.tr("report.completeness.none"))
    rows = [[button("◀ " + period_label(me.locale, period.previous())[:28],
                    f"cmpl:{period.previous().key}"),
             button(period_label(me.locale, period.next())[:28] + " ▶",
                    f"cmpl:{period.next().key}")]]
    await reply_in_place(update, _fit(me, lines), InlineKeyboardMarkup(rows))


def _status_line(me: Who, svc: Services, name: str, first, due, now) -> str:
    if first is None:
        key = "report.completeness.missing_late" if now >= due else "report.completeness.missing"
        return me.tr(key, unit=html.escape(name))
    key = "report.completeness.late" if first >= due else "report.completeness.on_time"
    return me.tr(key, unit=html.escape(name), day=formats.day(first, me.locale, svc.timezone))


def _fit(me: Who, lines: list[str]) -> str:
    """Lines within one message; what does not fit is counted, not silently dropped."""
    budget = MessageLimit.MAX_TEXT_LENGTH - 200
    out, used = [], 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            out.append(me.tr("report.cut", n=formats.number(len(lines) - i, me.locale)))
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


# ---------------------------------------------------------------------- one hamlet


async def reports(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/reports [period] [HAMLET]: a hamlet's report, or the hamlets to choose from."""
    me = await who(update, context)
    svc = services(context)
    if not _allowed(me):
        await say(update, me.tr("tipdesk.not_allowed"))
        return
    stored = svc.reports.sets()[0]
    tree = await svc.units.tree()
    hamlets = await _hamlets(svc, me, tree)
    unit_id, rest = None, []
    for word in context.args or []:
        unit = tree.by_code.get(word.upper())
        if unit is not None and unit_id is None:
            unit_id = unit.id
        else:
            rest.append(word)
    period = _period(svc, stored, " ".join(rest))
    if period is None:
        await say(update, me.tr("report.period_bad", kind=me.tr(
            f"period.kind.{stored.spec.period.value}")))
        return
    if unit_id is not None and unit_id not in hamlets:
        await say(update, me.tr("report.unit_not_found"))
        return
    if unit_id is None:
        await _pick_hamlet(update, me, tree, hamlets, period, 0)
        return
    await _show(update, context, me, stored, unit_id, period)


async def _pick_hamlet(update: Update, me: Who, tree: UnitTree, hamlets: list[int],
                       period: Period, page: int) -> None:
    if not hamlets:
        await reply_in_place(update, me.tr("report.completeness.none"))
        return
    pages = (len(hamlets) + HAMLETS_PER_PAGE - 1) // HAMLETS_PER_PAGE
    page = max(0, min(page, pages - 1))
    chunk = hamlets[page * HAMLETS_PER_PAGE:(page + 1) * HAMLETS_PER_PAGE]
    rows = [[button(tree.path(h)[:60], f"repv:{h}:{period.key}")] for h in chunk]
    rows.append(pager(page, pages, lambda p: f"repl:{period.key}:{p}"))
    await reply_in_place(update, me.tr("report.pick_hamlet", period=period_label(
        me.locale, period)), InlineKeyboardMarkup([r for r in rows if r]))


async def hamlet_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Another page of hamlets."""
    await update.callback_query.answer()
    me = await who(update, context)
    if not _allowed(me):
        return
    svc = services(context)
    _, key, page = update.callback_query.data.split(":")
    tree = await svc.units.tree()
    await _pick_hamlet(update, me, tree, await _hamlets(svc, me, tree), Period.from_key(key),
                       int(page))


async def view_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A hamlet (or another period of it)."""
    await update.callback_query.answer()
    me = await who(update, context)
    svc = services(context)
    _, unit, key = update.callback_query.data.split(":")
    tree = await svc.units.tree()
    if not _allowed(me) or int(unit) not in await _hamlets(svc, me, tree):
        await reply_in_place(update, me.tr("report.unit_not_found"))
        return
    await _show(update, context, me, svc.reports.sets()[0], int(unit), Period.from_key(key))


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, stored: StoredSet,
                unit_id: int, period: Period, *, notice: str = "") -> None:
    svc = services(context)
    tree = await svc.units.tree()
    now = svc.now()
    lines = [f"<b>{html.escape(me.tr(f'indicatorset.{stored.code}'))} · "
             f"{period_label(me.locale, period)} · {html.escape(tree.path(unit_id))}</b>"]
    report = await svc.reports.get(stored.code, period.key, unit_id)
    versions = await svc.reports.versions(stored.code, period.key, unit_id) if report else []
    names: dict[int, str] = {}
    for v in versions:
        if v.submitted_by not in names:
            names[v.submitted_by] = (await svc.users.reach(v.submitted_by))[0].name or "—"
    if report is None:
        lines.append(me.tr("report.view.none"))
    else:
        lines.append(me.tr("report.view.standing", version=report.version,
                           moment=formats.moment(report.submitted_at, me.locale, svc.timezone),
                           name=html.escape(names.get(report.submitted_by, "—"))))
        for code in stored.codes:
            value = report.values.get(code)
            shown = formats.number(value, me.locale) if value is not None else "—"
            lines.append(f"• {html.escape(indicator_name(me.locale, code))}: <b>{shown}</b>")
        if len(versions) > 1:
            lines.append("\n" + me.tr("report.view.history"))
            for older, newer in pairwise(versions):
                changed = [f"{indicator_name(me.locale, c)} "
                           f"{formats.number(older.values.get(c, 0), me.locale)} → "
                           f"{formats.number(newer.values.get(c, 0), me.locale)}"
                           for c in stored.codes if older.values.get(c) != newer.values.get(c)]
                lines.append(me.tr(
                    "report.view.version", version=newer.version,
                    moment=formats.moment(newer.submitted_at, me.locale, svc.timezone),
                    name=html.escape(names.get(newer.submitted_by, "—")),
                    changes=html.escape("; ".join(changed) or me.tr("report.view.same"))))
    open_until = await svc.reports.open_until(stored.code, period, unit_id, now, svc.timezone)
    lock = locks_at(period, stored.spec.lock_days, svc.timezone)
    if open_until is None:
        lines.append("\n" + me.tr("report.view.locked",
                                  moment=formats.moment(lock, me.locale, svc.timezone)))
    elif open_until > lock:
        lines.append("\n" + me.tr("report.view.reopened",
                                  moment=formats.moment(open_until, me.locale, svc.timezone)))
    else:
        lines.append("\n" + me.tr("report.view.open", day=formats.day(
            open_until - timedelta(seconds=1), me.locale, svc.timezone)))
    rows = [[button("◀ " + period_label(me.locale, period.previous())[:28],
                    f"repv:{unit_id}:{period.previous().key}"),
             button(period_label(me.locale, period.next())[:28] + " ▶",
                    f"repv:{unit_id}:{period.next().key}")]]
    if open_until is None:
        rows.insert(0, [button(me.tr("report.btn.reopen"), f"repo:{unit_id}:{period.key}")])
    text = _fit(me, lines)
    if notice:
        text = notice + "\n\n" + text
    await reply_in_place(update, text, InlineKeyboardMarkup(rows))


async def reopen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Reopen a locked period for one hamlet; its reporters are told until when."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    svc = services(context)
    _, unit, key = query.data.split(":")
    unit_id, period = int(unit), Period.from_key(key)
    tree = await svc.units.tree()
    if not _allowed(me) or unit_id not in await _hamlets(svc, me, tree):
        await reply_in_place(update, me.tr("report.unit_not_found"))
        return
    stored = svc.reports.sets()[0]
    now = svc.now()
    if await svc.reports.open_until(stored.code, period, unit_id, now, svc.timezone) is None:
        until = now + timedelta(days=max(stored.spec.lock_days, 1))
        await svc.reports.reopen(stored.code, key, unit_id, me.user.id, now, until)
        await _tell_reporters(context, stored, unit_id, period, until)
    await _show(update, context, me, stored, unit_id, period,
                notice=me.tr("report.reopened", unit=html.escape(tree.by_id[unit_id].name)))


async def _tell_reporters(context: ContextTypes.DEFAULT_TYPE, stored: StoredSet, unit_id: int,
                          period: Period, until) -> None:
    svc = services(context)
    tree = await svc.units.tree()
    for user_id, _, _ in await svc.users.holders([unit_id], (Role.REPORTER,)):
        contact, locale = await svc.users.reach(user_id)
        locale = locale or svc.default_locale
        try:
            await context.bot.send_message(
                contact.chat_id,
                t(locale, "report.reopened_notice", set=t(locale, f"indicatorset.{stored.code}"),
                  period=period_label(locale, period),
                  unit=html.escape(tree.by_id[unit_id].name),
                  moment=formats.moment(until, locale, svc.timezone)),
                parse_mode="HTML")
        except TelegramError as exc:
            log.warning("could not tell reporter %s of a reopened period: %s", user_id, exc)


def handlers() -> list:
    """Commands and buttons of the coordinators' report views."""
    return [
        CommandHandler("completeness", completeness),
        CallbackQueryHandler(completeness, pattern=r"^cmpl:[\w-]+$"),
        CommandHandler("reports", reports),
        CallbackQueryHandler(hamlet_page, pattern=r"^repl:[\w-]+:\d+$"),
        CallbackQueryHandler(view_pressed, pattern=r"^repv:\d+:[\w-]+$"),
        CallbackQueryHandler(reopen, pattern=r"^repo:\d+:[\w-]+$"),
    ]
