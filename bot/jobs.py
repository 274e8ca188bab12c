"""Scheduled work through PTB's JobQueue (APScheduler underneath).

Housekeeping: the link from closed tips to their senders is dropped when the
retention period ends, and drafts nobody touched for two weeks are deleted.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram.ext import Application, ContextTypes

from handlers.services import services

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = timedelta(hours=6)


async def housekeeping(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Retention of sender links and of abandoned drafts."""
    svc = services(context)
    now = svc.now()
    unlinked = await svc.tips.purge_senders(now)
    dropped = 0
    for drafts in (svc.drafts, svc.report_drafts, svc.event_drafts):
        dropped += await drafts.purge(now - svc.tip_policy.draft_ttl)
    if unlinked or dropped:
        log.info("housekeeping: %d tips unlinked from their senders, %d drafts dropped",
                 unlinked, dropped)


def schedule(app: Application) -> None:
    """Register the recurring jobs (a minute after start, then every few hours)."""
    assert app.job_queue is not None  # the job-queue extra is a dependency
    app.job_queue.run_repeating(housekeeping, interval=HOUSEKEEPING_EVERY,
                                first=timedelta(minutes=1), name="housekeeping")
