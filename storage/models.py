"""Plain dataclasses the repositories return; nothing here knows about Telegram."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What a person does in the bot; everyone is at least a resident."""

    RESIDENT = "resident"
    REPORTER = "reporter"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Higher ranks see more: a coordinator's menu includes more than a reporter's."""
        return _RANK[self]


_RANK = {Role.RESIDENT: 0, Role.REPORTER: 1, Role.COORDINATOR: 2, Role.ADMIN: 3}


@dataclass(frozen=True)
class Unit:
    """A node of the organisation tree (province, commune, hamlet, ...)."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


@dataclass(frozen=True)
class Membership:
    """A role held for a unit."""

    id: int
    user_id: int
    role: Role
    unit_id: int
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True)
class User:
    """A person known to the bot, with the roles they hold now."""

    id: int
    locale: str | None
    active: bool
    memberships: tuple[Membership, ...] = field(default=())

    def role(self, *, is_admin: bool = False) -> Role:
        """The highest role held now (settings' admins are admins everywhere)."""
        if is_admin:
            return Role.ADMIN
        return max((m.role for m in self.memberships), key=lambda r: r.rank, default=Role.RESIDENT)

    def units_for(self, *roles: Role) -> list[int]:
        """Ids of the units where the user holds any of ``roles``."""
        return [m.unit_id for m in self.memberships if m.role in roles]


@dataclass(frozen=True)
class Invitation:
    """An invitation to take a role for a unit (only a hash of its code is stored)."""

    id: int
    unit_id: int
    role: Role
    uses: int
    uses_left: int
    handover: bool
    expires_at: datetime
    created_by: int | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which subject, and when."""

    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str
    detail: dict
