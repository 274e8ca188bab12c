"""Reporting without Telegram: periods and deadlines, typed counts, indicator sets, checks."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from storage.reporting import (
    MAX_COUNT,
    CountProblem,
    Finding,
    Indicator,
    IndicatorSet,
    Period,
    PeriodKind,
    check,
    due_at,
    indicator_set,
    indicator_sets,
    is_outlier,
    load_indicator_sets,
    locks_at,
    opens_at,
    parse_count,
    parse_period,
    period_of,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
W, M, Q, Y = PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR
TODAY = date(2026, 11, 21)  # a Saturday in 2026-W47

counts = st.integers(min_value=0, max_value=MAX_COUNT)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


# --- Counts --------------------------------------------------------------------------------


@given(counts)
def test_babel_formatted_counts_read_back_in_their_locale(n: int) -> None:
    for locale in ("vi", "en"):
        assert parse_count(format_decimal(n, locale=locale), locale) == (n, None)


@given(counts)
def test_space_grouped_counts_read_back_in_both_locales(n: int) -> None:
    typed = f"{n:,}".replace(",", " ")
    assert parse_count(typed, "vi") == (n, None)
    assert parse_count(typed, "en") == (n, None)


@pytest.mark.parametrize(
    ("typed", "locale", "expected"),
    [
        ("1.403", "vi", 1403),
        ("1 403", "vi", 1403),
        ("1\u00a0403", "vi", 1403),
        ("1\u202f403", "vi", 1403),
        ("12", "vi", 12),
        (" 7 ", "vi", 7),
        ("+5", "vi", 5),
        ("007", "vi", 7),
        ("0", "vi", 0),
        ("10.000.000", "vi", 10_000_000),
        ("1.403.000", "vi", 1_403_000),
        ("1,403", "en", 1403),
        ("1 403", "en", 1403),
        ("1,403,000", "en", 1_403_000),
        ("+5", "en", 5),
        ("007", "en", 7),
        ("1.403", "vi_VN", 1403),
        ("1.403", "fr", 1403),  # any other locale reads like vi
        ("1,403", "en_US", 1403),
    ],
)
def test_counts_read_the_locales_way(typed: str, locale: str, expected: int) -> None:
    assert parse_count(typed, locale) == (expected, None)


P = CountProblem


@pytest.mark.parametrize(
    ("typed", "locale", "problem"),
    [
        ("", "vi", P.EMPTY),
        ("   ", "vi", P.EMPTY),
        ("", "en", P.EMPTY),
        ("\u00a0", "en", P.EMPTY),
        ("-3", "vi", P.NEGATIVE),
        ("\u22123", "vi", P.NEGATIVE),
        ("- 1.403", "vi", P.NEGATIVE),
        ("-1,5", "vi", P.NEGATIVE),
        ("-3", "en", P.NEGATIVE),
        ("\u22121,403", "en", P.NEGATIVE),
        ("1,5", "vi", P.DECIMAL),
        ("1.403,0", "vi", P.DECIMAL),
        (",5", "vi", P.DECIMAL),
        ("1.5", "en", P.DECIMAL),
        ("1,403.0", "en", P.DECIMAL),
        ("١٢", "vi", P.DIGITS),
        ("１２", "vi", P.DIGITS),
        ("-١٢", "vi", P.DIGITS),
        ("١٢", "en", P.DIGITS),
        ("1٢", "en", P.DIGITS),
        ("1.40", "vi", P.GROUPING),
        ("12.3456", "vi", P.GROUPING),
        ("1..403", "vi", P.GROUPING),
        ("1.403.", "vi", P.GROUPING),
        (".403", "vi", P.GROUPING),
        ("1234.567", "vi", P.GROUPING),
        ("1 403.000", "vi", P.GROUPING),  # spaces and dots do not mix
        ("1,403,000", "vi", P.GROUPING),  # English habit in vi: two decimal marks
        ("1,40", "en", P.GROUPING),
        ("12,3456", "en", P.GROUPING),
        ("1 403,000", "en", P.GROUPING),
        ("1  403", "en", P.GROUPING),
        ("abc", "vi", P.NOT_A_NUMBER),
        ("12a", "vi", P.NOT_A_NUMBER),
        ("1e3", "vi", P.NOT_A_NUMBER),
        ("+", "vi", P.NOT_A_NUMBER),
        ("-", "vi", P.NOT_A_NUMBER),
        ("--3", "vi", P.NOT_A_NUMBER),
        (".", "vi", P.NOT_A_NUMBER),
        ("abc", "en", P.NOT_A_NUMBER),
        ("1'403", "en", P.NOT_A_NUMBER),
        ("10.000.001", "vi", P.TOO_LARGE),
        ("99999999", "vi", P.TOO_LARGE),
        ("1" * 5000, "vi", P.TOO_LARGE),  # past int()'s own 4,300-digit limit
        ("10,000,001", "en", P.TOO_LARGE),
        ("10 000 001", "en", P.TOO_LARGE),
    ],
)
def test_count_problems(typed: str, locale: str, problem: CountProblem) -> None:
    assert parse_count(typed, locale) == (None, problem)


def test_every_count_problem_is_covered_in_both_locales() -> None:
    cases = test_count_problems.pytestmark[0].args[1]
    for locale in ("vi", "en"):
        assert {p for _, loc, p in cases if loc == locale} == set(CountProblem)


# --- Periods -------------------------------------------------------------------------------


def test_iso_week_53_and_weeks_across_year_ends() -> None:
    assert date(2026, 12, 31).isocalendar()[:2] == (2026, 53)
    assert period_of(W, date(2026, 12, 31)).key == "2026-W53"
    assert period_of(W, date(2020, 12, 31)).key == "2020-W53"
    assert period_of(W, date(2027, 1, 3)).key == "2026-W53"  # a Sunday still in 2026's week
    week = period_of(W, date(2024, 12, 30))
    assert week.key == "2025-W01"
    assert (week.start, week.end) == (date(2024, 12, 30), date(2025, 1, 5))
    assert period_of(W, date(2025, 1, 5)) == week


def test_weeks_start_on_monday() -> None:
    week = period_of(W, TODAY)
    assert week.key == "2026-W47"
    assert (week.start, week.end) == (date(2026, 11, 16), date(2026, 11, 22))
    assert week.start.weekday() == 0


@pytest.mark.parametrize(
    ("kind", "key", "next_key", "previous_key"),
    [
        (W, "2026-W53", "2027-W01", "2026-W52"),
        (W, "2025-W01", "2025-W02", "2024-W52"),
        (W, "2021-W01", "2021-W02", "2020-W53"),
        (M, "2026-12", "2027-01", "2026-11"),
        (M, "2027-01", "2027-02", "2026-12"),
        (Q, "2026-Q4", "2027-Q1", "2026-Q3"),
        (Q, "2027-Q1", "2027-Q2", "2026-Q4"),
        (Y, "2026", "2027", "2025"),
    ],
)
def test_next_and_previous_across_year_ends(
    kind: PeriodKind, key: str, next_key: str, previous_key: str
) -> None:
    period = Period.from_key(key)
    assert period.kind is kind
    assert period.next().key == next_key
    assert period.previous().key == previous_key
    assert period.next().previous() == period == period.previous().next()


@pytest.mark.parametrize(
    ("day", "quarter", "start", "end"),
    [
        (date(2026, 1, 1), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 3, 31), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 9, 30), "2026-Q3", date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ],
)
def test_quarter_boundaries(day: date, quarter: str, start: date, end: date) -> None:
    period = period_of(Q, day)
    assert (period.key, period.start, period.end) == (quarter, start, end)


def test_month_and_year_ends() -> None:
    assert period_of(M, date(2024, 2, 10)).end == date(2024, 2, 29)
    assert period_of(M, date(2026, 2, 10)).end == date(2026, 2, 28)
    assert period_of(M, date(2026, 12, 31)).end == date(2026, 12, 31)
    assert period_of(Y, date(2026, 6, 1)).end == date(2026, 12, 31)
    assert period_of(M, date(9999, 12, 5)).end == date(9999, 12, 31)


@pytest.mark.parametrize("kind", list(PeriodKind))
@given(day=days)
def test_keys_round_trip_and_periods_tile_the_calendar(kind: PeriodKind, day: date) -> None:
    period = period_of(kind, day)
    assert Period.from_key(period.key) == period
    assert period.contains(day)
    assert period.start <= day <= period.end
    assert period.next().start == period.end + timedelta(days=1)
    assert period.previous().end == period.start - timedelta(days=1)
    assert not period.contains(period.next().start)
    assert not period.contains(period.previous().end)
    assert period_of(kind, period.start) == period_of(kind, period.end) == period


@pytest.mark.parametrize(
    "key",
    [
        "2025-W53",  # 2025 has 52 ISO weeks
        "2026-W54",
        "2026-W00",
        "2026-W7",
        "2026-w47",
        "2026W47",
        "2026-13",
        "2026-00",
        "2026-1",
        "2026-Q0",
        "2026-Q5",
        "2026-q4",
        "0000",
        "0000-01",
        "26",
        "20266",
        " 2026",
        "2026 ",
        "",
        "abc",
        "٢٠٢٦",
        "2026-11-21",
    ],
)
def test_from_key_rejects_malformed_keys(key: str) -> None:
    with pytest.raises(ValueError):
        Period.from_key(key)


def test_a_period_starts_on_its_first_day() -> None:
    with pytest.raises(ValueError):
        Period(W, date(2026, 11, 17))
    with pytest.raises(ValueError):
        Period(Q, date(2026, 11, 1))
    with pytest.raises(TypeError):
        Period(W, datetime(2026, 11, 16))
    with pytest.raises(TypeError):
        period_of(W, datetime(2026, 11, 16, 12))
    # A kind read back from storage as text is the enum again.
    assert Period("week", date(2026, 11, 16)).kind is W  # type: ignore[arg-type]


def test_periods_order_by_start_within_a_kind() -> None:
    weeks = [Period.from_key(k) for k in ("2026-W47", "2025-W01", "2026-W01")]
    assert [p.key for p in sorted(weeks)] == ["2025-W01", "2026-W01", "2026-W47"]


def test_deadlines_are_local_midnights() -> None:
    week = Period.from_key("2026-W47")
    assert opens_at(week, VN) == datetime(2026, 11, 16, tzinfo=VN)
    assert opens_at(week, VN).utcoffset() == timedelta(hours=7)
    assert due_at(week, 0, VN) == datetime(2026, 11, 23, tzinfo=VN)
    assert due_at(week, 1, VN) == datetime(2026, 11, 24, tzinfo=VN)
    assert locks_at(week, 3, VN) == datetime(2026, 11, 26, tzinfo=VN)
    assert locks_at(week, 3, VN).isoformat() == "2026-11-26T00:00:00+07:00"
    year = Period.from_key("2026")
    assert due_at(year, 0, VN) == datetime(2027, 1, 1, tzinfo=VN)
    with pytest.raises(ValueError):
        due_at(week, -1, VN)


@pytest.mark.parametrize(
    ("typed", "kind", "key"),
    [
        ("2026-W47", W, "2026-W47"),
        ("  2026-w47 ", W, "2026-W47"),
        ("W47", W, "2026-W47"),
        ("w3", W, "2026-W03"),
        ("w53", W, "2026-W53"),
        ("2026-11", M, "2026-11"),
        ("11/2026", M, "2026-11"),
        ("1/2027", M, "2027-01"),
        ("2026-Q4", Q, "2026-Q4"),
        ("Q4/2026", Q, "2026-Q4"),
        ("q4 2026", Q, "2026-Q4"),
        ("q4   2026", Q, "2026-Q4"),
        ("2026", Y, "2026"),
        ("21/11/2026", W, "2026-W47"),
        ("21/11/2026", M, "2026-11"),
        ("21/11/2026", Q, "2026-Q4"),
        ("21/11/2026", Y, "2026"),
        ("1/1/2027", W, "2026-W53"),
        ("30/12/2024", W, "2025-W01"),
    ],
)
def test_parse_period_forms(typed: str, kind: PeriodKind, key: str) -> None:
    assert parse_period(typed, kind, TODAY) == Period.from_key(key)


def test_w_alone_uses_todays_iso_year() -> None:
    # 2024-12-30 is in 2025-W01, so "W2" then means 2025's second week.
    assert parse_period("W2", W, date(2024, 12, 30)) == Period.from_key("2025-W02")
    assert parse_period("W53", W, date(2025, 6, 1)) is None


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("W47", M),
        ("2026-W47", M),
        ("11/2026", W),
        ("2026-11", Q),
        ("Q4/2026", M),
        ("2026", W),
        ("2026-Q4", Y),
        ("", W),
        ("   ", W),
        ("next week", W),
        ("W54", W),
        ("2025-W53", W),
        ("13/2026", M),
        ("Q5/2026", Q),
        ("31/02/2026", W),
        ("21/11/26", W),
        ("21-11-2026", W),
        ("١١/٢٠٢٦", M),
    ],
)
def test_parse_period_refuses_other_kinds_and_nonsense(typed: str, kind: PeriodKind) -> None:
    assert parse_period(typed, kind, TODAY) is None


# --- Indicator sets and checks -------------------------------------------------------------

ANTT_CODES = [
    "propaganda_sessions",
    "propaganda_attendees",
    "mediation_cases",
    "mediation_resolved",
    "patrols",
    "community_education",
    "reintegration_support",
    "youth_legal_education",
    "information_provided",
    "security_incidents",
]


def test_the_packaged_indicator_sets_load() -> None:
    (antt,) = indicator_sets()
    assert (antt.code, antt.period, antt.due_days, antt.lock_days) == ("antt", W, 1, 3)
    assert [i.code for i in antt.indicators] == ANTT_CODES
    assert antt.indicator("mediation_resolved") == Indicator(
        "mediation_resolved", at_most="mediation_cases"
    )
    assert antt.indicator("propaganda_attendees") == Indicator(
        "propaganda_attendees", warn_below="propaganda_sessions"
    )
    assert antt.indicator("nothing") is None
    assert indicator_set("antt") is antt
    assert indicator_set("nothing") is None


def _config(**changes: object) -> dict:
    indicators = [{"code": "a"}, {"code": "b", "at_most": "a"}, {"code": "c", "warn_below": "a"}]
    one = {"code": "s", "period": "month", "due_days": 2, "lock_days": 5,
           "indicators": indicators}
    one.update(changes)
    return {"_comment": "test", "sets": [one]}


def test_a_minimal_config_loads() -> None:
    (s,) = load_indicator_sets(json.dumps(_config(_comment="about s")))
    assert s == IndicatorSet("s", M, 2, 5, (
        Indicator("a"), Indicator("b", at_most="a"), Indicator("c", warn_below="a"),
    ))


@pytest.mark.parametrize(
    ("config", "named"),
    [
        (_config(colour="red"), "colour"),
        (_config(period="fortnight"), "fortnight"),
        (_config(period=7), "period"),
        (_config(due_days=-1), "due_days"),
        (_config(lock_days=-1), "lock_days"),
        (_config(due_days=1.5), "due_days"),
        (_config(due_days=True), "due_days"),
        (_config(due_days=6, lock_days=5), "lock_days"),
        (_config(indicators=[]), "indicators"),
        (_config(indicators={"code": "a"}), "indicators"),
        (_config(indicators=[{"code": "a"}, {"code": "a"}]), "'a'"),
        (_config(indicators=[{"code": "a", "at_most": "z"}]), "'z'"),
        (_config(indicators=[{"code": "a", "warn_below": "z"}]), "'z'"),
        (_config(indicators=[{"code": "a", "at_most": "a"}]), "'a'"),
        (_config(indicators=[{"code": "a", "warn_below": "a"}]), "itself"),
        (_config(indicators=[{"code": "a", "at_most": 3}]), "at_most"),
        (_config(indicators=[{"code": "a", "size": 3}]), "size"),
        (_config(indicators=[{"at_most": "a"}]), "code"),
        (_config(indicators=["a"]), "indicator #1"),
        (_config(code="Bad Code"), "Bad Code"),
        (_config(code=""), "code"),
        ({k: v for k, v in _config().items() if k != "sets"}, "sets"),
        ({"sets": []}, "sets"),
        ({"sets": [_config()["sets"][0]] * 2}, "'s'"),
        ({"sets": _config()["sets"], "version": 2}, "version"),
        ({"sets": _config()["sets"], "_comment": 1}, "_comment"),
        ([], "object"),
    ],
)
def test_malformed_indicator_sets_are_refused(config: object, named: str) -> None:
    with pytest.raises(ValueError, match="indicator sets") as caught:
        load_indicator_sets(json.dumps(config))
    assert named in str(caught.value)


def test_a_missing_key_is_named() -> None:
    config = _config()
    del config["sets"][0]["lock_days"]
    with pytest.raises(ValueError, match="lock_days"):
        load_indicator_sets(json.dumps(config))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"sets": [], "sets": []}',  # a repeated key would otherwise be silently dropped
    ],
)
def test_unreadable_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="indicator sets"):
        load_indicator_sets(text)


def _antt() -> IndicatorSet:
    return indicator_set("antt")  # type: ignore[return-value]


def test_at_most_blocks_and_equal_is_fine() -> None:
    assert check(_antt(), {"mediation_cases": 3, "mediation_resolved": 4}) == [
        Finding("mediation_resolved", "at_most", "mediation_cases", True)
    ]
    assert check(_antt(), {"mediation_cases": 3, "mediation_resolved": 3}) == []
    assert check(_antt(), {"mediation_cases": 3, "mediation_resolved": 0}) == []


def test_warn_below_warns_without_blocking() -> None:
    assert check(_antt(), {"propaganda_sessions": 2, "propaganda_attendees": 1}) == [
        Finding("propaganda_attendees", "warn_below", "propaganda_sessions", False)
    ]
    assert check(_antt(), {"propaganda_sessions": 2, "propaganda_attendees": 2}) == []


def test_a_partial_draft_checks_only_what_it_has() -> None:
    assert check(_antt(), {"mediation_resolved": 9}) == []
    assert check(_antt(), {"propaganda_attendees": 0}) == []
    assert check(_antt(), {"mediation_cases": 9}) == []
    assert check(_antt(), {}) == []
    assert check(_antt(), {"not_in_the_set": 5, "patrols": 1}) == []


def test_findings_follow_the_sets_order() -> None:
    values = {"mediation_resolved": 5, "mediation_cases": 1,
              "propaganda_attendees": 0, "propaganda_sessions": 1}
    assert [f.indicator for f in check(_antt(), values)] == [
        "propaganda_attendees", "mediation_resolved"
    ]


def test_check_reports_outliers_against_history() -> None:
    history = {"patrols": [2, 3, 1], "mediation_cases": []}
    values = {"patrols": 21, "mediation_cases": 500, "security_incidents": 1000}
    assert check(_antt(), values, history=history) == [
        Finding("patrols", "outlier", None, False)
    ]
    assert check(_antt(), {"patrols": 20}, history=history) == []


@pytest.mark.parametrize(
    ("value", "history", "outlier"),
    [
        (1_000_000, [], False),  # no history, no opinion
        (11, [0, 0, 0], True),  # mean 0 counts as 1
        (10, [0, 0, 0], False),
        (10, [1], False),
        (11, [1], True),
        (50, [5, 5], False),  # exactly 10× the mean is not an outlier
        (51, [5, 5], True),
        (34, [3, 4], False),  # 10 × 3.5 = 35
        (35, [3, 4], False),
        (36, [3, 4], True),
        (11, [0, 1], True),  # mean 0.5 is below 1
        (0, [100, 200], False),  # far below is not asked about
    ],
)
def test_is_outlier(value: int, history: list[int], outlier: bool) -> None:
    assert is_outlier(value, history) is outlier


@pytest.mark.parametrize(("typed", "kind", "key"), [
    ("tuần trước", PeriodKind.WEEK, "2026-W48"), ("tuần này", PeriodKind.WEEK, "2026-W49"),
    ("last week", PeriodKind.WEEK, "2026-W48"), ("this month", PeriodKind.MONTH, "2026-12"),
    ("tháng trước", PeriodKind.MONTH, "2026-11"), ("năm ngoái", PeriodKind.YEAR, "2025"),
    ("nay", PeriodKind.WEEK, "2026-W49"), ("tháng này", PeriodKind.WEEK, None),
])
def test_relative_periods_as_people_say_them(typed: str, kind, key) -> None:
    found = parse_period(typed, kind, date(2026, 12, 2))
    assert (found.key if found else None) == key
