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
_DAY_WORDS = {
    "hôm nay": 0, "hom nay": 0, "hnay": 0, "today": 0,
    "hôm qua": 1, "hom qua": 1, "hqua": 1, "tối qua": 1, "toi qua": 1, "đêm qua": 1,
    "dem qua": 1, "yesterday": 1, "last night": 1,
    "hôm kia": 2, "hom kia": 2, "hkia": 2,
}
# Day words that also say the part of the day a bare hour is in ("tối qua 9h" is 21:00).
_PART_OF = {"tối qua": "tối", "toi qua": "tối", "đêm qua": "đêm", "dem qua": "đêm",
            "last night": "tối"}
_DAY_WORDS_LONGEST_FIRST = sorted(_DAY_WORDS.items(), key=lambda kv: -len(kv[0]))
_DAY = re.compile(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}))?")
_TIME = re.compile(
    r"(?P<h>\d{1,2})\s*(?:(?P<sep>:|h|g|giờ|gio)\s*(?P<m>\d{2})?\s*(?:phút|phut|p)?)?"
    r"\s*(?P<part>sáng|sang|trưa|trua|chiều|chieu|tối|toi|đêm|dem|am|pm)?")


def parse_when(text: str, now: datetime) -> tuple[date | datetime | None, str]:
    """When something happened, as people type it: ``21/11/2026``, ``21/11`` (this year),
    ``hôm qua``, ``hôm kia``, each with an optional time (``22h``, ``22:30``, ``khoảng 22h``,
    ``10 giờ tối``), or a time alone (the last time the clock showed it). ``now`` is local.

    The day (a ``date``) or the moment (a ``datetime`` in ``now``'s zone), or None and why:
    bad, future, too_old.
    """
    # NFC first: some Vietnamese keyboards type the accents as combining marks.
    typed = " ".join("".join(ch for ch in unicodedata.normalize("NFC", text)
                             if unicodedata.category(ch) != "Cf")
                     .lower().replace(",", " ").split()).rstrip(".!")
    typed = re.sub(rf"^{_LEAD}", "", typed)
    today = now.date()
    day: date | None = None
    rest = typed
    implied = None  # "tối qua 9h": the day words say which 9
    for words, back in _DAY_WORDS_LONGEST_FIRST:
        if typed == words or typed.startswith(words + " "):
            day, rest = today - timedelta(days=back), typed[len(words):].strip()
            implied = _PART_OF.get(words)
            break
    else:
        if match := _DAY.match(typed):
            try:
                day = date(int(match[3]) if match[3] else today.year, int(match[2]),
                           int(match[1]))
                if not match[3] and day > today and (
                        today - day.replace(year=today.year - 1)).days <= _LAST_YEAR_DAYS:
                    day = day.replace(year=today.year - 1)  # 30/12 typed on 2/1
            except ValueError:
                return None, "bad"
            rest = typed[match.end():].strip()  # 21/11/26 leaves "/26": no time, refused
    rest = re.sub(rf"^{_LEAD}", "", rest)
    clock = None
    if rest:
        match = _TIME.fullmatch(rest)
        if not match or not (match["sep"] or match["part"]):  # a bare number is no time
            return None, "bad"
        hour, minute = int(match["h"]), int(match["m"] or 0)
        part = match["part"] or implied
        if part in ("sáng", "sang", "am") and hour > 12:
            return None, "bad"  # "20h sáng": which is it?
        if part in ("chiều", "chieu", "tối", "toi", "pm") and hour < 12:
            hour += 12
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
        moment = formats.moment(datetime.fromisoformat(at), locale, svc.timezone)
        return t(locale, "tips.when.was_now", moment=moment) if kind == "now" and not on_card \
            else moment
    day = date.fromisoformat(at)
    if kind == "today" and not on_card and day == svc.now().astimezone(svc.timezone).date():
        return t(locale, "tips.when.was_today", day=formats.day(day, locale))
    return formats.day(day, locale)
