"""Periodic reports from hamlets: reporting periods, deadlines, typed counts and checks.

A hamlet (thôn/tổ dân phố) reports a set of counts for each period of its indicator set:
a week, month, quarter or year. Weeks are ISO weeks, starting Monday 00:00 local time
(Asia/Ho_Chi_Minh), which is how offices in Vietnam count them; months, quarters and years
start on their first day. A report is on time until the due day ends and can be changed until
it locks.

Counts are typed by hand on a phone and read the Vietnamese way: "." groups thousands and ","
is the decimal mark, so "1.403" is one thousand four hundred and three, never 1.4.

Plain Python, no Telegram and no connection: tested in microseconds.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache
from importlib import resources

# --- Periods -------------------------------------------------------------------------------

# The years a reporting period may fall in: what a person could mean. Typed or forged
# periods outside (0001, 9999) are refused as unreadable instead of overflowing the calendar
# a step later (the period after 9999-W52 has no date).
YEARS = range(1900, 2201)


class PeriodKind(StrEnum):
    """How long one reporting period lasts."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def _start_of(kind: PeriodKind, day: date) -> date:
    """The first day of the period of ``kind`` that contains ``day``."""
    if kind is PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    if kind is PeriodKind.MONTH:
        return date(day.year, day.month, 1)
    if kind is PeriodKind.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period, named by its kind and first day."""

    kind: PeriodKind
    start: date  # Monday for ISO weeks, the 1st of the month/quarter/year otherwise

    def __post_init__(self) -> None:
        # A kind read back from the database arrives as a plain string.
        object.__setattr__(self, "kind", PeriodKind(self.kind))
        # A datetime is a date too, but would carry a time (and maybe a zone) into every
        # comparison; callers must decide which local day they mean.
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise TypeError(f"Period.start must be a date, not {type(self.start).__name__}")
        if _start_of(self.kind, self.start) != self.start:
            raise ValueError(f"{self.start} is not the first day of a {self.kind}")

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        if self.kind is PeriodKind.WEEK:
            return self.start + timedelta(days=6)
        if self.kind is PeriodKind.YEAR:
            return date(self.start.year, 12, 31)
        last_month = self.start.month + (0 if self.kind is PeriodKind.MONTH else 2)
        if last_month == 12:  # the day after would be in the next year (or past year 9999)
            return date(self.start.year, 12, 31)
        return date(self.start.year, last_month + 1, 1) - timedelta(days=1)

    def next(self) -> Period:
        """The period right after this one."""
        return period_of(self.kind, self.end + timedelta(days=1))

    def previous(self) -> Period:
        """The period right before this one."""
        return period_of(self.kind, self.start - timedelta(days=1))

    @property
    def key(self) -> str:
        """A short stable name: ``2026-W47``, ``2026-11``, ``2026-Q4`` or ``2026``."""
        if self.kind is PeriodKind.WEEK:
            # The ISO year, not the calendar one: 2024-12-30 starts 2025-W01.
            iso = self.start.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.start.year:04d}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year:04d}"

    @classmethod
    def from_key(cls, key: str) -> Period:
        """The period named by :attr:`key`; ValueError for anything else (``2025-W53``, a
        year outside :data:`YEARS`)."""
        # [0-9] rather than \d: \d also matches Arabic-Indic and other digits.
        if (m := re.match(r"[0-9]{4}", key)) and int(m[0]) not in YEARS:
            raise ValueError(f"a period in year {m[0]}: not one a person could mean")
        if m := re.fullmatch(r"([0-9]{4})-W([0-9]{2})", key):
            try:
                start = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            except ValueError:
                raise ValueError(f"no such ISO week: {key!r}") from None
            return cls(PeriodKind.WEEK, start)
        try:
            if m := re.fullmatch(r"([0-9]{4})-([0-9]{2})", key):
                return cls(PeriodKind.MONTH, date(int(m[1]), int(m[2]), 1))
            if m := re.fullmatch(r"([0-9]{4})-Q([1-4])", key):
                return cls(PeriodKind.QUARTER, date(int(m[1]), 3 * int(m[2]) - 2, 1))
            if m := re.fullmatch(r"[0-9]{4}", key):
                return cls(PeriodKind.YEAR, date(int(m[0]), 1, 1))
        except ValueError:
            raise ValueError(f"no such period: {key!r}") from None
        raise ValueError(f"not a period key: {key!r}")

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls within the period."""
        return self.start <= day <= self.end


def period_of(kind: PeriodKind, day: date) -> Period:
    """The period of ``kind`` that contains ``day`` (a local date, not a datetime)."""
    if isinstance(day, datetime):
        raise TypeError("period_of takes a date; convert a datetime to the local date first")
    kind = PeriodKind(kind)
    return Period(kind, _start_of(kind, day))


def parse_period(text: str, kind: PeriodKind, today: date) -> Period | None:
    """The period of ``kind`` a user typed (after /completeness or /reports), or None.

    Accepted: a key (``2026-W47``, ``2026-11``, ``2026-Q4``, ``2026``), ``W47`` (a week of
    today's ISO year), ``11/2026``, ``Q4/2026`` or ``Q4 2026``, and ``dd/mm/yyyy`` (the period
    of ``kind`` containing that day). Case and surrounding spaces do not matter. A form of
    another kind than ``kind`` gives None rather than a guess; only a day works for every kind.
    """
    kind = PeriodKind(kind)
    typed = " ".join(text.split()).upper()
    found: Period | None = None
    if (relative := _relative(typed, kind)) is not None:
        back, named = relative
        if named is not None and named is not kind:
            return None  # "tháng này" where a week is wanted: no guess
        current = period_of(kind, today)
        return current.previous() if back else current
    try:
        if m := re.fullmatch(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", typed):
            if int(m[3]) not in YEARS:
                return None
            return period_of(kind, date(int(m[3]), int(m[2]), int(m[1])))
        if m := re.fullmatch(r"W([0-9]{1,2})", typed):
            year = today.isocalendar().year
            found = Period(PeriodKind.WEEK, date.fromisocalendar(year, int(m[1]), 1))
        elif m := re.fullmatch(r"([0-9]{1,2})[/ ]([0-9]{4})", typed):
            found = Period.from_key(f"{m[2]}-{int(m[1]):02d}")
        elif m := re.fullmatch(r"Q([1-4])[/ ]([0-9]{4})", typed):
            found = Period.from_key(f"{m[2]}-Q{m[1]}")
        else:
            found = Period.from_key(typed)
    except ValueError:
        return None
    return found if found.kind is kind else None


# "this week", "last month" as people say them: (words naming the kind, the kind).
_KIND_WORDS = {"TUẦN": PeriodKind.WEEK, "TUAN": PeriodKind.WEEK, "WEEK": PeriodKind.WEEK,
               "THÁNG": PeriodKind.MONTH, "THANG": PeriodKind.MONTH, "MONTH": PeriodKind.MONTH,
               "QUÝ": PeriodKind.QUARTER, "QUY": PeriodKind.QUARTER,
               "QUARTER": PeriodKind.QUARTER, "NĂM": PeriodKind.YEAR, "NAM": PeriodKind.YEAR,
               "YEAR": PeriodKind.YEAR}
_THIS = {"NAY", "NÀY", "HIỆN TẠI", "HIỆN NAY", "THIS", "NOW"}
_LAST = {"TRƯỚC", "TRUOC", "VỪA RỒI", "VUA ROI", "QUA", "NGOÁI", "LAST", "PREVIOUS"}


def _relative(typed: str, kind: PeriodKind) -> tuple[bool, PeriodKind | None] | None:
    """("tuần trước", week) → (True: the one before, the kind the words name), or None if
    the words are not a relative period. English puts "this"/"last" first."""
    words = typed.split()
    named = None
    if words and words[0] in _KIND_WORDS:
        named, words = _KIND_WORDS[words[0]], words[1:]
    elif len(words) == 2 and words[1] in _KIND_WORDS:
        named, words = _KIND_WORDS[words[1]], words[:1]
    rest = " ".join(words)
    if rest in _THIS:
        return False, named
    if rest in _LAST:
        return True, named
    return None


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def opens_at(period: Period, tz: tzinfo) -> datetime:
    """When the period begins: local midnight at the start of its first day."""
    return _local_midnight(period.start, tz)


def _after_end(period: Period, days: int, tz: tzinfo) -> datetime:
    if days < 0:
        raise ValueError(f"days after the period must be 0 or more, not {days}")
    return _local_midnight(period.end + timedelta(days=days + 1), tz)


def due_at(period: Period, due_days: int, tz: tzinfo) -> datetime:
    """The moment a report becomes late: the end of the ``due_days``-th day after the period.

    With ``due_days=0`` that is the midnight right after the period's last day.
    """
    return _after_end(period, due_days, tz)


def locks_at(period: Period, lock_days: int, tz: tzinfo) -> datetime:
    """The moment a report can no longer be changed (same rule as :func:`due_at`)."""
    return _after_end(period, lock_days, tz)


# --- Typed counts --------------------------------------------------------------------------

MAX_COUNT = 10_000_000


class CountProblem(StrEnum):
    """Why a typed count was refused (each has its own message in the catalogs)."""

    EMPTY = "empty"
    NEGATIVE = "negative"
    DECIMAL = "decimal"
    # Python's int() accepts "١٢" and "１２"; a count stored from them would surprise everyone
    # who reads the raw text later, so we ask for 0–9.
    DIGITS = "digits"
    GROUPING = "grouping"  # separators in the wrong places: "1.40", "12.3456", "1..403"
    NOT_A_NUMBER = "not_a_number"
    TOO_LARGE = "too_large"  # > MAX_COUNT


# Phones and copy-paste bring more than one kind of space; U+202F is what Babel and
# Unicode's CLDR put between groups in several locales.
_SPACES = frozenset(" \u00a0\u202f\u2009")
# Hyphen-minus, the minus sign, and the dashes keyboards substitute for it.
_MINUSES = frozenset("-\u2212\u2013\ufe63\uff0d")
_ASCII_DIGITS = frozenset("0123456789")


def _marks(locale: str) -> tuple[str, str]:
    """(group mark, decimal mark): English's for ``en``/``en_*``, Vietnamese for all else."""
    language = locale.replace("-", "_").split("_")[0].lower()
    return (",", ".") if language == "en" else (".", ",")


def parse_count(text: str, locale: str) -> tuple[int | None, CountProblem | None]:
    """A whole count as typed, read the way ``locale`` writes numbers: (value, None) or (None, why).

    For ``vi`` (and any locale but English) "1.403" and "1 403" are 1403 and "1,5" is a
    decimal; for ``en`` "1,403" is 1403 and "1.5" a decimal. Groups after the first have
    exactly three digits, and one number uses one kind of separator.
    """
    # Marks that show nothing (a zero-width space, a direction mark copied with the number)
    # are not part of what was typed.
    body = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()
    if not body:
        return None, CountProblem.EMPTY
    if any(ch.isdigit() and ch not in _ASCII_DIGITS for ch in body):
        return None, CountProblem.DIGITS
    negative = body[0] in _MINUSES
    if negative or body[0] == "+":
        body = body[1:].lstrip()
    value, problem = _parse_magnitude(body, *_marks(locale))
    if problem in (CountProblem.NOT_A_NUMBER, CountProblem.EMPTY):
        return None, CountProblem.NOT_A_NUMBER
    # "-1,5" or "-1.40" is a number, just not a count: the sign is the first thing to fix.
    if negative:
        return None, CountProblem.NEGATIVE
    return value, problem


def _parse_magnitude(
    body: str, group: str, decimal: str
) -> tuple[int | None, CountProblem | None]:
    if not body:
        return None, CountProblem.EMPTY
    if any(ch not in _ASCII_DIGITS and ch not in _SPACES and ch not in (group, decimal)
           for ch in body):
        return None, CountProblem.NOT_A_NUMBER
    if not any(ch in _ASCII_DIGITS for ch in body):
        return None, CountProblem.NOT_A_NUMBER
    if decimal in body:
        # One decimal mark makes a decimal; several ("1,403,000" typed in vi) are misplaced
        # separators, and the message about grouping is the one that helps.
        if body.count(decimal) > 1:
            return None, CountProblem.GROUPING
        return None, CountProblem.DECIMAL
    spaced = "".join(" " if ch in _SPACES else ch for ch in body)
    if group in spaced and " " in spaced:
        return None, CountProblem.GROUPING
    groups = spaced.split(group if group in spaced else " ")
    if len(groups) > 1 and (
        not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])
    ):
        return None, CountProblem.GROUPING
    digits = "".join(groups).lstrip("0") or "0"
    # Checked on the length first: int() refuses strings over 4,300 digits with its own error.
    if len(digits) > len(str(MAX_COUNT)) or int(digits) > MAX_COUNT:
        return None, CountProblem.TOO_LARGE
    return int(digits), None


# --- Indicator sets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One count in a report, with the rules tying it to another count of the same set."""

    code: str
    at_most: str | None = None  # value must be ≤ that indicator's value (blocks submission)
    warn_below: str | None = None  # warn if value < that indicator's value


@dataclass(frozen=True)
class IndicatorSet:
    """The counts a hamlet reports each period, and when they are due and locked."""

    code: str
    period: PeriodKind
    due_days: int
    lock_days: int
    indicators: tuple[Indicator, ...]

    def indicator(self, code: str) -> Indicator | None:
        """The indicator with this code, if the set has one."""
        return next((i for i in self.indicators if i.code == code), None)


_CODE = re.compile(r"[a-z][a-z0-9_]*")  # codes become catalog keys: "indicator.<code>"
_TOP_KEYS = {"sets", "_comment"}
_SET_KEYS = {"code", "period", "due_days", "lock_days", "indicators", "_comment"}
_SET_REQUIRED = _SET_KEYS - {"_comment"}
_INDICATOR_KEYS = {"code", "at_most", "warn_below", "_comment"}
_RULES = ("at_most", "warn_below")


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    # json.loads keeps the last of two equal keys without a word; in a config that hides a typo.
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"indicator sets: key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _object(value: object, where: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"indicator sets: {where}: expected an object")
    if unknown := sorted(set(value) - allowed):
        raise ValueError(f"indicator sets: {where}: unknown keys {unknown}")
    if missing := sorted(required - set(value)):
        raise ValueError(f"indicator sets: {where}: missing keys {missing}")
    if "_comment" in value and not isinstance(value["_comment"], str):
        raise ValueError(f"indicator sets: {where}: _comment must be a string")
    return value


def _code(value: object, where: str) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise ValueError(f"indicator sets: {where}: code {value!r} is not lower_snake_case")
    return value


def _days(value: object, where: str) -> int:
    # bool is an int in Python; "due_days": true is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"indicator sets: {where}: expected a whole number ≥ 0, not {value!r}")
    return value


def _indicator(raw: object, in_set: str, number: int) -> Indicator:
    raw = _object(raw, f"{in_set} indicator #{number}", _INDICATOR_KEYS, {"code"})
    code = _code(raw["code"], f"{in_set} indicator #{number}")
    where = f"{in_set} indicator {code!r}"
    rules = {}
    for rule in _RULES:
        other = raw.get(rule)
        if other is not None and not isinstance(other, str):
            raise ValueError(f"indicator sets: {where}: {rule} must name an indicator")
        if other == code:
            raise ValueError(f"indicator sets: {where}: {rule} names the indicator itself")
        rules[rule] = other
    return Indicator(code, **rules)


def _indicator_set(raw: object, where: str) -> IndicatorSet:
    raw = _object(raw, where, _SET_KEYS, _SET_REQUIRED)
    code = _code(raw["code"], where)
    where = f"set {code!r}"
    try:
        period = PeriodKind(raw["period"])
    except ValueError:
        kinds = ", ".join(PeriodKind)
        raise ValueError(
            f"indicator sets: {where}: period {raw['period']!r} is not one of {kinds}"
        ) from None
    due_days = _days(raw["due_days"], f"{where} due_days")
    lock_days = _days(raw["lock_days"], f"{where} lock_days")
    # A report locked before it is due could never be sent on time.
    if lock_days < due_days:
        raise ValueError(f"indicator sets: {where}: lock_days {lock_days} < due_days {due_days}")
    listed = raw["indicators"]
    if not isinstance(listed, list) or not listed:
        raise ValueError(f"indicator sets: {where}: indicators must be a non-empty list")
    indicators = tuple(_indicator(item, where, n) for n, item in enumerate(listed, 1))
    codes = [i.code for i in indicators]
    for i in indicators:
        if codes.count(i.code) > 1:
            raise ValueError(f"indicator sets: {where}: indicator {i.code!r} appears twice")
        for rule in _RULES:
            other = getattr(i, rule)
            if other is not None and other not in codes:
                raise ValueError(
                    f"indicator sets: {where} indicator {i.code!r}: {rule} names {other!r},"
                    " which is not in the set"
                )
    return IndicatorSet(code, period, due_days, lock_days, indicators)


def load_indicator_sets(text: str) -> tuple[IndicatorSet, ...]:
    """The indicator sets in a JSON text shaped like storage/data/indicator_sets.json.

    Raises ValueError, naming the set and indicator, for anything that is not exactly right:
    unknown or repeated keys, repeated codes, rules naming a missing indicator or the
    indicator itself, an unknown period kind, negative days.
    """
    try:
        data = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as e:
        raise ValueError(f"indicator sets: not valid JSON: {e}") from None
    data = _object(data, "top level", _TOP_KEYS, {"sets"})
    if not isinstance(data["sets"], list) or not data["sets"]:
        raise ValueError("indicator sets: sets must be a non-empty list")
    sets = tuple(_indicator_set(raw, f"set #{n}") for n, raw in enumerate(data["sets"], 1))
    codes = [s.code for s in sets]
    if repeated := sorted({c for c in codes if codes.count(c) > 1}):
        raise ValueError(f"indicator sets: set codes appear twice: {repeated}")
    return sets


@cache
def indicator_sets() -> tuple[IndicatorSet, ...]:
    """The configured indicator sets (storage/data/indicator_sets.json; names in the catalogs)."""
    text = resources.files("storage").joinpath("data/indicator_sets.json").read_text("utf-8")
    return load_indicator_sets(text)


def indicator_set(code: str) -> IndicatorSet | None:
    """The configured indicator set with this code, if any."""
    return next((s for s in indicator_sets() if s.code == code), None)


# --- Checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Something about a report's values worth telling the person typing them."""

    indicator: str  # the indicator the finding is about
    rule: str  # "at_most" | "warn_below" | "outlier"
    other: str | None  # the other indicator named by the rule (None for outlier)
    blocking: bool  # True for at_most (cannot submit), False for warnings


def check(
    indicator_set: IndicatorSet,
    values: Mapping[str, int],
    history: Mapping[str, Sequence[int]] | None = None,
) -> list[Finding]:
    """The findings for ``values``, in the set's indicator order.

    A draft may be partial: a rule is checked only when both its indicators have a value.
    Values for codes outside the set are ignored. With ``history`` (recent values per
    indicator), values far from it are reported as non-blocking "outlier" findings.
    """
    findings: list[Finding] = []
    for ind in indicator_set.indicators:
        if ind.code not in values:
            continue
        value = values[ind.code]
        if ind.at_most is not None and ind.at_most in values and value > values[ind.at_most]:
            findings.append(Finding(ind.code, "at_most", ind.at_most, True))
        if (ind.warn_below is not None and ind.warn_below in values
                and value < values[ind.warn_below]):
            findings.append(Finding(ind.code, "warn_below", ind.warn_below, False))
        if history is not None and is_outlier(value, history.get(ind.code, ())):
            findings.append(Finding(ind.code, "outlier", None, False))
    return findings


def is_outlier(value: int, history: Sequence[int]) -> bool:
    """Whether ``value`` is far from the hamlet's recent history: over 10× its mean.

    A mean below 1 counts as 1, so after a run of zeros anything over 10 asks "are you sure?".
    No history, no opinion.
    """
    if not history:
        return False
    # value > 10 * max(mean, 1), multiplied through by len(history) to stay in integers.
    return value * len(history) > 10 * max(sum(history), len(history))
