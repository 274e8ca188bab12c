"""When reminders, digests and summaries fall due: an injected clock, no sleeping."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.digest import SpanKind, span_from_text, span_of
from bot.schedule import (
    DEFAULTS,
    Occasion,
    When,
    format_when,
    in_quiet_hours,
    latest_due,
    parse_when,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: int, month: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def due(occasion: Occasion, now: datetime, when: When | None = None):
    found = latest_due(occasion, when or DEFAULTS[occasion], now, VN)
    return None if found is None else (found.key, found.moment)


def test_friday_reminder_from_friday_afternoon_until_the_deadline() -> None:
    assert due(Occasion.REMIND_FRIDAY, at(20, 11, 15, 59)) is None
    assert due(Occasion.REMIND_FRIDAY, at(20, 11, 16)) == ("2026-W47", at(20, 11, 16))
    # Down on Friday, back on Saturday: still due (the week's report is not late yet).
    assert due(Occasion.REMIND_FRIDAY, at(21, 11, 9)) == ("2026-W47", at(20, 11, 16))
    # The report of W47 is due by the end of Monday 23/11; after that, no reminder.
    assert due(Occasion.REMIND_FRIDAY, at(23, 11, 23, 59))[0] == "2026-W47"
    assert due(Occasion.REMIND_FRIDAY, at(24, 11, 0, 1)) is None


def test_the_eve_reminder_is_the_evening_before_the_deadline() -> None:
    assert due(Occasion.REMIND_EVE, at(22, 11, 18, 59)) is None
    assert due(Occasion.REMIND_EVE, at(22, 11, 19)) == ("2026-W47", at(22, 11, 19))
    assert due(Occasion.REMIND_EVE, at(23, 11, 12)) == ("2026-W47", at(22, 11, 19))
    assert due(Occasion.REMIND_EVE, at(24, 11, 12)) is None


def test_quiet_hours_wrap_over_midnight() -> None:
    for clock, quiet in ((time(20, 59), False), (time(21), True), (time(23, 30), True),
                         (time(0, 0), True), (time(6, 59), True), (time(7), False)):
        assert in_quiet_hours(clock) is quiet, clock
    assert in_quiet_hours(at(22, 11, 22)) and not in_quiet_hours(at(22, 11, 12))
    assert in_quiet_hours(time(13), time(12), time(14))  # a window that does not wrap


def test_the_weekly_digest_on_monday_and_caught_up_on_tuesday() -> None:
    assert due(Occasion.DIGEST, at(22, 11, 7, 29)) == ("2026-W46", at(16, 11, 7, 30))
    assert due(Occasion.DIGEST, at(23, 11, 7, 29)) is None  # a week old: no longer caught up
    assert due(Occasion.DIGEST, at(23, 11, 7, 30)) == ("2026-W47", at(23, 11, 7, 30))
    # The bot was off all Monday: on Tuesday it is last week's digest that is due.
    assert due(Occasion.DIGEST, at(24, 11, 10)) == ("2026-W47", at(23, 11, 7, 30))


def test_summaries_on_the_first_morning_of_the_next_period_and_not_forever() -> None:
    assert due(Occasion.MONTH, at(1, 12, 7, 30)) == ("2026-11", at(1, 12, 7, 30))
    assert due(Occasion.MONTH, at(3, 12, 9)) == ("2026-11", at(1, 12, 7, 30))  # catch-up
    assert due(Occasion.MONTH, at(20, 12, 9)) is None  # too late to catch up
    assert due(Occasion.QUARTER, at(1, 1, 8, year=2027)) == ("2026-Q4", at(1, 1, 7, 30, 2027))
    assert due(Occasion.HALF, at(1, 7, 8)) == ("2026-H1", at(1, 7, 7, 30))
    assert due(Occasion.YEAR, at(2, 1, 8, year=2027)) == ("2026", at(1, 1, 7, 30, 2027))
    assert due(Occasion.HALF, at(1, 11, 8)) is None


def test_overdue_each_morning() -> None:
    assert due(Occasion.OVERDUE, at(21, 11, 6, 59)) == ("2026-11-20", at(20, 11, 7))
    assert due(Occasion.OVERDUE, at(21, 11, 7)) == ("2026-11-21", at(21, 11, 7))


def test_a_commune_can_move_or_turn_off_an_occasion() -> None:
    thursday = parse_when("t5 15:30")
    assert thursday == When(time(15, 30), weekday=3)
    assert due(Occasion.REMIND_FRIDAY, at(19, 11, 15, 30), thursday) == (
        "2026-W47", at(19, 11, 15, 30))
    assert due(Occasion.DIGEST, at(23, 11, 9), parse_when("off")) is None
    for text in ("fri 16:00", "07:30", "off", "sun 19:00"):
        assert format_when(parse_when(text)) == text
    assert parse_when("7h30") == When(time(7, 30))
    for bad in ("fri", "25:00", "someday 10:00", ""):
        with pytest.raises(ValueError):
            parse_when(bad)


def test_span_keys_round_trip() -> None:
    day = date(2026, 11, 21)
    for kind in SpanKind:
        span = span_of(kind, day)
        assert span_from_text(span.key, SpanKind.WEEK, day) == span  # the key says the kind
        assert span.next().previous() == span
    assert span_of(SpanKind.WEEK, date(2027, 1, 1)).key == "2026-W53"


@pytest.mark.parametrize(("typed", "kind", "key"), [
    ("W49", "week", "2026-W49"), ("w49", "month", "2026-W49"), ("2026-W47", "week", "2026-W47"),
    ("11/2026", "week", "2026-11"), ("2026-11", "year", "2026-11"), ("Q4/2026", "week", "2026-Q4"),
    ("q4 2026", "week", "2026-Q4"), ("2026", "week", "2026"), ("2026-H2", "week", "2026-H2"),
    ("H1/2026", "week", "2026-H1"), ("18/11/2026", "week", "2026-W47"),
    ("18/11/2026", "month", "2026-11"), ("18/11/2026", "half", "2026-H2"),
    ("18/11/2026", "quarter", "2026-Q4"),
])
def test_one_period_grammar_for_every_command(typed: str, kind: str, key: str) -> None:
    """What /completeness and /reports read (storage.reporting.parse_period), /summary,
    /export and the command line read too; only a day takes the kind from the command."""
    assert span_from_text(typed, SpanKind(kind), date(2026, 12, 2)).key == key


@pytest.mark.parametrize("typed", ["", "junk", "2026-W99", "W60", "13/2026", "31/02/2026",
                                   "9999", "2026-H3", "H1/9999", "Q5/2026"])
def test_a_period_nobody_means_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        span_from_text(typed, SpanKind.WEEK, date(2026, 12, 2))
