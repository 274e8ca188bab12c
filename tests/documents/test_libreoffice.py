"""The workbook and the Word report as an office opens them: LibreOffice converts both to
PDF, poppler's pdftotext reads the pages back.

What is checked is what a district officer would see on paper: the Vietnamese text intact,
diacritics included, the header and signature where Nghị định 30 puts them, and totals that
LibreOffice computes itself from the workbook's formulas equal to the bot's figures. (The bot
stores each formula's value with it, and LibreOffice by default shows a stored value rather
than recalculate an .xlsx; so the test takes the stored values out first, and what is printed
is LibreOffice's own arithmetic.)
``make test`` installs LibreOffice and poppler from Debian when they are missing; a run takes
a few seconds, more on a loaded machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot.digest_report import report_docx
from bot.digest_workbook import workbook_xlsx
from tests.unit.test_official_documents import TZ, _office, _report_digest

CONVERT_TIMEOUT = 300  # seconds: LibreOffice's first start on a loaded machine is slow


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: `make test` installs it (make office)")
    return found


def _pdf(tmp_path: Path, name: str, data: bytes) -> Path:
    source = tmp_path / name
    source.write_bytes(data)
    profile = tmp_path / "profile"  # its own profile: runs side by side do not collide
    subprocess.run([_need("soffice"), f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=CONVERT_TIMEOUT)
    pdf = source.with_suffix(".pdf")
    assert pdf.exists(), f"LibreOffice wrote no PDF for {name}"
    return pdf


def _text(pdf: Path, *pages: int) -> str:
    """The PDF's text (or the pages given), whitespace folded to single spaces."""
    args = [_need("pdftotext"), "-layout"]
    if pages:
        args += ["-f", str(pages[0]), "-l", str(pages[-1])]
    out = subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True,
                         timeout=60).stdout.decode("utf-8")
    return re.sub(r"\s+", " ", out)


def _page_count(pdf: Path) -> int:
    info = subprocess.run([_need("pdfinfo"), str(pdf)], check=True, capture_output=True,
                          timeout=60).stdout.decode()
    return int(re.search(r"Pages:\s+(\d+)", info)[1])


def test_the_word_report_as_printed(tmp_path: Path) -> None:
    office = _office("vi")
    pdf = _pdf(tmp_path, "bao-cao.docx", report_docx(_report_digest(), office, "vi", tz=TZ))
    first = _text(pdf, 1)
    for line in ("CÔNG AN TỈNH CÀ MAU", "CÔNG AN XÃ TÂN HÒA", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 "Độc lập - Tự do - Hạnh phúc", "Tân Hòa, ngày 01 tháng 12 năm 2026",
                 "/BC-CAX", "BÁO CÁO", "I. ĐẶC ĐIỂM TÌNH HÌNH"):
        assert line in first, line
    assert not re.match(r"^\s*1\s", first)  # no page number on the first page
    text = _text(pdf)
    for phrase in ("Có 3.625 lượt người tham dự", "Hòa giải thành 4/6 vụ, đạt 66,7%",
                   "10/16 (62,5%) báo cáo định kỳ", "Nơi nhận:", "TRƯỞNG CÔNG AN XÃ",
                   "Nguyễn Văn An", "PHỤ LỤC", "Chưa báo cáo", "Tổng cộng 10/16 9 3.625"):
        assert phrase in text, phrase
    pages = _page_count(pdf)
    assert pages >= 3  # the body runs onto a second page; the appendix has its own
    assert _text(pdf, 2).strip().startswith("2")  # numbered at the top from page 2


def test_the_workbook_formulas_give_the_bots_figures(tmp_path: Path) -> None:
    data = workbook_xlsx(_report_digest(), "vi", office=_office("vi"), tz=TZ)
    spoiled = tmp_path / "spoiled.xlsx"
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as src, \
            zipfile.ZipFile(spoiled, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                body, n = re.subn(rb"</f><v>[^<]*</v>", b"</f><v></v>", body)
                assert n or not info.filename.endswith(("sheet1.xml", "sheet2.xml"))
            dst.writestr(info, body)
    pdf = _pdf(tmp_path, "bieu.xlsx", spoiled.read_bytes())
    text = _text(pdf, 1)
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "BIỂU TỔNG HỢP KẾT QUẢ PHONG TRÀO TOÀN DÂN BẢO VỆ AN NINH TỔ QUỐC",
                 "Tân Hòa, ngày 01 tháng 12 năm 2026", "NGƯỜI LẬP BIỂU", "Nguyễn Văn An",
                 "Chưa báo cáo", "Ấp Phước Hậu"):
        assert line in text, line
    # The totals row as the bot computes it: 10 of 16 reports, 62,5%, then the indicators.
    assert "Tổng cộng 10 16 62,5% 9 3.625 6 4 23 2 1 85 11 1" in text
    assert "Tăng/giảm +2 +625 0 -1 -7 0 +1 -15 +2" in text
