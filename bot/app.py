"""The composition root: settings + database → a ready PTB ``Application``.

The application has one handler, handlers.router.route: every update goes there and is
routed by what the database says (the person's active flow), not by PTB's conversation
state, which Bình Yên does not use (no PTB persistence either). One error handler. Replies
are HTML with no link previews by default (PTB ``Defaults``). The outbox sender runs beside
it for as long as the bot runs: cards, receipts, relays, notices (the immediate lane) and
the scheduled waves all go through it.
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

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults, TypeHandler

from bot import deliveries, jobs, notices, reminders
from bot import outbox as sending
from bot.outbox import OutboxSender
from bot.settings import Settings
from bot.store import open_store
from bot.updates import ChatOrderedProcessor
from handlers import errors, router
from handlers.callbacks import Signer
from handlers.commands import set_default_commands
from handlers.services import Services
from handlers.tip_recipients import uncovered
from storage.audit import AuditRepo
from storage.crypto import Vault
from storage.db import Store
from storage.events import EventRepo
from storage.flows import Flows
from storage.invitations import InvitationRepo
from storage.offices import OfficeRepo
from storage.outbox import OutboxRepo
from storage.reporting import indicator_sets
from storage.reports import ReportRepo
from storage.tips import TipRepo
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
    settings: Settings, db: Store, vault: Vault, *, now: Callable[[], datetime] | None = None
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
        reports=ReportRepo(db),
        events=EventRepo(db),
        flows=Flows(db, vault),
        outbox=OutboxRepo(db, vault),
        offices=OfficeRepo(db),
        buttons=Signer(vault.button_key),
    )
    if now is not None:
        svc.now = now
    svc.summaries = deliveries.make_summaries(svc)
    svc.word_report = deliveries.make_word_report(svc)
    svc.nudge = reminders.make_nudge(svc)
    return svc


async def post_init(app: Application) -> None:
    """Seal tips filed before content was sealed; load the indicator sets; start the outbox
    sender; set the residents' command menu;
    warn about hamlets nobody coordinates."""
    svc = app.bot_data["services"]
    await svc.tips.seal_clear_rows()  # tips filed before content was sealed, once
    await svc.reports.sync_sets(indicator_sets())
    outbox = svc.outbox
    resent = await outbox.recover(svc.now())
    if resent:
        log.warning("%d outbox messages were in flight at the last stop; sending them again",
                    resent)
    sender = OutboxSender(app.bot, outbox, svc.users, deliveries.make_render(svc),
                          address=lambda item: notices.address(svc, item),
                          now=lambda: svc.now(),  # tests move the clock after start
                          pace_clock=time.monotonic, chat_burst=CHAT_BURST, buttons=svc.buttons,
                          # read at start, so that a test can shorten them
                          read_timeout=sending.READ_TIMEOUT,
                          unanswered_delay=(sending.UNANSWERED_DELAY_NOW,
                                            sending.UNANSWERED_DELAY),
                          # Nothing scheduled goes out at night: it waits for the morning.
                          quiet=reminders.quiet_until(svc.timezone, prefixes=(
                              "reminder.", "digest.", "overdue")))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    app.bot_data["outbox"] = (stop, loop.create_task(sender.run_forever(stop),
                                                     name="outbox-sender"))
    stop_watching = asyncio.Event()
    app.bot_data["watcher"] = (stop_watching, loop.create_task(
        watch_outside_writes(svc.db, stop_watching), name="outside-writes"))
    await set_default_commands(app.bot)
    alone = await uncovered(svc)
    if alone:
        codes = ", ".join(u.code for u in alone[:20]) + (" …" if len(alone) > 20 else "")
        log.warning("%d hamlets have no coordinator in their commune or above (%s): their "
                    "tips reach only the roots' coordinators and the admins", len(alone), codes)


# How often the bot looks for writes made by another process (`binhyen units import` run
# beside it): what they changed is seen within a second.
WATCH_EVERY = 0.5


async def watch_outside_writes(db: Store, stop: asyncio.Event,
                               every: float = WATCH_EVERY) -> None:
    """Until ``stop``: the repositories' caches forget what another process changed."""
    while not stop.is_set():
        try:
            if await db.notice_outside_writes():
                log.info("another process wrote to the database: the caches read it again")
        except db.errors as exc:  # a busy file, a lost server: the next look tries again
            log.warning("could not look for writes by other processes: %s", exc)
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


# Telegram tolerates a short burst in one chat before it asks for one message a second: a
# card (album, location, card) arrives together, and a coordinator's press is answered at once.
CHAT_BURST = 3


class _Application(Application):
    """PTB's Application, without what it keeps for a persistence we do not have.

    After every update PTB notes its chat and its user in two sets that only its persistence
    empties (PTB 22: ``_mark_for_persistence_update``). With none, they keep everyone who
    ever wrote to the bot for as long as it runs: about 14 MB per 100,000 people, unbounded.
    tests/e2e/test_footprint.py checks that they stay empty.
    """

    def _mark_for_persistence_update(self, *, update: object | None = None,
                                     job: object | None = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)  # type: ignore[arg-type]


def build_application(
    settings: Settings,
    db: Store,
    *,
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
        .application_class(_Application)
        .token(settings.token_value())
        .base_url(settings.bot_api_url)
        .base_file_url(settings.file_url())
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(post_init)
        .concurrent_updates(ChatOrderedProcessor(settings.concurrent_updates))
        # A reply Telegram is slow to confirm is waited for: taken for lost, it would go to
        # the outbox and arrive twice (the outbox's own sends wait as long).
        .read_timeout(sending.READ_TIMEOUT)
    )
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app = builder.build()
    app.bot_data["services"] = make_services(settings, db, vault, now=now)

    # One handler: the router decides where everything a person sends goes.
    app.add_handler(TypeHandler(Update, router.route))
    app.add_error_handler(errors.on_error)
    jobs.schedule(app, deliveries_on=settings.schedule)
    return app


@dataclass
class Running:
    """A started application and what it runs on."""

    app: Application
    db: Store


async def start_bot(settings: Settings, *, now=None, webhook: bool | None = None) -> Running:
    """Open the database, start the bot, and begin polling (or serving the webhook)."""
    db = await open_store(settings, as_the_bot=True)
    app = build_application(settings, db, now=now)
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
    """Stop cleanly: finish updates and the messages in flight, close the database."""
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
        watcher = app.bot_data.pop("watcher", None)
        if watcher is not None:
            watcher[0].set()
            await watcher[1]
        await app.shutdown()
    finally:
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
