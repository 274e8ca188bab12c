"""When something happened, as a resident or a reporter says it: the buttons "just now" and
"today", a typed date, and how it is worded back (tips and events share all three)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta

from handlers.common import Turn
from handlers.services import Services
from locales import formats, t

OLDEST_YEARS = 10
JUST_NOW = timedelta(hours=1)  # "vừa xảy ra" is said of a "now" this recent, else its moment
WHEN = ("now", "today", "yesterday")  # the buttons of a "when" step, in order
_LAST_YEAR_DAYS = 60  # a day typed without its year, ahead of today: last year's if this recent


def pressed(turn: Turn, draft) -> bool:
    """The "now", "today" or "yesterday" button: set on ``draft`` (its ``occurred_kind`` and
    ``occurred_at``); False for a button that is none of them."""
    svc = turn.svc
    now = svc.now()
    today = now.astimezone(svc.timezone).date()
    which = turn.press.field(1)
    if which == "now":
        draft.occurred_kind, draft.occurred_at = "now", now.isoformat()
    elif which == "today":
        draft.occurred_kind, draft.occurred_at = "today", today.isoformat()
    elif which == "yesterday":
        draft.occurred_kind = "date"
        draft.occurred_at = (today - timedelta(days=1)).isoformat()
    else:
        return False
    return True


def typed(turn: Turn, draft) -> bool:
    """A typed day, time, or both: set on ``draft``; else False, and the person is told
    why."""
    svc = turn.svc
    now = svc.now().astimezone(svc.timezone)
    when, problem = parse_when(turn.text, now)
    if when is None:
        turn.say(turn.tr(f"tips.when.{problem}", today=formats.day(now.date(), turn.me.locale),
                         years=turn.number(OLDEST_YEARS)))
        return False
    # "date": a typed day, with its time of day when one was given (ISO with the offset).
    draft.occurred_kind = "date"
    draft.occurred_at = (when.isoformat(timespec="minutes") if isinstance(when, datetime)
                         else when.isoformat())
    return True


_LEAD = r"(?:khoảng|khoang|lúc|luc|vào lúc|vào|vao|tầm|tam|about|around|at|on)\s+"
# Day words, how many days back, and the part of the day they say a bare hour is in
# ("tối qua 9h" is 21:00, "sáng nay 8h" is 08:00).
_DAYS: dict[str, tuple[int, str | None]] = {
    "hôm nay": (0, None), "hom nay": (0, None), "hnay": (0, None), "today": (0, None),
    "sáng nay": (0, "sáng"), "sang nay": (0, "sáng"), "trưa nay": (0, "trưa"),
    "trua nay": (0, "trưa"), "chiều nay": (0, "chiều"), "chieu nay": (0, "chiều"),
    "tối nay": (0, "tối"), "toi nay": (0, "tối"),
    "this morning": (0, "sáng"), "this afternoon": (0, "chiều"),
    "this evening": (0, "tối"), "tonight": (0, "tối"),
    "hôm qua": (1, None), "hom qua": (1, None), "hqua": (1, None), "yesterday": (1, None),
    "sáng qua": (1, "sáng"), "sang qua": (1, "sáng"), "sáng hôm qua": (1, "sáng"),
    "sang hom qua": (1, "sáng"), "trưa qua": (1, "trưa"), "trưa hôm qua": (1, "trưa"),
    "trua qua": (1, "trưa"), "chiều qua": (1, "chiều"), "chiều hôm qua": (1, "chiều"),
    "chieu qua": (1, "chiều"), "chieu hom qua": (1, "chiều"),
    "tối qua": (1, "tối"), "toi qua": (1, "tối"), "tối hôm qua": (1, "tối"),
    "toi hom qua": (1, "tối"), "đêm qua": (1, "đêm"), "dem qua": (1, "đêm"),
    "đêm hôm qua": (1, "đêm"), "dem hom qua": (1, "đêm"),
    "yesterday morning": (1, "sáng"), "yesterday afternoon": (1, "chiều"),
    "yesterday evening": (1, "tối"), "last night": (1, "tối"),
    "hôm kia": (2, None), "hom kia": (2, None), "hkia": (2, None),
}
_DAYS_LONGEST_FIRST = sorted(_DAYS.items(), key=lambda kv: -len(kv[0]))
_TOMORROW = re.compile(r"(?:ngày mai|ngay mai|mai|sáng mai|chiều mai|tối mai|tomorrow)\b")
_AGO = re.compile(r"(\d{1,3})\s*(ngày|ngay|hôm|hom|days?|tuần|tuan|weeks?)\s*"
                  r"(?:trước|truoc|ago)")
_DAY_TEXT = r"(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}|\d{2})(?!\d))?"
_DAY = re.compile(rf"(?:(?:ngày|ngay|hôm|hom)\s+)?{_DAY_TEXT}")
_DAY_AT_END = re.compile(rf"(?:^|\s)(?:(?:ngày|ngay|hôm|hom)\s+)?{_DAY_TEXT}$")
_TIME = re.compile(
    r"(?P<h>\d{1,2})\s*(?:(?P<sep>:|h|g|giờ|gio)\s*(?P<m>\d{2})?\s*(?:phút|phut|p)?)?"
    r"\s*(?P<part>sáng|sang|trưa|trua|chiều|chieu|tối|toi|đêm|dem|am|pm)?")


def _date(match: re.Match, today: date) -> date | None:
    """The day of a matched ``dd/mm[/yyyy]`` (None if the calendar has no such day); a day
    without its year is this year's, or last year's if it is ahead and recent."""
    year = int(match[3]) if match[3] else today.year
    if match[3] and len(match[3]) == 2:
        year += 2000  # 30/11/26
    try:
        day = date(year, int(match[2]), int(match[1]))
    except ValueError:
        return None
    if not match[3] and day > today and (
            today - day.replace(year=today.year - 1)).days <= _LAST_YEAR_DAYS:
        day = day.replace(year=today.year - 1)  # 30/12 typed on 2/1
    return day


def _split_day(typed: str, today: date) -> tuple[date | None, str, str | None, str]:
    """The day said at the start ("hôm qua 22h", "30/11 22h") or at the end ("8h sáng hôm
    qua", "22h ngày 30/11"): (day or None, what is left, the part of day the words imply,
    a problem)."""
    for words, (back, part) in _DAYS_LONGEST_FIRST:
        if typed == words or typed.startswith(words + " "):
            return today - timedelta(days=back), typed[len(words):].strip(), part, ""
    if match := _DAY.match(typed):
        day = _date(match, today)
        return day, typed[match.end():].strip(), None, "" if day else "no_day"
    for words, (back, part) in _DAYS_LONGEST_FIRST:
        if typed.endswith(" " + words):
            return today - timedelta(days=back), typed[:-len(words)].strip(), part, ""
    if match := _DAY_AT_END.search(typed):
        day = _date(match, today)
        return day, typed[:match.start()].strip(), None, "" if day else "no_day"
    return None, typed, None, ""


def parse_when(text: str, now: datetime) -> tuple[date | datetime | None, str]:
    """When something happened, as people type it: ``21/11/2026``, ``21/11`` (this year),
    ``30/11/26``, ``ngày 30/11``, ``hôm qua``, ``hôm kia``, ``sáng nay``, ``chiều qua``,
    ``2 ngày trước``, each with an optional time before or after (``22h``, ``22:30``,
    ``khoảng 22h``, ``10 giờ tối``, ``8h sáng hôm qua``), or a time alone (the last time the
    clock showed it); in English too (``yesterday 9pm``, ``this morning``, ``2 days ago``).
    ``now`` is local.

    The day (a ``date``) or the moment (a ``datetime`` in ``now``'s zone), or None and why:
    bad, no_day (29/2 of a year without it), future, too_old.
    """
    # NFC first: some Vietnamese keyboards type the accents as combining marks.
    typed = " ".join("".join(ch for ch in unicodedata.normalize("NFC", text)
                             if unicodedata.category(ch) != "Cf")
                     .lower().replace(",", " ").split()).rstrip(".!")
    typed = re.sub(rf"^{_LEAD}", "", typed)
    today = now.date()
    if _TOMORROW.match(typed):
        return None, "future"
    if match := _AGO.fullmatch(typed):
        weeks = match[2].startswith(("tuần", "tuan", "week"))
        day = today - timedelta(days=int(match[1]) * (7 if weeks else 1))
        return _checked(day, None, today, now)
    day, rest, implied, problem = _split_day(typed, today)
    if problem:
        return None, problem
    rest = re.sub(rf"^{_LEAD}", "", rest)
    clock = None
    if rest:
        match = _TIME.fullmatch(rest)
        if not match or not (match["sep"] or match["part"] or implied):  # "22" is no time
            return None, "bad"
        hour, minute = int(match["h"]), int(match["m"] or 0)
        part = match["part"] or implied
        if part in ("sáng", "sang", "am") and hour > 12:
            return None, "bad"  # "20h sáng": which is it?
        if part in ("chiều", "chieu", "tối", "toi", "pm") and hour < 12:
            hour += 12
        elif part in ("trưa", "trua") and hour <= 4:
            hour += 12  # "1h trưa" is 13:00
        elif part in ("đêm", "dem") and 6 <= hour < 12:
            hour += 12
        elif part in ("sáng", "sang", "am", "đêm", "dem") and hour == 12:
            hour = 0  # "12h đêm" is midnight
        if hour > 23 or minute > 59:
            return None, "bad"
        clock = time(hour, minute)
        if implied == "đêm" and hour < 6:
            day = today  # "đêm qua 2h": the small hours of last night are this morning's
    if day is None and clock is None:
        return None, "bad"
    if day is None:  # a time alone: the last time the clock showed it
        moment = datetime.combine(today, clock, now.tzinfo)
        if moment > now:
            moment -= timedelta(days=1)
        return moment, ""
    return _checked(day, clock, today, now)


def _checked(day: date, clock: time | None, today: date, now: datetime
             ) -> tuple[date | datetime | None, str]:
    """The day (with its time) unless it is in the future or too long ago."""
    oldest = date(today.year - OLDEST_YEARS, today.month, min(today.day, 28)
                  if (today.month, today.day) == (2, 29) else today.day)
    if day < oldest:
        return None, "too_old"
    if clock is None:
        return (day, "") if day <= today else (None, "future")
    moment = datetime.combine(day, clock, now.tzinfo)
    return (moment, "") if moment <= now else (None, "future")


def occurred(locale: str, svc: Services, kind: str, at: str, *, on_card: bool = False) -> str:
    """When it happened, worded as the person said it ("just now", "today") while that is
    true; ``on_card``: a message that stays in a chat, read days later, gives the moment or
    the day only."""
    if "T" in at:  # "now", or a typed day with its time
        when = datetime.fromisoformat(at)
        moment = formats.moment(when, locale, svc.timezone)
        # "Just now" while it is (a draft taken up the next day says the moment).
        recent = svc.now() - when <= JUST_NOW
        return t(locale, "tips.when.was_now", moment=moment) \
            if kind == "now" and recent and not on_card else moment
    day = date.fromisoformat(at)
    if kind == "today" and not on_card and day == svc.now().astimezone(svc.timezone).date():
        return t(locale, "tips.when.was_today", day=formats.day(day, locale))
    return formats.day(day, locale)
