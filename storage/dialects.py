"""The few SQL expressions SQLite and PostgreSQL write differently, in one place.

Everything else the repositories send is one text for both backends (storage.db.Store);
where it cannot be, the repository picks the expression here by ``store.dialect``.
"""

from __future__ import annotations


def seconds_between(dialect: str, earlier: str, later: str) -> str:
    """SQL for the seconds from one stored moment (ISO-8601 text) to another."""
    if dialect == "postgresql":
        return (f"EXTRACT(EPOCH FROM (CAST({later} AS timestamptz)"
                f" - CAST({earlier} AS timestamptz)))")
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def json_without(dialect: str, column: str, key: str) -> str:
    """SQL for a JSON text column with one top-level key taken out."""
    if dialect == "postgresql":
        return f"CAST(CAST({column} AS jsonb) - '{key}' AS text)"
    return f"json_remove({column}, '$.{key}')"


def json_has(dialect: str, column: str, key: str) -> str:
    """SQL that is true where a JSON text column has a non-null value under ``key``."""
    if dialect == "postgresql":
        return f"(CAST({column} AS jsonb) -> '{key}') IS NOT NULL"
    return f"json_extract({column}, '$.{key}') IS NOT NULL"
