"""The documents a commune sends upward: the workbook and the Word report, read back.

Both are made from the hand-made digest of ``test_digest_render`` and opened with the readers
an office uses (openpyxl, python-docx). The figures expected are written out here, not
recomputed by the code under test; the layout checked is Nghị định 30/2020/NĐ-CP's.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from openpyxl import load_workbook

from bot.digest import EventLine, HamletRow, SpanKind
from bot.digest_report import report_docx, report_kind
from bot.digest_workbook import workbook_xlsx
from bot.official import date_line, in_sentence, number_line, resolve
from locales import LOCALES, t
from storage.models import Unit
from storage.offices import OfficeFields
from storage.units import UnitTree
from tests.unit.test_digest_render import (
    BEFORE,
    CHANGES,
    CODES,
    TOTALS,
    VALUES_A,
    VALUES_B,
    VALUES_C,
    _digest,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TREE = UnitTree([Unit(1, "CM", "Tỉnh Cà Mau", "province", None),
                 Unit(2, "TANHOA", "Xã Tân Hòa", "commune", 1),
                 Unit(3, "TH-ANPHU", "Ấp An Phú", "hamlet", 2)])
SIGNED = OfficeFields(signer_name="Nguyễn Văn An")


def _office(locale: str = "vi", stored: OfficeFields = SIGNED):
    return resolve(TREE.by_id[2], TREE, stored, locale)


def _report_digest():
    """The digest with what only the report reads: tips closed, a share, a silent hamlet."""
    d = _digest()
    return replace(d, tips_closed=5, tips_closed_late=1,
                   parts_of={"mediation_resolved": "mediation_cases"},
                   hamlets=[*d.hamlets, HamletRow(4, "Ấp Mới", "Xã Tân Hòa", 4, 0, 0, {},
                                                  missing=4)])


# --------------------------------------------------------------------------------------------
# Who issues it


def test_the_office_comes_from_the_unit_tree_until_it_is_set() -> None:
    office = _office(stored=OfficeFields())
    assert (office.body, office.parent_body, office.place, office.number_prefix) == (
        "CÔNG AN XÃ TÂN HÒA", "CÔNG AN TỈNH CÀ MAU", "Tân Hòa", "CAX")
    assert office.signer_title == "TRƯỞNG CÔNG AN XÃ" and office.signer_authority == ""
    assert office.recipients == ("Công an tỉnh Cà Mau (để báo cáo)",
                                 "Đảng ủy, Ủy ban nhân dân Xã Tân Hòa (để báo cáo)", "Lưu: VT")
    assert office.missing == ("signer_name",)
    assert {"body", "parent_body", "recipients", "signer_name"} <= set(office.defaulted)

    chosen = OfficeFields(body="CÔNG AN PHƯỜNG AN HÒA", signer_authority="KT. TRƯỞNG CÔNG AN",
                          signer_title="PHÓ TRƯỞNG CÔNG AN", signer_name="Lê Thị Hoa",
                          recipients="Công an tỉnh (để b/c)\nLưu: VT, CAX")
    office = _office(stored=chosen)
    assert office.body == "CÔNG AN PHƯỜNG AN HÒA" and office.parent_body == "CÔNG AN TỈNH CÀ MAU"
    assert office.recipients == ("Công an tỉnh (để b/c)", "Lưu: VT, CAX")
    assert office.missing == () and "body" not in office.defaulted
    # A field set to "" goes back to its default.
    assert chosen.merged(OfficeFields(body="")).body is None

    english = _office("en", OfficeFields())
    assert (english.body, english.parent_body) == ("TÂN HÒA COMMUNE POLICE",
                                                   "CÀ MAU PROVINCE POLICE")
    bare = resolve(Unit(9, "X", "Tân Hòa", "commune", None), TREE, OfficeFields(), "vi")
    assert bare.body == "CÔNG AN XÃ TÂN HÒA" and bare.parent_body == ""


def test_number_and_date_lines() -> None:
    office = _office()
    assert number_line(office, "vi") == "Số:        /BC-CAX"  # the clerk writes the number
    # Nghị định 30: a day below 10 and the months 1 and 2 take a leading zero.
    assert date_line(office, date(2026, 12, 1), "vi") == "Tân Hòa, ngày 01 tháng 12 năm 2026"
    assert date_line(office, date(2027, 2, 5), "vi") == "Tân Hòa, ngày 05 tháng 02 năm 2027"
    assert date_line(office, date(2027, 3, 15), "vi") == "Tân Hòa, ngày 15 tháng 3 năm 2027"
    assert date_line(office, date(2026, 12, 1), "en") == "Tân Hòa, 1 December 2026"
    assert in_sentence("Xã Tân Hòa, Phường An Lạc") == "xã Tân Hòa, phường An Lạc"
    assert in_sentence("Ấp An Phú") == "Ấp An Phú"


# --------------------------------------------------------------------------------------------
# The workbook

HEAD = 9  # the table's header row on sheet 1, under the official header
FIRST, TOTAL, BEFORE_ROW, CHANGE_ROW = 10, 14, 15, 16  # four hamlets from row 10


def _books(locale: str, digest=None):
    data = workbook_xlsx(digest or _report_digest(), locale, office=_office(locale), tz=TZ)
    assert data.startswith(b"PK")
    return (load_workbook(io.BytesIO(data)),  # formulas
            load_workbook(io.BytesIO(data), data_only=True))  # the values they hold


@pytest.mark.parametrize("locale", LOCALES)
def test_workbook_header_and_signatures(locale: str) -> None:
    formulas, _ = _books(locale)
    assert formulas.sheetnames == [
        t(locale, "digest.sheet.report"), t(locale, "digest.sheet.tips"),
        t(locale, "digest.sheet.overdue"), t(locale, "digest.sheet.events"),
    ]  # fmt: skip
    ws = formulas.worksheets[0]
    texts = {cell.coordinate: cell.value for row in ws.iter_rows(max_row=8) for cell in row
             if cell.value is not None}
    office = _office(locale)
    assert texts["A1"] == office.parent_body and texts["A2"] == office.body
    right = min(c for c in texts if c.endswith("1") and c != "A1")
    assert texts[right] == t(locale, "doc.motto")
    assert ws[right].font.b
    tagline = ws[right.replace("1", "2")]
    assert tagline.value == t(locale, "doc.tagline") and tagline.font.b and tagline.font.u
    assert texts["A3"] == number_line(office, locale)
    day = ws[right.replace("1", "3")]
    assert day.value == date_line(office, date(2026, 12, 1), locale) and day.font.i
    assert texts["A5"] == t(locale, "digest.sheet.title")
    assert t(locale, "digest.sheet.subject", span="", scope="").strip(" –") in texts["A6"]
    as_of = ws["C7"]  # a date, not text: 08:05 in Hồ Chí Minh City
    assert as_of.value == datetime(2026, 12, 1, 8, 5) and "hh:mm" in as_of.number_format

    below = [(c.coordinate, c.value) for row in ws.iter_rows(min_row=CHANGE_ROW + 1)
             for c in row if c.value is not None]
    values = [v for _, v in below]
    assert t(locale, "digest.sheet.preparer") in values
    assert office.signer_title in values and office.signer_name in values
    # Printing: A4 landscape, Nghị định 30's margins, the header row repeated.
    assert int(ws.page_setup.paperSize) == 9 and ws.page_setup.orientation == "landscape"  # A4
    assert round(ws.page_margins.left * 25.4) == 30 and round(ws.page_margins.top * 25.4) == 20
    assert ws.print_title_rows == f"${HEAD}:${HEAD}"
    assert formulas.properties.creator == "Bình Yên"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_cell_is_times_new_roman(locale: str) -> None:
    formulas, _ = _books(locale)
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    assert cell.font.name == "Times New Roman", (ws.title, cell.coordinate)
    # And what an officer types into an empty cell later.
    styles = zipfile.ZipFile(io.BytesIO(workbook_xlsx(
        _report_digest(), locale, office=_office(locale), tz=TZ))).read("xl/styles.xml")
    first_font = re.search(rb"<font>.*?</font>|<font .*?</font>", styles, re.S)[0]
    assert b'val="Times New Roman"' in first_font


def test_report_table_figures_formulas_and_results() -> None:
    formulas, values = _books("vi")
    ws, wv = formulas.worksheets[0], values.worksheets[0]
    header = [c.value for c in ws[HEAD]]
    assert header[:6] == ["STT", "Thôn, ấp", "Xã, phường", "Số báo cáo đã nộp",
                          "Số báo cáo phải nộp", "Tỷ lệ nộp"]
    assert header[6:] == [t("vi", f"indicator.{code}") for code in CODES]

    rows = [[c.value for c in wv[r]] for r in range(FIRST, FIRST + 4)]
    assert rows[0][:5] == [1, "Ấp An Phú", "Xã Tân Hòa", 4, 4] and rows[0][6:] == VALUES_A
    assert rows[1][:5] == [2, "Ấp Phước Hậu", "Xã Tân Hòa", 4, 4] and rows[1][6:] == VALUES_B
    assert rows[2][:5] == [3, "Thôn Đông", "Xã Hòa Bình", 2, 4]
    assert rows[2][6:] == [VALUES_C.get(code, 0) for code in CODES]  # filed: zeros are zeros
    assert rows[2][5] == pytest.approx(0.5)
    # Nothing filed: said across the indicators, not left blank.
    assert rows[3][:5] == [4, "Ấp Mới", "Xã Tân Hòa", 0, 4]
    assert rows[3][6] == "Chưa báo cáo" and f"G{FIRST + 3}:P{FIRST + 3}" in {
        str(r) for r in ws.merged_cells.ranges}
    assert ws[f"D{FIRST}"].data_type == "n" and ws[f"F{FIRST}"].value == f"=D{FIRST}/E{FIRST}"
    assert "0.0%" in ws[f"F{FIRST}"].number_format

    # Totals, the rate and the change are formulas holding the bot's own figures.
    total = [c.value for c in wv[TOTAL]]
    assert total[0] == "Tổng cộng" and total[3:5] == [10, 16]
    assert total[5] == pytest.approx(10 / 16)
    assert total[6:] == TOTALS
    assert ws[f"G{TOTAL}"].value == f"=SUM(G{FIRST}:G{FIRST + 3})"
    assert ws[f"D{TOTAL}"].value == f"=SUM(D{FIRST}:D{FIRST + 3})"
    assert ws[f"F{TOTAL}"].value == f"=D{TOTAL}/E{TOTAL}"
    before = [c.value for c in wv[BEFORE_ROW]]
    assert before[0].startswith("Kỳ trước: Tháng 10/2026") and before[6:] == [*BEFORE, None]
    change = [c.value for c in wv[CHANGE_ROW]]
    assert change[0] == "Tăng/giảm" and change[6:] == CHANGES
    assert ws[f"G{CHANGE_ROW}"].value == f"=G{TOTAL}-G{BEFORE_ROW}"
    assert ws[f"P{CHANGE_ROW}"].value is None  # no earlier figure: no change
    # Vietnamese separators whatever the reader's machine says ("3.625", "62,5%").
    assert ws[f"H{TOTAL}"].number_format.startswith("[$-42A]")
    assert ws.freeze_panes == f"C{HEAD + 1}"


def test_every_formula_holds_a_result() -> None:
    data = workbook_xlsx(_report_digest(), "en", office=_office("en"), tz=TZ)
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        for name in book.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = book.read(name).decode()
                assert not re.search(r"<f>[^<]*</f><v></v>", xml), name
                assert "<f>" in xml or not name.endswith(("sheet1.xml", "sheet2.xml"))
    assert b'fullCalcOnLoad="1"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml")


def test_tips_sheet_totals_are_formulas() -> None:
    formulas, values = _books("en")
    ws, wv = formulas.worksheets[1], values.worksheets[1]
    rows = list(wv.iter_rows(values_only=True))
    counts = {"Drugs": (2, 0, 2), "Theft": (4, 2, 2)}
    for name, figures in counts.items():
        assert next(r for r in rows if r[0] == name)[1:4] == figures
    total_row = next(i for i, r in enumerate(rows, start=1) if r[0] == "Total")
    assert rows[total_row - 1][:4] == ("Total", 7, 6, 1)
    assert ws[f"B{total_row}"].value.startswith("=SUM(B4:")
    assert ws[f"D{total_row}"].value == f"=B{total_row}-C{total_row}"
    status_total = [i for i, r in enumerate(rows, start=1) if r[0] == "Total"][-1]
    assert rows[status_total - 1][1] == 7 and ws[f"B{status_total}"].value.startswith("=SUM(")


def test_overdue_and_events_moments_are_dates() -> None:
    formulas, _ = _books("vi")
    overdue = list(formulas.worksheets[2].iter_rows(min_row=4, values_only=True))
    assert overdue[0] == ("TB-7K3Q9", "Trộm cắp", "Mới", "Ấp An Phú",
                          datetime(2026, 11, 20, 10, 0), "Chưa tiếp nhận")
    # 16:30 UTC is 23:30 the same day in Hồ Chí Minh City.
    assert overdue[1][4] == datetime(2026, 11, 24, 23, 30)
    events = list(formulas.worksheets[3].iter_rows(min_row=4, values_only=True))
    assert events[0] == ("VV-7K3Q9", datetime(2026, 11, 19, 19, 30), "Cháy, nổ", "Ấp An Phú", 3,
                         "Đã xử lý xong")
    assert events[1][1] == datetime(2026, 11, 27, 6, 45)  # past midnight
    assert "dd/mm/yyyy" in formulas.worksheets[3]["B4"].number_format


def test_workbook_of_an_empty_span() -> None:
    empty = replace(
        _digest(), hamlets=[], tips_by_category={}, tips_by_category_before={},
        tips_by_status={}, overdue=[], events=[], totals_before={},
    )  # fmt: skip
    _, values = _books("en", empty)
    total = [c.value for c in values.worksheets[0][FIRST]]
    assert total[0] == "Total" and total[3:5] == [0, 0] and total[6:] == [0] * 10
    sheets = values.worksheets
    assert sheets[1]["A4"].value == "No tips."
    assert sheets[2]["A4"].value == "No overdue tips."
    assert sheets[3]["A4"].value == "No events."


def test_names_are_stored_as_text_never_as_formulas() -> None:
    hostile = '=HYPERLINK("http://x.invalid","Ấp")'
    digest = replace(
        _digest(),
        hamlets=[HamletRow(9, hostile, "@SUM(A1)\x07", 1, 1, 0, {CODES[0]: 2})],
        events=[EventLine("other", datetime(2026, 11, 2, tzinfo=UTC), "=2*3", 0)],
    )
    formulas, _ = _books("vi", digest)
    report = formulas.worksheets[0]
    assert report[f"B{FIRST}"].value == hostile and report[f"B{FIRST}"].data_type == "s"
    assert report[f"C{FIRST}"].value == "@SUM(A1)"  # a control character Excel refuses
    events = formulas.worksheets[3]
    assert events["D4"].value == "=2*3" and events["D4"].data_type == "s"


def test_a_running_span_is_not_compared_in_the_workbook() -> None:
    d = _digest()
    d = replace(d, hamlets=[replace(d.hamlets[0], expected=5), *d.hamlets[1:]])
    assert d.before == "running"
    _, values = _books("vi", d)
    ws = values.worksheets[0]
    change_row = next(r for r in ws.iter_rows(values_only=True) if r[0] == "Tăng/giảm")
    assert all(v is None for v in change_row[6:])


# --------------------------------------------------------------------------------------------
# The Word report


def _document(locale: str = "vi", digest=None, stored: OfficeFields = SIGNED):
    data = report_docx(digest or _report_digest(), _office(locale, stored), locale, tz=TZ)
    return docx.Document(io.BytesIO(data))


def _all_runs(document):
    """Every run: the body's paragraphs, every table cell's, the headers'."""
    def cells(tables):
        for table in tables:
            for row in table.rows:
                for cell in row.cells:
                    yield from cell.paragraphs
                    yield from cells(cell.tables)

    paragraphs = [*document.paragraphs, *cells(document.tables)]
    for section in document.sections:
        paragraphs += [*section.header.paragraphs, *section.first_page_header.paragraphs]
    for paragraph in paragraphs:
        yield from paragraph.runs


def _body_text(document) -> str:
    return "\n".join(p.text for p in document.paragraphs)


def test_report_page_and_font() -> None:
    document = _document()
    page, appendix = document.sections
    def mm(length) -> int:  # stored in twentieths of a point: whole millimetres
        return round(length.mm)

    assert (mm(page.page_width), mm(page.page_height)) == (210, 297)
    assert page.orientation == WD_ORIENT.PORTRAIT
    assert [mm(m) for m in (page.top_margin, page.bottom_margin, page.left_margin,
                            page.right_margin)] == [20, 20, 30, 15]
    assert appendix.orientation == WD_ORIENT.LANDSCAPE  # the table's page
    assert mm(appendix.page_width) == 297
    runs = list(_all_runs(document))
    assert len(runs) > 80
    for run in runs:
        assert run.font.name == "Times New Roman", run.text
        fonts = run._r.rPr.find(qn("w:rFonts"))
        assert {fonts.get(qn(s)) for s in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")} == {
            "Times New Roman"}, run.text
        assert str(run.font.color.rgb) == "000000"
    body = [r for p in document.paragraphs[2:] for r in p.runs if r.text.strip()]
    assert {r.font.size.pt for r in body} <= {14.0}  # the body is 14 pt
    normal = document.styles["Normal"].font
    assert normal.name == "Times New Roman" and normal.size.pt == 14


@pytest.mark.parametrize("locale", LOCALES)
def test_report_header_title_and_closing(locale: str) -> None:
    document = _document(locale)
    office = _office(locale)
    header = document.tables[0]
    body_cell, motto_cell = header.cell(0, 0), header.cell(0, 1)
    assert body_cell.paragraphs[0].text == f"{office.parent_body}\n{office.body}"
    names = [r for r in body_cell.paragraphs[0].runs if r.text.strip()]
    assert [bool(r.font.bold) for r in names] == [False, True]  # the body above is not bold
    motto, tagline = motto_cell.paragraphs[0], motto_cell.paragraphs[1]
    assert motto.text == t(locale, "doc.motto") and all(r.font.bold for r in motto.runs)
    assert tagline.text == t(locale, "doc.tagline") and all(r.font.bold for r in tagline.runs)
    # Each with its rule under it: a bottom border on the paragraph that follows.
    for cell in (body_cell, motto_cell):
        assert cell.paragraphs[-1]._p.pPr.find(qn("w:pBdr")) is not None
    assert header.cell(1, 0).text == number_line(office, locale)
    day = header.cell(1, 1).paragraphs[0]
    assert day.text == date_line(office, date(2026, 12, 1), locale)
    assert all(r.font.italic for r in day.runs)

    title, subject = document.paragraphs[0], document.paragraphs[1]
    assert title.text == t(locale, "doc.title") and title.runs[0].font.bold
    assert subject.text == {
        "vi": "Kết quả thực hiện phong trào toàn dân bảo vệ an ninh Tổ quốc tháng 11/2026",
        "en": "Results of the all-people movement for national security, month 11/2026",
    }[locale]
    # Page numbers at the top centre from the second page on.
    page = document.sections[0]
    assert page.different_first_page_header_footer
    assert "PAGE" in page.header._element.xml and "PAGE" not in page.first_page_header._element.xml

    closing = document.tables[1]
    to, sign = closing.cell(0, 0), closing.cell(0, 1)
    assert to.paragraphs[0].text == t(locale, "doc.recipients")
    assert [p.text for p in to.paragraphs[1:]] == [
        f"- {line};" for line in office.recipients[:-1]] + [f"- {office.recipients[-1]}."]
    signed = [p.text for p in sign.paragraphs if p.text]
    assert signed == [office.signer_title, office.signer_name]


def test_report_writes_the_figures_into_sentences() -> None:
    text = _body_text(_document())
    assert ("Trong tháng 11/2026, trên địa bàn xã Tân Hòa đã tiếp nhận 7 tin báo, phản ánh của "
            "Nhân dân qua Bình Yên (tăng 1 tin so với tháng trước), trong đó: ma túy 2 tin; "
            "trộm cắp 4 tin; lừa đảo") in text
    assert "mới 2 tin; đang xác minh 2 tin; đã kết thúc 3 tin" in text
    assert "2 vụ việc về an ninh, trật tự" in text and "đã xử lý xong 1/2 vụ" in text
    assert "4 ấp, tổ dân phố đã nộp 10/16 (62,5%) báo cáo định kỳ, trong đó 1 báo cáo nộp " \
           "trễ hạn." in text
    assert "- Tổ chức 9 buổi tuyên truyền, vận động Nhân dân tham gia phong trào (tăng 2 so " \
           "với tháng trước);" in text
    assert "- Có 3.625 lượt người tham dự" in text and "(tăng 625 so với tháng trước)" in text
    assert "- Hòa giải thành 4/6 vụ, đạt 66,7% (giảm 1 so với tháng trước);" in text
    assert "- Tham gia hòa giải ở cơ sở 6 vụ (bằng tháng trước);" in text
    assert "- Xảy ra 1 vụ việc về an ninh, trật tự." in text  # no earlier figure: no trend
    assert "đã giải quyết xong 5 tin báo, phản ánh, trong đó 4/5 (80,0%) tin đúng hạn, 1 tin " \
           "quá hạn." in text
    assert "còn 2 tin báo quá hạn" in text


def test_report_marks_what_the_officer_writes_and_lists_only_facts() -> None:
    document = _document()
    marked = [r.text for p in document.paragraphs for r in p.runs
              if r.font.highlight_color == WD_COLOR_INDEX.YELLOW]
    assert marked == [t("vi", "doc.write_here.part3"), t("vi", "doc.write_here.part4")]
    text = _body_text(document)
    part3 = text.split("III. TỒN TẠI, HẠN CHẾ")[1].split("IV. PHƯƠNG HƯỚNG")[0]
    assert "- Ấp, tổ dân phố chưa nộp đủ báo cáo: Thôn Đông (2/4 kỳ); Ấp Mới (4/4 kỳ)." in part3
    assert "- Ấp, tổ dân phố nộp báo cáo trễ hạn: Ấp Phước Hậu (1/4 kỳ)." in part3
    part4 = text.split("IV. PHƯƠNG HƯỚNG")[1]
    assert "- TB-7K3Q9: Trộm cắp, Ấp An Phú, tiếp nhận ngày 20/11/2026 (chưa tiếp nhận);" in part4
    assert "TB-M4CXR" in part4

    unsigned = _document(stored=OfficeFields())
    sign = unsigned.tables[1].cell(0, 1)
    assert [r.font.highlight_color for p in sign.paragraphs for r in p.runs
            if r.text == t("vi", "doc.signer_missing")] == [WD_COLOR_INDEX.YELLOW]


def test_report_appendix_equals_the_digest() -> None:
    document = _document()
    table = document.tables[2]
    rows = [[c.text for c in row.cells] for row in table.rows]
    assert rows[0][:3] == ["STT", "Thôn, ấp", "Số báo cáo đã nộp"]
    assert rows[0][3:] == [t("vi", f"indicator.{code}") for code in CODES]
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on each page
    assert rows[1][:3] == ["1", "Ấp An Phú", "4/4"]
    assert rows[2][3:] == ["5", "2.345", "4", "3", "12", "2", "0", "60", "7", "0"]
    assert rows[4][:4] == ["4", "Ấp Mới", "0/4", "Chưa báo cáo"]  # merged across
    assert rows[5][:3] == ["", "Tổng cộng", "10/16"]
    assert rows[5][3:] == [f"{v:,}".replace(",", ".") for v in TOTALS]


def test_report_in_english_and_its_kinds() -> None:
    text = _body_text(_document("en"))
    assert "I. THE SITUATION" in text
    assert "- 3,625 attendances at those sessions (up 625 on the previous month);" in text
    assert "(up 1 tip on the previous month)" in text
    assert report_kind(SpanKind.HALF) == "so_ket" and report_kind(SpanKind.YEAR) == "tong_ket"
    assert report_kind(SpanKind.MONTH) == "ket_qua"
    assert report_kind(SpanKind.MONTH, "tong_ket") == "tong_ket"


def test_report_of_an_empty_span() -> None:
    empty = replace(
        _digest(), hamlets=[], tips_by_category={}, tips_by_category_before={},
        tips_by_status={}, overdue=[], events=[], totals_before={}, overdue_total=0,
    )  # fmt: skip
    text = _body_text(_document(digest=empty))
    assert "không tiếp nhận tin báo, phản ánh nào" in text
    assert "không báo cáo vụ việc về an ninh, trật tự nào" in text
    assert "không có tin báo nào quá hạn" in text
