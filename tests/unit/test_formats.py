"""Numbers, percentages and dates as Vietnamese officials write them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from locales import formats

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_numbers() -> None:
    assert formats.number(227244, "vi") == "227.244"
    assert formats.number(227244, "en") == "227,244"
    assert formats.number(0, "vi") == "0"


def test_percent_and_fraction() -> None:
    assert formats.percent(0.978, "vi") == "97,8%"
    assert formats.percent(0.978, "en") == "97.8%"
    assert formats.fraction(590, 603, "vi") == "590/603 (97,8%)"
    assert formats.fraction(1403, 1500, "vi") == "1.403/1.500 (93,5%)"
    assert formats.fraction(0, 0, "vi") == "0/0"


def test_dates_and_times() -> None:
    assert formats.day(date(2026, 11, 21), "vi") == "21/11/2026"
    assert formats.day(date(2026, 11, 21), "en") == "21/11/2026"
    # 18:30 UTC is 01:30 the next day in Hồ Chí Minh City, 24-hour clock.
    moment = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)
    assert formats.moment(moment, "vi", HCM) == "01:30 22/11/2026"
    assert formats.moment(moment, "en", HCM) == "01:30 22/11/2026"
