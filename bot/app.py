"""The composition root: settings + database → a ready PTB ``Application``.

PTB runs at most one handler per group for each update, the first that matches,
so everything a user does is in group 0 and order matters there:
  conversations first (they must see their own buttons and text), then the
  commands and buttons of the feature modules, and last the fallbacks (stale
  buttons, text nobody expected). Other groups are for update-wide work that
  must run besides (none yet).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot import deliveries, jobs, reminders
from bot.outbox import OutboxSender
from bot.persistence import SqlitePersistence
from bot.settings import Settings
from bot.updates import ChatOrderedProcessor
from handlers import (
    errors,
    events,
    invitations,
    report_desk,
    reports,
    start,
    summaries,
    tip_desk,
    tip_follow,
    tips,
    units,
)
from handlers.commands import set_default_commands
from handlers.services import Services
from storage.audit import AuditRepo
from storage.crypto import Vault
from storage.db import Database
from storage.drafts import Drafts
from storage.events import EventDraft, EventRepo
from storage.invitations import InvitationRepo
from storage.outbox import OutboxRepo
from storage.persisted import PersistedStore
from storage.reporting import indicator_sets
from storage.reports import ReportDraft, ReportRepo
from storage.tips import DraftRepo, TipRepo
from storage.units import UnitRepo
from storage.users import UserRepo

log = logging.getLogger(__name__)

# Opt in to PTB's coming behaviour now: RetryAfter.retry_after as a timedelta (PTB 22.2+ warns
# on every 429 otherwise). Code that reads retry_after expects a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")


def _invite_card(title: str, subtitle: str, link: str) -> bytes:
    # Imported on first use: matplotlib costs half a second at start-up.
    from bot.printing import invite_card_png

    return invite_card_png(title, subtitle, link)


def make_services(
    settings: Settings, db: Database, vault: Vault, *, now: Callable[[], datetime] | None = None
) -> Services:
    """The repositories and settings handlers use."""
    svc = Services(
        db=db,
        users=UserRepo(db, vault),
        units=UnitRepo(db),
        invitations=InvitationRepo(db, vault),
        audit=AuditRepo(db),
        admins=settings.admins,
        default_locale=settings.default_locale,
        timezone=settings.zone,
        invite_card=_invite_card,
        tips=TipRepo(db, vault, settings.tip_policy()),
        drafts=DraftRepo(db, vault),
        reports=ReportRepo(db),
        report_drafts=Drafts(db, vault, "report", ReportDraft.from_json),
        events=EventRepo(db),
        event_drafts=Drafts(db, vault, "event", EventDraft.from_json),
    )
    if now is not None:
        svc.now = now
    svc.summaries = deliveries.make_summaries(svc)
    return svc


async def post_init(app: Application) -> None:
    """Load the indicator sets; start the outbox sender; set the residents' command menu."""
    svc = app.bot_data["services"]
    await svc.reports.sync_sets(indicator_sets())
    outbox = OutboxRepo(svc.db)
    resent = await outbox.recover(svc.now())
    if resent:
        log.warning("%d outbox messages were in flight at the last stop; sending them again",
                    resent)
    sender = OutboxSender(app.bot, outbox, svc.users, deliveries.make_render(svc),
                          now=lambda: svc.now(),  # tests move the clock after start
                          pace_clock=time.monotonic,
                          # Nothing scheduled goes out at night: it waits for the morning.
                          quiet=reminders.quiet_until(svc.timezone, prefixes=(
                              "reminder.", "digest.", "overdue")))
    stop = asyncio.Event()
    app.bot_data["outbox"] = (stop, asyncio.get_running_loop().create_task(
        sender.run_forever(stop), name="outbox-sender"))
    await set_default_commands(app.bot)


def build_application(
    settings: Settings,
    db: Database,
    *,
    persistence_interval: float = 5,
    now: Callable[[], datetime] | None = None,
    rate_limiter: bool = True,
) -> Application:
    """The bot, wired to ``db`` and to the Bot API named by the settings.

    ``rate_limiter=False`` is for benchmarks that compare handler work with a
    bare bot; a real bot keeps PTB's limiter (30 messages/s, retries on 429).
    """
    vault = Vault(settings.secret())
    builder = (
        ApplicationBuilder()
        .token(settings.token_value())
        .base_url(settings.bot_api_url)
        .base_file_url(settings.file_url())
        .persistence(SqlitePersistence(PersistedStore(db, vault),
                                       update_interval=persistence_interval))
        .post_init(post_init)
        .concurrent_updates(ChatOrderedProcessor(settings.concurrent_updates))
    )
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.bot_data["services"] = make_services(settings, db, vault, now=now)

    # Group 0, order matters: conversations before the commands they share names with.
    # The short conversations that take the next message (an answer to a coordinator's
    # question, a coordinator's note) come before the long flows (tip, report, event), of
    # which a user is in one at most (entering one ends the others).
    app.add_handler(invitations.conversation())
    app.add_handler(tip_follow.conversation())
    app.add_handler(tip_desk.conversation())
    app.add_handler(tips.conversation())
    app.add_handler(reports.conversation())
    app.add_handler(events.conversation())
    for handler in (*start.handlers(), *units.handlers(), *tip_desk.handlers(),
                    *tip_follow.handlers(), *report_desk.handlers(),
                    *summaries.handlers()):
        app.add_handler(handler)
    # Last: whatever nothing above took.
    for handler in start.fallbacks():
        app.add_handler(handler)
    app.add_error_handler(errors.on_error)
    jobs.schedule(app, deliveries_on=settings.schedule)
    return app


@dataclass
class Running:
    """A started application and what it runs on."""

    app: Application
    db: Database


async def start_bot(
    settings: Settings, *, persistence_interval: float = 5, now=None, webhook: bool | None = None
) -> Running:
    """Open the database, start the bot, and begin polling (or serving the webhook)."""
    db = await Database.open(settings.db)
    app = build_application(settings, db, persistence_interval=persistence_interval, now=now)
    use_webhook = bool(settings.webhook_url) if webhook is None else webhook
    try:
        await _start(app, settings, use_webhook)
    except BaseException:
        # A failed start (bad token, port taken) must not leave the database thread running.
        await stop_bot(Running(app, db))
        raise
    log.info("bot @%s started (%s)", app.bot.username, "webhook" if use_webhook else "polling")
    return Running(app, db)


async def _start(app: Application, settings: Settings, use_webhook: bool) -> None:
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    await app.start()
    if use_webhook:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        await app.updater.start_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            # Serve on the path the public URL names (a proxy may strip nothing).
            url_path=urlparse(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0)


async def stop_bot(running: Running) -> None:
    """Stop cleanly: finish updates, flush persistence, close the database."""
    app = running.app
    try:
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        outbox = app.bot_data.pop("outbox", None)
        if outbox is not None:  # let the message in flight finish and be marked
            stop, task = outbox
            stop.set()
            await task
        await app.shutdown()
    finally:  # closing the database first writes what is queued (drafts, cards)
        await running.db.close()


async def run_until_signalled(settings: Settings) -> None:
    """The long-running bot process: start, wait for SIGINT/SIGTERM, stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = await start_bot(settings)
    try:
        await stop.wait()
    finally:
        await stop_bot(running)
