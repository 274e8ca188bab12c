"""Printable QR material: bare QR codes, hamlet tip-box posters and invitation cards.

Everything here is pure rendering — no Telegram, no database, no network. Each function takes
plain strings (all user-visible text comes from the caller's locale catalogs; nothing
Vietnamese is hard-coded here) and returns PNG bytes.

Rendering uses matplotlib's Agg canvas on a private :class:`~matplotlib.figure.Figure`
(never ``pyplot``), so no global state is touched and nothing leaks between calls. Text is
set in the DejaVu fonts that ship with matplotlib, loaded by file path so that user rcParams
cannot swap them; DejaVu covers Vietnamese diacritics. The QR symbol is drawn pixel-exact from
segno's module matrix (integer pixels per module, no resampling), with its 4-module quiet zone,
so printed posters scan reliably. Strings are never parsed as mathtext.

The PNGs carry their dpi (pHYs chunk), so printing at "actual size" gives A4 / A6.
Rendering is CPU-bound (tens to a few hundred milliseconds); call it from async code with
``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import segno
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Circle, Rectangle
from matplotlib.transforms import IdentityTransform
from PIL import Image

__all__ = ["PosterText", "invite_card_png", "poster_png", "qr_png"]

QR_ERROR = "m"
QR_BORDER = 4

A4_MM = (210.0, 297.0)
A6_MM = (105.0, 148.0)
_MAX_INSTRUCTIONS = 6

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_REGULAR = _FONT_DIR / "DejaVuSans.ttf"
_BOLD = _FONT_DIR / "DejaVuSans-Bold.ttf"
_MONO = _FONT_DIR / "DejaVuSansMono.ttf"

_RED = "#C8102E"
_DARK_RED = "#8E0B1F"
_YELLOW = "#FFCD00"
_INK = "#1A1A1A"
_GREY = "#555555"
_PALE = "#FFF6D6"
_FRAME = "#BDBDBD"

# Line box in em: a line is 1.4 em tall and its baseline sits 1.08 em below the line top, which
# leaves room for Vietnamese stacked diacritics on capitals (Ấ, Ề, Ỗ …).
_LINE_EM = 1.4
_ASCENT_EM = 1.08

# Matplotlib's font machinery is not documented as thread-safe; renders are serialised.
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class PosterText:
    """Every user-visible string of a hamlet tip-box poster, already localised by the caller.

    ``instructions`` should hold 2–4 short lines; ``link`` is the deep link that the QR encodes
    and that is also printed in small type under the code.
    """

    title: str
    place: str
    instructions: list[str]
    emergency: str
    link: str


# --------------------------------------------------------------------------------------------
# QR


def _make_qr(data: str) -> segno.QRCode:
    """A regular (never Micro) QR code at exactly error level M."""
    return segno.make(data, error=QR_ERROR, boost_error=False, micro=False)


def _qr_matrix(data: str) -> np.ndarray:
    """Segno's module matrix for ``data`` including the quiet zone; True = dark module."""
    qr = _make_qr(data)
    return np.array(
        [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=QR_BORDER)],
        dtype=bool,
    )


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """A PNG QR code (segno, error level M, border 4) for a deep link.

    ``scale`` is the size of one module in pixels. The image is black on white, 1-bit.
    """
    if scale < 1:
        raise ValueError("scale must be >= 1")
    buf = io.BytesIO()
    _make_qr(url).save(buf, kind="png", scale=scale, border=QR_BORDER, dark="black", light="white")
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Page machinery


def _page_px(size_mm: tuple[float, float], dpi: int) -> tuple[int, int]:
    return round(size_mm[0] / 25.4 * dpi), round(size_mm[1] / 25.4 * dpi)


class _Page:
    """A blank white page addressed in pixels from the top-left corner."""

    def __init__(self, size_mm: tuple[float, float], dpi: int) -> None:
        if dpi < 50:
            raise ValueError("dpi must be >= 50")
        self.dpi = dpi
        self.w, self.h = _page_px(size_mm, dpi)
        # Agg truncates the figure size to whole pixels; the +0.25 guards against float error.
        self.fig = Figure(
            figsize=((self.w + 0.25) / dpi, (self.h + 0.25) / dpi), dpi=dpi, facecolor="white"
        )
        self.canvas = FigureCanvasAgg(self.fig)
        self.renderer: RendererAgg = self.canvas.get_renderer()
        self._ident = IdentityTransform()
        self._widths: dict[tuple[str, object, float], float] = {}

    def mm(self, value: float) -> int:
        return round(value / 25.4 * self.dpi)

    def pt(self, value: float) -> float:
        return value * self.dpi / 72.0

    def text_width(self, s: str, prop: FontProperties) -> float:
        """Exact advance width of ``s`` in pixels (memoised: wrapping re-measures a lot)."""
        key = (s, prop.get_file(), prop.get_size_in_points())
        w = self._widths.get(key)
        if w is None:
            w, _h, _d = self.renderer.get_text_width_height_descent(s, prop, ismath=False)
            self._widths[key] = w
        return w

    def words_width(self, s: str, prop: FontProperties) -> float:
        """Width of a run of words as the sum of word widths plus spaces (fast, +-1 px)."""
        words = s.split(" ")
        space = self.text_width("a a", prop) - self.text_width("aa", prop)
        return sum(self.text_width(w, prop) for w in words) + space * (len(words) - 1)

    def rect(self, x: float, top: float, w: float, h: float, color: str, **kw: object) -> None:
        self.fig.add_artist(
            Rectangle((x, self.h - top - h), w, h, transform=self._ident, color=color, **kw)
        )

    def dot(self, cx: float, cy: float, r: float, color: str) -> None:
        self.fig.add_artist(Circle((cx, self.h - cy), r, transform=self._ident, color=color, lw=0))

    def text(
        self, x: float, baseline: float, s: str, prop: FontProperties, color: str, ha: str
    ) -> None:
        self.fig.text(
            x, self.h - baseline, s, fontproperties=prop, color=color, ha=ha, va="baseline",
            transform=self._ident, parse_math=False,
        )  # fmt: skip

    def image(self, pixels: np.ndarray, x: int, top: int) -> None:
        """Place an RGB uint8 array 1:1 (no resampling) with its top-left corner at (x, top)."""
        self.fig.figimage(
            pixels, xo=x, yo=self.h - top - pixels.shape[0], origin="upper", resize=False
        )

    def png(self) -> bytes:
        self.canvas.draw()
        rgba = np.asarray(self.canvas.buffer_rgba())
        img = Image.fromarray(np.ascontiguousarray(rgba[: self.h, : self.w, :3]))
        buf = io.BytesIO()
        img.save(buf, format="PNG", dpi=(self.dpi, self.dpi))
        self.fig.clear()
        return buf.getvalue()


def _font(path: Path, size_pt: float) -> FontProperties:
    return FontProperties(fname=path, size=size_pt)


def _break_word(page: _Page, word: str, prop: FontProperties, max_w: float) -> list[str]:
    """Split a single over-long word (e.g. a URL) into pieces that each fit ``max_w``."""
    pieces = []
    while word:
        lo, hi = 1, len(word)  # the longest prefix that fits, at least one character
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if page.text_width(word[:mid], prop) <= max_w:
                lo = mid
            else:
                hi = mid - 1
        pieces.append(word[:lo])
        word = word[lo:]
    return pieces


_SEPARATORS = frozenset("—–-·•|")  # stand-alone tokens after which a line may break nicely
_DROP_AT_BREAK = frozenset("·•|")  # list separators that vanish at a line break
_PUNCT_END = (",", ";", ":")


def _units(para: str, phrases: bool) -> list[str]:
    """Words, or (if ``phrases``) runs of words ending at a separator or punctuation."""
    words = para.split()
    if not phrases:
        return words
    units, cur = [], []
    for word in words:
        cur.append(word)
        if word in _SEPARATORS or word.endswith(_PUNCT_END):
            units.append(" ".join(cur))
            cur = []
    if cur:
        units.append(" ".join(cur))
    return units


def _wrap(
    page: _Page,
    text: str,
    prop: FontProperties,
    max_w: float,
    phrases: bool = False,
    trim: bool = True,
) -> list[str]:
    """Greedy wrap by measured width; explicit newlines are kept.

    With ``phrases`` the text is packed phrase by phrase (a phrase ends at a separator such
    as "—" or "·", or after a comma or colon), falling back to words for an over-long phrase.
    A list separator ("·", "|") left at either end of a line is dropped.
    """
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for unit in _units(para, phrases):
            trial = f"{cur} {unit}" if cur else unit
            if page.words_width(trial, prop) <= max_w:
                cur = trial
                continue
            if cur:
                lines.append(cur)
            if page.words_width(unit, prop) <= max_w:
                cur = unit
            elif " " in unit:
                *full, cur = _wrap(page, unit, prop, max_w)
                lines.extend(full)
            else:
                *full, cur = _break_word(page, unit, prop, max_w)
                lines.extend(full)
        lines.append(cur)
    return [_trim_separators(line) for line in lines] if trim else lines


def _trim_separators(line: str) -> str:
    words = line.split(" ")
    while len(words) > 1 and words[-1] in _DROP_AT_BREAK:
        words.pop()
    while len(words) > 1 and words[0] in _DROP_AT_BREAK:
        words.pop(0)
    return " ".join(words)


def _breaks_at_phrases(lines: list[str]) -> bool:
    """True if every line but the last ends at a phrase boundary."""
    return all(
        line.split(" ")[-1] in _SEPARATORS or line.endswith(_PUNCT_END) for line in lines[:-1]
    )


def _ellipsize(page: _Page, line: str, prop: FontProperties, max_w: float) -> str:
    while line and page.text_width(line + "…", prop) > max_w:
        line = line[:-1]
    return line.rstrip() + "…"


@dataclass
class _Block:
    """A wrapped run of text at a fixed size, ready to be drawn."""

    lines: list[str]
    prop: FontProperties
    size: float
    line_px: float
    ascent_px: float

    @property
    def height(self) -> float:
        return self.line_px * len(self.lines)


def _fit(
    page: _Page,
    text: str,
    path: Path,
    max_w: float,
    sizes: tuple[float, float],
    max_lines: int,
    scale: float = 1.0,
    shrink: float = 0.8,
) -> _Block:
    """Set ``text`` in at most ``max_lines`` lines of at most ``max_w`` pixels.

    In order of preference, between ``sizes[0]`` and ``sizes[1]`` points (times ``scale``):
    one line shrunk a little (down to ``shrink`` × ``sizes[0]``) rather than an orphaned word;
    lines broken only between phrases ("Khẩn cấp:" | "113 …"), shrinking down to 75 %;
    balanced word wrap at the largest size that fits. Past the smallest size the last line
    is ellipsized.
    """
    big, small = sizes[0] * scale, sizes[1] * scale

    def sizes_down(floor: float) -> list[float]:
        out, size = [], big
        while size > floor * 1.001:
            out.append(size)
            size *= 0.95
        return [*out, floor]

    def block(lines: list[str], size: float) -> _Block:
        em = page.pt(size)
        return _Block(lines, _font(path, size), size, em * _LINE_EM, em * _ASCENT_EM)

    for size in sizes_down(max(small, big * shrink)):
        lines = _wrap(page, text, _font(path, size), max_w)
        if len(lines) <= 1:
            return block(lines, size)

    for size in sizes_down(max(small, big * 0.75)):
        prop = _font(path, size)
        by_phrase = _wrap(page, text, prop, max_w, phrases=True, trim=False)
        if len(by_phrase) <= max_lines and _breaks_at_phrases(by_phrase):
            return block(_balance(page, text, prop, max_w, len(by_phrase), phrases=True), size)

    for size in sizes_down(small):
        prop = _font(path, size)
        lines = _wrap(page, text, prop, max_w)
        if len(lines) <= max_lines:
            return block(_balance(page, text, prop, max_w, len(lines)), size)
    lines = [*lines[: max_lines - 1], _ellipsize(page, lines[max_lines - 1], prop, max_w)]
    return block(lines, small)


def _balance(
    page: _Page,
    text: str,
    prop: FontProperties,
    max_w: float,
    n_lines: int,
    phrases: bool = False,
) -> list[str]:
    """The greedy wrap of ``text`` at the narrowest width that still needs only ``n_lines``
    lines (breaking only at phrase boundaries if ``phrases``), so that the lines come out of
    similar length with no orphaned last word."""

    def ok(lines: list[str]) -> bool:
        return len(lines) <= n_lines and (not phrases or _breaks_at_phrases(lines))

    best = _wrap(page, text, prop, max_w, phrases=phrases, trim=False)
    lo, hi = max_w / n_lines / 2, max_w
    for _ in range(12):
        mid = (lo + hi) / 2
        lines = _wrap(page, text, prop, mid, phrases=phrases, trim=False)
        if ok(lines):
            best, hi = lines, mid
        else:
            lo = mid
    return [_trim_separators(line) for line in best]


def _draw_block(
    page: _Page, block: _Block, x: float, top: float, color: str, ha: str = "center"
) -> float:
    """Draw ``block`` with its first line box at ``top``; returns the y just below it."""
    for i, line in enumerate(block.lines):
        page.text(x, top + i * block.line_px + block.ascent_px, line, block.prop, color, ha)
    return top + block.height


def _draw_qr(page: _Page, link: str, cx: float, top: float, max_px: float) -> float:
    """Draw the QR for ``link`` (quiet zone included) centred on ``cx``, at most ``max_px``
    wide, with an integer number of pixels per module; returns the y just below it."""
    matrix = _qr_matrix(link)
    n = matrix.shape[0]
    module = max(1, int(max_px // n))
    pixels = np.where(matrix, 0, 255).astype(np.uint8)
    pixels = np.kron(pixels, np.ones((module, module), dtype=np.uint8))
    pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    size = n * module
    x = round(cx - size / 2)
    top = round(top)
    # A hairline frame just outside the quiet zone helps cutting and never touches the code.
    pad = max(1, page.mm(0.3))
    page.rect(x - pad, top - pad, size + 2 * pad, size + 2 * pad, _FRAME, lw=0, zorder=-1)
    page.image(pixels, x, top)
    return top + size


def _qr_module_count(link: str) -> int:
    return _make_qr(link).symbol_size(border=QR_BORDER)[0]


# --------------------------------------------------------------------------------------------
# Poster


def poster_png(text: PosterText, *, dpi: int = 150) -> bytes:
    """A printable A4 portrait poster: title, place, a large QR of text.link, instructions,
    emergency numbers, the link.

    The QR (quiet zone included) is up to 13.5 cm wide and is drawn pixel-exact. Long titles,
    place names and instructions wrap and shrink (then ellipsize) so nothing leaves the page;
    all text shrinks together before the QR drops below 9.5 cm. At most 6 instruction lines.
    The output is ``round(210 mm × dpi)`` × ``round(297 mm × dpi)`` pixels (1240 × 1754 at 150).
    """
    if len(text.instructions) > _MAX_INSTRUCTIONS:
        raise ValueError(f"at most {_MAX_INSTRUCTIONS} instruction lines fit on a poster")
    with _RENDER_LOCK:
        for scale in (1.0, 0.88, 0.76, 0.64):
            page = _Page(A4_MM, dpi)
            if _layout_poster(page, text, scale, force=scale == 0.64):
                return page.png()
            page.fig.clear()
    raise AssertionError("unreachable")  # pragma: no cover


def _layout_poster(page: _Page, text: PosterText, scale: float, force: bool) -> bool:
    W, H, mm = page.w, page.h, page.mm
    margin = mm(14)
    inner = W - 2 * margin
    gap = mm(6)

    title = _fit(page, text.title, _BOLD, inner, (40, 24), 2, scale)
    place = _fit(page, text.place, _BOLD, inner, (28, 15), 3, scale)
    link = _fit(page, text.link, _MONO, inner, (12, 9), 2, scale)
    bullet_r = page.pt(6 * scale)
    indent = bullet_r * 2 + mm(4)
    instr = [
        _fit(page, line, _REGULAR, inner - indent, (19, 13), 2, scale) for line in text.instructions
    ]
    if instr:  # one size for all instruction lines, the smallest any of them needed
        common = min(b.size for b in instr) / scale
        instr = [
            _fit(page, line, _REGULAR, inner - indent, (common, common), 2, scale)
            for line in text.instructions
        ]
    emergency = _fit(page, text.emergency, _BOLD, inner - mm(10), (22, 14), 2, scale, shrink=0.7)

    band_h = title.height + 2 * mm(7)
    stripe_h = mm(2.5)
    instr_gap = mm(2.5)
    instr_h = sum(b.height for b in instr) + instr_gap * max(0, len(instr) - 1)
    emer_h = emergency.height + 2 * mm(5)
    link_gap = mm(2)

    fixed = (
        band_h + stripe_h + gap + place.height + gap
        + link_gap + link.height + gap + instr_h + gap + emer_h + margin
    )  # fmt: skip
    available = H - fixed
    n = _qr_module_count(text.link)
    qr_max = min(mm(135), available)
    if qr_max < mm(95) and not force:
        return False
    qr_size = max(1, int(qr_max // n)) * n

    # Spread any slack evenly around the QR and instruction block instead of one big hole.
    slack = max(0, available - qr_size)
    extra = slack / 4

    # Header band with the title, and a yellow stripe under it.
    page.rect(0, 0, W, band_h, _RED, lw=0)
    page.rect(0, band_h, W, stripe_h, _YELLOW, lw=0)
    _draw_block(page, title, W / 2, mm(7), "white")

    y = band_h + stripe_h + gap + extra / 2
    y = _draw_block(page, place, W / 2, y, _INK)
    y += gap + extra / 2

    y = _draw_qr(page, text.link, W / 2, y, qr_max)
    y += link_gap
    y = _draw_block(page, link, W / 2, y, _GREY)
    y += gap + extra

    # Instructions as a left-aligned block, centred on the page as a whole.
    widest = max((page.text_width(line, b.prop) for b in instr for line in b.lines), default=0.0)
    left = margin + max(0.0, (inner - indent - widest) / 2)
    for b in instr:
        em = b.line_px / _LINE_EM
        page.dot(left + bullet_r, y + b.ascent_px - 0.36 * em, bullet_r, _RED)
        y = _draw_block(page, b, left + indent, y, _INK, ha="left") + instr_gap

    # Emergency numbers: pale box with a red rule, anchored to the bottom margin.
    top = H - margin - emer_h
    page.rect(margin, top, inner, emer_h, _PALE, lw=0)
    page.rect(margin, top, inner, mm(1.2), _RED, lw=0)
    _draw_block(page, emergency, W / 2, top + mm(5) + mm(0.6), _DARK_RED)
    return True


# --------------------------------------------------------------------------------------------
# Invitation card


def invite_card_png(title: str, subtitle: str, link: str, *, dpi: int = 150) -> bytes:
    """A small card (A6 portrait, 105 × 148 mm) with a QR for an invitation link, for printing
    or sending as a photo.

    Layout: a red band with ``title``, ``subtitle`` under it, a large QR of ``link`` and the
    link in small type. Long strings wrap, then shrink, then ellipsize.
    """
    with _RENDER_LOCK:
        page = _Page(A6_MM, dpi)
        W, H, mm = page.w, page.h, page.mm
        margin = mm(7)
        inner = W - 2 * margin
        gap = mm(4)

        title_b = _fit(page, title, _BOLD, inner, (20, 12), 2)
        sub_b = _fit(page, subtitle, _BOLD, inner, (14, 9), 3)
        link_b = _fit(page, link, _MONO, inner, (8, 6), 2)

        band_h = title_b.height + 2 * mm(4)
        stripe_h = mm(1.5)
        fixed = band_h + stripe_h + gap + sub_b.height + gap + mm(1.5) + link_b.height + margin
        qr_max = min(inner, H - fixed)
        n = _qr_module_count(link)
        qr_size = max(1, int(qr_max // n)) * n
        extra = max(0, H - fixed - qr_size) / 3

        page.rect(0, 0, W, band_h, _RED, lw=0)
        page.rect(0, band_h, W, stripe_h, _YELLOW, lw=0)
        _draw_block(page, title_b, W / 2, mm(4), "white")
        y = band_h + stripe_h + gap + extra
        y = _draw_block(page, sub_b, W / 2, y, _INK) + gap + extra
        y = _draw_qr(page, link, W / 2, y, qr_max) + mm(1.5)
        _draw_block(page, link_b, W / 2, y, _GREY)
        return page.png()
