"""Tip content sealed at rest, on a real SQLite file: new tips, tips filed before sealing
(sealed once, at start), rows that cannot be moved, and a start that reads no tip row."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from storage.crypto import Vault
from storage.db import Database, load_migrations
from storage.tip_lifecycle import Draft, TipPolicy
from storage.tips import TipRepo

SECRET = "unit-test-secret-0123456789abcdefghijkl"
T0 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
BODY = "Có người lạ đột nhập vườn xoài nhà ông Tư Lũy"
PLACE = "cuối kênh Xáng Mới"
NOTE = "Đã cử tổ tuần tra đến kênh Xáng"
LAT, LON = 9.176543, 105.152468
FILE_ID = "AgACAgUAAxkBAAIBQ2legacyPhotoFileId"


def clear_bytes(db_path: Path) -> dict[str, int]:
    """How often each distinctive value occurs in the file and its WAL."""
    wal = Path(f"{db_path}-wal")
    data = db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    values = {"body": "vườn xoài", "place": "Xáng Mới", "note": "tổ tuần tra", "file id": FILE_ID}
    found = {k: data.count(v.encode()) for k, v in values.items()}
    found["latitude"] = data.count(struct.pack(">d", LAT))
    found["longitude"] = data.count(struct.pack(">d", LON))
    return found


async def legacy_database(path: Path) -> None:
    """A database as release 0008 wrote it: a tip with its content, media and a note in the
    clear, and the note's text in the audit log."""
    db = await Database.open(path, migrate=False)
    await db.migrate([m for m in load_migrations() if m.version <= 8])

    def run(conn) -> None:
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO tips (id, code, category, status, place_text, latitude, longitude,"
            " occurred_kind, occurred_at, body, anonymous, created_at)"
            " VALUES (1, 'TB-KXQ7R', 'trom_cap', 'new', ?, ?, ?, 'today', '2026-11-20', ?, 1,"
            " '2026-11-20T03:00:00.000000+00:00')", (PLACE, LAT, LON, BODY))
        conn.execute("INSERT INTO tip_media VALUES (1, 0, 'photo', ?)", (FILE_ID,))
        conn.execute("INSERT INTO tip_history (tip_id, at, kind, detail) VALUES"
                     " (1, '2026-11-20T04:00:00+00:00', 'note', ?)",
                     (json.dumps({"text": NOTE}, ensure_ascii=False),))
        conn.execute("INSERT INTO audit_log (at, action, subject, detail) VALUES"
                     " ('2026-11-20T04:00:00+00:00', 'tip.note', 'tip:1', ?)",
                     (json.dumps({"text": NOTE}, ensure_ascii=False),))
        conn.execute("COMMIT")

    await db.run_sync(run)
    await db.close()


async def test_tips_filed_before_sealing_are_sealed_once_at_start(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await legacy_database(path)
    assert all(clear_bytes(path).values())  # the test sees the clear text when it is there
    db = await Database.open(path)  # migration 0009
    try:
        tips = TipRepo(db, Vault(SECRET), TipPolicy())
        assert (await tips.get(1)).body == BODY  # readable before it is sealed, too
        assert await tips.seal_clear_rows() == 2  # the tip and its note
        assert await tips.seal_clear_rows() == 0
        tip = await tips.get(1)
        assert (tip.body, tip.place_text, tip.latitude, tip.longitude) == (BODY, PLACE, LAT, LON)
        assert tip.media == (("photo", FILE_ID),)
        assert [h.detail for h in await tips.history(1) if h.kind == "note"] == [{"text": NOTE}]
        audit = await db.conn.execute_fetchall("SELECT detail FROM audit_log")
        assert [json.loads(r[0]) for r in audit] == [{}]
        found = clear_bytes(path)
    finally:
        await db.close()
    assert not any(found.values()), found
    assert not any(clear_bytes(path).values())


async def test_an_old_file_moved_up_to_postgresql_is_sealed_there_at_start(
        tmp_path: Path, pg_url: str) -> None:
    """A file from before sealing, brought to the newest schema but never started by a
    sealing release, copied to PostgreSQL (binhyen migrate --to): the bot's start seals it
    there, as it would have in the file."""
    from storage.moving import copy_to_postgresql
    from storage.postgres import PgDatabase, migrate

    path = tmp_path / "old.db"
    await legacy_database(path)
    await (await Database.open(path)).close()  # migrations only
    await migrate(pg_url)
    copy_to_postgresql(path, pg_url)
    db = await PgDatabase.open(pg_url)
    try:
        assert all((await _clear_in_rows(db)).values())  # copied as it was: in the clear
        tips = TipRepo(db, Vault(SECRET), TipPolicy())
        assert await tips.seal_clear_rows() == 2
        assert not any((await _clear_in_rows(db)).values())
        tip = await tips.get(1)
        assert (tip.body, tip.place_text, tip.latitude, tip.longitude) == (BODY, PLACE, LAT, LON)
        assert [h.detail for h in await tips.history(1) if h.kind == "note"] == [{"text": NOTE}]
        assert [json.loads(r[0]) for r in await db.fetch("SELECT detail FROM audit_log")] == [{}]
    finally:
        await db.close()


async def _clear_in_rows(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How often each distinctive value occurs in any row of the tip tables (where the
    database's files are not ours to read: PostgreSQL)."""
    data = ""
    for table in ("tips", "tip_history", "tip_media", "audit_log"):
        data += repr(await db.fetch(f"SELECT * FROM {table}"))
    values = {"body": "vườn xoài", "place": "Xáng Mới", "note": "tổ tuần tra", "file id": FILE_ID,
              "latitude": repr(LAT), "longitude": repr(LON)}
    return {k: data.count(v) for k, v in values.items()}


async def test_new_tips_are_sealed_to_their_row(store) -> None:
    db = store
    tips = TipRepo(db, Vault(SECRET), TipPolicy())
    draft = Draft(category="trom_cap", body=BODY, place_text=PLACE, latitude=LAT,
                  longitude=LON, occurred_kind="today", occurred_at="2026-11-21",
                  anonymous=True, media=[("photo", FILE_ID)])
    first, _ = await tips.create(draft, 7, T0)
    second, _ = await tips.create(draft, 8, T0)
    await tips.add_entry(first.id, None, "note", T0, text=NOTE)
    assert (await tips.get(first.id)).media == (("photo", FILE_ID),)
    if db.dialect == "sqlite":
        assert not any(clear_bytes(db.path).values())
    assert not any((await _clear_in_rows(db)).values())
    rows = await db.fetch("SELECT body, place_text, latitude, longitude FROM tips")
    assert [tuple(r) for r in rows] == [("", None, None, None)] * 2
    # A sealed blob moved to another tip's row does not open there.
    await db.execute("UPDATE tips SET content = (SELECT content FROM tips WHERE id = ?)"
                     " WHERE id = ?", (first.id, second.id))
    with pytest.raises(InvalidTag):
        await tips.get(second.id)


async def test_the_start_finds_what_is_left_to_seal_without_reading_every_row(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "plan.db")
    try:
        plans = []
        for sql in ("SELECT id FROM tips t WHERE t.content IS NULL LIMIT 5",
                    "SELECT id FROM tip_history WHERE kind IN ('note', 'ask', 'answer')"
                    " AND detail NOT LIKE '{\"sealed\":%' LIMIT 5"):
            rows = await db.conn.execute_fetchall("EXPLAIN QUERY PLAN " + sql)
            plans.append(" ".join(r[3] for r in rows))
        assert "tips_clear" in plans[0] and "tip_history_clear" in plans[1], plans
    finally:
        await db.close()
