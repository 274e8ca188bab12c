"""What handlers need from the outside, built once by the composition root.

Handlers find it in ``context.bot_data["services"]``; they never import ``bot``
(arrows point one way: bot → handlers → storage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram.ext import ContextTypes

from storage.audit import AuditRepo
from storage.db import Database
from storage.invitations import InvitationRepo
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
    invite_ttl: timedelta = timedelta(days=7)
    now: Callable[[], datetime] = field(default=_utcnow)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """The services of the running application."""
    return context.bot_data["services"]
