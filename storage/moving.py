"""Moving up: an SQLite database copied into an empty PostgreSQL database (issue 14).

``binhyen migrate --to postgresql://…`` runs :func:`copy_to_postgresql`. Every table is
copied as it is: row ids, sealed columns (bytes for bytes: the same key opens them), the
outbox's states and attempts, the audit log. The source is read in one read transaction,
so the copy is of one moment even while the bot runs (what it writes later stays behind:
stop the bot first). Rows go in with COPY, tables in the order their foreign keys need; a
table that refers to itself (the unit tree) gets those references in a second pass. It is
all one transaction on the target: a copy cut short leaves it empty. The identity counters
are moved past the copied ids, and every table's count is checked against the source's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

_TABLES = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
           " AND name != 'schema_migrations' ORDER BY name")


class CannotMove(Exception):
    """The copy was refused or did not check out; the message is one line for the operator."""


@dataclass(frozen=True)
class Moved:
    """What was copied: (table, rows) in the order they went in."""

    tables: list[tuple[str, int]]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.tables)


def _order(source: sqlite3.Connection, tables: list[str]) -> tuple[list[str], dict[str, str]]:
    """Tables parents first; and for each table that refers to itself, that column."""
    needs: dict[str, set[str]] = {}
    own: dict[str, str] = {}
    for table in tables:
        needs[table] = set()
        for fk in source.execute(f'PRAGMA foreign_key_list("{table}")'):
            parent, column = fk[2], fk[3]
            if parent == table:
                own[table] = column
            else:
                needs[table].add(parent)
    ordered: list[str] = []
    while needs:
        ready = sorted(t for t, parents in needs.items() if not parents - set(ordered))
        if not ready:
            raise CannotMove(f"foreign keys go round in circles among {sorted(needs)}")
        for table in ready:
            ordered.append(table)
            del needs[table]
    return ordered, own


def refusal(url: str) -> str | None:
    """Why the database at ``url`` may not be copied into (None: it is empty, or holds only
    our schema with no rows, as a copy cut short leaves it)."""
    with psycopg.connect(url) as target:
        return _refusal(target)


def _refusal(target: psycopg.Connection) -> str | None:
    present = [r[0] for r in target.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " ORDER BY 1")]
    if present and "schema_migrations" not in present:
        shown = ", ".join(present[:3]) + (", …" if len(present) > 3 else "")
        return f"holds tables that are not Bình Yên's ({shown}): copy into a new database"
    for table in present:
        if table != "schema_migrations" and target.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table))
        ).fetchone()[0]:
            return f"is not empty (its table {table} has rows): copy into a new database"
    return None


def copy_to_postgresql(path: Path, url: str) -> Moved:
    """Copy the SQLite file at ``path`` (at the newest schema) into the database at ``url``,
    which :func:`refusal` accepts and storage.postgres.migrate has brought to the same
    schema. Synchronous: run it on a thread."""
    from storage.db import load_migrations

    source = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        source.execute("BEGIN")  # one snapshot of the file for every table
        done = {r[0] for r in source.execute("SELECT version FROM schema_migrations")}
        known = {m.version for m in load_migrations()}
        if done != known:
            raise CannotMove(f"{path} is not at this release's schema (it has"
                             f" {max(done, default=0):04d}, this release {max(known):04d}):"
                             " start this release on it once, or run `binhyen units list`")
        tables = [r[0] for r in source.execute(_TABLES)]
        ordered, own = _order(source, tables)
        with psycopg.connect(url) as target:
            refused = _refusal(target)
            if refused:
                raise CannotMove(refused)
            moved = [(table, _copy(source, target, table, own.get(table)))
                     for table in ordered]
            _advance_identities(target)
            _check(source, target, moved)
            target.commit()
        return Moved(moved)
    finally:
        source.close()


def _copy(source: sqlite3.Connection, target: psycopg.Connection, table: str,
          self_ref: str | None) -> int:
    columns = [r[1] for r in source.execute(f'PRAGMA table_info("{table}")')]
    at = columns.index(self_ref) if self_ref else -1
    later: list[tuple[object, object]] = []
    count = 0
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with target.cursor() as cur, cur.copy(statement) as copy:
        for row in source.execute(f'SELECT * FROM "{table}"'):
            if at >= 0 and row[at] is not None:
                later.append((row[columns.index("id")], row[at]))
                row = (*row[:at], None, *row[at + 1:])
            copy.write_row(row)
            count += 1
    if later:  # the references within the table, now that every row is there
        with target.cursor() as cur:
            cur.executemany(sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(
                sql.Identifier(table), sql.Identifier(self_ref)),
                [(ref, row_id) for row_id, ref in later])
    return count


def _advance_identities(target: psycopg.Connection) -> None:
    """Each identity column's next value comes after the copied ids."""
    for table, column in target.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND is_identity = 'YES'").fetchall():
        target.execute(sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(max({c}), 0) + 1, false)"
            " FROM {t}").format(c=sql.Identifier(column), t=sql.Identifier(table)),
            (table, column))


def _check(source: sqlite3.Connection, target: psycopg.Connection,
           moved: list[tuple[str, int]]) -> None:
    for table, count in moved:
        there = target.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(table))).fetchone()[0]
        here = source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        if not here == there == count:
            raise CannotMove(f"{table}: {here} rows in the file, {count} copied,"
                             f" {there} in the target; nothing was kept")
