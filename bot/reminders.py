"""Reminders to reporters whose hamlet report for the period is still missing.

A reminder wave only writes outbox rows (storage.outbox), one per reporter, kind
``reminder.<occasion>`` ("friday", "eve") and the period's key: running the same wave twice,
or again after a crash, adds nothing, so nobody is reminded twice for one occasion and
period. The sender (bot.outbox) then delivers them within Telegram's limits.

Never at night: no wave is enqueued in quiet hours (21:00–07:00 local by default), and the
sender holds back reminder rows while quiet hours last (:func:`quiet_until`), postponing them
to the morning without counting an attempt.

``binhyen send-reminders`` (:func:`command`) does one wave from the command line: enqueue,
then send until done (or until quiet hours begin). It first takes up what an interrupted run
left claimed (``OutboxRepo.recover``), so it must be the only sender while it runs.
"""

from __future__ import annotations

import argparse
import html
import sys
import time as monotonic_time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, time, timedelta, tzinfo

from bot.outbox import OutboxSender, Part, Quiet
from bot.schedule import QUIET_END, QUIET_START, in_quiet_hours
from bot.settings import TOKEN_REJECTED, Settings, SettingsError
from bot.store import open_store
from handlers.reports import period_label
from handlers.services import Services
from locales import formats, t
from storage.db import utcnow
from storage.models import Role
from storage.outbox import NewItem, OutboxItem, OutboxRepo
from storage.reporting import Period, due_at, indicator_sets, period_of
from storage.reports import StoredSet

KIND_PREFIX = "reminder."
OCCASIONS = ("friday", "eve")


# ---------------------------------------------------------------------- quiet hours


def _next(local: datetime, at: time) -> datetime:
    """The first moment after ``local`` at which the local clock reads ``at``."""
    candidate = datetime.combine(local.date(), at, tzinfo=local.tzinfo)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=local.tzinfo)
    return candidate


def quiet_begins(now: datetime, tz: tzinfo, start: time = QUIET_START) -> datetime:
    """When the next quiet hours begin (the moment a wave must stop sending)."""
    return _next(now.astimezone(tz), start)


def quiet_until(tz: tzinfo, start: time = QUIET_START, end: time = QUIET_END, *,
                prefixes: tuple[str, ...] = (KIND_PREFIX,)) -> Quiet:
    """The sender's quiet hook: rows of these kinds wait until quiet hours end; others go."""

    def hold(item: OutboxItem, now: datetime) -> datetime | None:
        if not item.kind.startswith(prefixes):
            return None
        local = now.astimezone(tz)
        if not in_quiet_hours(local, start, end):
            return None
        return _next(local, end)

    return hold


# ---------------------------------------------------------------------- the wave


def reminder_period(svc: Services, now: datetime) -> tuple[StoredSet, Period] | None:
    """The (first) active indicator set and the period reporters should be filing now.

    That is the current period (the one containing today), unless the previous one is not due
    yet: on the due day of last week's report (Monday, for a set due one day after the week)
    it is last week's report that is missing, not this week's that has just begun.
    """
    sets = svc.reports.sets()
    if not sets:
        return None
    stored = sets[0]
    period = period_of(stored.spec.period, now.astimezone(svc.timezone).date())
    while now < due_at(period.previous(), stored.spec.due_days, svc.timezone):
        period = period.previous()
    return stored, period


async def enqueue_report_reminders(svc: Services, now: datetime, *, occasion: str,
                                   units: Collection[int] | None = None,
                                   period: Period | None = None) -> int:
    """One outbox row per active reporter with a hamlet that has not reported for the period
    (all their missing hamlets in one message); how many rows were new.

    ``units`` limits the wave to those hamlets (a commune with its own schedule). The row is
    unique per person, so a reporter whose hamlets have different schedules is reminded by
    the first wave that reaches them, about that wave's hamlets. ``period``: that one instead
    of the one reporters should be filing now; a coordinator's nudge (:data:`NUDGE`) is
    unique per person and hour instead of per period.
    Raises ValueError in quiet hours: the scheduler must not start a wave at night.
    """
    if in_quiet_hours(now.astimezone(svc.timezone)):
        raise ValueError("no reminders in quiet hours (21:00–07:00)")
    found = reminder_period(svc, now) if period is None else (svc.reports.sets()[0], period)
    if found is None:
        return 0
    stored, period = found
    kind = f"{KIND_PREFIX}{occasion}"
    key = period.key if occasion != NUDGE else \
        f"{period.key}@{now.astimezone(svc.timezone):%Y-%m-%dT%H}"
    outbox = OutboxRepo(svc.db)
    # The scheduler asks every minute while a reminder is due: whoever has their row
    # already costs nothing more (no lookup, no text).
    done = await outbox.recipients(kind, key)
    holders = [h for h in await svc.users.holders(
        sorted(units) if units is not None else None, (Role.REPORTER,)) if h[0] not in done]
    if not holders:
        return 0
    hamlets: dict[int, list[int]] = {}
    for user_id, unit_id, _role in holders:
        hamlets.setdefault(user_id, []).append(unit_id)
    filed = await svc.reports.submitted(stored.code, period.key,
                                        sorted({u for _, u, _ in holders}))
    tree = await svc.units.tree()
    due = due_at(period, stored.spec.due_days, svc.timezone) - timedelta(seconds=1)
    items = []
    for user_id, units in hamlets.items():
        missing = sorted({u for u in units if u not in filed and u in tree.by_id},
                         key=lambda u: (tree.by_id[u].name.casefold(), u))
        if not missing:
            continue
        _contact, locale = await svc.users.reach(user_id)
        locale = locale or svc.default_locale
        text = t(locale, "reminder.report_missing",
                 set=html.escape(t(locale, f"indicatorset.{stored.code}")),
                 period=html.escape(period_label(locale, period)),
                 hamlets=", ".join(html.escape(tree.by_id[u].name) for u in missing),
                 due=formats.day(due, locale, svc.timezone))
        items.append(NewItem(kind, key, user_id,
                             {"text": text, "unit_ids": missing, "set": stored.code}))
    return await outbox.enqueue(items, now)


NUDGE = "nudge"  # a coordinator's "🔔 Nhắc" under /completeness


def make_nudge(svc: Services) -> Callable[[list[int], Period], Awaitable[int | None]]:
    """``Services.nudge``: remind the reporters of these hamlets about ``period`` now, at most
    once an hour each; how many were reminded, or None in quiet hours."""
    async def nudge(hamlets: list[int], period: Period) -> int | None:
        now = svc.now()
        if in_quiet_hours(now.astimezone(svc.timezone)):  # the coordinator is told why
            return None
        return await enqueue_report_reminders(svc, now, occasion=NUDGE, units=hamlets,
                                              period=period)

    return nudge


async def render(item: OutboxItem) -> list[Part]:
    """A reminder row's message: the text written when it was enqueued."""
    if not item.kind.startswith(KIND_PREFIX):
        raise ValueError(f"not a reminder: {item.kind}")
    return [Part("text", item.payload["text"])]


# ---------------------------------------------------------------------- command line


def replay_clock(start: datetime | None) -> Callable[[], datetime]:
    """Now; or, from ``start`` (a replayed run, a test), time running on from there."""
    if start is None:
        return utcnow
    origin = monotonic_time.monotonic()
    return lambda: start + timedelta(seconds=monotonic_time.monotonic() - origin)


async def command(args: argparse.Namespace, settings: Settings) -> int:
    """``binhyen send-reminders [--occasion friday|eve] [--now MOMENT]``: one wave, sent."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    from bot.app import make_services
    from storage.crypto import Vault

    vault = Vault(settings.secret())
    token = settings.token_value()
    start = args.now
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=settings.zone)
    clock = replay_clock(start)
    tz = settings.zone
    kind = f"{KIND_PREFIX}{args.occasion}"
    db = await open_store(settings)
    try:
        svc = make_services(settings, db, vault, now=clock)
        await svc.reports.sync_sets(indicator_sets())
        found = reminder_period(svc, clock())
        if found is None:
            print(f"{kind}: no active indicator set, nothing to remind")
            return 0
        period = found[1]
        if in_quiet_hours(clock().astimezone(tz)):
            # Nothing may go out now; whatever an interrupted run left is taken up next time.
            print(f"{kind} {period.key}: quiet hours (21:00–07:00), nothing enqueued")
            return 0
        bot = Bot(token, base_url=settings.bot_api_url, base_file_url=settings.file_url())
        try:
            await bot.initialize()  # getMe: a wrong token or URL stops here, before anything
        except InvalidToken:  # its message holds the whole token: never print it
            raise SettingsError(TOKEN_REJECTED) from None
        except NetworkError as exc:
            print(f"binhyen: cannot reach the Bot API at {settings.bot_api_url} ({exc})",
                  file=sys.stderr)
            return 1
        try:
            repo = OutboxRepo(db)
            if await repo.sender_alive():
                # The running bot sends the outbox: taking back what it has in flight would
                # send those twice. Enqueue only.
                enqueued = await enqueue_report_reminders(svc, clock(), occasion=args.occasion)
                print(f"{kind} {period.key}: {enqueued} enqueued; the running bot sends them")
                return 0
            recovered = await repo.recover(clock())
            note = f" ({recovered} taken up from an interrupted run)" if recovered else ""
            enqueued = await enqueue_report_reminders(svc, clock(), occasion=args.occasion)
            before = await repo.counts(kind, period.key)
            sender = OutboxSender(bot, repo, svc.users, render, now=clock, quiet=quiet_until(tz),
                                  buttons=svc.buttons)
            await sender.drain(kind, deadline=quiet_begins(clock(), tz))
            after = await repo.counts(kind, period.key)
            unanswered = await repo.unanswered(kind, period.key)
        finally:
            await bot.shutdown()
    finally:
        await db.close()
    line = (f"{kind} {period.key}: {enqueued} enqueued, {after['sent'] - before['sent']} sent,"
            f" {after['failed'] - before['failed']} failed{note}")
    if left := after["pending"] + after["sending"]:
        line += f"; {left} left for after the quiet hours"
    if unanswered:
        line += (f"; {unanswered} sends Telegram never answered (sent again once: those"
                 " people may have it twice)")
    print(line)
    return 0
