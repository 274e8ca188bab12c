"""Tests for the digest's picture and workbook, and for the span labels both use.

The digest here is made up with figures chosen by hand; the expected totals, changes and
fractions are written out in the test rather than recomputed by the code under test.
"""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from datetime import UTC, date, datetime

import matplotlib
import numpy as np
import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from PIL import Image

from bot.digest import Digest, EventLine, HamletRow, OverdueTip, Span, SpanKind, span_of
from bot.digest_chart import chart_png
from bot.digest_labels import previous_label, span_label, this_label
from bot.digest_workbook import workbook_xlsx
from locales import LOCALES, t
from storage.reporting import indicator_sets
from storage.tip_lifecycle import categories

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

SET = indicator_sets()[0]
CODES = tuple(i.code for i in SET.indicators)
assert len(CODES) == 10

# Three hamlets in two communes; four weekly reports due in November 2026 (ISO Thursdays).
VALUES_A = [3, 1200, 2, 1, 8, 0, 1, 25, 4, 1]
VALUES_B = [5, 2345, 4, 3, 12, 2, 0, 60, 7, 0]
VALUES_C = {CODES[0]: 1, CODES[1]: 80, CODES[4]: 3}  # two reports of four: the rest is blank
TOTALS = [9, 3625, 6, 4, 23, 2, 1, 85, 11, 1]
BEFORE = [7, 3000, 6, 5, 30, 2, 0, 100, 9]  # nothing for the last indicator (new this month)
CHANGES = [2, 625, 0, -1, -7, 0, 1, -15, 2, None]

SCOPE = "Xã Tân Hòa"


def _by_code(values: list[int]) -> dict[str, int]:
    return dict(zip(CODES, values, strict=True))


def _utc(day: int, hour: int, minute: int) -> datetime:
    """A moment of November 2026 in UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def _digest() -> Digest:
    return Digest(
        scope_name=SCOPE,
        span=span_of(SpanKind.MONTH, date(2026, 11, 18)),
        made_at=datetime(2026, 12, 1, 1, 5, tzinfo=UTC),  # 08:05 in Hồ Chí Minh City
        set_code=SET.code,
        indicators=CODES,
        tips_by_category={"theft": 4, "drugs": 2, "fraud": 1, "traffic": 0},
        tips_by_category_before={"theft": 2, "fraud": 3, "gambling": 1},
        tips_by_status={"closed": 3, "new": 2, "verifying": 2},
        overdue=[
            OverdueTip("TB-7K3Q9", "theft", "new", "Ấp An Phú", _utc(20, 3, 0), "ack"),
            OverdueTip("TB-M4CXR", "drugs", "verifying", "Ấp Phước Hậu", _utc(24, 16, 30), "close"),
        ],
        hamlets=[
            HamletRow(1, "Ấp An Phú", "Xã Tân Hòa", 4, 4, 0, _by_code(VALUES_A)),
            HamletRow(2, "Ấp Phước Hậu", "Xã Tân Hòa", 4, 4, 1, _by_code(VALUES_B)),
            HamletRow(3, "Thôn Đông", "Xã Hòa Bình", 4, 2, 0, dict(VALUES_C), missing=2),
        ],
        totals_before=dict(zip(CODES[:-1], BEFORE, strict=True)), before_filed=12,
        before_expected=12, overdue_total=2,
        events=[
            EventLine("fire", _utc(19, 12, 30), "Ấp An Phú", 3, "VV-7K3Q9", "handled"),
            EventLine("theft", _utc(26, 23, 45), "Thôn Đông", 1, "VV-M4CXR", "new"),
        ],
    )


# --------------------------------------------------------------------------------------------
# Span labels

SPAN_LABELS = {
    SpanKind.WEEK: ("Tuần 47/2026 (16/11–22/11)", "Week 47/2026 (16/11–22/11)"),
    SpanKind.MONTH: ("Tháng 11/2026", "Month 11/2026"),
    SpanKind.QUARTER: ("Quý 4/2026", "Q4 2026"),
    SpanKind.HALF: ("6 tháng cuối năm 2026", "Second half of 2026"),
    SpanKind.YEAR: ("Năm 2026", "Year 2026"),
}


@pytest.mark.parametrize("kind", list(SpanKind))
def test_span_label_for_every_kind(kind: SpanKind) -> None:
    span = span_of(kind, date(2026, 11, 18))
    vi, en = SPAN_LABELS[kind]
    assert span_label("vi", span) == vi
    assert span_label("en", span) == en


def test_span_label_edges() -> None:
    # The week of 29/12/2025 is ISO week 1 of 2026; days keep two digits.
    week = span_of(SpanKind.WEEK, date(2025, 12, 31))
    assert span_label("vi", week) == "Tuần 1/2026 (29/12–04/01)"
    first_half = span_of(SpanKind.HALF, date(2026, 3, 1))
    assert span_label("vi", first_half) == "6 tháng đầu năm 2026"
    assert span_label("en", first_half) == "First half of 2026"
    assert span_label("vi", Span(SpanKind.QUARTER, date(2026, 1, 1), date(2026, 3, 31))) == (
        "Quý 1/2026"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_this_and_previous_labels(locale: str) -> None:
    for kind in SpanKind:
        assert this_label(locale, kind) and previous_label(locale, kind)
        assert this_label(locale, kind) != previous_label(locale, kind)
    assert this_label("vi", SpanKind.WEEK) == "Tuần này"
    assert previous_label("vi", SpanKind.WEEK) == "Tuần trước"


# --------------------------------------------------------------------------------------------
# Chart


RED, GREY = (0xC8, 0x10, 0x2E), (0xB0, 0xB0, 0xB0)  # this span's bars, the span before's


def _count(pixels: np.ndarray, rgb: tuple[int, int, int]) -> int:
    """Pixels of exactly this colour."""
    return int((pixels.reshape(-1, 3) == np.array(rgb, dtype=np.uint8)).all(axis=1).sum())


def _image(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize("locale", LOCALES)
def test_chart_is_a_readable_png(locale: str) -> None:
    pixels = _image(chart_png(_digest(), locale))
    height, width, _ = pixels.shape
    assert width == 1200
    assert 900 <= height <= 1280  # within what Telegram sends without downscaling
    flat = pixels.reshape(-1, 3)
    assert len(np.unique(flat, axis=0)) > 50  # text and bars, not one flat colour
    # Bars of both spans are there, far more than the legend's two swatches.
    assert _count(pixels, RED) > 20_000 and _count(pixels, GREY) > 20_000
    # The matplotlib reader agrees on the size.
    assert matplotlib.image.imread(io.BytesIO(chart_png(_digest(), locale))).shape[:2] == (
        height, width,
    )  # fmt: skip


def test_chart_without_tips_or_figures() -> None:
    empty = replace(
        _digest(), indicators=(), hamlets=[], tips_by_category={},
        tips_by_category_before={"theft": 0}, tips_by_status={},
    )  # fmt: skip
    pixels = _image(chart_png(empty, "vi"))
    assert pixels.shape[:2] == (900, 1200)
    # No bars: the legend's swatches are the only red and grey.
    assert 0 < _count(pixels, RED) < 2000 and 0 < _count(pixels, GREY) < 2000


def test_chart_draws_no_grey_bar_where_there_is_no_earlier_figure() -> None:
    """No report in the span before: the indicators' grey bars are gone (a 0 would read as
    a figure) and the panel says why; the tips keep theirs."""
    full = _image(chart_png(_digest(), "vi"))
    none = _image(chart_png(replace(_digest(), before_filed=0), "vi"))
    tips_grey = _count(full[full.shape[0] * 3 // 4:], GREY)  # the tips panel, at the foot
    assert _count(none, GREY) < _count(full, GREY) - 20_000
    assert _count(none[none.shape[0] * 3 // 4:], GREY) == tips_grey


def test_chart_with_every_category_stays_within_telegram_size() -> None:
    many = replace(
        _digest(),
        scope_name="Công an xã Tân Hòa và Ủy ban Mặt trận Tổ quốc Việt Nam xã Tân Hòa, "
        "Đặc khu Phú Quốc, tỉnh An Giang",
        tips_by_category={c.code: 1 + i for i, c in enumerate(categories())},
    )
    pixels = _image(chart_png(many, "en"))
    assert pixels.shape[1] == 1200 and pixels.shape[0] <= 1280


def test_chart_ignores_user_rc_and_mathtext() -> None:
    reference = chart_png(_digest(), "vi")
    hostile = {
        "font.family": "serif", "font.size": 30, "axes.facecolor": "black",
        "figure.facecolor": "black", "text.color": "yellow", "text.usetex": True,
        "savefig.dpi": 40, "axes.prop_cycle": matplotlib.cycler(color=["green"]),
    }  # fmt: skip
    with matplotlib.rc_context(hostile):
        assert chart_png(_digest(), "vi") == reference
        assert matplotlib.rcParams["text.usetex"] is True  # the caller's rc is given back
    # Dollar signs are text, not (here invalid) mathtext.
    _image(chart_png(replace(_digest(), scope_name=r"Ấp $\nosuchmacro{x}$ 100$"), "vi"))


def test_chart_renders_from_many_threads() -> None:
    reference = chart_png(_digest(), "en")
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(chart_png(_digest(), "en")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [reference] * 4


# --------------------------------------------------------------------------------------------
# Workbook


def _workbook(digest: Digest, locale: str) -> Workbook:
    data = workbook_xlsx(digest, locale)
    assert data.startswith(b"PK")  # a zip container
    return load_workbook(io.BytesIO(data))


def _rows(ws: object) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))  # type: ignore[attr-defined]


@pytest.mark.parametrize("locale", LOCALES)
def test_workbook_sheets_and_properties(locale: str) -> None:
    wb = _workbook(_digest(), locale)
    assert wb.sheetnames == [
        t(locale, "digest.sheet.report"), t(locale, "digest.sheet.tips"),
        t(locale, "digest.sheet.overdue"), t(locale, "digest.sheet.events"),
    ]  # fmt: skip
    assert all(len(name) <= 31 for name in wb.sheetnames)
    assert wb.properties.creator == "Bình Yên"
    assert wb.properties.title == wb.worksheets[0]["A1"].value


@pytest.mark.parametrize(
    ("locale", "filed", "title", "previous"),
    [
        ("vi", "10/12 (83,3%)", "Báo cáo phong trào ANTT – Xã Tân Hòa – Tháng 11/2026",
         "Kỳ trước: Tháng 10/2026"),
        ("en", "10/12 (83.3%)", f"{t('en', 'indicatorset.antt')} – Xã Tân Hòa – Month 11/2026",
         "Previous period: Month 10/2026"),
    ],
)  # fmt: skip
def test_report_table(locale: str, filed: str, title: str, previous: str) -> None:
    ws = _workbook(_digest(), locale).worksheets[0]
    rows = _rows(ws)
    assert rows[0][0] == title
    as_of = {"vi": "Số liệu tính đến", "en": "Figures as of"}[locale]
    assert rows[1][0] == f"{as_of} 08:05 01/12/2026"
    header = rows[2]
    assert header[:4] == (
        t(locale, "digest.col.no"), t(locale, "digest.col.hamlet"),
        t(locale, "digest.col.commune"), t(locale, "digest.col.filed"),
    )  # fmt: skip
    assert header[4:] == tuple(t(locale, f"indicator.{code}") for code in CODES)
    assert ws["E3"].font.b and ws["E3"].alignment.wrap_text
    assert ws.freeze_panes == "C4"

    a, b, c = rows[3:6]
    assert a[:4] == (1, "Ấp An Phú", "Xã Tân Hòa", "4/4")
    assert list(a[4:]) == VALUES_A
    assert b[:4] == (2, "Ấp Phước Hậu", "Xã Tân Hòa", "4/4")
    assert list(b[4:]) == VALUES_B
    assert c[:4] == (3, "Thôn Đông", "Xã Hòa Bình", "2/4")
    assert c[4:] == tuple(VALUES_C.get(code) for code in CODES)  # missing figures are blank
    assert ws["F4"].data_type == "n" and ws["F4"].number_format == "#,##0"

    total, before, diff = rows[6:9]
    assert total[0] == t(locale, "digest.total")
    assert total[3] == filed
    assert list(total[4:]) == TOTALS
    assert all(ws.cell(row=7, column=col).data_type == "n" for col in range(5, 15))
    assert before[0] == previous
    assert list(before[4:]) == [*BEFORE, None]
    assert diff[0] == t(locale, "digest.change")
    assert list(diff[4:]) == CHANGES
    assert ws["E9"].number_format == "+#,##0;-#,##0;0"
    assert len(rows) == 9


@pytest.mark.parametrize("locale", LOCALES)
def test_tips_sheet(locale: str) -> None:
    ws = _workbook(_digest(), locale).worksheets[1]
    rows = _rows(ws)
    assert rows[2] == (
        t(locale, "digest.col.category"), this_label(locale, SpanKind.MONTH),
        previous_label(locale, SpanKind.MONTH), t(locale, "digest.change"),
    )  # fmt: skip
    counts = {"drugs": (2, 0, 2), "theft": (4, 2, 2), "gambling": (0, 1, -1), "fraud": (1, 3, -2)}
    order = [c.code for c in categories() if c.code in counts]  # the configured order
    expected = [(t(locale, f"tipcat.{code}"), *counts[code]) for code in order]
    assert rows[3:7] == expected  # "traffic" had no tip in either span: no row
    assert rows[7] == (t(locale, "digest.total"), 7, 6, 1)
    assert rows[8] == (None, None, None, None)
    assert rows[9][:2] == (t(locale, "digest.col.status"), t(locale, "digest.col.count"))
    assert [r[:2] for r in rows[10:14]] == [
        (t(locale, "tipstatus.new"), 2), (t(locale, "tipstatus.verifying"), 2),
        (t(locale, "tipstatus.closed"), 3), (t(locale, "digest.total"), 7),
    ]  # fmt: skip


def test_overdue_and_events_sheets() -> None:
    wb = _workbook(_digest(), "vi")
    overdue = _rows(wb.worksheets[2])
    assert overdue[2] == (
        "Mã tin báo", "Loại tin báo", "Tình trạng xử lý", "Thôn, ấp", "Thời điểm tiếp nhận",
        "Quá hạn",
    )  # fmt: skip
    assert overdue[3:] == [
        ("TB-7K3Q9", "Trộm cắp", "Mới", "Ấp An Phú", "10:00 20/11/2026", "Chưa tiếp nhận"),
        # 16:30 UTC is 23:30 the same day in Hồ Chí Minh City.
        ("TB-M4CXR", "Ma túy", "Đang xác minh", "Ấp Phước Hậu", "23:30 24/11/2026",
         "Chưa kết thúc"),
    ]  # fmt: skip
    events = _rows(wb.worksheets[3])
    assert events[2] == ("Mã vụ việc", "Thời điểm tiếp nhận", "Loại vụ việc", "Thôn, ấp",
                         "Số người liên quan", "Tình trạng xử lý")
    assert events[3:] == [
        ("VV-7K3Q9", "19:30 19/11/2026", "Cháy, nổ", "Ấp An Phú", 3, "Đã xử lý xong"),
        ("VV-M4CXR", "06:45 27/11/2026", "Trộm cắp", "Thôn Đông", 1, "Mới"),  # past midnight
    ]
    assert wb.worksheets[3].freeze_panes == "A4"


def test_workbook_of_an_empty_span() -> None:
    empty = replace(
        _digest(), hamlets=[], tips_by_category={}, tips_by_category_before={},
        tips_by_status={}, overdue=[], events=[], totals_before={},
    )  # fmt: skip
    wb = _workbook(empty, "en")
    report = _rows(wb.worksheets[0])
    assert report[3][0] == "Total" and report[3][3] == "0/0"
    assert list(report[3][4:]) == [0] * 10
    assert list(report[4][4:]) == [None] * 10 and list(report[5][4:]) == [None] * 10
    assert _rows(wb.worksheets[1])[3:] == [("No tips.", None, None, None)]
    assert _rows(wb.worksheets[2])[3][0] == "No overdue tips."
    assert _rows(wb.worksheets[3])[3][0] == "No events."


def test_names_are_stored_as_text_never_as_formulas() -> None:
    hostile = '=HYPERLINK("http://x.invalid","Ấp")'
    digest = replace(
        _digest(),
        hamlets=[HamletRow(9, hostile, "@SUM(A1)\x07", 1, 1, 0, {CODES[0]: 2})],
        events=[EventLine("other", datetime(2026, 11, 2, tzinfo=UTC), "=2*3", 0)],
    )
    wb = _workbook(digest, "vi")
    report = wb.worksheets[0]
    assert report["B4"].value == hostile and report["B4"].data_type == "s"
    assert report["C4"].value == "@SUM(A1)"  # a control character Excel refuses is dropped
    assert wb.worksheets[3]["D4"].value == "=2*3" and wb.worksheets[3]["D4"].data_type == "s"


def test_a_running_span_is_not_compared_with_the_one_before() -> None:
    """With reports still to come, 0 against last week's 6 read as a collapse (▼6)."""
    from zoneinfo import ZoneInfo

    from bot.digest_text import digest_messages

    d = _digest()
    d = replace(d, hamlets=[replace(d.hamlets[0], expected=5), *d.hamlets[1:]])
    assert (d.before, d.reports_not_due, d.compared) == ("running", 1, False)
    text = "\n".join(digest_messages(d, "vi", ZoneInfo("Asia/Ho_Chi_Minh")))
    assert "Kỳ này đang diễn ra (còn 1 báo cáo chưa đến hạn nộp)" in text
    totals = text.split("Tổng hợp")[-1] if "Tổng hợp" in text else text
    assert not [line for line in totals.splitlines()
                if line.startswith("• Số") and ("▲" in line or "▼" in line)]
    report = _rows(_workbook(d, "vi").worksheets[0])
    change_row = next(r for r in report if r[0] == "Tăng/giảm")
    assert all(v is None for v in change_row[4:])
