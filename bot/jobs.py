"""Scheduled work through PTB's JobQueue (APScheduler underneath).

Housekeeping: the link from closed tips to their senders is dropped when the
retention period ends, and drafts nobody touched for two weeks are deleted.
The scheduler: every minute (and right after a start, to catch up) whatever fell
due is written to the outbox (bot.deliveries.tick); the outbox sender, a task that
runs as long as the bot does, delivers it within Telegram's limits (bot.outbox).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram.ext import Application, ContextTypes

from bot import deliveries
from handlers.services import services

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = timedelta(hours=6)
SCHEDULER_EVERY = timedelta(minutes=1)


async def housekeeping(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Retention of sender links and of abandoned drafts."""
    svc = services(context)
    now = svc.now()
    unlinked = await svc.tips.purge_senders(now)
    dropped = await svc.flows.purge(now - svc.tip_policy.draft_ttl)
    if unlinked or dropped:
        log.info("housekeeping: %d tips unlinked from their senders, %d drafts dropped",
                 unlinked, dropped)


async def scheduler(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Enqueue what has fallen due (idempotent: the outbox is unique per kind, period, person)."""
    svc = services(context)
    added = await deliveries.tick(svc, svc.now())
    if added:
        log.info("scheduler: %d messages queued", added)


def schedule(app: Application, *, deliveries_on: bool) -> None:
    """Register the recurring jobs."""
    assert app.job_queue is not None  # the job-queue extra is a dependency
    app.job_queue.run_repeating(housekeeping, interval=HOUSEKEEPING_EVERY,
                                first=timedelta(minutes=1), name="housekeeping")
    if deliveries_on:
        app.job_queue.run_repeating(scheduler, interval=SCHEDULER_EVERY,
                                    first=timedelta(seconds=5), name="scheduler",
                                    job_kwargs={"max_instances": 1, "coalesce": True})
