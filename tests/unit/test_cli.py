"""The command line: units import/list, invite, poster, backup, help."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from tests.conftest import UNITS_CSV

SECRET = "cli-test-secret-0123456789abcdefghijklm"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("BINHYEN_DB", str(db))
    monkeypatch.setenv("BINHYEN_SECRET_KEY", SECRET)
    (tmp_path / "units.csv").write_text(UNITS_CSV, "utf-8")
    return tmp_path


def test_units_import_and_list(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["units", "import", str(env / "units.csv")]) == 0
    assert "6 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert main(["units", "import", str(env / "units.csv")]) == 0
    assert "0 created, 0 updated, 6 unchanged" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "CM\tTỉnh Cà Mau\tprovince"
    assert "    TH-ANPHU\tẤp An Phú\thamlet" in lines


def test_bad_csv_reports_line_and_imports_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = env / "bad.csv"
    bad.write_text("code,name,level,parent_code\nA,Ấp A,hamlet,\nB,Ấp B,hamlet,ZZZ\n", "utf-8")
    assert main(["units", "import", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"binhyen: {bad}: line 3: parent_code 'ZZZ' is neither in the file nor known;"
                   " nothing was imported")
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out == ""


def test_invite_prints_a_deep_link_and_writes_a_qr(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["units", "import", str(env / "units.csv")])
    capsys.readouterr()
    qr = env / "invite.png"
    code = main(["invite", "--unit", "TH-ANPHU", "--role", "reporter", "--uses", "3",
                 "--expires", "2d", "--qr", str(qr), "--bot-username", "@binhyen_bot"])
    assert code == 0
    out = capsys.readouterr()
    link = out.out.strip()
    assert link.startswith("https://t.me/binhyen_bot?start=j_")
    assert "reporter for Ấp An Phú (TH-ANPHU), 3 use(s)" in out.err
    assert qr.read_bytes().startswith(b"\x89PNG")
    row = sqlite3.connect(env / "cli.db").execute(
        "SELECT role, uses, uses_left FROM invitations").fetchone()
    assert row == ("reporter", 3, 3)


def test_invite_mistakes(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["units", "import", str(env / "units.csv")])
    capsys.readouterr()
    assert main(["invite", "--unit", "NOPE", "--role", "reporter", "--bot-username", "b"]) == 1
    assert "no unit with code 'NOPE'" in capsys.readouterr().err
    assert main(["invite", "--unit", "TH-ANPHU", "--role", "reporter"]) == 2
    assert "set the token or pass --bot-username" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["invite", "--unit", "TH-ANPHU", "--role", "reporter", "--expires", "soon"])
    assert "use a number and d, h or m" in capsys.readouterr().err


def test_poster_and_backup(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["units", "import", str(env / "units.csv")])
    out = env / "poster.png"
    assert main(["poster", "--unit", "TH-PHUOCHAU", "--out", str(out),
                 "--bot-username", "binhyen_bot"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "start=t_TH-PHUOCHAU" in capsys.readouterr().err
    copy = env / "backup.db"
    assert main(["backup", str(copy)]) == 0
    assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM units").fetchone()[0] == 6


def test_help_documents_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for command in ("run", "sandbox", "units", "invite", "poster", "backup", "send-reminders",
                    "send-digest", "export", "schedule"):
        assert command in text


def test_export_writes_the_workbook_of_a_unit(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["units", "import", str(env / "units.csv")])
    capsys.readouterr()
    out = env / "tanhoa.xlsx"
    assert main(["export", "--unit", "TANHOA", "--period", "2026-W45", "--out", str(out)]) == 0
    assert "Xã Tân Hòa, 2026-W45, 2 hamlets, 0/2 reports" in capsys.readouterr().out
    book = load_workbook(out)
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "Ấp An Phú" in cells and "Ấp Phước Hậu" in cells and "Ấp Sóc Đồn" not in cells
    assert main(["export", "--unit", "NOPE", "--out", str(out)]) == 1
    assert main(["export", "--unit", "TANHOA", "--period", "2026-W99", "--out", str(out)]) == 1
    assert "--period" in capsys.readouterr().err


def test_schedule_shows_and_changes_a_communes_times(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["units", "import", str(env / "units.csv")])
    capsys.readouterr()
    assert main(["schedule", "--unit", "TANHOA", "digest.week", "t2 09:00"]) == 0
    assert "TANHOA: digest.week → mon 09:00" in capsys.readouterr().out
    assert main(["schedule", "--unit", "KHANHAN", "reminder.friday", "off"]) == 0
    capsys.readouterr()
    assert main(["schedule"]) == 0
    shown = capsys.readouterr().out
    assert "digest.week      mon 07:30  (default); TANHOA: mon 09:00" in shown
    assert "reminder.friday  fri 16:00  (default); KHANHAN: off" in shown
    assert main(["schedule", "--unit", "TANHOA", "digest.week", "default"]) == 0
    capsys.readouterr()
    assert main(["schedule", "--unit", "TANHOA"]) == 0
    assert "TANHOA" not in capsys.readouterr().out
    assert main(["schedule", "--unit", "TANHOA", "digest.week", "someday"]) == 1
    assert main(["schedule", "--unit", "TANHOA", "digest.weekly", "07:30"]) == 1
    assert "digest.week" in capsys.readouterr().err


def test_set_office_then_report_and_office_columns_of_the_csv(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import docx

    main(["units", "import", str(env / "units.csv")])
    capsys.readouterr()
    assert main(["units", "set-office", "TANHOA"]) == 0  # shows the defaults
    captured = capsys.readouterr()
    assert "body: CÔNG AN XÃ TÂN HÒA  (default)" in captured.out
    assert "signer-name: —  (default)" in captured.out and "no signer's name" in captured.err
    assert main(["units", "set-office", "TANHOA", "--signer-name", "Nguyễn Văn An",
                 "--recipient", "Công an tỉnh Cà Mau (để báo cáo)", "--recipient",
                 "Lưu: VT"]) == 0
    out = capsys.readouterr().out
    assert "signer-name: Nguyễn Văn An\n" in out
    assert "recipients: Công an tỉnh Cà Mau (để báo cáo) | Lưu: VT\n" in out
    assert main(["units", "set-office", "NOPE", "--place", "X"]) == 1
    assert main(["units", "set-office", "TANHOA", "--place", "x" * 201]) == 1
    assert "longer than 200" in capsys.readouterr().err

    out_file = env / "bc.docx"
    assert main(["report", "--unit", "TANHOA", "--period", "2026-H2", "--out",
                 str(out_file)]) == 0
    document = docx.Document(out_file)
    assert document.paragraphs[1].text.startswith("Sơ kết phong trào toàn dân")
    assert [p.text for p in document.tables[1].cell(0, 1).paragraphs if p.text] == [
        "TRƯỞNG CÔNG AN XÃ", "Nguyễn Văn An"]
    assert main(["report", "--unit", "TANHOA", "--period", "2026", "--kind", "sơ-kết",
                 "--lang", "en", "--out", str(out_file)]) == 0
    assert docx.Document(out_file).paragraphs[1].text.startswith("Half-year review")
    assert main(["report", "--unit", "TANHOA", "--period", "2026", "--kind", "x",
                 "--out", str(out_file)]) == 1

    # The units CSV can carry the same fields; an empty cell leaves one as it is.
    csv = env / "offices.csv"
    csv.write_text("code,name,level,parent_code,signer_title,recipients,signer_name\n"
                   "TANHOA,Xã Tân Hòa,commune,CM,PHÓ TRƯỞNG CÔNG AN XÃ,A (để b/c) | Lưu: VT,\n",
                   "utf-8")
    assert main(["units", "import", str(csv)]) == 0
    assert "office details set for 1" in capsys.readouterr().out
    assert main(["units", "set-office", "TANHOA"]) == 0
    out = capsys.readouterr().out
    assert "signer-title: PHÓ TRƯỞNG CÔNG AN XÃ\n" in out
    assert "recipients: A (để b/c) | Lưu: VT\n" in out
    assert "signer-name: Nguyễn Văn An\n" in out  # the empty cell changed nothing
    csv.write_text("code,name,level,parent_code,seal\nTANHOA,Xã Tân Hòa,commune,CM,x\n", "utf-8")
    assert main(["units", "import", str(csv)]) == 1
    assert "unknown column 'seal'" in capsys.readouterr().err
