"""Who issues a unit's documents upward: the fields of its "office" as they were set.

A commune's Word report and workbook carry its issuing body, the body above it, the place in
the date line, the number's prefix, the signer and "Nơi nhận" (Nghị định 30/2020/NĐ-CP). An
admin sets them with ``binhyen units set-office`` or in extra columns of the units CSV;
whatever is not set stays None here, and ``bot.official`` fills it from the unit tree.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, fields, replace

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, transaction, utcnow

MAX_FIELD = 200  # one line of a header or signature block; "Nơi nhận" has its own limit
MAX_RECIPIENTS = 1000
RECIPIENT_SEP = "\n"


@dataclass(frozen=True)
class OfficeFields:
    """What was set for a unit; None: not set (the unit tree gives a default)."""

    body: str | None = None
    parent_body: str | None = None
    place: str | None = None
    number_prefix: str | None = None
    signer_authority: str | None = None
    signer_title: str | None = None
    signer_name: str | None = None
    recipients: str | None = None  # one per line

    def merged(self, changes: OfficeFields) -> OfficeFields:
        """These fields with every field ``changes`` sets ("" clears one)."""
        new = {f.name: getattr(changes, f.name) for f in fields(self)
               if getattr(changes, f.name) is not None}
        return replace(self, **{k: (v or None) for k, v in new.items()})

    def is_empty(self) -> bool:
        """Whether nothing is set."""
        return all(getattr(self, f.name) is None for f in fields(self))


FIELD_NAMES = tuple(f.name for f in fields(OfficeFields))


def check_field(name: str, value: str) -> str:
    """``value`` trimmed, or ValueError saying what is wrong with it."""
    value = value.strip()
    limit = MAX_RECIPIENTS if name == "recipients" else MAX_FIELD
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    if name != "recipients" and ("\n" in value or "\r" in value):
        raise ValueError(f"{name} must be one line")
    return value


class OfficeRepo:
    """Units' office fields (a handful of rows, read when a document is made)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, unit_id: int) -> OfficeFields:
        """What is set for ``unit_id`` (all None when nothing is)."""
        rows = await self._db.fetch(
            f"SELECT {', '.join(FIELD_NAMES)} FROM unit_offices WHERE unit_id = ?", (unit_id,))
        return OfficeFields(*rows[0]) if rows else OfficeFields()

    async def set(self, unit_id: int, changes: OfficeFields, *,
                  actor_id: int | None = None) -> OfficeFields:
        """Apply ``changes`` (None: keep, "": clear) and return what is set now."""
        return await self._db.run_sync(lambda conn: set_office(conn, unit_id, changes,
                                                               actor_id))


def set_office(conn: sqlite3.Connection, unit_id: int, changes: OfficeFields,
               actor_id: int | None, *, in_transaction: bool = False) -> OfficeFields:
    """:meth:`OfficeRepo.set` on a raw connection (the units import calls it in its own
    transaction: ``in_transaction``)."""
    def write() -> OfficeFields:
        row = conn.execute(f"SELECT {', '.join(FIELD_NAMES)} FROM unit_offices"
                           f" WHERE unit_id = ?", (unit_id,)).fetchone()
        now = (OfficeFields(*row) if row else OfficeFields()).merged(changes)
        values = [getattr(now, name) for name in FIELD_NAMES]
        conn.execute(
            f"INSERT INTO unit_offices (unit_id, {', '.join(FIELD_NAMES)}, updated_at)"
            f" VALUES (?, {', '.join('?' for _ in FIELD_NAMES)}, ?)"
            f" ON CONFLICT (unit_id) DO UPDATE SET "
            + ", ".join(f"{n} = excluded.{n}" for n in (*FIELD_NAMES, "updated_at")),
            (unit_id, *values, utcnow().isoformat()))
        changed = sorted(n for n in FIELD_NAMES if getattr(changes, n) is not None)
        conn.execute(AUDIT_SQL, audit_params(actor_id, "units.office", f"unit:{unit_id}",
                                             {"fields": changed}))
        return now

    if in_transaction:
        return write()
    with transaction(conn):
        return write()
