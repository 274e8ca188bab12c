"""What a resident wrote is sealed at rest: the database file and its WAL, read as bytes,
hold none of a tip's text, place, coordinates, photo, the officer's note and question, or

the resident's answer, while the bot shows all of them to the people who may see them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bot.emulator.core import tiny_png
from tests.conftest import Harness
from tests.e2e.test_private_logs import ANSWER, LATITUDE, LONGITUDE, TIP_TEXT, walk_anonymous_tip

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL

NOTE = "Đã gặp chủ nhà số 17, họ xác nhận có xe tải"


def needles(file_ids: list[str]) -> dict[str, bytes]:
    """What must not appear in the file: text as UTF-8, coordinates as text and as the
    8-byte big-endian doubles SQLite stores REAL values in."""
    found = {
        "the tip's text": "hàng cấm".encode(),
        "the place it names": "Bảy Lượm".encode(),
        "the answer": "xanh ngọc".encode(),
        "the question": "Bao nhiêu người".encode(),
        "the note": "chủ nhà số 17".encode(),
        "the latitude as text": f"{LATITUDE:.4f}".encode(),
        "the longitude as text": f"{LONGITUDE:.4f}".encode(),
        "the latitude as a REAL": struct.pack(">d", LATITUDE),
        "the longitude as a REAL": struct.pack(">d", LONGITUDE),
    }
    found.update({f"the photo's file id {i}": fid.encode() for i, fid in enumerate(file_ids)})
    return found


def on_disk(db_path: Path) -> bytes:
    """The database file and its WAL (what a seized disk holds), as bytes."""
    wal = Path(f"{db_path}-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_a_tip_its_note_question_and_answer_leave_no_clear_text_on_disk(
    tmp_path: Path,
) -> None:
    harness = Harness(tmp_path)
    await harness.start()
    try:
        code = await walk_anonymous_tip(harness, photo=tiny_png(), note=NOTE)
        await harness.settle()
        svc = harness.services
        tip = await svc.tips.by_code(code)
        # The bot still reads everything back (the card, /tip) ...
        assert tip.body == TIP_TEXT and (tip.latitude, tip.longitude) == (LATITUDE, LONGITUDE)
        assert [kind for kind, _ in tip.media] == ["photo"]
        history = {h.kind: h.detail for h in await svc.tips.history(tip.id)}
        assert history["note"]["text"] == NOTE and history["answer"]["text"] == ANSWER
        file_ids = [fid for _, fid in tip.media]
        # ... from rows that hold none of it, in the file and the WAL while the bot runs.
        data = on_disk(harness.db_path)
        assert len(data) > 100_000 and Path(f"{harness.db_path}-wal").exists()
        hits = {what: data.count(value) for what, value in needles(file_ids).items()}
    finally:
        await harness.stop()
        await harness.server.stop()
    hits_after = {what: on_disk(harness.db_path).count(value)
                  for what, value in needles(file_ids).items()}
    print(f"{len(hits)} values searched for in {len(data):,} bytes of database and WAL:"
          f" {sum(hits.values())} found while running, {sum(hits_after.values())} after stop")
    assert not any(hits.values()), hits
    assert not any(hits_after.values()), hits_after
