"""The organisation tree: CSV import, lookups and scopes.

Units change rarely and are read on almost every update (scopes, names), so the
repository keeps the whole tree in memory and reloads it after each write.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from dataclasses import dataclass, field

from storage.audit import INSERT_SQL as AUDIT_SQL
from storage.audit import audit_params
from storage.db import Database, insert_id, transaction, utcnow
from storage.models import Unit
from storage.offices import FIELD_NAMES as OFFICE_COLUMNS
from storage.offices import RECIPIENT_SEP, OfficeFields, check_field, set_office

CSV_COLUMNS = ("code", "name", "level", "parent_code")
# After those, any of a unit's office fields (storage.offices), in any order; an empty cell
# leaves the field as it is. "recipients" puts " | " between the lines of "Nơi nhận".
# Codes go into deep links (`t_<code>`), whose payload allows only these characters.
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
LEVEL_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
MAX_NAME = 120


class UnitsCsvError(ValueError):
    """A problem in an imported CSV, with the line it is on (1 = the header)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class UnitRow:
    """One validated CSV row."""

    line: int
    code: str
    name: str
    level: str
    parent_code: str | None
    office: OfficeFields = field(default_factory=OfficeFields)


def parse_units_csv(text: str) -> list[UnitRow]:
    """Validate a units CSV (``code,name,level,parent_code``, then any office columns); raise
    on the first bad line."""
    text = text.removeprefix("\ufeff")  # Excel writes a BOM
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise UnitsCsvError(1, "the file is empty") from None
    header = [h.strip().lower() for h in header]
    if tuple(header[:len(CSV_COLUMNS)]) != CSV_COLUMNS:
        raise UnitsCsvError(1, f"the header must begin {','.join(CSV_COLUMNS)}")
    extra = header[len(CSV_COLUMNS):]
    for name in extra:
        if name not in OFFICE_COLUMNS:
            raise UnitsCsvError(1, f"unknown column {name!r}: after {','.join(CSV_COLUMNS)}"
                                   f" come only {','.join(OFFICE_COLUMNS)}")
    if len(set(extra)) != len(extra):
        raise UnitsCsvError(1, "a column is named twice")
    width = len(header)
    rows: list[UnitRow] = []
    seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != width:
            raise UnitsCsvError(line, f"expected {width} columns, found {len(fields)}")
        code, name, level, parent = (f.strip() for f in fields[:len(CSV_COLUMNS)])
        office = {}
        for column, value in zip(extra, fields[len(CSV_COLUMNS):], strict=True):
            if column == "recipients":
                value = RECIPIENT_SEP.join(p.strip() for p in value.split("|") if p.strip())
            try:
                office[column] = check_field(column, value) or None  # empty: leave as it is
            except ValueError as exc:
                raise UnitsCsvError(line, str(exc)) from None
        if not CODE_RE.match(code):
            raise UnitsCsvError(
                line, f"code {code!r} must be 1-32 letters, digits, '-' or '_'"
            )
        if code in seen:
            raise UnitsCsvError(line, f"code {code!r} already on line {seen[code]}")
        if not name:
            raise UnitsCsvError(line, "name is empty")
        if len(name) > MAX_NAME:
            raise UnitsCsvError(line, f"name is longer than {MAX_NAME} characters")
        level = level.lower()
        if not LEVEL_RE.match(level):
            raise UnitsCsvError(line, f"level {level!r} must be a lowercase word")
        if parent == code:
            raise UnitsCsvError(line, "a unit cannot be its own parent")
        seen[code] = line
        rows.append(UnitRow(line, code, name, level, parent or None, OfficeFields(**office)))
    if not rows:
        raise UnitsCsvError(reader.line_num or 1, "no units in the file")
    return rows


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    created: int
    updated: int
    unchanged: int
    offices: int = 0  # units whose office fields the file set


class UnitTree:
    """An immutable snapshot of the tree, for fast scope questions."""

    def __init__(self, units: list[Unit]) -> None:
        self.by_id = {u.id: u for u in units}
        self.by_code = {u.code: u for u in units}
        self.children: dict[int | None, list[Unit]] = {}
        for unit in sorted(units, key=lambda u: (u.name.casefold(), u.code)):
            self.children.setdefault(unit.parent_id, []).append(unit)

    def descendants(self, unit_id: int) -> list[Unit]:
        """The unit and everything under it, depth-first."""
        out, stack = [], [self.by_id[unit_id]]
        while stack:
            unit = stack.pop()
            out.append(unit)
            stack.extend(reversed(self.children.get(unit.id, [])))
        return out

    def leaves(self, root_ids: list[int]) -> list[Unit]:
        """Units with nothing under them (the hamlets that report) under these roots, in
        tree order, each once."""
        seen: dict[int, Unit] = {}
        for root_id in root_ids:
            for unit in self.descendants(root_id):
                if not self.children.get(unit.id):
                    seen.setdefault(unit.id, unit)
        return list(seen.values())

    def ancestors(self, unit_id: int) -> list[Unit]:
        """The unit and its parents up to the root."""
        out, unit = [], self.by_id.get(unit_id)
        while unit is not None:
            out.append(unit)
            unit = self.by_id.get(unit.parent_id) if unit.parent_id else None
        return out

    def contains(self, scope_id: int, unit_id: int) -> bool:
        """Whether ``unit_id`` is ``scope_id`` or under it."""
        return any(u.id == scope_id for u in self.ancestors(unit_id))

    def path(self, unit_id: int) -> str:
        """'Ấp An Phú, Xã Tân Hòa' — the unit and its parents below the root."""
        names = [u.name for u in self.ancestors(unit_id)]
        return ", ".join(names[:-1] if len(names) > 2 else names)


class UnitRepo:
    """Units in the database, with the tree cached."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._tree: UnitTree | None = None
        db.on_outside_write(self._forget)

    def _forget(self) -> None:
        self._tree = None

    async def tree(self) -> UnitTree:
        """The cached tree (loaded on first use and after each write)."""
        tree = self._tree
        if tree is None:
            rows = await self._db.fetch(
                "SELECT id, code, name, level, parent_id FROM units"
            )
            tree = self._tree = UnitTree([_unit(r) for r in rows])
        return tree

    async def get(self, unit_id: int) -> Unit | None:
        """A unit by id."""
        return (await self.tree()).by_id.get(unit_id)

    async def by_code(self, code: str) -> Unit | None:
        """A unit by its code."""
        return (await self.tree()).by_code.get(code)

    async def import_rows(
        self, rows: list[UnitRow], *, actor_id: int | None = None
    ) -> ImportResult:
        """Create or update units in one transaction; nothing is half-imported.

        Re-import updates names, levels and parents and never deletes: memberships,
        reports and tips point at unit ids, which stay.
        """
        result = await self._db.run_sync(lambda conn: _import(conn, rows, actor_id))
        self._tree = None
        return result


def _import(conn: sqlite3.Connection, rows: list[UnitRow], actor_id: int | None) -> ImportResult:
    now = utcnow().isoformat()
    with transaction(conn):
        existing = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in conn.execute("SELECT code, id, name, level, parent_id FROM units")
        }
        file_codes = {row.code for row in rows}
        for row in rows:
            if row.parent_code and row.parent_code not in file_codes | existing.keys():
                raise UnitsCsvError(
                    row.line, f"parent_code {row.parent_code!r} is neither in the file nor known"
                )
        # Insert new units first (without parents) so every code has an id.
        created = 0
        for row in rows:
            if row.code not in existing:
                unit_id = insert_id(
                    conn, "INSERT INTO units (code, name, level, parent_id, created_at,"
                    " updated_at) VALUES (?, ?, ?, NULL, ?, ?)",
                    (row.code, row.name, row.level, now, now),
                )
                existing[row.code] = (unit_id, None, None, None)
                created += 1
        ids = {code: v[0] for code, v in existing.items()}
        parents = {ids[c]: v[3] for c, v in existing.items()}
        for row in rows:
            parents[ids[row.code]] = ids[row.parent_code] if row.parent_code else None
        for row in rows:
            _check_no_cycle(ids[row.code], parents, row)
        updated = unchanged = 0
        for row in rows:
            unit_id, old_name, old_level, old_parent = existing[row.code]
            new_parent = parents[unit_id]
            if old_name is not None and (old_name, old_level, old_parent) == (
                row.name, row.level, new_parent
            ):
                unchanged += 1
                continue
            conn.execute(
                "UPDATE units SET name = ?, level = ?, parent_id = ?, updated_at = ? WHERE id = ?",
                (row.name, row.level, new_parent, now, unit_id),
            )
            if old_name is not None:
                updated += 1
        offices = 0
        for row in rows:
            if not row.office.is_empty():
                set_office(conn, ids[row.code], row.office, actor_id, in_transaction=True)
                offices += 1
        conn.execute(
            AUDIT_SQL,
            audit_params(
                actor_id, "units.import", "units",
                {"created": created, "updated": updated, "rows": len(rows)},
            ),
        )
    return ImportResult(created, updated, unchanged, offices)


def _check_no_cycle(start: int, parents: dict[int, int | None], row: UnitRow) -> None:
    seen = {start}
    node = parents.get(start)
    while node is not None:
        if node in seen:
            raise UnitsCsvError(row.line, f"parent_code {row.parent_code!r} makes a cycle")
        seen.add(node)
        node = parents.get(node)


def _unit(row: sqlite3.Row) -> Unit:
    return Unit(row["id"], row["code"], row["name"], row["level"], row["parent_id"])
