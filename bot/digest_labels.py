"""Names of a digest's span in the user's language, shared by the chart and the workbook.

"Tuần 47/2026 (16/11–22/11)", "Quý 4/2026", "6 tháng cuối năm 2026": the way official
reports name their period, so a chart title, a sheet title and a file caption all agree.
Texts come from the catalogs (``digest.span.*``, ``digest.this.*``, ``digest.previous.*``).
"""

from __future__ import annotations

from datetime import date

from babel.dates import format_date

from bot.digest import Span, SpanKind
from locales import t

__all__ = ["previous_label", "span_label", "this_label"]

# Day and month only: the year is already in the label ("Tuần 47/2026 (16/11–22/11)").
_DAY_MONTH = "dd/MM"


def _day_month(value: date, locale: str) -> str:
    return format_date(value, format=_DAY_MONTH, locale=locale)


def span_label(locale: str, span: Span) -> str:
    """The span as reports name it: 'Tuần 47/2026 (16/11–22/11)', 'Tháng 11/2026' …"""
    kind = span.kind
    if kind is SpanKind.WEEK:
        # ISO week and ISO year: the week of 29/12/2025 is week 1 of 2026.
        iso = span.start.isocalendar()
        return t(
            locale, "digest.span.week", week=iso.week, year=iso.year,
            start=_day_month(span.start, locale), end=_day_month(span.end, locale),
        )  # fmt: skip
    year = span.start.year
    if kind is SpanKind.MONTH:
        return t(locale, "digest.span.month", month=span.start.month, year=year)
    if kind is SpanKind.QUARTER:
        return t(locale, "digest.span.quarter", quarter=(span.start.month - 1) // 3 + 1, year=year)
    if kind is SpanKind.HALF:
        key = "digest.span.half1" if span.start.month == 1 else "digest.span.half2"
        return t(locale, key, year=year)
    return t(locale, "digest.span.year", year=year)


def this_label(locale: str, kind: SpanKind) -> str:
    """'Tuần này', 'Tháng này' … (a chart legend, a column header)."""
    return t(locale, f"digest.this.{SpanKind(kind).value}")


def previous_label(locale: str, kind: SpanKind) -> str:
    """'Tuần trước', 'Tháng trước' … (the span just before, for the trend)."""
    return t(locale, f"digest.previous.{SpanKind(kind).value}")
