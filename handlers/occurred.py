"""When something happened, as a resident or a reporter says it: the buttons "just now" and
"today", a typed date, and how it is worded back (tips and events share all three)."""

from __future__ import annotations

import re
from datetime import date, datetime

from handlers.common import Turn
from handlers.services import Services
from locales import formats, t

OLDEST_YEARS = 10
_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")


def pressed(turn: Turn, draft) -> bool:
    """The "now" or "today" button: set on ``draft`` (its ``occurred_kind`` and
    ``occurred_at``); False for a button that is neither."""
    svc = turn.svc
    now = svc.now()
    which = turn.press.field(1)
    if which == "now":
        draft.occurred_kind, draft.occurred_at = "now", now.isoformat()
    elif which == "today":
        draft.occurred_kind = "today"
        draft.occurred_at = now.astimezone(svc.timezone).date().isoformat()
    else:
        return False
    return True


def typed(turn: Turn, draft) -> bool:
    """A typed date: set on ``draft``; else False, and the person is told why."""
    svc = turn.svc
    today = svc.now().astimezone(svc.timezone).date()
    day, problem = parse_day(turn.text, today)
    if day is None:
        turn.say(turn.tr(f"tips.when.{problem}", today=formats.day(today, turn.me.locale),
                         years=turn.number(OLDEST_YEARS)))
        return False
    draft.occurred_kind, draft.occurred_at = "date", day.isoformat()
    return True


def parse_day(text: str, today: date) -> tuple[date | None, str]:
    """``21/11/2026`` → the date, or None and why (bad, future, too_old)."""
    match = _DATE.match(text)
    if not match:
        return None, "bad"
    try:
        day = date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None, "bad"
    if day > today:
        return None, "future"
    oldest = date(today.year - OLDEST_YEARS, today.month, min(today.day, 28)
                  if (today.month, today.day) == (2, 29) else today.day)
    if day < oldest:
        return None, "too_old"
    return day, ""


def occurred(locale: str, svc: Services, kind: str, at: str) -> str:
    """When it happened, worded as the person said it."""
    if kind == "now":
        return t(locale, "tips.when.was_now",
                 moment=formats.moment(datetime.fromisoformat(at), locale, svc.timezone))
    if kind == "today":
        return t(locale, "tips.when.was_today", day=formats.day(date.fromisoformat(at), locale))
    return formats.day(date.fromisoformat(at), locale)
