"""The audit log: every change to roles, invitations and (later) tips, with who and when."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from storage.db import Database, utcnow
from storage.models import AuditEntry

INSERT_SQL = "INSERT INTO audit_log (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)"


def audit_params(actor_id: int | None, action: str, subject: str, detail: dict) -> tuple:
    """Parameters for :data:`INSERT_SQL`, for repositories writing inside their transaction."""
    return (utcnow().isoformat(), actor_id, action, subject, json.dumps(detail, ensure_ascii=False))


class AuditRepo:
    """Reads and appends audit entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, actor_id: int | None, action: str, subject: str, **detail) -> None:
        """Append one entry."""
        await self._db.execute(
            INSERT_SQL, audit_params(actor_id, action, subject, detail)
        )

    async def for_subject(self, subject: str) -> list[AuditEntry]:
        """Entries about ``subject``, oldest first."""
        rows = await self._db.fetch(
            "SELECT * FROM audit_log WHERE subject = ? ORDER BY id", (subject,)
        )
        return [_entry(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[AuditEntry]:
        """The newest entries, newest first."""
        rows = await self._db.fetch(
            "SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_entry(r) for r in rows]


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=datetime.fromisoformat(row["at"]),
        actor_id=row["actor_id"],
        action=row["action"],
        subject=row["subject"],
        detail=json.loads(row["detail"]),
    )
