"""Numbers, percentages, dates and times in the user's locale, with Babel.

Vietnamese writes ``227.244``, ``97,8%``; both languages show dates as
``21/11/2026`` and 24-hour times, as officials in Vietnam read them.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_decimal, format_percent

DATE_PATTERN = "dd/MM/yyyy"
TIME_PATTERN = "HH:mm"


@lru_cache(maxsize=8192)  # Babel parses its pattern on every call; steps show the same few
def number(value: int | float, locale: str) -> str:
    """``227244`` → ``227.244`` (vi) or ``227,244`` (en)."""
    return format_decimal(value, locale=locale)


def percent(ratio: float, locale: str, *, digits: int = 1) -> str:
    """``0.978`` → ``97,8%`` (vi) or ``97.8%`` (en)."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return format_percent(ratio, format=pattern, locale=locale)


def fraction(part: int, whole: int, locale: str) -> str:
    """``590/603 (97,8%)``; a zero whole shows no percentage."""
    head = f"{number(part, locale)}/{number(whole, locale)}"
    return f"{head} ({percent(part / whole, locale)})" if whole else head


def day(value: date | datetime, locale: str, tz: ZoneInfo | None = None) -> str:
    """``21/11/2026`` (a datetime is first converted to ``tz``)."""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(tz)
    return format_date(value, format=DATE_PATTERN, locale=locale)


def moment(value: datetime, locale: str, tz: ZoneInfo) -> str:
    """``14:05 21/11/2026`` in ``tz``, 24-hour."""
    local = value.astimezone(tz)
    clock = format_time(time(local.hour, local.minute), format=TIME_PATTERN, locale=locale)
    return f"{clock} {day(local, locale)}"
