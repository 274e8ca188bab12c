"""A reporter files the period report of their hamlet: one indicator per step, then a review.

/report → the hamlet (if they hold several) → the set (if there are several) → the
period (the current one, earlier ones still open) → one step per indicator, showing
last period's value, with "0" and "same as last time" → a review where any line can
be changed → submit. Typed numbers are read the Vietnamese way (storage.reporting).
The draft is written before every answer (handlers.flows), so a restart loses nothing,
and the reporter's hold on the hamlet is checked at every step: a reporter replaced by a
handover is stopped with one line.
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, button, cut
from handlers.services import Services
from locales import formats, t
from storage.models import Role
from storage.outbox import NewItem, now_item
from storage.reporting import Period, check, is_outlier, parse_count
from storage.reports import Report, ReportDraft, StoredSet

log = logging.getLogger(__name__)

PREFIX = "repf"


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


def _b(text: str, *fields: object):
    return button(text, data(PREFIX, *fields))


# ---------------------------------------------------------------------- entering


async def begin(turn: Turn) -> None:
    """/report [HAMLET]: resume a draft, or choose what to report."""
    me = turn.me
    svc = turn.svc
    mine = me.user.units_for(Role.REPORTER)
    if not mine:
        turn.say(turn.tr("report.not_reporter"))
        return
    tree = await svc.units.tree()
    if turn.args:
        unit = tree.by_code.get(turn.args[0].strip().upper())
        if unit is None or unit.id not in mine:
            turn.say(turn.tr("report.not_yours", units=_names(tree, mine)))
            return
        mine = [unit.id]
    found = await flows.load(turn, FLOW)
    if found is not None and found.period_key is not None \
            and found.unit_id in me.user.units_for(Role.REPORTER) \
            and _stored(svc, found) is not None:
        # A report half-filled is never dropped unasked, even for /report ANOTHER-HAMLET.
        await flows.enter(turn, FLOW, found, show=False)
        fresh_for = mine[0] if len(mine) == 1 else ""
        rows = [[_b(turn.tr("report.btn.resume"), "resume"),
                 _b(turn.tr("report.btn.fresh"), "fresh", fresh_for)]]
        turn.say(turn.tr("report.resume", what=_what(turn, tree, _stored(svc, found), found)),
                 InlineKeyboardMarkup(rows))
        return
    draft = ReportDraft(unit_id=mine[0] if len(mine) == 1 else None)
    await flows.enter(turn, FLOW, draft, show=False)
    await _choose(turn, draft, in_place=False)


async def resume(turn: Turn, draft: ReportDraft) -> None:
    """Carry on with the saved report."""
    await show(turn, draft)


async def fresh(turn: Turn, draft: ReportDraft) -> None:
    """Start again (for the hamlet the command named, if it named one): choose what to
    report."""
    mine = turn.me.user.units_for(Role.REPORTER)
    asked = turn.press.int(1)
    unit = asked if asked in mine else (mine[0] if len(mine) == 1 else None)
    draft.__dict__.update(ReportDraft(unit_id=unit).__dict__)
    await _choose(turn, draft)


async def may_report(turn: Turn, draft: ReportDraft) -> str | None:
    """Still a reporter of the hamlet (checked at every step)?"""
    mine = turn.me.user.units_for(Role.REPORTER)
    if not mine or (draft.unit_id is not None and draft.unit_id not in mine):
        return "report.role_ended"
    return None


async def _choose(turn: Turn, draft: ReportDraft, *, in_place: bool = True) -> None:
    """The next choice before the draft has its period: hamlet, set, period."""
    svc = turn.svc
    tree = await svc.units.tree()
    cancel = [_b(turn.tr("flow.cancel"), "cancel")]
    if draft.unit_id is None:
        units = sorted(u for u in turn.me.user.units_for(Role.REPORTER) if u in tree.by_id)
        rows = [[_b(cut(tree.path(u), 60), "u", u)] for u in units[:40]]
        turn.show(turn.tr("report.choose_unit"), InlineKeyboardMarkup([*rows, cancel]),
                  in_place=in_place)
        return
    sets = svc.reports.sets()
    if draft.set_code is None and len(sets) == 1:
        draft.set_code = sets[0].code
    if draft.set_code is None:
        rows = [[_b(turn.tr(f"indicatorset.{s.code}"), "s", s.code)] for s in sets]
        turn.show(turn.tr("report.choose_set"), InlineKeyboardMarkup([*rows, cancel]),
                  in_place=in_place)
        return
    stored = _stored(svc, draft)
    assert stored is not None
    periods = await svc.reports.open_periods(stored.code, draft.unit_id, svc.now(), svc.timezone)
    rows = []
    for period in periods:
        report = await svc.reports.get(stored.code, period.key, draft.unit_id)
        label_ = period_label(turn.me.locale, period)
        if report is not None:
            label_ = turn.tr("report.btn.period_done", period=label_, version=report.version)
        rows.append([_b(label_[:60], "p", period.key)])
    turn.show(turn.tr("report.choose_period", unit=html.escape(tree.path(draft.unit_id)),
                      set=turn.tr(f"indicatorset.{stored.code}")),
              InlineKeyboardMarkup([*rows, cancel]), in_place=in_place)


async def unit_chosen(turn: Turn, draft: ReportDraft) -> None:
    """A hamlet button."""
    unit_id = turn.press.int(1)
    if unit_id not in turn.me.user.units_for(Role.REPORTER):
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    draft.unit_id = unit_id
    await _choose(turn, draft)


async def set_chosen(turn: Turn, draft: ReportDraft) -> None:
    """An indicator-set button."""
    code = turn.press.field(1) or ""
    if turn.svc.reports.set(code) is None or draft.unit_id is None:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    draft.set_code = code
    await _choose(turn, draft)


async def period_chosen(turn: Turn, draft: ReportDraft) -> None:
    """A period button: the draft starts here (a correction starts from what was filed)."""
    svc = turn.svc
    stored = _stored(svc, draft)
    key = turn.press.field(1) or ""
    if stored is None or draft.unit_id is None:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    offered = {p.key: p for p in await svc.reports.open_periods(
        stored.code, draft.unit_id, svc.now(), svc.timezone)}
    period = offered.get(key)
    if period is None:  # locked since, or never offered (an old or forged button)
        try:
            name = period_label(turn.me.locale, Period.from_key(key))
        except ValueError:
            name = "—"
        turn.show(turn.tr("report.locked", period=name))
        flows.end(turn)
        return
    start = await svc.reports.starting(stored.code, period, draft.unit_id, svc.now())
    current = start.current
    draft.period_key = key
    draft.values = dict(current.values) if current else {}
    draft.base_version = current.version if current else None
    draft.kept = dict(current.values) if current else {}
    draft.history = start.history
    draft.step = len(stored.codes) if current is not None else 0  # a correction: the review
    await show(turn, draft)


# ---------------------------------------------------------------------- showing a step


def _stored(svc: Services, draft: ReportDraft) -> StoredSet | None:
    return svc.reports.set(draft.set_code) if draft.set_code else None


def label(turn: Turn, draft: ReportDraft) -> str:
    """'báo cáo Tuần 47/2026 đang soạn'."""
    if draft.period_key is None:
        return turn.tr("report.label_choosing")
    return turn.tr("report.label", period=period_label(turn.me.locale,
                                                       Period.from_key(draft.period_key)))


async def show(turn: Turn, draft: ReportDraft, *, notice: str = "",
               in_place: bool = True) -> None:
    """The draft's current step (a choice, an indicator, "are you sure?", or the review)."""
    if draft.period_key is None:
        await _choose(turn, draft, in_place=in_place)
        return
    svc = turn.svc
    stored = _stored(svc, draft)
    if stored is None:
        turn.show(turn.tr("report.gone"))
        flows.end(turn)
        return
    me = turn.me
    tree = await svc.units.tree()
    head = _what(turn, tree, stored, draft)
    codes = stored.codes
    total = len(codes) + 1
    if draft.step >= len(codes) and draft.lines:
        text, markup = _which_line(turn, stored, draft)
    elif draft.step >= len(codes):
        text, markup = _review(turn, stored, draft)
        text = f"{head}\n{me.tr('flow.step', step=total, total=total)}\n\n{text}"
    else:
        code = codes[draft.step]
        last = draft.history[0].get(code) if draft.history else None
        lines = [head, me.tr("flow.step", step=draft.step + 1, total=total) + " — "
                 + f"<b>{html.escape(indicator_name(me.locale, code))}</b>"]
        lines.append(me.tr("report.last", value=turn.number(last))
                     if last is not None else me.tr("report.last_none"))
        if code in draft.kept:
            lines.append(me.tr("report.kept", value=turn.number(draft.kept[code])))
        if code in draft.values and code not in draft.kept:
            lines.append(me.tr("report.entered", value=turn.number(draft.values[code])))
        if draft.pending is not None:
            lines.append("\n" + me.tr("report.sure", value=turn.number(draft.pending),
                                      mean=turn.number(round(_mean(draft, code)))))
            rows = [[_b(me.tr("report.btn.sure", value=turn.number(draft.pending)), "sure"),
                     _b(me.tr("report.btn.again"), "again")]]
        else:
            lines.append("\n" + me.tr("report.ask"))
            first = [_b("0", "zero")]
            if last is not None:
                first.append(_b(me.tr("report.btn.same", value=turn.number(last)), "same"))
            if code in draft.kept:
                first.append(_b(me.tr("report.btn.keep", value=turn.number(draft.kept[code])),
                                "keep"))
            rows = [first]
        rows.append([_b(me.tr("flow.back"), "back"), _b(me.tr("flow.cancel"), "cancel")])
        text, markup = "\n".join(lines), InlineKeyboardMarkup(rows)
    if notice:
        text = notice + "\n\n" + text
    turn.show(text, markup, in_place=in_place)


def _what(turn: Turn, tree, stored: StoredSet, draft: ReportDraft) -> str:
    """'<b>Báo cáo ANTT · Tuần 47/2026 · Ấp An Phú</b>'."""
    period = Period.from_key(draft.period_key)
    unit = tree.by_id[draft.unit_id].name if draft.unit_id in tree.by_id else "—"
    return "<b>" + html.escape(" · ".join((turn.tr(f"indicatorset.{stored.code}"),
                                           period_label(turn.me.locale, period),
                                           cut(unit, 80)))) + "</b>"


def _names(tree, unit_ids: list[int]) -> str:
    return html.escape(cut(", ".join(tree.path(u) for u in unit_ids if u in tree.by_id), 1500))


def _mean(draft: ReportDraft, code: str) -> float:
    past = [h[code] for h in draft.history if code in h]
    return sum(past) / len(past) if past else 0.0


def _review(turn: Turn, stored: StoredSet, draft: ReportDraft
            ) -> tuple[str, InlineKeyboardMarkup]:
    """Every line, what the rules say, and the buttons (no submit while a rule is broken)."""
    me = turn.me
    history = {c: [h[c] for h in draft.history if c in h] for c in stored.codes}
    findings = check(stored.spec, draft.values, history)
    lines = [me.tr("report.review.head")]
    last = draft.history[0] if draft.history else {}
    for code in stored.codes:
        value = draft.values.get(code)
        shown = turn.number(value) if value is not None else "—"
        line = f"• {html.escape(indicator_name(me.locale, code))}: <b>{shown}</b>"
        if code in last:
            line += " " + me.tr("report.review.was", value=turn.number(last[code]))
        lines.append(line)
    blocking = False
    notes = []
    for f in findings:
        values = {"name": indicator_name(me.locale, f.indicator),
                  "value": turn.number(draft.values[f.indicator])}
        if f.other is not None:
            values.update(other=indicator_name(me.locale, f.other),
                          other_value=turn.number(draft.values[f.other]))
        notes.append(me.tr(f"report.rule.{f.rule}", **values))
        blocking = blocking or f.blocking
    missing = [c for c in stored.codes if c not in draft.values]
    if notes:
        lines.append("")
        lines.extend(notes)
    rows = []
    if not blocking and not missing:
        rows.append([_b(me.tr("report.btn.send"), "send")])
    rows.append([_b(me.tr("report.btn.edit"), "edit")])
    rows.append([_b(me.tr("flow.cancel"), "cancel")])
    if draft.base_version is not None:
        lines.insert(0, me.tr("report.review.correcting", version=draft.base_version))
    if blocking:
        lines.append("\n" + me.tr("report.review.blocked"))
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _which_line(turn: Turn, stored: StoredSet, draft: ReportDraft
                ) -> tuple[str, InlineKeyboardMarkup]:
    """'Change a line': one button per indicator."""
    rows = []
    for i, code in enumerate(stored.codes):
        value = draft.values.get(code)
        shown = turn.number(value) if value is not None else "—"
        rows.append([_b(f"{indicator_name(turn.me.locale, code)}: {shown}"[:60], "line", i)])
    rows.append([_b(turn.tr("flow.back"), "review")])
    return turn.tr("report.which_line"), InlineKeyboardMarkup(rows)


# ---------------------------------------------------------------------- values


async def value_typed(turn: Turn, draft: ReportDraft) -> None:
    """A number typed for the current indicator (at the review: the review again)."""
    stored = _stored(turn.svc, draft)
    if stored is None or draft.step >= len(stored.codes):
        await show(turn, draft, in_place=False)
        return
    value, problem = parse_count(turn.message.text or "", turn.me.locale)
    if problem is not None:  # why, over the step again: its buttons under it
        await show(turn, draft, notice=turn.tr(f"report.count.{problem.value}"),
                   in_place=False)
        return
    await _accept(turn, draft, stored, value)


async def value_other(turn: Turn, draft: ReportDraft) -> None:
    """A sticker, photo...: a number is wanted."""
    await show(turn, draft, notice=turn.tr("report.count.not_a_number"), in_place=False)


async def value_pressed(turn: Turn, draft: ReportDraft) -> None:
    """'0', 'same as last time' or 'keep what was filed'."""
    stored = _stored(turn.svc, draft)
    if stored is None or draft.step >= len(stored.codes):  # after the review was reached
        await show(turn, draft)
        return
    code = stored.codes[draft.step]
    which = turn.press.action
    if which == "zero":
        value = 0
    elif which == "same" and draft.history and code in draft.history[0]:
        value = draft.history[0][code]
    elif which == "keep" and code in draft.kept:
        value = draft.kept[code]
    else:
        await show(turn, draft)
        return
    await _accept(turn, draft, stored, value, confirmed=True)


async def _accept(turn: Turn, draft: ReportDraft, stored: StoredSet, value: int, *,
                  confirmed: bool = False) -> None:
    code = stored.codes[draft.step]
    ind = stored.spec.indicator(code)
    assert ind is not None
    me = turn.me
    ceiling = draft.values.get(ind.at_most) if ind.at_most is not None else None
    if ceiling is not None and value > ceiling:
        await show(turn, draft, in_place=False, notice=me.tr(
            "report.rule.at_most", name=indicator_name(me.locale, code),
            value=turn.number(value), other=indicator_name(me.locale, ind.at_most),
            other_value=turn.number(ceiling)))
        return
    past = [h[code] for h in draft.history if code in h]
    if not confirmed and is_outlier(value, past):
        draft.pending = value
        await show(turn, draft)
        return
    draft.values[code] = value
    draft.pending = None
    notice = ""
    if ind.warn_below is not None and ind.warn_below in draft.values \
            and value < draft.values[ind.warn_below]:
        notice = me.tr("report.rule.warn_below", name=indicator_name(me.locale, code),
                       value=turn.number(value), other=indicator_name(me.locale, ind.warn_below),
                       other_value=turn.number(draft.values[ind.warn_below]))
    if draft.editing:
        draft.editing, draft.step = False, len(stored.codes)
    else:
        draft.step += 1
    await show(turn, draft, notice=notice)


async def sure_pressed(turn: Turn, draft: ReportDraft) -> None:
    """'Yes, that many' or 'type it again' after a value far from the history."""
    stored = _stored(turn.svc, draft)
    pending, draft.pending = draft.pending, None
    if turn.press.action == "sure" and pending is not None and stored is not None:
        await _accept(turn, draft, stored, pending, confirmed=True)
        return
    await show(turn, draft)


async def confirm_typed(turn: Turn, draft: ReportDraft) -> None:
    """A new number typed instead of answering "are you sure?": taken as the answer (what is
    not a number is refused, and the question stays)."""
    _, problem = parse_count(turn.message.text or "", turn.me.locale)
    if problem is None:
        draft.pending = None
    await value_typed(turn, draft)


async def back(turn: Turn, draft: ReportDraft) -> None:
    """One indicator back (from a line being edited: back to the review)."""
    stored = _stored(turn.svc, draft)
    draft.pending = None
    if draft.period_key is None or stored is None:
        await _choose(turn, draft)
        return
    if draft.editing:
        draft.editing, draft.step = False, len(stored.codes)
    elif draft.step == 0:  # before the first indicator: the choice of period
        draft.period_key, draft.values, draft.kept, draft.history = None, {}, {}, []
        draft.base_version = None
    else:
        draft.step -= 1
    await show(turn, draft)


# ---------------------------------------------------------------------- review


async def edit_pressed(turn: Turn, draft: ReportDraft) -> None:
    """'Change a line': one button per indicator."""
    stored = _stored(turn.svc, draft)
    if stored is not None and draft.step >= len(stored.codes):
        draft.lines = True
    await show(turn, draft)


async def line_chosen(turn: Turn, draft: ReportDraft) -> None:
    """One line to change (or back to the review); the review comes back afterwards."""
    stored = _stored(turn.svc, draft)
    draft.lines = False
    index = turn.press.int(1)
    if turn.press.action == "line" and stored is not None and index is not None \
            and 0 <= index < len(stored.codes):
        draft.step, draft.editing = index, True
    await show(turn, draft)


async def send(turn: Turn, draft: ReportDraft) -> None:
    """Submit: a new version; the reporter it replaces is told."""
    svc = turn.svc
    stored = _stored(svc, draft)
    if stored is None or draft.step < len(stored.codes):
        await show(turn, draft)
        return
    findings = check(stored.spec, draft.values)
    if any(f.blocking for f in findings) or set(stored.codes) - set(draft.values):
        await show(turn, draft)
        return
    period = Period.from_key(draft.period_key)
    now = svc.now()
    if await svc.reports.open_until(stored.code, period, draft.unit_id, now, svc.timezone) is None:
        turn.drop_keyboard()
        turn.say(turn.tr("report.locked", period=period_label(turn.me.locale, period)))
        return  # the draft stays: if a coordinator reopens the period, it can be sent
    me = turn.me
    my_name = (await svc.users.reach(me.user.id))[0].name or "—"

    def notify(after: Report, before: Report | None) -> list[NewItem]:
        if before is None or before.submitted_by == me.user.id:
            return []
        return [now_item("report.replaced", f"report:{after.id}", before.submitted_by,
                         {"set": stored.code, "period": draft.period_key,
                          "unit_id": draft.unit_id, "version": after.version,
                          "old": before.version, "by": my_name}, seq=after.version)]

    after, before = await svc.reports.submit(
        stored.code, period, draft.unit_id, draft.values, me.user.id, now, notify=notify,
        also=svc.flows.finishing(turn.tg_id, FLOW.kind))
    flows.end(turn, done=True)
    tree = await svc.units.tree()
    text = turn.tr("report.sent", what=_what(turn, tree, stored, draft), version=after.version)
    # The figures stay in the confirmation: it is the reporter's copy of what was filed.
    text += "\n\n" + "\n".join(
        f"• {html.escape(indicator_name(me.locale, c))}: <b>{turn.number(after.values[c])}</b>"
        for c in stored.codes if c in after.values)
    if before is not None and before.submitted_by != me.user.id:
        name = (await svc.users.reach(before.submitted_by))[0].name or "—"
        text += "\n" + turn.tr("report.replaced_theirs", name=html.escape(name),
                               version=before.version,
                               moment=formats.moment(before.submitted_at, me.locale,
                                                     svc.timezone))
    turn.show(text)


# ---------------------------------------------------------------------- leaving


async def cancel(turn: Turn, draft: ReportDraft) -> None:
    """Throw the draft away; nothing is filed."""
    turn.show(turn.tr("report.cancelled"))
    flows.end(turn)


async def use_buttons(turn: Turn, draft: ReportDraft) -> None:
    """A message where a button is wanted: say so and show the step again."""
    turn.say(turn.tr("report.use_buttons"))
    await show(turn, draft, in_place=False)


FLOW = flows.register(flows.Flow(
    kind="report", prefix=PREFIX, load=ReportDraft.from_json, show=show, label=label,
    unexpected=use_buttons, allowed=may_report, cancel=cancel,
    step_of=lambda draft: draft.phase,
    buttons={"cancel": cancel, "resume": resume, "fresh": fresh, "back": back},
))
FLOW.step("choose", buttons={"u": unit_chosen, "s": set_chosen, "p": period_chosen})
FLOW.step("entry", text=value_typed, media=value_other, location=value_other,
          other=value_other,
          buttons={"zero": value_pressed, "same": value_pressed, "keep": value_pressed,
                   "send": send, "edit": edit_pressed, "line": line_chosen,
                   "review": line_chosen})
FLOW.step("confirm", text=confirm_typed, buttons={"sure": sure_pressed, "again": sure_pressed})
