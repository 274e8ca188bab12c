"""What handlers need from the outside, built once by the composition root.

Handlers find it in ``context.bot_data["services"]``; they never import ``bot``
(arrows point one way: bot → handlers → storage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes

from handlers.callbacks import Signer
from storage.audit import AuditRepo
from storage.db import Database
from storage.events import EventRepo
from storage.flows import Flows
from storage.invitations import InvitationRepo
from storage.offices import OfficeRepo
from storage.outbox import OutboxRepo
from storage.reporting import Period
from storage.reports import ReportRepo
from storage.tip_lifecycle import TipPolicy
from storage.tips import TipRepo
from storage.units import UnitRepo
from storage.users import UserRepo


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Repositories and settings the handlers use."""

    db: Database
    users: UserRepo
    units: UnitRepo
    invitations: InvitationRepo
    audit: AuditRepo
    admins: frozenset[int]
    default_locale: str
    timezone: ZoneInfo
    # Renders a printable invitation card (title, subtitle, link) → PNG bytes.
    invite_card: Callable[[str, str, str], bytes]
    tips: TipRepo
    reports: ReportRepo
    events: EventRepo
    # Each person's active flow and their drafts (storage.flows).
    flows: Flows
    # Everything the bot owes someone (storage.outbox); the sender is the composition root's.
    outbox: OutboxRepo
    offices: OfficeRepo  # who issues each unit's documents upward
    # Signs every button for the person it is sent to, and checks presses (handlers.callbacks).
    buttons: Signer
    # (user id, root unit ids, kind, which) → the messages of a summary (bot.deliveries);
    # ValueError for a period that cannot be read.
    # Returns the kind of span it made, its key and the parts to send.
    summaries: Callable[[int, list[int], str, str | None],
                        Awaitable[tuple[str, str, list]]] | None = None
    # (user id, root unit ids, span key) → the span's Word report (bot.deliveries): the file's
    # bytes, its name, its caption and what the officer should be told about it (the signer's
    # name not set…). ValueError for a key that is no span.
    word_report: Callable[[int, list[int], str],
                          Awaitable[tuple[bytes, str, str, list[str]]]] | None = None
    # Remind these hamlets' reporters of a period now (bot.reminders.make_nudge).
    nudge: Callable[[list[int], Period], Awaitable[int | None]] | None = None
    invite_ttl: timedelta = timedelta(days=7)
    # How long to wait for the rest of an album before acknowledging it once.
    album_wait: float = 0.8
    now: Callable[[], datetime] = field(default=_utcnow)


    @property
    def tip_policy(self) -> TipPolicy:
        """Limits and deadlines for tips (from the settings)."""
        return self.tips.policy


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services of the running application."""
    return context.bot_data["services"]
