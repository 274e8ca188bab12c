"""A database path that cannot be used gives one line and exit status 2, never a traceback.

The operator sets BINHYEN_DB by hand; every way it can be wrong (a folder, a missing folder,
some other file, a damaged file, another process holding the lock, no permission) is named
in one line, and no thread or server is left running behind it. ``binhyen backup`` refuses a
target that would destroy something.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import storage.db
from bot.cli import main
from tests.conftest import UNITS_CSV

SECRET = "bad-files-secret-0123456789abcdefghijklm"
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("BINHYEN_SECRET_KEY", SECRET)
    (tmp_path / "units.csv").write_text(UNITS_CSV, "utf-8")
    return tmp_path


@pytest.fixture(autouse=True)
def _env_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINHYEN_DB", "unset")  # so that teardown restores the environment


def use(db: Path) -> None:
    """Point BINHYEN_DB at ``db``."""
    os.environ["BINHYEN_DB"] = str(db)


def refused(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> str:
    """Run ``argv`` against ``db``; it must exit 2 with one line naming the path."""
    use(db)
    assert main(list(argv or ["units", "list"])) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    prefix = f"binhyen: BINHYEN_DB: {db}: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


def test_a_folder(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "data").mkdir()
    assert refused(capsys, env / "data") == "is a folder, not a database file"


def test_a_missing_folder(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reason = refused(capsys, env / "nowhere" / "binhyen.db")
    assert reason == f"the folder {env / 'nowhere'} does not exist"
    assert not (env / "nowhere").exists()


def test_some_other_file(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = env / "notes.db"
    other.write_text("Danh sách tổ an ninh thôn\n" * 40, "utf-8")
    before = other.read_bytes()
    assert refused(capsys, other) == "is not an SQLite database (some other file?)"
    assert other.read_bytes() == before  # not touched, not "repaired"
    assert not Path(f"{other}-wal").exists()


def test_a_damaged_database(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    damaged = env / "damaged.db"
    sqlite3.connect(damaged).executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
    data = bytearray(damaged.read_bytes())
    data[16:100] = b"\xff" * 84  # the header after its magic: page size and all
    damaged.write_bytes(bytes(data))
    assert refused(capsys, damaged) == "is not a Bình Yên database, or it is damaged"


def test_another_database(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Someone else's SQLite file: our tables are created beside theirs? No: refused."""
    theirs = env / "theirs.db"
    conn = sqlite3.connect(theirs)
    conn.executescript("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);")
    conn.close()
    reason = refused(capsys, theirs)
    assert reason == ("holds tables that are not Bình Yên's (invoices);"
                      " point BINHYEN_DB at our own file")
    tables = sqlite3.connect(theirs).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == [("invoices",)]


def test_a_database_from_a_newer_release(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rolling back the code after an upgrade: the old code must not misread the new schema."""
    db = env / "newer.db"
    use(db)
    assert main(["units", "list"]) == 0
    known = max(m.version for m in storage.db.load_migrations())
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', '2027-01-01')",
                 (known + 1,))
    conn.commit()
    conn.close()
    assert refused(capsys, db) == (f"was brought to schema {known + 1:04d} by a newer Bình Yên;"
                                   f" this one knows up to {known:04d}: run the newer release")


def test_locked_by_another_process(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = env / "busy.db"
    use(db)
    assert main(["units", "import", str(env / "units.csv")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        reason = refused(capsys, db, "units", "import", str(env / "units.csv"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert reason.startswith("is locked by another process (waited 0.2 s)")
    assert main(["units", "list"]) == 0  # free again: the refusal changed nothing


def test_an_empty_file_becomes_the_database(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``touch binhyen.db`` before the first run is fine: SQLite treats it as new."""
    empty = env / "binhyen.db"
    empty.touch()
    use(empty)
    assert main(["units", "import", str(env / "units.csv")]) == 0
    assert "6 created" in capsys.readouterr().out


@pytest.mark.skipif(AS_ROOT, reason="root may read and write any file")
def test_a_read_only_file(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = env / "ro.db"
    use(db)
    assert main(["units", "list"]) == 0
    db.chmod(0o444)
    assert refused(capsys, db) == "cannot be read and written (check its permissions)"


@pytest.mark.skipif(AS_ROOT, reason="root may write in any folder")
def test_a_read_only_folder(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = env / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert refused(capsys, folder / "x.db") == f"the folder {folder} is not writable"
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize(("command", "token"), [
    (["run"], None), (["run"], "123456:not-a-real-token-but-never-used"), (["units", "list"], None),
    (["export", "--unit", "TANHOA", "--out", "x.xlsx"], None)])
def test_the_process_exits_with_one_line(env: Path, command: list[str], token: str | None) -> None:
    """As the operator sees it: the process, one line, status 2, nothing left running.

    ``run`` without a token starts the sandbox: its emulator must stop too, or the process
    would not exit and ``subprocess.run`` would time out. With a token the database is opened
    before Telegram is called, so this test reaches no network.
    """
    garbage = env / "binhyen.db"
    garbage.write_bytes(b"PK\x03\x04 not a database at all" * 20)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BINHYEN_")}
    environ.update(BINHYEN_DB=str(garbage), BINHYEN_SECRET_KEY=SECRET,
                   BINHYEN_SANDBOX_PORT="0")
    if token:
        environ["BINHYEN_TOKEN"] = token
    done = subprocess.run([sys.executable, "-m", "bot", *command], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines()
             if not line.startswith("binhyen: BINHYEN_TOKEN is not set")]
    assert lines == [f"binhyen: BINHYEN_DB: {garbage}: "
                     "is not an SQLite database (some other file?)"], done.stderr


# ---------------------------------------------------------------------- backup


@pytest.fixture
def live(env: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = env / "live.db"
    use(db)
    assert main(["units", "import", str(env / "units.csv")]) == 0
    capsys.readouterr()
    return db


def backup_fails(capsys: pytest.CaptureFixture[str], target: Path) -> str:
    assert main(["backup", str(target)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    return err[0]


def units_in(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM units").fetchone()[0]
    finally:
        conn.close()


def test_backup_into_a_folder_writes_a_dated_file(
    live: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = env / "backups"
    folder.mkdir()
    assert main(["backup", str(folder)]) == 0
    (copy,) = folder.iterdir()
    assert copy.name.startswith("binhyen-") and copy.suffix == ".db"
    assert f"to {copy}" in capsys.readouterr().err
    assert units_in(copy) == 6


def test_backup_replaces_an_older_backup(
    live: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = env / "nightly.db"
    assert main(["backup", str(target)]) == 0
    sqlite3.connect(live).execute("DELETE FROM units WHERE level = 'hamlet'").connection.commit()
    assert main(["backup", str(target)]) == 0
    assert units_in(live) < 6
    assert units_in(target) == units_in(live)
    assert not (env / "nightly.db.partial").exists()


def test_backup_refuses_what_it_would_destroy(
    live: Path, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert backup_fails(capsys, live) == (
        f"binhyen: {live}: is the live database itself; give another file")
    assert units_in(live) == 6
    report = env / "bao-cao.docx"
    report.write_bytes(b"PK\x03\x04 a Word document")
    assert backup_fails(capsys, report) == (
        f"binhyen: {report}: exists and is not a database; it was left as it is")
    assert report.read_bytes() == b"PK\x03\x04 a Word document"
    missing = env / "usb" / "copy.db"
    assert backup_fails(capsys, missing) == (
        f"binhyen: {missing}: the folder {env / 'usb'} does not exist")


def test_backup_of_a_missing_database(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    use(env / "never.db")
    assert backup_fails(capsys, env / "copy.db") == f"binhyen: {env / 'never.db'}: no such database"
    assert not (env / "never.db").exists()
