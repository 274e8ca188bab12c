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
from PIL import Image

from bot.digest import Digest, EventLine, HamletRow, OverdueTip, Span, SpanKind, span_of
from bot.digest_chart import chart_png
from bot.digest_labels import previous_label, span_label, this_label
from locales import LOCALES
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
