"""Scheduled deliveries: what the scheduler enqueues each minute, and how items are rendered.

:func:`tick` asks bot.schedule, for every occasion and every commune's schedule, for
the latest moment it fell due; what is due becomes outbox rows (storage.outbox,
unique per kind, period and person), so ticking twice, or after a restart, sends
nothing twice, and a digest missed while the bot was down goes out when it returns.
:func:`render` turns a row into messages when it is sent: a digest is built then,
from the figures of that moment, with its chart and workbook.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from bot import notices, reminders
from bot.digest import Digest, Span, SpanKind, span_from_text, span_of
from bot.digest_build import build, overdue_tips
from bot.digest_labels import span_label
from bot.digest_text import digest_messages, overdue_lines
from bot.official import Office, resolve
from bot.outbox import Part
from bot.schedule import (
    DEFAULTS,
    Due,
    Occasion,
    When,
    in_quiet_hours,
    latest_due,
    parse_when,
)
from handlers.services import Services
from handlers.summaries import NotBegun
from locales import formats, t
from storage.digests import DigestRepo
from storage.models import Role, Unit
from storage.offices import FIELD_NAMES as OFFICE_FIELDS
from storage.outbox import NewItem, OutboxItem, OutboxRepo
from storage.schedules import ScheduleRepo
from storage.units import UnitTree

log = logging.getLogger(__name__)

DIGEST_PREFIX = "digest."


# ---------------------------------------------------------------------- who and when


async def coordinators(svc: Services, tree: UnitTree) -> dict[int, list[Unit]]:
    """Coordinators and admins (by user id) and the roots of their scope."""
    roots: dict[int, list[Unit]] = {}
    for user_id, unit_id, _ in await svc.users.holders(None, (Role.COORDINATOR, Role.ADMIN)):
        if unit_id in tree.by_id:
            roots.setdefault(user_id, []).append(tree.by_id[unit_id])
    for user_id, units in roots.items():  # a unit under another of the same person adds nothing
        ids = {u.id for u in units}
        roots[user_id] = sorted((u for u in units if not any(
            a.id in ids for a in tree.ancestors(u.id)[1:])), key=lambda u: u.id)
    return roots


def schedule_for(overrides: dict[tuple[int, str], str], tree: UnitTree, unit_id: int | None,
                 occasion: Occasion) -> When:
    """The nearest override up the tree from ``unit_id``, else the default."""
    kind = occasion.value
    for unit in tree.ancestors(unit_id) if unit_id is not None else []:
        spec = overrides.get((unit.id, kind))
        if spec is not None:
            try:
                return parse_when(spec)
            except ValueError:
                log.error("schedule of unit %s for %s is unreadable: %r", unit.id, occasion,
                          spec)
    return DEFAULTS[occasion]


# ---------------------------------------------------------------------- the tick


async def tick(svc: Services, now: datetime) -> int:
    """Enqueue whatever has fallen due by ``now``; how many outbox rows were new."""
    tree = await svc.units.tree()
    overrides = await ScheduleRepo(svc.db).all()
    outbox = OutboxRepo(svc.db)
    added = 0
    sets = svc.reports.sets()
    spec = sets[0].spec if sets else None
    kw = {"report_period": spec.period, "due_days": spec.due_days} if spec else {}
    quiet = in_quiet_hours(now.astimezone(svc.timezone))
    # Every minute this asks for the schedule of each reporter's hamlet and each coordinator
    # (a hundred thousand in a country): an occasion no unit overrides is the default for
    # all, and each schedule falls due the same way for everyone who follows it.
    overridden = {kind for _, kind in overrides}
    dues: dict[tuple[Occasion, When], Due | None] = {}

    def due_of(occasion: Occasion, when: When) -> Due | None:
        if (occasion, when) not in dues:
            dues[(occasion, when)] = latest_due(occasion, when, now, svc.timezone, **kw)
        return dues[(occasion, when)]

    # Reporters: reminders, grouped by the schedule their commune follows.
    if spec is not None and not quiet:
        for occasion in (Occasion.REMIND_FRIDAY, Occasion.REMIND_EVE):
            groups: dict[When, set[int] | None] = {}
            if occasion.value not in overridden:
                groups[DEFAULTS[occasion]] = None  # every reporter
            else:
                for _, unit_id, _ in await svc.users.holders(None, (Role.REPORTER,)):
                    groups.setdefault(schedule_for(overrides, tree, unit_id, occasion),
                                      set()).add(unit_id)
            for when, units in groups.items():
                due = due_of(occasion, when)
                if due is not None:
                    added += await reminders.enqueue_report_reminders(
                        svc, now, occasion=occasion.value.removeprefix(reminders.KIND_PREFIX),
                        units=units)

    # Coordinators: overdue tips each morning, the digest, the summaries.
    people = await coordinators(svc, tree)
    items: list[NewItem] = []
    # Every minute the same occasions are due: who already has their row is skipped before
    # any work (the overdue query, the payload), one lookup per occasion and period.
    have: dict[tuple[str, str], set[int]] = {}
    for user_id, roots in people.items():
        for occasion in Occasion:
            if occasion in (Occasion.REMIND_FRIDAY, Occasion.REMIND_EVE):
                continue
            when = (schedule_for(overrides, tree, roots[0].id, occasion)
                    if occasion.value in overridden else DEFAULTS[occasion])
            due = due_of(occasion, when)
            if due is None:
                continue
            key = (occasion.value, due.key)
            if key not in have:
                have[key] = await outbox.recipients(*key)
            if user_id in have[key]:
                continue
            if occasion is Occasion.OVERDUE:
                item = await _overdue_item(svc, tree, user_id, roots, due, now)
                if item is not None:
                    items.append(item)
            elif spec is not None and due.span is not None:
                items.append(NewItem(occasion.value, due.key, user_id, {
                    "roots": [r.id for r in roots], "span": due.span.kind.value,
                    "start": due.span.start.isoformat()}))
    if items:
        added += await outbox.enqueue(items, now)
    return added


async def _overdue_item(svc: Services, tree: UnitTree, user_id: int, roots: list[Unit],
                        due: Due, now: datetime) -> NewItem | None:
    """The morning's overdue-tips reminder, written now (nothing if nothing is overdue)."""
    units = sorted({u.id for root in roots for u in tree.descendants(root.id)})
    policy = svc.tip_policy
    rows, total = await DigestRepo(svc.db).overdue(units, now - policy.acknowledge_within,
                                                   now - policy.close_within)
    if not total:
        return None
    _, locale = await svc.users.reach(user_id)
    locale = locale or svc.default_locale
    lines = [t(locale, "delivery.overdue.head", n=formats.number(total, locale)),
             *overdue_lines(overdue_tips(rows, tree), total, locale, svc.timezone),
             t(locale, "delivery.overdue.hint")]
    return NewItem(Occasion.OVERDUE.value, due.key, user_id, {"text": "\n".join(lines)})


# ---------------------------------------------------------------------- rendering


def make_render(svc: Services) -> Callable[[OutboxItem], Awaitable[list[Part]]]:
    """The sender's ``render``: cards and notices (bot.notices), reminders and overdue lists
    as written, digests built now."""
    async def render(item: OutboxItem) -> list[Part]:
        if item.kind in notices.RENDERERS:
            return await notices.render(svc, item)
        if item.kind.startswith(reminders.KIND_PREFIX) or item.kind == Occasion.OVERDUE.value:
            return [Part("text", item.payload["text"])]
        if item.kind.startswith(DIGEST_PREFIX):
            span = span_in(item.payload)
            return await digest_parts(svc, item.user_id, item.payload["roots"], span)
        raise ValueError(f"no renderer for outbox kind {item.kind!r}")

    return render


def span_in(payload: dict) -> Span:
    """The span an outbox payload names."""
    return span_of(SpanKind(payload["span"]), date.fromisoformat(payload["start"]))


async def make_digest(svc: Services, roots: list[Unit], span: Span) -> Digest:
    """Build one scope's digest for ``span`` as of now."""
    tree = await svc.units.tree()
    stored = svc.reports.sets()[0]
    return await build(DigestRepo(svc.db), tree, roots, stored, span, svc.now(), svc.timezone,
                       svc.tip_policy)


async def digest_parts(svc: Services, user_id: int, root_ids: list[int],
                       span: Span) -> list[Part]:
    """A coordinator's digest: the texts, the chart, the workbook — in their language."""
    tree = await svc.units.tree()
    roots = [tree.by_id[r] for r in root_ids if r in tree.by_id]
    _, locale = await svc.users.reach(user_id)
    locale = locale or svc.default_locale
    if not roots:
        return [Part("text", t(locale, "delivery.no_scope"))]
    digest = await make_digest(svc, roots, span)
    office = await office_for(svc, roots, locale)
    return await render_digest(digest, locale, svc, office)


async def office_for(svc: Services, roots: list[Unit], locale: str) -> Office:
    """Who issues the documents of a scope: its first root unit's office (bot.official)."""
    tree = await svc.units.tree()
    return resolve(roots[0], tree, await svc.offices.get(roots[0].id), locale)


async def render_digest(digest: Digest, locale: str, svc: Services,
                        office: Office) -> list[Part]:
    """Texts, then the chart and the workbook (rendered off the event loop)."""
    # matplotlib and openpyxl take most of a second to import: the first digest pays it,
    # not every start-up.
    from bot.digest_chart import chart_png
    from bot.digest_workbook import workbook_xlsx

    texts = digest_messages(digest, locale, svc.timezone)
    png = await asyncio.to_thread(chart_png, digest, locale)
    xlsx = await asyncio.to_thread(workbook_xlsx, digest, locale, office=office,
                                   tz=svc.timezone)
    name = f"binhyen-{digest.span.key}"
    return [*(Part("text", text) for text in texts),
            Part("photo", text=span_label(locale, digest.span), data=png, filename=f"{name}.png"),
            Part("document", text=span_label(locale, digest.span), data=xlsx,
                 filename=f"{name}.xlsx")]


def make_summaries(svc: Services) -> Callable[[int, list[int], str, str | None],
                                              Awaitable[list[Part]]]:
    """``Services.summaries``: a summary on demand (/summary, /export)."""
    async def summaries(user_id: int, root_ids: list[int], kind: str,
                        which: str | None) -> tuple[str, list[Part]]:
        today = svc.now().astimezone(svc.timezone).date()
        if which is None:
            span = span_of(SpanKind(kind), today).previous()
        elif which in ("now", "nay"):
            span = span_of(SpanKind(kind), today)
        else:
            span = span_from_text(which, SpanKind(kind), today)
        if span.start > today:  # a summary of nothing yet would be a page of zeros
            raise NotBegun(span.key)
        # The kind the span is (a typed form may name another than the one asked for).
        return span.kind.value, span.key, await digest_parts(svc, user_id, root_ids, span)

    return summaries


async def word_report(svc: Services, roots: list[Unit], span: Span, locale: str, *,
                      kind: str | None = None) -> tuple[bytes, Digest, Office]:
    """The Word report of ``span`` for the scope under ``roots``, built now (bot.digest_report
    renders it off the event loop)."""
    from bot.digest_report import report_docx  # python-docx: loaded when a report is asked for

    digest = await make_digest(svc, roots, span)
    office = await office_for(svc, roots, locale)
    data = await asyncio.to_thread(report_docx, digest, office, locale, kind=kind,
                                   tz=svc.timezone)
    return data, digest, office


def make_word_report(svc: Services) -> Callable[[int, list[int], str],
                                                Awaitable[tuple[bytes, str, str, list[str]]]]:
    """``Services.word_report``: the report a coordinator asks for under a summary."""
    async def make(user_id: int, root_ids: list[int],
                   key: str) -> tuple[bytes, str, str, list[str]]:
        today = svc.now().astimezone(svc.timezone).date()
        span = span_from_text(key, SpanKind.WEEK, today)  # a key says its own kind
        if span.start > today:
            raise NotBegun(key)
        tree = await svc.units.tree()
        roots = [tree.by_id[r] for r in root_ids if r in tree.by_id]
        _, locale = await svc.users.reach(user_id)
        locale = locale or svc.default_locale
        data, _, office = await word_report(svc, roots, span, locale)
        notes = []
        if set(OFFICE_FIELDS) <= set(office.defaulted):  # nothing set for the unit yet
            notes.append(t(locale, "summary.word.office_defaults", unit=roots[0].code))
        if office.missing:
            notes.append(t(locale, "summary.word.no_signer"))
        caption = t(locale, "summary.word.caption", span=span_label(locale, span))
        return data, f"bao-cao-{span.key}.docx", caption, notes

    return make
