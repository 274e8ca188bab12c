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

from telegram import InlineKeyboardMarkup

from handlers.callbacks import data
from handlers.common import Turn, Who, button, cut, fit, pager, scope
from handlers.reports import indicator_name, period_label
from handlers.services import Services
from locales import formats
from storage.models import Role
from storage.outbox import now_item
from storage.reporting import YEARS, Period, due_at, locks_at, parse_period, period_of
from storage.reports import StoredSet
from storage.units import UnitTree

log = logging.getLogger(__name__)

HAMLETS_PER_PAGE = 8


def _allowed(me: Who) -> bool:
    return me.staff


async def _hamlets(svc: Services, me: Who, tree: UnitTree) -> list[int]:
    """Hamlets (units with nothing under them) in the user's scope, in tree order."""
    return [u.id for u in tree.leaves([root.id for root in await scope(svc, me)])]


def _period(svc: Services, stored: StoredSet, text: str) -> Period | None:
    today = svc.now().astimezone(svc.timezone).date()
    if not text.strip():
        return period_of(stored.spec.period, today)
    return parse_period(text, stored.spec.period, today)


def _key_period(key: str | None, stored: StoredSet) -> Period | None:
    """A period named by a button, if it is one of the set's calendar (a week for a weekly
    set); None for anything else, however it was made."""
    if not key:
        return None
    try:
        period = Period.from_key(key)  # refuses years no one could mean (reporting.YEARS)
    except ValueError:
        return None
    return period if period.kind is stored.spec.period else None


def _more(turn: Turn):
    return lambda n: turn.tr("report.cut", n=turn.number(n))


# ---------------------------------------------------------------------- completeness


async def completeness(turn: Turn) -> None:
    """/completeness [period] (or its ◀ ▶ buttons)."""
    me = turn.me
    svc = turn.svc
    if not _allowed(me):
        turn.say(turn.tr("tipdesk.not_allowed"))
        return
    stored = svc.reports.sets()[0]
    if turn.press is not None:
        period = _key_period(turn.press.action, stored)
        if period is None:
            turn.answer(turn.tr("callback.invalid"), alert=True)
            return
    else:
        period = _period(svc, stored, " ".join(turn.args))
        if period is None:
            turn.say(turn.tr("report.period_bad",
                             kind=turn.tr(f"period.kind.{stored.spec.period.value}")))
            return
    tree = await svc.units.tree()
    hamlets = await _hamlets(svc, me, tree)
    submitted = await svc.reports.submitted(stored.code, period.key, hamlets)
    staffed = await svc.users.count_members(hamlets, Role.REPORTER)
    now = svc.now()
    due = due_at(period, stored.spec.due_days, svc.timezone)
    lines = [turn.tr("report.completeness.head", set=turn.tr(f"indicatorset.{stored.code}"),
                     period=period_label(me.locale, period),
                     due=formats.day(due - timedelta(seconds=1), me.locale, svc.timezone))]
    groups: dict[int | None, list[int]] = {}
    for hamlet in hamlets:
        groups.setdefault(tree.by_id[hamlet].parent_id, []).append(hamlet)
    for parent, members in groups.items():
        done = sum(1 for h in members if h in submitted)
        name = tree.by_id[parent].name if parent in tree.by_id else "—"
        lines.append(f"\n<b>{html.escape(cut(name, 80))}</b>: "
                     + formats.fraction(done, len(members), me.locale))
        for hamlet in members:
            lines.append(_status_line(turn, tree.by_id[hamlet].name, submitted.get(hamlet),
                                      due, now, staffed=bool(staffed.get(hamlet))))
    if len(groups) > 1:
        done = sum(1 for h in hamlets if h in submitted)
        lines.append("\n" + turn.tr("report.completeness.total",
                                    n=formats.fraction(done, len(hamlets), me.locale)))
    if not hamlets:
        lines.append(turn.tr("report.completeness.none"))
    # Gaps a reminder cannot close: someone has to be invited (counted, and offered below).
    nobody = [h for h in hamlets if h not in submitted and not staffed.get(h)]
    if nobody:
        lines.append("\n" + turn.tr("report.completeness.nobody_total",
                                    n=turn.number(len(nobody))))
    rows = [_arrows(me.locale, period, lambda p: data("cmpl", p.key))]
    if _to_nudge(hamlets, submitted, staffed) and _fileable(svc, stored, period, now):
        rows.insert(0, [button(turn.tr("report.btn.nudge"), data("nudge", period.key))])
    rows[:0] = [[button(turn.tr("report.btn.invite", unit=cut(tree.by_id[h].name, 40)),
                        data("invh", h))] for h in nobody[:INVITE_BUTTONS]]
    turn.show(fit(lines, _more(turn)), InlineKeyboardMarkup(rows))


INVITE_BUTTONS = 5  # "📨 Mời" buttons under /completeness; the count at the foot says the rest


def _arrows(locale: str, period: Period, make) -> list:
    """◀ the period before, the period after ▶ (``make(period)`` gives the data); none past
    the years a period may be in (reporting.YEARS), where no button data can name it."""
    row = []
    before, after = period.previous(), period.next()
    if before.start.year in YEARS:
        row.append(button("◀ " + period_label(locale, before)[:28], make(before)))
    if after.start.year in YEARS:
        row.append(button(period_label(locale, after)[:28] + " ▶", make(after)))
    return row


def _fileable(svc: Services, stored: StoredSet, period: Period, now) -> bool:
    """Begun and not locked: a reminder about it asks for something the reporter can do."""
    return period.start <= now.astimezone(svc.timezone).date() \
        and now < locks_at(period, stored.spec.lock_days, svc.timezone)


def _to_nudge(hamlets: list[int], submitted: dict, staffed: dict[int, int]) -> list[int]:
    """The hamlets a reminder can reach: not filed, with a reporter."""
    return [h for h in hamlets if h not in submitted and staffed.get(h)]


async def nudge(turn: Turn) -> None:
    """"🔔 Nhắc" under /completeness: the missing hamlets' reporters are reminded now,
    through the outbox, at most once an hour each and never in quiet hours."""
    svc = turn.svc
    stored = svc.reports.sets()[0]
    period = _key_period(turn.press.action, stored)
    if period is None:
        turn.answer(turn.tr("callback.invalid"), alert=True)
        return
    if not _allowed(turn.me):
        turn.answer(turn.tr("tipdesk.not_allowed"), alert=True)
        return
    if not _fileable(svc, stored, period, svc.now()):  # a button kept since, or forged
        turn.answer(turn.tr("report.nudge.closed"), alert=True)
        return
    tree = await svc.units.tree()
    hamlets = await _hamlets(svc, turn.me, tree)
    missing = _to_nudge(hamlets, await svc.reports.submitted(stored.code, period.key, hamlets),
                        await svc.users.count_members(hamlets, Role.REPORTER))
    if not missing:
        turn.answer(turn.tr("report.nudge.none"), alert=True)
        return
    assert svc.nudge is not None  # the composition root sets it
    reached = await svc.nudge(missing, period)
    names = ", ".join(tree.by_id[h].name for h in missing)
    if reached is None:
        turn.answer(turn.tr("report.nudge.quiet", hamlets=names), alert=True)
    elif reached:
        turn.answer(turn.tr("report.nudge.sent", n=turn.number(reached), hamlets=names),
                    alert=True)
    else:
        turn.answer(turn.tr("report.nudge.already", hamlets=names), alert=True)


def _status_line(turn: Turn, name: str, first, due, now, *, staffed: bool) -> str:
    """One hamlet: filed (on time or late), not filed yet, late, or no reporter at all."""
    name = html.escape(cut(name, 80))
    if first is None:
        if not staffed:
            return turn.tr("report.completeness.no_reporter", unit=name)
        key = "report.completeness.missing_late" if now >= due else "report.completeness.missing"
        return turn.tr(key, unit=name)
    key = "report.completeness.late" if first >= due else "report.completeness.on_time"
    return turn.tr(key, unit=name, day=formats.day(first, turn.me.locale, turn.svc.timezone))


# ---------------------------------------------------------------------- one hamlet


async def reports(turn: Turn) -> None:
    """/reports [period] [HAMLET]: a hamlet's report, or the hamlets to choose from."""
    me = turn.me
    svc = turn.svc
    if not _allowed(me):
        turn.say(turn.tr("tipdesk.not_allowed"))
        return
    stored = svc.reports.sets()[0]
    tree = await svc.units.tree()
    hamlets = await _hamlets(svc, me, tree)
    unit_id, rest = None, []
    for word in turn.args:
        unit = tree.by_code.get(word.upper())
        if unit is not None and unit_id is None:
            unit_id = unit.id
        else:
            rest.append(word)
    period = _period(svc, stored, " ".join(rest))
    if period is None:
        turn.say(turn.tr("report.period_bad",
                         kind=turn.tr(f"period.kind.{stored.spec.period.value}")))
        return
    if unit_id is not None and unit_id not in hamlets:
        turn.say(turn.tr("report.unit_not_found"))
        return
    if unit_id is None:
        _pick_hamlet(turn, tree, hamlets, period, 0)
        return
    await _show(turn, stored, unit_id, period)


def _pick_hamlet(turn: Turn, tree: UnitTree, hamlets: list[int], period: Period,
                 page: int) -> None:
    if not hamlets:
        turn.show(turn.tr("report.completeness.none"))
        return
    pages = (len(hamlets) + HAMLETS_PER_PAGE - 1) // HAMLETS_PER_PAGE
    page = max(0, min(page, pages - 1))
    chunk = hamlets[page * HAMLETS_PER_PAGE:(page + 1) * HAMLETS_PER_PAGE]
    rows = [[button(cut(tree.path(h), 60), data("repv", h, period.key))] for h in chunk]
    rows.append(pager(page, pages, lambda p: data("repl", period.key, p)))
    turn.show(turn.tr("report.pick_hamlet", period=period_label(turn.me.locale, period)),
              InlineKeyboardMarkup([r for r in rows if r]))


async def hamlet_page(turn: Turn) -> None:
    """Another page of hamlets."""
    period = _key_period(turn.press.action, turn.svc.reports.sets()[0])
    page = turn.press.int(1)
    if not _allowed(turn.me) or period is None or page is None:
        turn.answer(turn.tr("callback.invalid"), alert=True)
        return
    tree = await turn.svc.units.tree()
    _pick_hamlet(turn, tree, await _hamlets(turn.svc, turn.me, tree), period, page)


async def view_pressed(turn: Turn) -> None:
    """A hamlet (or another period of it)."""
    svc = turn.svc
    stored = svc.reports.sets()[0]
    unit, period = turn.press.int(0), _key_period(turn.press.field(1), stored)
    if period is None:
        turn.answer(turn.tr("callback.invalid"), alert=True)
        return
    tree = await svc.units.tree()
    if not _allowed(turn.me) or unit is None \
            or unit not in await _hamlets(svc, turn.me, tree):
        turn.answer(turn.tr("report.unit_not_found"), alert=True)
        return
    await _show(turn, stored, unit, period)


async def _show(turn: Turn, stored: StoredSet, unit_id: int, period: Period, *,
                notice: str = "") -> None:
    svc = turn.svc
    me = turn.me
    tree = await svc.units.tree()
    now = svc.now()
    lines = [f"<b>{html.escape(turn.tr(f'indicatorset.{stored.code}'))} · "
             f"{period_label(me.locale, period)} · {html.escape(cut(tree.path(unit_id), 200))}"
             "</b>"]
    report = await svc.reports.get(stored.code, period.key, unit_id)
    versions = await svc.reports.versions(stored.code, period.key, unit_id) if report else []
    names: dict[int, str] = {}
    for v in versions:
        if v.submitted_by not in names:
            names[v.submitted_by] = (await svc.users.reach(v.submitted_by))[0].name or "—"
    if report is None:
        lines.append(turn.tr("report.view.none"))
    else:
        lines.append(turn.tr("report.view.standing", version=report.version,
                             moment=formats.moment(report.submitted_at, me.locale, svc.timezone),
                             name=html.escape(cut(names.get(report.submitted_by, "—"), 64))))
        for code in stored.codes:
            value = report.values.get(code)
            shown = turn.number(value) if value is not None else "—"
            lines.append(f"• {html.escape(indicator_name(me.locale, code))}: <b>{shown}</b>")
        if len(versions) > 1:
            lines.append("\n" + turn.tr("report.view.history"))
            for older, newer in pairwise(versions):
                changed = [f"{indicator_name(me.locale, c)} "
                           f"{turn.number(older.values.get(c, 0))} → "
                           f"{turn.number(newer.values.get(c, 0))}"
                           for c in stored.codes if older.values.get(c) != newer.values.get(c)]
                lines.append(turn.tr(
                    "report.view.version", version=newer.version,
                    moment=formats.moment(newer.submitted_at, me.locale, svc.timezone),
                    name=html.escape(cut(names.get(newer.submitted_by, "—"), 64)),
                    changes=html.escape("; ".join(changed) or turn.tr("report.view.same"))))
    open_until = await svc.reports.open_until(stored.code, period, unit_id, now, svc.timezone)
    lock = locks_at(period, stored.spec.lock_days, svc.timezone)
    if open_until is None:
        state = turn.tr("report.view.locked", moment=formats.moment(lock, me.locale,
                                                                    svc.timezone))
    elif open_until > lock:
        state = turn.tr("report.view.reopened",
                        moment=formats.moment(open_until, me.locale, svc.timezone))
    else:
        state = turn.tr("report.view.open", day=formats.day(
            open_until - timedelta(seconds=1), me.locale, svc.timezone))
    rows = [_arrows(me.locale, period, lambda p: data("repv", unit_id, p.key))]
    if open_until is None:
        rows.insert(0, [button(turn.tr("report.btn.reopen"),
                               data("repo", unit_id, period.key))])
    text = fit([*lines, "\n" + state], _more(turn))
    if notice:
        text = notice + "\n\n" + text
    turn.show(text, InlineKeyboardMarkup(rows))


async def reopen(turn: Turn) -> None:
    """Reopen a locked period for one hamlet; its reporters are told until when."""
    svc = turn.svc
    stored = svc.reports.sets()[0]
    unit_id, period = turn.press.int(0), _key_period(turn.press.field(1), stored)
    if period is None:  # a period of another length, or none: not this set's
        turn.answer(turn.tr("callback.invalid"), alert=True)
        return
    tree = await svc.units.tree()
    if not _allowed(turn.me) or unit_id is None \
            or unit_id not in await _hamlets(svc, turn.me, tree):
        turn.answer(turn.tr("report.unit_not_found"), alert=True)
        return
    now = svc.now()
    if await svc.reports.open_until(stored.code, period, unit_id, now, svc.timezone) is None:
        until = now + timedelta(days=max(stored.spec.lock_days, 1))
        notices = [now_item("report.reopened", f"reopen:{unit_id}:{period.key}", user_id,
                            {"set": stored.code, "period": period.key, "unit_id": unit_id,
                             "until": until.isoformat()}, seq=now.isoformat())
                   for user_id, _, _ in await svc.users.holders([unit_id], (Role.REPORTER,))]
        await svc.reports.reopen(stored.code, period.key, unit_id, turn.me.user.id, now, until,
                                 notices=notices)
    await _show(turn, stored, unit_id, period,
                notice=turn.tr("report.reopened", unit=html.escape(tree.by_id[unit_id].name)))
