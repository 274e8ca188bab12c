"""A reporter files the period report of their hamlet: one indicator per step, then a review.

/report → the hamlet (if they hold several) → the set (if there are several) → the
period (the current one, earlier ones still open) → one step per indicator, showing
last period's value, with "0" and "same as last time" → a review where any line can
be changed → submit. Typed numbers are read the Vietnamese way (storage.reporting).
The draft is written on every step (storage.drafts), so a restart loses nothing.
Button data carries the choices made before the draft exists (``repf:p:<unit>:<set>:<period>``).
"""

from __future__ import annotations

import functools
import html
import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers.common import (
    Who,
    button,
    drop_keyboard,
    end_other_flows,
    persistent_conversation,
    reply_in_place,
    say,
    who,
)
from handlers.services import Services, services
from locales import formats, t
from storage.models import Role
from storage.reporting import Period, check, is_outlier, parse_count
from storage.reports import Report, ReportDraft, StoredSet

log = logging.getLogger(__name__)

CHOOSE, VALUE, CONFIRM, REVIEW, RESUME = (
    "report.choose", "report.value", "report.confirm", "report.review", "report.resume")


# ---------------------------------------------------------------------- words for periods


def period_label(locale: str, period: Period, *, keys: str = "period") -> str:
    """'Tuần 47/2026 (16/11–22/11)', 'Tháng 11/2026', 'Quý 4/2026', 'Năm 2026'.

    ``keys``: the catalog prefix (digests word their spans with their own keys).
    """
    start, end = period.start, period.end
    if period.kind.value == "week":
        # ISO week and ISO year: the week of 29/12/2025 is week 1 of 2026.
        return t(locale, f"{keys}.week", week=start.isocalendar().week,
                 year=start.isocalendar().year, start=start.strftime("%d/%m"),
                 end=end.strftime("%d/%m"))
    if period.kind.value == "month":
        return t(locale, f"{keys}.month", month=start.month, year=start.year)
    if period.kind.value == "quarter":
        return t(locale, f"{keys}.quarter", quarter=(start.month - 1) // 3 + 1,
                 year=start.year)
    return t(locale, f"{keys}.year", year=start.year)


def indicator_name(locale: str, code: str) -> str:
    """An indicator's name in one language."""
    return t(locale, f"indicator.{code}")


# ---------------------------------------------------------------------- entering


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """/report [HAMLET]: resume a draft, or choose what to report."""
    if update.callback_query:
        await update.callback_query.answer()
    end_other_flows(update, context, keep="report")
    me = await who(update, context)
    svc = services(context)
    mine = me.user.units_for(Role.REPORTER)
    if not mine:
        await say(update, me.tr("report.not_reporter"))
        return ConversationHandler.END
    tree = await svc.units.tree()
    if context.args:
        unit = tree.by_code.get(context.args[0].strip().upper())
        if unit is None or unit.id not in mine:
            await say(update, me.tr("report.not_yours", units=_names(tree, mine)))
            return ConversationHandler.END
        mine = [unit.id]
    draft = await svc.report_drafts.get(update.effective_user.id)
    if draft is not None and not context.args:
        stored = svc.reports.set(draft.set_code)
        if stored is not None and draft.unit_id in me.user.units_for(Role.REPORTER):
            rows = [[button(me.tr("report.btn.resume"), "repf:resume"),
                     button(me.tr("report.btn.fresh"), "repf:fresh")]]
            await say(update, me.tr("report.resume", what=_what(me, tree, stored, draft)),
                      reply_markup=InlineKeyboardMarkup(rows))
            return RESUME
    return await _choose_unit(update, context, me, mine)


async def resume_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Carry on with the saved report, or start again."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    svc = services(context)
    draft = await svc.report_drafts.get(update.effective_user.id)
    if query.data == "repf:fresh" or draft is None:
        await svc.report_drafts.drop(update.effective_user.id)
        return await _choose_unit(update, context, me, me.user.units_for(Role.REPORTER))
    return await _show(update, context, me, draft)


async def _choose_unit(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                       units: list[int]) -> str:
    if len(units) == 1:
        return await _choose_set(update, context, me, units[0])
    tree = await services(context).units.tree()
    rows = [[button(tree.path(u)[:60], f"repf:u:{u}")] for u in sorted(units) if u in tree.by_id]
    rows.append([button(me.tr("flow.cancel"), "repf:cancel")])
    await reply_in_place(update, me.tr("report.choose_unit"), InlineKeyboardMarkup(rows))
    return CHOOSE


async def unit_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A hamlet button."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    unit_id = int(query.data.removeprefix("repf:u:"))
    if unit_id not in me.user.units_for(Role.REPORTER):
        await reply_in_place(update, me.tr("report.not_yours_any"))
        return ConversationHandler.END
    return await _choose_set(update, context, me, unit_id)


async def _choose_set(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                      unit_id: int) -> str:
    sets = services(context).reports.sets()
    if len(sets) == 1:
        return await _choose_period(update, context, me, unit_id, sets[0])
    rows = [[button(me.tr(f"indicatorset.{s.code}"), f"repf:s:{unit_id}:{s.code}")]
            for s in sets]
    rows.append([button(me.tr("flow.cancel"), "repf:cancel")])
    await reply_in_place(update, me.tr("report.choose_set"), InlineKeyboardMarkup(rows))
    return CHOOSE


async def set_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """An indicator-set button."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    _, _, unit, code = query.data.split(":", 3)
    stored = services(context).reports.set(code)
    if stored is None or int(unit) not in me.user.units_for(Role.REPORTER):
        await reply_in_place(update, me.tr("report.gone"))
        return ConversationHandler.END
    return await _choose_period(update, context, me, int(unit), stored)


async def _choose_period(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                         unit_id: int, stored: StoredSet) -> str:
    svc = services(context)
    periods = await svc.reports.open_periods(stored.code, unit_id, svc.now(), svc.timezone)
    rows = []
    for period in periods:
        report = await svc.reports.get(stored.code, period.key, unit_id)
        label = period_label(me.locale, period)
        if report is not None:
            label = me.tr("report.btn.period_done", period=label, version=report.version)
        rows.append([button(label[:60], f"repf:p:{unit_id}:{stored.code}:{period.key}")])
    rows.append([button(me.tr("flow.cancel"), "repf:cancel")])
    tree = await svc.units.tree()
    await reply_in_place(update, me.tr("report.choose_period", unit=html.escape(
        tree.path(unit_id)), set=me.tr(f"indicatorset.{stored.code}")),
        InlineKeyboardMarkup(rows))
    return CHOOSE


async def period_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A period button: the draft starts here (a correction starts from what was filed)."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    svc = services(context)
    _, _, unit, code, key = query.data.split(":", 4)
    unit_id, stored = int(unit), svc.reports.set(code)
    if stored is None or unit_id not in me.user.units_for(Role.REPORTER):
        await reply_in_place(update, me.tr("report.gone"))
        return ConversationHandler.END
    period = Period.from_key(key)
    if await svc.reports.open_until(code, period, unit_id, svc.now(), svc.timezone) is None:
        await reply_in_place(update, me.tr("report.locked", period=period_label(me.locale, period)))
        return ConversationHandler.END
    start = await svc.reports.starting(code, period, unit_id, svc.now())
    current = start.current
    draft = ReportDraft(set_code=code, unit_id=unit_id, period_key=key,
                        values=dict(current.values) if current else {},
                        base_version=current.version if current else None,
                        kept=dict(current.values) if current else {}, history=start.history)
    if current is not None:  # a correction: straight to the review, any line can change
        draft.step = len(stored.codes)
    await _save(update, context, draft)
    return await _show(update, context, me, draft)


# ---------------------------------------------------------------------- showing a step


async def _save(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: ReportDraft) -> None:
    svc = services(context)
    await svc.report_drafts.save(update.effective_user.id, draft, svc.now())


def _stored(svc: Services, draft: ReportDraft) -> StoredSet | None:
    return svc.reports.set(draft.set_code)


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: ReportDraft,
                *, notice: str = "", in_place: bool = True) -> str:
    """The draft's current step (an indicator, the "are you sure?", or the review)."""
    svc = services(context)
    stored = _stored(svc, draft)
    if stored is None:
        return await _gone(update, context, me)
    tree = await svc.units.tree()
    head = _what(me, tree, stored, draft)
    codes = stored.codes
    total = len(codes) + 1
    if draft.step >= len(codes):
        text, markup = _review(me, stored, draft)
        text = f"{head}\n{me.tr('flow.step', step=total, total=total)}\n\n{text}"
        state = REVIEW
    else:
        code = codes[draft.step]
        last = draft.history[0].get(code) if draft.history else None
        lines = [head, me.tr("flow.step", step=draft.step + 1, total=total) + " — "
                 + f"<b>{html.escape(indicator_name(me.locale, code))}</b>"]
        lines.append(me.tr("report.last", value=formats.number(last, me.locale))
                     if last is not None else me.tr("report.last_none"))
        if code in draft.kept:
            lines.append(me.tr("report.kept", value=formats.number(draft.kept[code], me.locale)))
        if code in draft.values and code not in draft.kept:
            lines.append(me.tr("report.entered",
                               value=formats.number(draft.values[code], me.locale)))
        if draft.pending is not None:
            lines.append("\n" + me.tr(
                "report.sure", value=formats.number(draft.pending, me.locale),
                mean=formats.number(round(_mean(draft, code)), me.locale)))
            rows = [[button(me.tr("report.btn.sure",
                                  value=formats.number(draft.pending, me.locale)), "repf:sure"),
                     button(me.tr("report.btn.again"), "repf:again")]]
            state = CONFIRM
        else:
            lines.append("\n" + me.tr("report.ask"))
            first = [button("0", "repf:zero")]
            if last is not None:
                first.append(button(me.tr("report.btn.same",
                                          value=formats.number(last, me.locale)), "repf:same"))
            if code in draft.kept:
                first.append(button(me.tr("report.btn.keep", value=formats.number(
                    draft.kept[code], me.locale)), "repf:keep"))
            rows = [first]
            state = VALUE
        rows.append([button(me.tr("flow.back"), "repf:back"),
                     button(me.tr("flow.cancel"), "repf:cancel")])
        text, markup = "\n".join(lines), InlineKeyboardMarkup(rows)
    if notice:
        text = notice + "\n\n" + text
    await reply_in_place(update, text, markup, in_place=in_place)
    return state


def _what(me: Who, tree, stored: StoredSet, draft: ReportDraft) -> str:
    """'<b>Báo cáo ANTT · Tuần 47/2026 · Ấp An Phú</b>'."""
    period = Period.from_key(draft.period_key)
    unit = tree.by_id[draft.unit_id].name if draft.unit_id in tree.by_id else "—"
    return "<b>" + html.escape(" · ".join((me.tr(f"indicatorset.{stored.code}"),
                                           period_label(me.locale, period), unit))) + "</b>"


def _names(tree, unit_ids: list[int]) -> str:
    return html.escape(", ".join(tree.path(u) for u in unit_ids if u in tree.by_id))


def _mean(draft: ReportDraft, code: str) -> float:
    past = [h[code] for h in draft.history if code in h]
    return sum(past) / len(past) if past else 0.0


def _review(me: Who, stored: StoredSet, draft: ReportDraft) -> tuple[str, InlineKeyboardMarkup]:
    """Every line, what the rules say, and the buttons (no submit while a rule is broken)."""
    history = {c: [h[c] for h in draft.history if c in h] for c in stored.codes}
    findings = check(stored.spec, draft.values, history)
    lines = [me.tr("report.review.head")]
    last = draft.history[0] if draft.history else {}
    for code in stored.codes:
        value = draft.values.get(code)
        shown = formats.number(value, me.locale) if value is not None else "—"
        line = f"• {html.escape(indicator_name(me.locale, code))}: <b>{shown}</b>"
        if code in last:
            line += " " + me.tr("report.review.was", value=formats.number(last[code], me.locale))
        lines.append(line)
    blocking = False
    notes = []
    for f in findings:
        values = {"name": indicator_name(me.locale, f.indicator),
                  "value": formats.number(draft.values[f.indicator], me.locale)}
        if f.other is not None:
            values.update(other=indicator_name(me.locale, f.other),
                          other_value=formats.number(draft.values[f.other], me.locale))
        notes.append(me.tr(f"report.rule.{f.rule}", **values))
        blocking = blocking or f.blocking
    missing = [c for c in stored.codes if c not in draft.values]
    if notes:
        lines.append("")
        lines.extend(notes)
    rows = []
    if not blocking and not missing:
        rows.append([button(me.tr("report.btn.send"), "repf:send")])
    rows.append([button(me.tr("report.btn.edit"), "repf:edit")])
    rows.append([button(me.tr("flow.cancel"), "repf:cancel")])
    if draft.base_version is not None:
        lines.insert(0, me.tr("report.review.correcting", version=draft.base_version))
    if blocking:
        lines.append("\n" + me.tr("report.review.blocked"))
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _gone(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who) -> int:
    await services(context).report_drafts.drop(update.effective_user.id)
    await reply_in_place(update, me.tr("report.gone"))
    return ConversationHandler.END


async def _current(update: Update, context: ContextTypes.DEFAULT_TYPE
                   ) -> tuple[Who, ReportDraft | None]:
    me = await who(update, context)
    return me, await services(context).report_drafts.get(update.effective_user.id)


def _with_draft(handler):
    """Answer the button, load the draft and its set; end politely if either is gone."""
    @functools.wraps(handler)
    async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
        if update.callback_query:
            await update.callback_query.answer()
        me, draft = await _current(update, context)
        if draft is None:
            return await _draft_gone(update, me)
        stored = _stored(services(context), draft)
        if stored is None:
            return await _gone(update, context, me)
        return await handler(update, context, me, draft, stored)

    return run


# ---------------------------------------------------------------------- values


@_with_draft
async def value_typed(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                      draft: ReportDraft, stored: StoredSet) -> str | int:
    """A number typed for the current indicator."""
    value, problem = parse_count(update.message.text or "", me.locale)
    if problem is not None:
        await say(update, me.tr(f"report.count.{problem.value}") + "\n" + me.tr("report.ask"))
        return VALUE
    return await _accept(update, context, me, draft, stored, value)


async def value_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A sticker, photo...: a number is wanted."""
    me = await who(update, context)
    await say(update, me.tr("report.count.not_a_number") + "\n" + me.tr("report.ask"))
    return VALUE


@_with_draft
async def value_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                        draft: ReportDraft, stored: StoredSet) -> str | int:
    """'0', 'same as last time' or 'keep what was filed'."""
    query = update.callback_query
    if draft.step >= len(stored.codes):  # a value button after the review was reached
        return await _show(update, context, me, draft)
    code = stored.codes[draft.step]
    if query.data == "repf:zero":
        value = 0
    elif query.data == "repf:same" and draft.history and code in draft.history[0]:
        value = draft.history[0][code]
    elif query.data == "repf:keep" and code in draft.kept:
        value = draft.kept[code]
    else:
        return await _show(update, context, me, draft)
    return await _accept(update, context, me, draft, stored, value, confirmed=True)


async def _accept(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: ReportDraft,
                  stored: StoredSet, value: int, *, confirmed: bool = False) -> str | int:
    if draft.step >= len(stored.codes):  # a number typed at the review: show the review
        return await _show(update, context, me, draft)
    code = stored.codes[draft.step]
    ind = stored.spec.indicator(code)
    assert ind is not None
    ceiling = draft.values.get(ind.at_most) if ind.at_most is not None else None
    if ceiling is not None and value > ceiling:
        await say(update, me.tr("report.rule.at_most", name=indicator_name(me.locale, code),
                                value=formats.number(value, me.locale),
                                other=indicator_name(me.locale, ind.at_most),
                                other_value=formats.number(ceiling, me.locale))
                  + "\n" + me.tr("report.ask"))
        return VALUE
    past = [h[code] for h in draft.history if code in h]
    if not confirmed and is_outlier(value, past):
        draft.pending = value
        await _save(update, context, draft)
        return await _show(update, context, me, draft)
    draft.values[code] = value
    draft.pending = None
    notice = ""
    if ind.warn_below is not None and ind.warn_below in draft.values \
            and value < draft.values[ind.warn_below]:
        notice = me.tr("report.rule.warn_below", name=indicator_name(me.locale, code),
                       value=formats.number(value, me.locale),
                       other=indicator_name(me.locale, ind.warn_below),
                       other_value=formats.number(draft.values[ind.warn_below], me.locale))
    if draft.editing:
        draft.editing, draft.step = False, len(stored.codes)
    else:
        draft.step += 1
    await _save(update, context, draft)
    return await _show(update, context, me, draft, notice=notice)


@_with_draft
async def sure_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                       draft: ReportDraft, stored: StoredSet) -> str | int:
    """'Yes, that many' or 'type it again' after a value far from the history."""
    query = update.callback_query
    pending, draft.pending = draft.pending, None
    if query.data == "repf:sure" and pending is not None:
        return await _accept(update, context, me, draft, stored, pending, confirmed=True)
    await _save(update, context, draft)
    return await _show(update, context, me, draft)


@_with_draft
async def confirm_typed(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                        draft: ReportDraft, stored: StoredSet) -> str | int:
    """A new number typed instead of answering "are you sure?": taken as the answer."""
    draft.pending = None
    await _save(update, context, draft)
    return await value_typed.__wrapped__(update, context, me, draft, stored)


@_with_draft
async def back(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
               draft: ReportDraft, stored: StoredSet) -> str | int:
    """One indicator back (from a line being edited: back to the review)."""
    draft.pending = None
    if draft.editing:
        draft.editing, draft.step = False, len(stored.codes)
    elif draft.step == 0:  # before the first indicator: the choice of period
        await services(context).report_drafts.drop(update.effective_user.id)
        return await _choose_period(update, context, me, draft.unit_id, stored)
    else:
        draft.step -= 1
    await _save(update, context, draft)
    return await _show(update, context, me, draft)


# ---------------------------------------------------------------------- review


@_with_draft
async def edit_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                       draft: ReportDraft, stored: StoredSet) -> str | int:
    """'Change a line': one button per indicator."""
    rows = []
    for i, code in enumerate(stored.codes):
        value = draft.values.get(code)
        shown = formats.number(value, me.locale) if value is not None else "—"
        rows.append([button(f"{indicator_name(me.locale, code)}: {shown}"[:60],
                            f"repf:line:{i}")])
    rows.append([button(me.tr("flow.back"), "repf:review")])
    await reply_in_place(update, me.tr("report.which_line"), InlineKeyboardMarkup(rows))
    return REVIEW


@_with_draft
async def line_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                      draft: ReportDraft, stored: StoredSet) -> str | int:
    """One line to change; the review comes back afterwards."""
    query = update.callback_query
    if query.data != "repf:review":
        index = int(query.data.removeprefix("repf:line:"))
        if 0 <= index < len(stored.codes):
            draft.step, draft.editing = index, True
            await _save(update, context, draft)
    return await _show(update, context, me, draft)


@_with_draft
async def send(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
               draft: ReportDraft, stored: StoredSet) -> str | int:
    """Submit: a new version; the reporter it replaces is told."""
    query = update.callback_query
    svc = services(context)
    findings = check(stored.spec, draft.values)
    if any(f.blocking for f in findings) or set(stored.codes) - set(draft.values):
        return await _show(update, context, me, draft)
    if draft.unit_id not in me.user.units_for(Role.REPORTER):
        await services(context).report_drafts.drop(update.effective_user.id)
        await reply_in_place(update, me.tr("report.not_yours_any"))
        return ConversationHandler.END
    period = Period.from_key(draft.period_key)
    now = svc.now()
    if await svc.reports.open_until(stored.code, period, draft.unit_id, now, svc.timezone) is None:
        await drop_keyboard(query.message)
        await say(update, me.tr("report.locked", period=period_label(me.locale, period)))
        return REVIEW  # the draft stays: if a coordinator reopens the period, it can be sent
    after, before = await svc.reports.submit(stored.code, period, draft.unit_id, draft.values,
                                             me.user.id, now)
    await svc.report_drafts.drop(update.effective_user.id)
    tree = await svc.units.tree()
    text = me.tr("report.sent", what=_what(me, tree, stored, draft), version=after.version)
    if before is not None and before.submitted_by != me.user.id:
        name = (await svc.users.reach(before.submitted_by))[0].name or "—"
        text += "\n" + me.tr("report.replaced_theirs", name=html.escape(name),
                             version=before.version,
                             moment=formats.moment(before.submitted_at, me.locale, svc.timezone))
        await _tell_replaced(context, before, after, me, draft, stored)
    await reply_in_place(update, text)
    return ConversationHandler.END


async def _tell_replaced(context: ContextTypes.DEFAULT_TYPE, before: Report, after: Report,
                         me: Who, draft: ReportDraft, stored: StoredSet) -> None:
    """The reporter whose version no longer stands hears it, with who and which version."""
    svc = services(context)
    contact, locale = await svc.users.reach(before.submitted_by)
    locale = locale or svc.default_locale
    name = (await svc.users.reach(me.user.id))[0].name or "—"
    tree = await svc.units.tree()
    period = Period.from_key(draft.period_key)
    unit = tree.by_id[draft.unit_id].name if draft.unit_id in tree.by_id else "—"
    try:
        await context.bot.send_message(
            contact.chat_id, t(locale, "report.replaced_yours", name=html.escape(name),
                               set=t(locale, f"indicatorset.{stored.code}"),
                               period=period_label(locale, period), unit=html.escape(unit),
                               version=after.version, old=before.version),
            parse_mode="HTML")
    except TelegramError as exc:  # logged; the submission itself stands
        log.warning("could not tell reporter %s their report was replaced: %s",
                    before.submitted_by, exc)


# ---------------------------------------------------------------------- leaving


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Throw the draft away; nothing is filed."""
    if update.callback_query:
        await update.callback_query.answer()
    me = await who(update, context)
    await services(context).report_drafts.drop(update.effective_user.id)
    await reply_in_place(update, me.tr("report.cancelled"))
    return ConversationHandler.END


async def _draft_gone(update: Update, me: Who) -> int:
    await reply_in_place(update, me.tr("report.draft_gone"))
    return ConversationHandler.END


async def use_buttons(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A message where a button is wanted: say so and show the step again."""
    me, draft = await _current(update, context)
    if draft is None:
        await say(update, me.tr("report.use_buttons"))
        return CHOOSE
    await say(update, me.tr("report.use_buttons"))
    return await _show(update, context, me, draft, in_place=False)


async def wrong_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A report button from an old message."""
    me, draft = await _current(update, context)
    await update.callback_query.answer(me.tr("report.wrong_button"), show_alert=True)
    if draft is None:
        return CHOOSE
    return await _show(update, context, me, draft, in_place=False)


def conversation() -> ConversationHandler:
    """The report flow; persistent, so a restart resumes it (the draft is in its own table)."""
    cancel_button = CallbackQueryHandler(cancel, pattern=r"^repf:cancel$")
    return persistent_conversation(
        "report",
        entry_points=[CommandHandler("report", begin),
                      CallbackQueryHandler(begin, pattern=r"^menu:report$")],
        states={
            RESUME: [CallbackQueryHandler(resume_chosen, pattern=r"^repf:(resume|fresh)$")],
            CHOOSE: [
                CallbackQueryHandler(unit_chosen, pattern=r"^repf:u:\d+$"),
                CallbackQueryHandler(set_chosen, pattern=r"^repf:s:\d+:\w+$"),
                CallbackQueryHandler(period_chosen, pattern=r"^repf:p:\d+:\w+:[\w-]+$"),
                cancel_button,
            ],
            VALUE: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, value_typed),
                CallbackQueryHandler(value_pressed, pattern=r"^repf:(zero|same|keep)$"),
                CallbackQueryHandler(back, pattern=r"^repf:back$"),
                cancel_button,
                MessageHandler(~filters.COMMAND, value_other),
            ],
            CONFIRM: [
                CallbackQueryHandler(sure_pressed, pattern=r"^repf:(sure|again)$"),
                MessageHandler(filters.TEXT & ~filters.COMMAND, confirm_typed),
                CallbackQueryHandler(back, pattern=r"^repf:back$"),
                cancel_button,
            ],
            REVIEW: [
                CallbackQueryHandler(send, pattern=r"^repf:send$"),
                CallbackQueryHandler(edit_pressed, pattern=r"^repf:edit$"),
                CallbackQueryHandler(line_chosen, pattern=r"^repf:(line:\d+|review)$"),
                cancel_button,
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(wrong_button, pattern=r"^repf:"),
            MessageHandler(~filters.COMMAND, use_buttons),
        ],
    )
