"""A digest or summary as chat messages: HTML, in the coordinator's language, ≤ 4,096 each.

Sections in the order a commune officer reads them on Monday morning: tips received
(by category, with the change from the span before, and where they stand), overdue
tips, report completeness (which hamlets are late or missing), indicator totals with
their trend, and the span's events. A text longer than one message is split between
lines, never inside one.
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from telegram.constants import MessageLimit

from bot.digest import Digest, OverdueTip, SpanKind
from bot.digest_labels import span_label
from locales import formats, t

SHOWN_OVERDUE = 10
SHOWN_EVENTS = 10
STATUSES = ("new", "acknowledged", "verifying", "in_progress", "closed")


def trend(now: int, before: int, locale: str) -> str:
    """'▲3', '▼2' or '=' against the span before."""
    if now == before:
        return "="
    arrow = "▲" if now > before else "▼"
    return arrow + formats.number(abs(now - before), locale)


def digest_messages(d: Digest, locale: str, tz: ZoneInfo) -> list[str]:
    """The digest as one or more messages."""
    def tr(key: str, **values: object) -> str:
        return t(locale, key, **values)

    def n(value: int) -> str:
        return formats.number(value, locale)

    title_key = "digest.text.title.week" if d.span.kind is SpanKind.WEEK else (
        f"digest.text.title.{d.span.kind.value}")
    lines = [tr(title_key, span=span_label(locale, d.span), scope=html.escape(d.scope_name)),
             tr("digest.text.made", moment=formats.moment(d.made_at, locale, tz))]

    before_total = sum(d.tips_by_category_before.values())
    lines += ["", tr("digest.text.tips", n=n(d.tips_total),
                     trend=trend(d.tips_total, before_total, locale))]
    categories = sorted(set(d.tips_by_category) | set(d.tips_by_category_before),
                        key=lambda c: (-d.tips_by_category.get(c, 0), c))
    for category in categories:
        now = d.tips_by_category.get(category, 0)
        before = d.tips_by_category_before.get(category, 0)
        lines.append(f"• {tr(f'tipcat.{category}')}: {n(now)} ({trend(now, before, locale)})")
    if d.tips_total:
        lines.append(tr("digest.text.status", statuses=" · ".join(
            f"{tr(f'tipstatus.{s}')} {n(d.tips_by_status[s])}"
            for s in STATUSES if d.tips_by_status.get(s))))

    # Overdue as the bot knows it now, said so: a summary of an earlier span lists what is
    # overdue today, not what was at the span's end.
    lines += ["", tr("digest.text.overdue", n=n(d.overdue_total),
                     moment=formats.moment(d.made_at, locale, tz))]
    lines += overdue_lines(d.overdue, d.overdue_total, locale, tz)

    lines += ["", tr("digest.text.reports", set=tr(f"indicatorset.{d.set_code}"),
                     n=formats.fraction(d.reports_filed, d.reports_expected, locale))]
    for hamlet in d.late_hamlets:
        parts = []
        if hamlet.missing:
            parts.append(tr("digest.text.missing", n=n(hamlet.missing)))
        if hamlet.late:
            parts.append(tr("digest.text.late", n=n(hamlet.late)))
        lines.append(f"• {html.escape(hamlet.name)} ({html.escape(hamlet.commune)}): "
                     + ", ".join(parts))
    if d.reports_not_due:
        lines.append(tr("digest.text.not_due", n=n(d.reports_not_due)))
    elif d.reports_expected and not d.late_hamlets:
        lines.append(tr("digest.text.all_in"))

    totals = d.totals
    lines += ["", tr("digest.text.totals")]
    previous = span_label(locale, d.span.previous())
    if d.before == "running":  # a span with reports to come: a trend would read as a fall
        lines.append(tr("digest.text.running_before", span=previous,
                        n=n(d.reports_not_due)))
    elif d.before == "none":  # no earlier figure: a trend would be the figure itself
        lines.append(tr("digest.text.no_before", span=previous))
    elif d.before == "partial":
        lines.append(tr("digest.text.partial_before", span=previous,
                        n=formats.fraction(d.before_filed, d.before_expected, locale)))
    for code in d.indicators:
        shown = "" if not d.compared else (
            f" ({trend(totals[code], d.totals_before.get(code, 0), locale)})")
        lines.append(f"• {tr(f'indicator.{code}')}: <b>{n(totals[code])}</b>{shown}")

    lines += ["", tr("digest.text.events", n=n(len(d.events)))]
    if d.events:  # by status as it stands now, as for tips
        lines.append(tr("digest.text.events_status", **{
            status: n(count) for status, count in d.events_by_status.items()}))
    for event in d.events[:SHOWN_EVENTS]:
        lines.append(f"🚨 {formats.day(event.created_at, locale, tz)} · "
                     f"<code>{event.code}</code> · "
                     f"{tr(f'eventtype.{event.type}')} · {html.escape(event.unit_name)} · "
                     + tr("digest.text.people", n=n(event.people)) + " · "
                     + tr(f"eventstatus.{event.status}"))
    if len(d.events) > SHOWN_EVENTS:
        lines.append(tr("digest.text.more", n=n(len(d.events) - SHOWN_EVENTS)))
    lines += ["", tr("digest.text.attached")]
    return split_lines(lines)


def overdue_lines(tips: list[OverdueTip], total: int, locale: str, tz: ZoneInfo) -> list[str]:
    """The oldest overdue tips, a line each, and how many more (digests, morning reminders)."""
    shown = tips[:SHOWN_OVERDUE]
    lines = [f"⏰ <code>{tip.code}</code> · {t(locale, f'tipcat.{tip.category}')} · "
             f"{html.escape(tip.unit_name)} · {t(locale, f'tipstatus.{tip.status}')} · "
             f"{formats.day(tip.created_at, locale, tz)}" for tip in shown]
    if total > len(shown):
        lines.append(t(locale, "digest.text.more", n=formats.number(total - len(shown), locale)))
    return lines


def split_lines(lines: list[str], limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Messages of whole lines, each at most ``limit`` characters."""
    messages, current = [], ""
    for line in lines:
        line = line[:limit]  # a single line never exceeds one message
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            messages.append(current)
            candidate = line
        current = candidate
    if current.strip():
        messages.append(current)
    return messages
