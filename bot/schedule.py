"""When reminders, digests and summaries fall due — pure, so a test can move the clock.

Each occasion has a time (per commune if an admin set one, else the defaults below).
The scheduler asks, every minute, for the *latest* moment each occasion was due at or
before now; what it concerns (a week, a month, a reporting period, a day) becomes the
outbox key, so asking again — or after a restart, or the next morning after the bot
was down — enqueues nothing twice and misses nothing recent. Only the latest is caught
up: after a month offline the bot sends last week's digest, not four of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.digest import Span, SpanKind, span_of
from storage.reporting import Period, PeriodKind, due_at, period_of

QUIET_START, QUIET_END = time(21), time(7)
# How late a digest or summary may still go out: last week's digest on Tuesday when the
# bot was down on Monday, but not last year's summary to a commune that joined today.
CATCH_UP = timedelta(days=6)


class Occasion(StrEnum):
    """Something sent on a schedule; the value is the outbox kind."""

    REMIND_FRIDAY = "reminder.friday"  # reporters whose report is missing, mid-period
    REMIND_EVE = "reminder.eve"  # the evening before the deadline
    OVERDUE = "overdue"  # coordinators: overdue tips, each morning
    DIGEST = "digest.week"  # coordinators: last week, Monday morning
    MONTH = "digest.month"
    QUARTER = "digest.quarter"
    HALF = "digest.half"  # sơ kết
    YEAR = "digest.year"  # tổng kết


@dataclass(frozen=True)
class When:
    """A weekday and time (``weekday`` None: daily, or the first day for summaries)."""

    at: time
    weekday: int | None = None  # 0 = Monday
    enabled: bool = True


DEFAULTS: dict[Occasion, When] = {
    Occasion.REMIND_FRIDAY: When(time(16), weekday=4),
    Occasion.REMIND_EVE: When(time(19)),  # the day before the deadline's day
    Occasion.OVERDUE: When(time(7)),
    Occasion.DIGEST: When(time(7, 30), weekday=0),
    Occasion.MONTH: When(time(7, 30)),
    Occasion.QUARTER: When(time(7, 30)),
    Occasion.HALF: When(time(7, 30)),
    Occasion.YEAR: When(time(7, 30)),
}
SUMMARY_SPANS = {Occasion.DIGEST: SpanKind.WEEK, Occasion.MONTH: SpanKind.MONTH,
                 Occasion.QUARTER: SpanKind.QUARTER, Occasion.HALF: SpanKind.HALF,
                 Occasion.YEAR: SpanKind.YEAR}
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
         "t2": 0, "t3": 1, "t4": 2, "t5": 3, "t6": 4, "t7": 5, "cn": 6}
_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WHEN = re.compile(r"^(?:(?P<day>[a-z0-9]+)\s+)?(?P<h>\d{1,2})[:h](?P<m>\d{2})$")


def parse_when(text: str) -> When:
    """'fri 16:00', 't6 16:00' (Vietnamese: t2…t7, cn), '07:30', '7h30' or 'off'."""
    typed = " ".join(text.lower().split())
    if typed in ("off", "tắt", "tat"):
        return When(time(0), enabled=False)
    match = _WHEN.match(typed)
    if not match or (match["day"] and match["day"] not in _DAYS):
        raise ValueError(f"{text!r}: write e.g. 'fri 16:00', 't6 16:00', '07:30' or 'off'")
    hour, minute = int(match["h"]), int(match["m"])
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r}: no such time")
    return When(time(hour, minute), _DAYS[match["day"]] if match["day"] else None)


def format_when(when: When) -> str:
    """The inverse of :func:`parse_when` (English day names)."""
    if not when.enabled:
        return "off"
    if when.weekday is None:
        return f"{when.at:%H:%M}"
    return f"{_NAMES[when.weekday]} {when.at:%H:%M}"


def in_quiet_hours(now_local: time | datetime, start: time = QUIET_START,
                   end: time = QUIET_END) -> bool:
    """Whether a local time falls in quiet hours [start, end), which may wrap over midnight.

    ``start == end`` means no quiet hours at all.
    """
    at = now_local.time() if isinstance(now_local, datetime) else now_local
    at = at.replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= at < end
    return at >= start or at < end


@dataclass(frozen=True)
class Due:
    """An occasion that fell due: when, and what it is about (the outbox period key)."""

    occasion: Occasion
    moment: datetime
    key: str
    span: Span | None = None  # digests and summaries
    period: Period | None = None  # reporter reminders


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tz)


def latest_due(occasion: Occasion, when: When, now: datetime, tz: ZoneInfo, *,
               report_period: PeriodKind = PeriodKind.WEEK, due_days: int = 1) -> Due | None:
    """The latest moment ``occasion`` fell due at or before ``now`` and what it concerns.

    Reminders are only due while their reporting period's deadline has not passed.
    """
    if not when.enabled:
        return None
    local = now.astimezone(tz)
    today = local.date()
    if occasion is Occasion.OVERDUE:
        day = today if _at(today, when.at, tz) <= local else today - timedelta(days=1)
        return Due(occasion, _at(day, when.at, tz), day.isoformat())
    if occasion in SUMMARY_SPANS:
        kind = SUMMARY_SPANS[occasion]
        current = span_of(kind, today)
        moment = _first_day(current, when, tz)
        if moment > local:
            current = current.previous()
            moment = _first_day(current, when, tz)
        span = current.previous()
        if local - moment > CATCH_UP:
            return None
        return Due(occasion, moment, span.key, span=span)
    # Reporter reminders: about a reporting period still open for filing.
    period = period_of(report_period, today)
    for candidate in (period, period.previous()):
        deadline = due_at(candidate, due_days, tz)
        if occasion is Occasion.REMIND_FRIDAY:
            day = candidate.start + timedelta(days=(when.weekday or 0))
            if report_period is not PeriodKind.WEEK:
                day = (deadline - timedelta(days=3)).date()  # no weekday in a month: 3 days ahead
        else:
            day = (deadline - timedelta(seconds=1)).date() - timedelta(days=1)
        moment = _at(day, when.at, tz)
        if moment <= local < deadline:
            return Due(occasion, moment, candidate.key, period=candidate)
    return None


def _first_day(span: Span, when: When, tz: ZoneInfo) -> datetime:
    """A summary goes out on the first (or the set weekday's first) morning of a span."""
    day = span.start
    if when.weekday is not None:
        day += timedelta(days=(when.weekday - day.weekday()) % 7)
    return _at(day, when.at, tz)
