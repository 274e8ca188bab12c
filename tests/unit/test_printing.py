"""Tests for bot.printing: PNG output, page sizes, fonts, and that the printed QR is exact.

No QR decoder is installed, so "the QR decodes back to the link" is checked by locating the
symbol in the rendered PNG the way a decoder does (finder pattern 1:1:3:1:1), sampling every
module centre, and comparing the grid with segno's matrix for the link.
"""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import pytest
import segno
from PIL import Image

from bot.printing import PosterText, invite_card_png, poster_png, qr_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LINK = "https://t.me/BinhYenBot?start=h_7K3Q9XW2"
LONG_LINK = "https://t.me/BinhYenBot?start=inv_" + "Q8M2KX7PLR4T" * 6
LONG_PLACE = "Ấp Phước Hậu — Xã Tân Hòa, Đặc khu Phú Quốc"

POSTER = PosterText(
    title="HÒM THƯ AN NINH TRẬT TỰ",
    place="Ấp An Phú — Xã Tân Hòa",
    instructions=[
        "Quét mã bằng điện thoại để gửi tin báo qua Telegram",
        "Có thể gửi ẩn danh",
    ],
    emergency="Khẩn cấp: 113 Công an · 114 Cứu hỏa · 115 Cấp cứu",
    link=LINK,
)

LONG_POSTER = PosterText(
    title="HÒM THƯ ANTT 4.0 — TỔ BẢO VỆ AN NINH TRẬT TỰ Ở CƠ SỞ, XÃ TÂN HÒA, ĐẶC KHU PHÚ QUỐC",
    place=(
        "Hòm thư ANTT — Ấp Phước Hậu, Xã Tân Hòa, Đặc khu Phú Quốc, Tỉnh An Giang — "
        "khu dân cư Nguyễn Thị Minh Khai, tổ tự quản số 12, khu vực biên giới biển đảo "
        "phía Tây Nam của Tổ quốc, gần chợ đêm và bến tàu khách"
    ),
    instructions=[
        "Quét mã bằng điện thoại để gửi tin báo qua Telegram cho Công an xã và tổ bảo vệ "
        "an ninh trật tự ở cơ sở, kể cả ngoài giờ hành chính",
        "Có thể gửi ẩn danh — Telegram vẫn biết ai đã gửi tin nhắn",
        "Bot không phải đường dây khẩn cấp",
        "Giữ mã vụ việc (ví dụ TB-7K3Q9) để theo dõi bằng lệnh /status",
    ],
    emergency=(
        "Khẩn cấp: 113 Công an · 114 Cứu hỏa · 115 Cấp cứu · "
        "Trực ban Công an xã Tân Hòa: 0297 3846 113"
    ),
    link=LONG_LINK,
)


# --------------------------------------------------------------------------------------------
# helpers


def _open(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img


def _dark(png: bytes) -> np.ndarray:
    """Boolean image, True where a pixel is dark (luminance < 50 %)."""
    grey = np.asarray(_open(png).convert("L"), dtype=np.uint8)
    return grey < 128


def _segno_matrix(link: str) -> np.ndarray:
    qr = segno.make(link, error="m", boost_error=False, micro=False)
    assert qr.error == "M"
    return np.array([[bool(v) for v in row] for row in qr.matrix], dtype=bool)


def _runs(line: np.ndarray) -> list[tuple[bool, int, int]]:
    """(value, start, length) runs of a boolean line."""
    edges = np.flatnonzero(np.diff(line.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(line)]])
    return [(bool(line[s]), int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def _finder_like(lengths: list[int]) -> float | None:
    """Module size if five run lengths look like 1:1:3:1:1 (modules of >= 3 px), else None."""
    unit = sum(lengths) / 7
    if unit < 3:
        return None
    expected = (1, 1, 3, 1, 1)
    if all(abs(n - e * unit) <= 0.5 * unit for n, e in zip(lengths, expected, strict=True)):
        return unit
    return None


def _locate(dark: np.ndarray, n: int) -> tuple[int, int, int]:
    """Find the top-left finder pattern; return (top, left, module) of the symbol in pixels."""
    for y in range(dark.shape[0]):
        runs = _runs(dark[y])
        for i in range(len(runs) - 4):
            five = runs[i : i + 5]
            if not five[0][0]:
                continue
            unit = _finder_like([r[2] for r in five])
            if unit is None:
                continue
            left = five[0][1]
            centre_x = int(left + 3.5 * unit)
            # Cross-check vertically through the finder's centre, like a real decoder: the
            # column's run containing row y is the 3-module core, flanked by 1:1 runs.
            col = _runs(dark[:, centre_x])
            k = next(j for j, r in enumerate(col) if r[1] <= y < r[1] + r[2])
            col_runs = col[k - 2 : k + 3] if k >= 2 else []
            if len(col_runs) < 5 or not col_runs[0][0]:
                continue
            if _finder_like([r[2] for r in col_runs]) is None:
                continue
            top = col_runs[0][1]
            # The symbol's width is n modules: from the left finder to the right finder's edge.
            row = dark[int(top + unit / 2), left : int(left + n * unit * 1.2)]
            width = int(np.flatnonzero(row)[-1]) + 1
            assert width % n == 0, f"module size is not a whole number of pixels ({width}/{n})"
            return top, left, width // n
    raise AssertionError("no QR finder pattern found")


def _sample(png: bytes, link: str) -> tuple[np.ndarray, np.ndarray, int, tuple[int, int]]:
    """Sample the QR in ``png`` at module centres; return (sampled, expected, module, origin)."""
    expected = _segno_matrix(link)
    n = expected.shape[0]
    dark = _dark(png)
    top, left, module = _locate(dark, n)
    centres = (np.arange(n) * module + module // 2).astype(int)
    sampled = dark[np.ix_(top + centres, left + centres)]
    return sampled, expected, module, (top, left)


def _assert_qr_exact(png: bytes, link: str, *, min_module: int = 3) -> tuple[int, int]:
    """Assert the QR in ``png`` is segno's symbol for ``link``, crisp, with its quiet zone.

    Returns (module size in px, symbol size incl. quiet zone in px).
    """
    sampled, expected, module, (top, left) = _sample(png, link)
    n = expected.shape[0]
    assert module >= min_module
    np.testing.assert_array_equal(sampled, expected)

    grey = np.asarray(_open(png).convert("L"))
    quiet = 4 * module
    zone = grey[top - quiet : top + (n * module) + quiet, left - quiet : left + n * module + quiet]
    assert zone.shape == ((n + 8) * module, (n + 8) * module)
    # Crisp: every pixel of symbol and quiet zone is pure black or pure white (no blur).
    assert set(np.unique(zone).tolist()) <= {0, 255}
    # Quiet zone: four light modules on every side.
    ring = np.ones(zone.shape, dtype=bool)
    ring[quiet:-quiet, quiet:-quiet] = False
    assert (zone[ring] == 255).all()
    # Module by module, every pixel equals the matrix (not only the centres).
    inner = zone[quiet:-quiet, quiet:-quiet] == 0
    np.testing.assert_array_equal(inner, np.kron(expected, np.ones((module, module), dtype=bool)))
    return module, (n + 8) * module


def _no_font_warnings(fn, *args, **kwargs) -> bytes:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    bad = [str(w.message) for w in caught if "missing from font" in str(w.message).lower()]
    assert not bad, bad
    others = [str(w.message) for w in caught]
    assert not others, others
    return out


# --------------------------------------------------------------------------------------------
# qr_png


def test_qr_png_is_png_of_the_expected_size():
    n = _segno_matrix(LINK).shape[0]
    img = _open(qr_png(LINK))
    assert img.size == ((n + 8) * 10, (n + 8) * 10)
    assert _open(qr_png(LINK, scale=3)).size == ((n + 8) * 3, (n + 8) * 3)


@pytest.mark.parametrize("link", [LINK, LONG_LINK])
def test_qr_png_grid_matches_segno(link):
    module, _ = _assert_qr_exact(qr_png(link, scale=6), link)
    assert module == 6


def test_qr_png_rejects_bad_scale():
    with pytest.raises(ValueError):
        qr_png(LINK, scale=0)


# --------------------------------------------------------------------------------------------
# poster_png


@pytest.mark.parametrize(("dpi", "size"), [(150, (1240, 1754)), (100, (827, 1169))])
def test_poster_is_a4_at_the_given_dpi(dpi, size):
    img = _open(poster_png(POSTER, dpi=dpi))
    assert img.size == size
    assert img.mode == "RGB"
    assert img.info["dpi"] == pytest.approx((dpi, dpi), abs=0.1)


def test_poster_qr_is_exact_large_and_crisp():
    png = _no_font_warnings(poster_png, POSTER, dpi=150)
    _, side_px = _assert_qr_exact(png, LINK, min_module=10)
    side_cm = side_px / 150 * 2.54
    assert 12.0 <= side_cm <= 14.0, side_cm


def test_poster_is_deterministic_and_does_not_touch_global_matplotlib_state():
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    first = poster_png(POSTER)
    poster_png(LONG_POSTER)  # a different call in between must not leak into the next one
    second = poster_png(POSTER)
    assert first == second
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend


def test_long_vietnamese_poster_renders_without_font_warnings_and_stays_on_the_page():
    png = _no_font_warnings(poster_png, LONG_POSTER, dpi=150)
    img = _open(png)
    assert img.size == (1240, 1754)
    # The long link still gives an exact, scannable code of useful size.
    _, side_px = _assert_qr_exact(png, LONG_LINK, min_module=8)
    assert side_px / 150 * 2.54 >= 9.5

    # Nothing overflows: below the header band, the outer 8 mm on either side and the bottom
    # 8 mm are blank paper.
    rgb = np.asarray(img)
    edge = round(8 / 25.4 * 150)
    white = (rgb == 255).all(axis=2)
    band_bottom = int(np.flatnonzero(~white[:, 2])[-1]) + 1  # the full-width band ends here
    assert band_bottom < 400
    assert white[band_bottom:, :edge].all()
    assert white[band_bottom:, -edge:].all()
    assert white[-edge:, :].all()


def test_vietnamese_place_name_renders_without_font_warnings():
    text = PosterText(
        title="HÒM THƯ ANTT 4.0",
        place=LONG_PLACE,
        instructions=["Quét mã", "Có thể gửi ẩn danh"],
        emergency="Khẩn cấp: 113 · 114 · 115",
        link=LINK,
    )
    _no_font_warnings(poster_png, text)


def test_font_warning_check_actually_catches_missing_glyphs():
    """Guard for the test above: a glyph DejaVu lacks (CJK) must trip the check."""
    text = PosterText("標題", LONG_PLACE, ["Quét mã"], "113", LINK)
    with pytest.raises(AssertionError, match="missing from font"):
        _no_font_warnings(poster_png, text)


def test_strings_are_not_parsed_as_mathtext():
    text = PosterText(
        title="$\\frac{1}{0}$ HÒM THƯ",
        place="Ấp $x^ 2 — giá 5$",
        instructions=["a_b^c $", "100% \\ $$"],
        emergency="113",
        link="https://t.me/BinhYenBot?start=a$b_c",
    )
    _no_font_warnings(poster_png, text)


def test_poster_rejects_too_many_instructions():
    text = PosterText("T", "P", [f"line {i}" for i in range(7)], "113", LINK)
    with pytest.raises(ValueError):
        poster_png(text)


# --------------------------------------------------------------------------------------------
# invite_card_png


def test_invite_card_is_a6_with_exact_qr():
    png = _no_font_warnings(
        invite_card_png,
        "Lời mời tham gia Bình Yên",
        "Tổ trưởng tổ ANTT — Ấp Phước Hậu, Xã Tân Hòa, Đặc khu Phú Quốc",
        LONG_LINK,
        dpi=150,
    )
    img = _open(png)
    assert img.size == (620, 874)
    _, side_px = _assert_qr_exact(png, LONG_LINK, min_module=5)
    assert side_px >= 0.75 * img.size[0]


def test_invite_card_size_follows_dpi():
    assert _open(invite_card_png("T", "S", LINK, dpi=300)).size == (1240, 1748)
