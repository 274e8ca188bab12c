"""What a digest or a period summary says, as plain data: built once, rendered three ways.

A coordinator's weekly digest and the month / quarter / half-year ("sơ kết") / year
("tổng kết") summaries share one shape, :class:`Digest`: tips by category and status
with the change from the span before, overdue tips, report completeness, indicator
totals per hamlet with their trend, and the span's events. ``bot.digest_text``,
``bot.digest_chart`` and ``bot.digest_workbook`` render it; nothing here touches
Telegram or SQL, so figures are checked in microseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from storage.reporting import YEARS, Period, PeriodKind, parse_period, period_of


class SpanKind(StrEnum):
    """What a digest covers."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"  # sơ kết 6 tháng
    YEAR = "year"  # tổng kết năm


@dataclass(frozen=True, order=True)
class Span:
    """Local days ``start`` … ``end`` (inclusive) of one week, month, quarter, half or year."""

    kind: SpanKind
    start: date
    end: date

    @property
    def key(self) -> str:
        """'2026-W47', '2026-11', '2026-Q4', '2026-H2', '2026' (outbox rows use it)."""
        if self.kind is SpanKind.HALF:
            return f"{self.start.year}-H{1 if self.start.month == 1 else 2}"
        return self.period().key

    def period(self) -> Period:
        """The same days as a reporting period (every kind but the half-year is one)."""
        return Period(PeriodKind(self.kind.value), self.start)

    def previous(self) -> Span:
        """The span of the same kind just before."""
        return span_of(self.kind, self.start - timedelta(days=1))

    def next(self) -> Span:
        """The span of the same kind just after."""
        return span_of(self.kind, self.end + timedelta(days=1))

    def holds_week(self, monday: date) -> bool:
        """Whether the ISO week starting ``monday`` counts in this span.

        A week belongs to the month, quarter, half or year that holds its Thursday (the
        ISO rule), so every weekly report counts in exactly one summary of each kind.
        """
        return self.start <= monday + timedelta(days=3) <= self.end


def span_of(kind: SpanKind, day: date) -> Span:
    """The span of ``kind`` holding ``day`` (the reporting periods' calendar, plus halves)."""
    kind = SpanKind(kind)
    if kind is SpanKind.HALF:
        first = 1 if day.month <= 6 else 7
        return Span(kind, date(day.year, first, 1),
                    date(day.year, 6, 30) if first == 1 else date(day.year, 12, 31))
    period = period_of(PeriodKind(kind.value), day)
    return Span(kind, period.start, period.end)


_HALF = re.compile(r"^(?:([0-9]{4})-H([12])|H([12])[/ ]([0-9]{4}))$")
_DAY = re.compile(r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$")


def span_from_text(text: str, kind: SpanKind, today: date) -> Span:
    """The span a person typed, in the one period grammar every command, button and flag
    reads (storage.reporting.parse_period): a key (``2026-W47``, ``2026-11``, ``2026-Q4``,
    ``2026``), ``W47`` (this ISO year), ``11/2026``, ``Q4/2026``, a half (``2026-H2``,
    ``H2/2026``), or a day ``18/11/2026`` (the span of ``kind`` holding it). The form says
    the kind; only a day takes ``kind``. ValueError for anything else."""
    typed = " ".join(text.split()).upper()
    if m := _HALF.match(typed):
        year, half = (int(m[1]), m[2]) if m[1] else (int(m[4]), m[3])
        if year not in YEARS:
            raise ValueError(f"a period in year {year}: not one a person could mean")
        return span_of(SpanKind.HALF, date(year, 1 if half == "1" else 7, 1))
    if _DAY.match(typed):  # a half is the one span that is no reporting period
        found = parse_period(typed, PeriodKind.MONTH if kind is SpanKind.HALF
                             else PeriodKind(kind.value), today)
        if found is not None:
            return span_of(kind, found.start)
    else:
        for period_kind in PeriodKind:
            found = parse_period(typed, period_kind, today)
            if found is not None:
                return span_of(SpanKind(found.kind.value), found.start)
    raise ValueError(f"not a period: {text!r}")


@dataclass(frozen=True)
class OverdueTip:
    """An open tip past its deadline when the digest was made."""

    code: str
    category: str
    status: str
    unit_name: str
    created_at: datetime
    due_kind: str  # "ack" or "close"


@dataclass(frozen=True)
class HamletRow:
    """One hamlet's report figures over the span (summed over its reports in it)."""

    unit_id: int
    name: str
    commune: str
    expected: int  # reports the span asks for (its weeks, months... begun so far)
    filed: int  # of which filed
    late: int  # of which filed after the due time
    values: dict[str, int] = field(default_factory=dict)
    missing: int = 0  # not filed and past the due time (one not due yet is neither)


@dataclass(frozen=True)
class EventLine:
    """An event of the span, as a digest lists it."""

    type: str
    created_at: datetime
    unit_name: str
    people: int
    code: str = ""
    status: str = "new"  # as it stands now (new, acknowledged, handled)


@dataclass(frozen=True)
class Digest:
    """Everything one coordinator's digest or summary shows, for their scope."""

    scope_name: str
    span: Span
    made_at: datetime
    set_code: str
    indicators: tuple[str, ...]
    tips_by_category: dict[str, int]
    tips_by_category_before: dict[str, int]
    tips_by_status: dict[str, int]  # status now of the tips received in the span
    overdue: list[OverdueTip]
    hamlets: list[HamletRow]
    totals_before: dict[str, int]  # indicator totals over the span before (trend)
    events: list[EventLine]
    overdue_total: int = 0  # overdue tips in all (``overdue`` lists the oldest of them)
    before_filed: int = 0  # reports filed in the span before, of
    before_expected: int = 0  # those it asked for: what ``totals_before`` rests on
    tips_closed: int = 0  # tips closed in the span (whenever they came)
    tips_closed_late: int = 0  # of which later than the closing deadline
    # An indicator that counts part of another ("hòa giải thành" of "hòa giải"): the other's
    # code, so a report can write "590/603 vụ, đạt 97,8%".
    parts_of: dict[str, str] = field(default_factory=dict)

    @property
    def before(self) -> str:
        """What the comparison with the span before rests on: "running" (this span still has
        reports not due: its totals would read as a fall), "none" (no report: there is no
        earlier figure), "partial" (some of its reports) or "full"."""
        if self.reports_not_due:
            return "running"
        if not self.before_filed:
            return "none"
        return "partial" if self.before_filed < self.before_expected else "full"

    @property
    def compared(self) -> bool:
        """Whether the totals are shown against the span before (with a trend, a grey bar)."""
        return self.before in ("partial", "full")

    @property
    def totals(self) -> dict[str, int]:
        """Indicator totals over every hamlet."""
        return {code: sum(h.values.get(code, 0) for h in self.hamlets) for code in self.indicators}

    @property
    def events_by_status(self) -> dict[str, int]:
        """The span's events by status now: new, acknowledged, handled (each present)."""
        return {status: sum(1 for e in self.events if e.status == status)
                for status in ("new", "acknowledged", "handled")}

    @property
    def tips_total(self) -> int:
        """Tips received in the span."""
        return sum(self.tips_by_category.values())

    @property
    def reports_expected(self) -> int:
        """Reports the span asks for over every hamlet (a running period's too)."""
        return sum(h.expected for h in self.hamlets)

    @property
    def reports_filed(self) -> int:
        """Of which filed."""
        return sum(h.filed for h in self.hamlets)

    @property
    def late_hamlets(self) -> list[HamletRow]:
        """Hamlets with a report missing past its due time, or filed late."""
        return [h for h in self.hamlets if h.missing or h.late]

    @property
    def reports_not_due(self) -> int:
        """Reports not filed yet whose due time has not come."""
        return sum(h.expected - h.filed - h.missing for h in self.hamlets)


def change(now: int, before: int) -> int:
    """The change from the span before (positive: more)."""
    return now - before
