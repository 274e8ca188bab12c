"""Build a coordinator's :class:`~bot.digest.Digest` for a span from the database.

One read (storage.digests, one thread hop) gives the raw figures for the scope;
this module decides which report periods fall in the span (a week counts where
its Thursday is), which were due, which were late, and puts names on units.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.digest import Digest, EventLine, HamletRow, OverdueTip, Span
from storage.digests import DigestRepo
from storage.models import Unit
from storage.reporting import Period, PeriodKind, due_at, period_of
from storage.reports import StoredSet
from storage.tip_lifecycle import TipPolicy
from storage.units import UnitTree


def periods_in(kind: PeriodKind, span: Span, today) -> list[Period]:
    """Report periods of ``kind`` that count in ``span`` and have begun by ``today``.

    Weeks count in the span holding their Thursday (ISO), so every weekly report lands
    in exactly one month, quarter, half-year and year. A period still running is in:
    a report filed for it counts as filed, the same as /completeness shows; whether it
    is due yet is a separate question (:func:`build`).
    """
    first = period_of(kind, span.start - timedelta(days=6))
    found, period = [], first
    while period.start <= span.end:
        counts = (span.holds_week(period.start) if kind is PeriodKind.WEEK
                  else span.start <= period.start <= span.end)
        if counts and period.start <= today:
            found.append(period)
        period = period.next()
    return found


def overdue_tips(rows: list, tree: UnitTree) -> list[OverdueTip]:
    """Overdue tips as storage.digests reads them, with their hamlets' names."""
    return [OverdueTip(code=r["code"], category=r["category"], status=r["status"],
                       unit_name=tree.by_id[r["unit_id"]].name if r["unit_id"] in tree.by_id
                       else "—",
                       created_at=datetime.fromisoformat(r["created_at"]),
                       due_kind="ack" if r["status"] == "new" else "close")
            for r in rows]


async def build(repo: DigestRepo, tree: UnitTree, roots: list[Unit], stored: StoredSet,
                span: Span, now: datetime, tz: ZoneInfo, policy: TipPolicy) -> Digest:
    """The digest of ``span`` for the scope under ``roots``, as of ``now``."""
    today = now.astimezone(tz).date()
    units = sorted({u.id for root in roots for u in tree.descendants(root.id)})
    hamlets = tree.leaves([root.id for root in roots])
    periods = periods_in(stored.spec.period, span, today)
    before = span.previous()
    periods_before = periods_in(stored.spec.period, before, today)

    def utc(day) -> datetime:
        return datetime.combine(day, time(), tz).astimezone(ZoneInfo("UTC"))

    tips, reports, events = await repo.figures(
        unit_ids=units, hamlet_ids=[h.id for h in hamlets], set_id=stored.id,
        indicator_ids=stored.indicator_ids, periods=periods, periods_before=periods_before,
        since=utc(span.start), until=utc(span.end + timedelta(days=1)),
        before_since=utc(before.start), ack_cut=now - policy.acknowledge_within,
        close_cut=now - policy.close_within, close_within=policy.close_within)

    def name(unit_id: int | None) -> str:
        return tree.by_id[unit_id].name if unit_id in tree.by_id else "—"

    # A year is 30 hamlets × 52 weeks: each period's key and due time worked out once.
    due = [(p.key, due_at(p, stored.spec.due_days, tz)) for p in periods]
    past_due = [key for key, at in due if now >= at]
    rows = []
    for hamlet in hamlets:
        filed = {key: at for key, at in due if (hamlet.id, key) in reports.first_filed}
        late = sum(1 for key, at in filed.items() if reports.first_filed[(hamlet.id, key)] >= at)
        missing = sum(1 for key in past_due if key not in filed)
        rows.append(HamletRow(unit_id=hamlet.id, name=hamlet.name, commune=name(hamlet.parent_id),
                              expected=len(periods), filed=len(filed), late=late,
                              values=dict(reports.sums.get(hamlet.id, {})),
                              missing=missing))
    by_category: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for (category, status), n in tips.by_category_status.items():
        by_category[category] = by_category.get(category, 0) + n
        by_status[status] = by_status.get(status, 0) + n
    overdue = overdue_tips(tips.overdue, tree)
    return Digest(
        scope_name=", ".join(root.name for root in roots), span=span, made_at=now,
        set_code=stored.code, indicators=tuple(stored.codes), tips_by_category=by_category,
        tips_by_category_before=dict(tips.by_category_before), tips_by_status=by_status,
        overdue=overdue, overdue_total=tips.overdue_total, hamlets=rows,
        totals_before=dict(reports.totals_before), before_filed=reports.filed_before,
        before_expected=len(hamlets) * len(periods_before),
        tips_closed=tips.closed, tips_closed_late=tips.closed_late,
        parts_of={i.code: i.at_most for i in stored.spec.indicators if i.at_most},
        events=[EventLine(type=t, created_at=datetime.fromisoformat(at), unit_name=name(u),
                          people=p, code=code, status=status)
                for t, at, u, p, code, status in events.rows])
