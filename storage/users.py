"""Users and their roles.

A user row is found by an HMAC of the Telegram id and holds what is needed to
reach them sealed; no Telegram id, name or username is stored in plain text.
Roles and locale are read on every update, so users are cached in memory by
Telegram id (memory, unlike the file, is not copied around) and the cache is
updated by every write through this repository. Each cache is bounded (storage.lru):
those seen longest ago are read again from the file when they come back.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.crypto import Vault
from storage.db import Database, insert_id, transaction, utcnow
from storage.lru import Lru
from storage.models import Membership, Role, User

# Users kept in memory, by Telegram id. The bot answers at most about 30 updates a second
# (Telegram's limit on what it sends), so 10,000 people are at least everyone who wrote in
# the last five minutes, which is where the next updates come from (a flow's steps come
# seconds apart); anyone else costs one indexed query. About 250 bytes a resident.
_USERS_CACHED = 10_000
# Contacts kept unsealed, by row id: the people we send to (coordinators' cards, notices,
# waves); sized as the users, and a miss is one query and one AES-GCM open.
_REACH_CACHED = 10_000
# Role holders by unit chain: one chain per hamlet a tip comes from, and a province has
# about 10,000 hamlets, so every chain of one stays cached.
_HOLDERS_CACHED = 10_000


@dataclass(frozen=True)
class Contact:
    """How to reach a user, and for staff the name they go by."""

    chat_id: int
    name: str | None = None


class UserRepo:
    """Users, memberships and the per-process cache of both."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault
        self._cache: Lru[int, User] = Lru(_USERS_CACHED)
        # Who holds which role where, and how to reach a user by row id: read on every
        # new tip; few rows (staff), and every write that changes them goes through here.
        self._holders: Lru[tuple, list[tuple[int, int, Role]]] = Lru(_HOLDERS_CACHED)
        self._reach: Lru[int, tuple[Contact, str | None]] = Lru(_REACH_CACHED)
        db.on_outside_write(self.forget)

    def forget(self, tg_id: int | None = None) -> None:
        """Drop cached users (all, or one) after a write made elsewhere."""
        if tg_id is None:
            self._cache.clear()
        else:
            self._cache.pop(tg_id)
        # Memberships or contacts changed: the derived caches are cheap to rebuild.
        self._holders.clear()
        self._reach.clear()

    async def get(self, tg_id: int) -> User | None:
        """The user with this Telegram id, or None if they never started the bot."""
        cached = self._cache.get(tg_id)
        if cached is not None:
            return cached
        rows = await self._db.fetch(
            "SELECT u.id, u.locale, u.active, m.id AS m_id, m.role, m.unit_id, m.started_at"
            " FROM users u LEFT JOIN memberships m ON m.user_id = u.id AND m.ended_at IS NULL"
            " WHERE u.tg_hash = ?",
            (self._vault.hash_id(tg_id),),
        )
        if not rows:
            return None
        user = _user(rows)
        self._cache.put(tg_id, user)
        return user

    async def ensure(self, tg_id: int, chat_id: int) -> User:
        """The user, created as a resident on first contact."""
        user = await self.get(tg_id)
        if user is not None:
            return user
        tg_hash = self._vault.hash_id(tg_id)
        contact = self._vault.seal_json({"chat_id": chat_id}, context=tg_hash)
        await self._db.execute(
            "INSERT INTO users (tg_hash, contact_sealed, locale, active, created_at)"
            " VALUES (?, ?, NULL, 1, ?) ON CONFLICT (tg_hash) DO NOTHING",
            (tg_hash, contact, utcnow().isoformat()),
        )
        self._cache.pop(tg_id)  # a new resident: no role, nothing else to forget
        user = await self.get(tg_id)
        assert user is not None  # inserted just now, or by a concurrent update
        return user

    async def set_locale(self, tg_id: int, locale: str) -> User:
        """Remember the user's language."""
        user = await self._require(tg_id)
        await self._db.execute(
            "UPDATE users SET locale = ? WHERE id = ?", (locale, user.id)
        )
        user = replace(user, locale=locale)
        self._cache.put(tg_id, user)
        self._reach.pop(user.id)
        return user

    async def set_active(self, tg_id: int, active: bool) -> None:
        """Mark a user (in)active, e.g. when they block the bot or come back."""
        user = await self._require(tg_id)
        if user.active != active:
            await self._db.execute(
                "UPDATE users SET active = ? WHERE id = ?", (int(active), user.id)
            )
            self._cache.put(tg_id, replace(user, active=active))
            self._holders.clear()  # holders are active users only

    async def set_contact(self, tg_id: int, contact: Contact) -> None:
        """Store (sealed) how to reach a user and, for staff, their display name."""
        tg_hash = self._vault.hash_id(tg_id)
        sealed = self._vault.seal_json(
            {"chat_id": contact.chat_id, "name": contact.name}, context=tg_hash
        )
        await self._db.execute(
            "UPDATE users SET contact_sealed = ? WHERE tg_hash = ?", (sealed, tg_hash)
        )
        self._reach.clear()  # keyed by row id, which is not at hand here

    async def contact(self, user_id: int) -> Contact:
        """Unseal how to reach a user (for sending them a message)."""
        rows = await self._db.fetch(
            "SELECT tg_hash, contact_sealed FROM users WHERE id = ?", (user_id,)
        )
        if not rows:
            raise LookupError(f"no user {user_id}")
        data = self._vault.open_json(rows[0]["contact_sealed"], context=rows[0]["tg_hash"])
        assert isinstance(data, dict)
        return Contact(chat_id=int(data["chat_id"]), name=data.get("name"))

    async def reach(self, user_id: int) -> tuple[Contact, str | None]:
        """How to reach a user and their language, in one query (for messages we start)."""
        cached = self._reach.get(user_id)
        if cached is not None:
            return cached
        rows = await self._db.fetch(
            "SELECT tg_hash, contact_sealed, locale FROM users WHERE id = ?", (user_id,)
        )
        if not rows:
            raise LookupError(f"no user {user_id}")
        data = self._vault.open_json(rows[0]["contact_sealed"], context=rows[0]["tg_hash"])
        assert isinstance(data, dict)
        found = Contact(chat_id=int(data["chat_id"]), name=data.get("name")), rows[0]["locale"]
        self._reach.put(user_id, found)
        return found

    async def members_of(self, unit_id: int, role: Role) -> list[int]:
        """Ids of users holding ``role`` for exactly this unit now."""
        rows = await self._db.fetch(
            "SELECT user_id FROM memberships WHERE unit_id = ? AND role = ? AND ended_at IS NULL",
            (unit_id, role.value),
        )
        return [r[0] for r in rows]

    async def holders(
        self, unit_ids: list[int] | None, roles: tuple[Role, ...]
    ) -> list[tuple[int, int, Role]]:
        """(user id, unit id, role) of current holders of ``roles`` in ``unit_ids`` (None: any).

        One query, then cached; active users only (a user who blocked the bot cannot be told).
        """
        key = (tuple(unit_ids) if unit_ids is not None else None, roles)
        cached = self._holders.get(key)
        if cached is not None:
            return list(cached)
        role_marks = ", ".join("?" * len(roles))
        sql = ("SELECT m.user_id, m.unit_id, m.role FROM memberships m"
               " JOIN users u ON u.id = m.user_id"
               f" WHERE m.ended_at IS NULL AND u.active = 1 AND m.role IN ({role_marks})")
        params: list[object] = [r.value for r in roles]
        if unit_ids is not None:
            sql += f" AND m.unit_id IN ({', '.join('?' * len(unit_ids)) or 'NULL'})"
            params += unit_ids
        rows = await self._db.fetch(sql + " ORDER BY m.user_id", params)
        found = [(r[0], r[1], Role(r[2])) for r in rows]
        self._holders.put(key, found)
        return list(found)

    async def count_members(self, unit_ids: list[int], role: Role) -> dict[int, int]:
        """How many users hold ``role`` now for each of ``unit_ids`` (one query)."""
        if not unit_ids:
            return {}
        marks = ", ".join("?" * len(unit_ids))
        rows = await self._db.fetch(
            f"SELECT unit_id, COUNT(*) FROM memberships WHERE role = ? AND ended_at IS NULL"
            f" AND unit_id IN ({marks}) GROUP BY unit_id",
            (role.value, *unit_ids),
        )
        return {row[0]: row[1] for row in rows}

    async def grant(
        self, tg_id: int, role: Role, unit_id: int, *, actor_id: int | None = None
    ) -> User:
        """Give a user a role for a unit directly (command line, sandbox); idempotent."""
        user = await self._require(tg_id)
        if any(m.role == role and m.unit_id == unit_id for m in user.memberships):
            return user

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                add_membership(conn, user.id, role, unit_id, None, actor_id)

        await self._db.run_sync(run)
        self.forget(tg_id)
        return await self._require(tg_id)

    async def end_role(
        self, user_id: int, membership_id: int, *, reason: str, actor_id: int | None
    ) -> None:
        """End one membership (kept for history)."""

        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                end_membership(conn, membership_id, reason, actor_id)

        await self._db.run_sync(run)
        # The ended user's Telegram id is not known here (only its hash): clear all.
        self.forget()

    async def _require(self, tg_id: int) -> User:
        user = await self.get(tg_id)
        if user is None:
            raise LookupError("user has not started the bot")
        return user


def add_membership(
    conn: sqlite3.Connection,
    user_id: int,
    role: Role,
    unit_id: int,
    invitation_id: int | None,
    actor_id: int | None,
) -> int:
    """Insert a membership and its audit entry (inside the caller's transaction)."""
    membership_id = insert_id(
        conn, "INSERT INTO memberships (user_id, role, unit_id, invitation_id, started_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (user_id, role.value, unit_id, invitation_id, utcnow().isoformat()),
    )
    conn.execute(
        AUDIT_SQL,
        audit_params(
            actor_id, "membership.start", f"user:{user_id}",
            {"role": role.value, "unit_id": unit_id, "invitation_id": invitation_id},
        ),
    )
    return membership_id


def end_membership(
    conn: sqlite3.Connection, membership_id: int, reason: str, actor_id: int | None
) -> None:
    """End a membership and audit it (inside the caller's transaction)."""
    row = conn.execute(
        "SELECT user_id, role, unit_id FROM memberships WHERE id = ? AND ended_at IS NULL",
        (membership_id,),
    ).fetchone()
    if row is None:
        return
    conn.execute(
        "UPDATE memberships SET ended_at = ?, ended_reason = ? WHERE id = ?",
        (utcnow().isoformat(), reason, membership_id),
    )
    conn.execute(
        AUDIT_SQL,
        audit_params(
            actor_id, "membership.end", f"user:{row[0]}",
            {"role": row[1], "unit_id": row[2], "reason": reason},
        ),
    )


def _user(rows: list[sqlite3.Row]) -> User:
    first = rows[0]
    memberships = tuple(
        Membership(
            id=r["m_id"],
            user_id=first["id"],
            role=Role(r["role"]),
            unit_id=r["unit_id"],
            started_at=datetime.fromisoformat(r["started_at"]),
        )
        for r in rows
        if r["m_id"] is not None
    )
    return User(
        id=first["id"], locale=first["locale"], active=bool(first["active"]),
        memberships=memberships,
    )
