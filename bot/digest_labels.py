"""Names of a digest's span in the user's language, shared by the chart and the workbook.

"Tuần 47/2026 (16/11–22/11)", "Quý 4/2026", "6 tháng cuối năm 2026": the way official
reports name their period, so a chart title, a sheet title and a file caption all agree.
Texts come from the catalogs (``digest.span.*``, ``digest.this.*``, ``digest.previous.*``).
"""

from __future__ import annotations

from bot.digest import Span, SpanKind
from handlers.reports import period_label
from locales import t

__all__ = ["previous_label", "span_label", "this_label"]


def span_label(locale: str, span: Span) -> str:
    """The span as reports name it: 'Tuần 47/2026 (16/11–22/11)', 'Tháng 11/2026' …"""
    if span.kind is SpanKind.HALF:
        key = "digest.span.half1" if span.start.month == 1 else "digest.span.half2"
        return t(locale, key, year=span.start.year)
    return period_label(locale, span.period(), keys="digest.span")


def this_label(locale: str, kind: SpanKind) -> str:
    """'Tuần này', 'Tháng này' … (a chart legend, a column header)."""
    return t(locale, f"digest.this.{SpanKind(kind).value}")


def previous_label(locale: str, kind: SpanKind) -> str:
    """'Tuần trước', 'Tháng trước' … (the span just before, for the trend)."""
    return t(locale, f"digest.previous.{SpanKind(kind).value}")
