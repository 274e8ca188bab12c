"""Invitations: unguessable, expiring, single-use unless made otherwise.

Only an HMAC of each code is stored, so the database cannot be used to enrol.
Redeeming is one transaction: check, use up, grant the role, end the previous
holder's role on a handover, and audit.
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.crypto import Vault
from storage.db import Database, insert_id, stamp, transaction, utcnow
from storage.models import Invitation, Role
from storage.outbox import add_items, now_item
from storage.users import add_membership, end_membership

# Deep-link payloads allow 1-64 of [A-Za-z0-9_-]; 16 random bytes make 22 characters.
INVITE_PREFIX = "j_"
CODE_BYTES = 16


class RedeemOutcome(StrEnum):
    """Why an invitation did or did not work."""

    OK = "ok"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    USED_UP = "used_up"
    REVOKED = "revoked"
    ALREADY = "already"


@dataclass(frozen=True)
class Redeemed:
    """The outcome, and for OK/ALREADY the invitation."""

    outcome: RedeemOutcome
    invitation: Invitation | None = None
    replaced_user_ids: tuple[int, ...] = ()


def new_code() -> str:
    """A fresh invitation payload for a deep link."""
    return INVITE_PREFIX + secrets.token_urlsafe(CODE_BYTES)


def is_invite_payload(payload: str) -> bool:
    """Whether a /start payload looks like one of our invitation codes."""
    return payload.startswith(INVITE_PREFIX)


class InvitationRepo:
    """Creates and redeems invitations."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    async def create(
        self,
        *,
        unit_id: int,
        role: Role,
        uses: int = 1,
        ttl: timedelta = timedelta(days=7),
        handover: bool = False,
        created_by: int | None = None,
        now: datetime | None = None,
    ) -> tuple[str, Invitation]:
        """A new invitation; the code is returned once and never stored."""
        if uses < 1:
            raise ValueError("uses must be at least 1")
        if role is Role.RESIDENT:
            raise ValueError("residents need no invitation")
        now = now or utcnow()
        code = new_code()
        expires = now + ttl

        def run(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                invitation_id = insert_id(
                    conn, "INSERT INTO invitations (code_hash, unit_id, role, uses, uses_left,"
                    " handover,"
                    " expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._vault.hash_id(code), unit_id, role.value, uses, uses,
                        int(handover), stamp(expires), created_by, stamp(now),
                    ),
                )
                conn.execute(
                    AUDIT_SQL,
                    audit_params(
                        created_by, "invitation.create", f"invitation:{invitation_id}",
                        {"unit_id": unit_id, "role": role.value, "uses": uses,
                         "expires_at": stamp(expires), "handover": handover},
                    ),
                )
            return invitation_id

        invitation_id = await self._db.run_sync(run)
        return code, Invitation(
            id=invitation_id, unit_id=unit_id, role=role, uses=uses, uses_left=uses,
            handover=handover, expires_at=expires, created_by=created_by, created_at=now,
            revoked_at=None,
        )

    async def redeem(self, code: str, user_id: int, *, now: datetime | None = None) -> Redeemed:
        """Use an invitation for ``user_id``: all or nothing."""
        now = now or utcnow()
        code_hash = self._vault.hash_id(code)
        done = await self._db.run_sync(lambda conn: _redeem(conn, code_hash, user_id, now))
        if done.replaced_user_ids:
            self._db.outbox_added()
        return done

    async def revoke(self, invitation_id: int, *, actor_id: int | None) -> bool:
        """Revoke an unused invitation; False if it was already revoked or unknown."""

        def run(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cur = conn.execute(
                    "UPDATE invitations SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (utcnow().isoformat(), invitation_id),
                )
                if cur.rowcount:
                    conn.execute(
                        AUDIT_SQL,
                        audit_params(actor_id, "invitation.revoke",
                                     f"invitation:{invitation_id}", {}),
                    )
            return bool(cur.rowcount)

        return await self._db.run_sync(run)


def _redeem(conn: sqlite3.Connection, code_hash: bytes, user_id: int, now: datetime) -> Redeemed:
    with transaction(conn):
        row = conn.execute("SELECT * FROM invitations WHERE code_hash = ?", (code_hash,)).fetchone()
        if row is None:
            return Redeemed(RedeemOutcome.NOT_FOUND)
        invitation = _invitation(row)
        held = conn.execute(
            "SELECT 1 FROM memberships WHERE user_id = ? AND role = ? AND unit_id = ?"
            " AND ended_at IS NULL",
            (user_id, invitation.role.value, invitation.unit_id),
        ).fetchone()
        outcome = (
            RedeemOutcome.REVOKED if invitation.revoked_at is not None
            else RedeemOutcome.EXPIRED if invitation.expires_at <= now
            else RedeemOutcome.ALREADY if held
            else RedeemOutcome.USED_UP if invitation.uses_left <= 0
            else RedeemOutcome.OK
        )
        if outcome is not RedeemOutcome.OK:
            return Redeemed(outcome, invitation)
        replaced: list[int] = []
        if invitation.handover:
            previous = conn.execute(
                "SELECT id, user_id FROM memberships WHERE unit_id = ? AND role = ?"
                " AND ended_at IS NULL AND user_id <> ?",
                (invitation.unit_id, invitation.role.value, user_id),
            ).fetchall()
            for membership_id, old_user in previous:
                end_membership(conn, membership_id, "handover", user_id)
                replaced.append(old_user)
            # The one whose role ended is told (outbox: same transaction as the handover).
            add_items(conn, [now_item("role.ended", f"membership:{m}", old,
                                      {"role": invitation.role.value,
                                       "unit_id": invitation.unit_id})
                             for m, old in previous], now)
        conn.execute(
            "UPDATE invitations SET uses_left = uses_left - 1 WHERE id = ?", (invitation.id,)
        )
        add_membership(conn, user_id, invitation.role, invitation.unit_id, invitation.id, None)
    return Redeemed(RedeemOutcome.OK, invitation, tuple(replaced))


def _invitation(row: sqlite3.Row) -> Invitation:
    return Invitation(
        id=row["id"],
        unit_id=row["unit_id"],
        role=Role(row["role"]),
        uses=row["uses"],
        uses_left=row["uses_left"],
        handover=bool(row["handover"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        created_by=row["created_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
        revoked_at=datetime.fromisoformat(row["revoked_at"]) if row["revoked_at"] else None,
    )
