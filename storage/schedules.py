"""Per-unit schedule overrides (the defaults live in bot.schedule): read all, set one."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, stamp, transaction


class ScheduleRepo:
    """Overrides keyed by (unit id, occasion); few rows, read once a minute by the scheduler."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> dict[tuple[int, str], str]:
        """Every override: (unit id, occasion) → spec."""
        rows = await self._db.fetch(
            "SELECT unit_id, occasion, spec FROM schedules")
        return {(r[0], r[1]): r[2] for r in rows}

    async def set(self, unit_id: int, occasion: str, spec: str | None, actor_id: int | None,
                  now: datetime) -> None:
        """Override one occasion for a unit (``spec`` None: back to the default), audited."""
        def run(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if spec is None:
                    conn.execute("DELETE FROM schedules WHERE unit_id = ? AND occasion = ?",
                                 (unit_id, occasion))
                else:
                    conn.execute(
                        "INSERT INTO schedules (unit_id, occasion, spec, set_by, set_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (unit_id, occasion) DO UPDATE SET"
                        " spec = excluded.spec, set_by = excluded.set_by,"
                        " set_at = excluded.set_at",
                        (unit_id, occasion, spec, actor_id, stamp(now)))
                conn.execute(AUDIT_SQL, audit_params(actor_id, "schedule.set", f"unit:{unit_id}",
                                                     {"occasion": occasion, "spec": spec}))

        await self._db.run_sync(run)
