"""A digest as one picture: indicator totals and tips by category, this span next to the last.

A coordinator opens the digest on a phone; one PNG shows the trend at a glance where the text
message lists figures. Top panel: every indicator of the set, a bar for this span and one for
the span before, each labelled with its number. Bottom panel: tips received by category, this
span against the span before (only categories with a tip in either).

Indicator totals differ by orders of magnitude (a handful of sessions, a thousand attendees),
so on one shared axis the small ones would be invisible. Each indicator's pair of bars is
therefore scaled to the larger of the two: the bars show the direction of the change and the
labels give the numbers; there is no x axis to misread. Tip counts share one axis.

Rendering follows ``bot.printing``: a private :class:`~matplotlib.figure.Figure` on the Agg
canvas (never ``pyplot``, never a display), DejaVu fonts loaded by file path (they cover
Vietnamese diacritics; user rcParams cannot swap them), matplotlib's default style forced for
the duration, strings never parsed as mathtext, and one lock shared with ``bot.printing``
because matplotlib is not thread-safe. CPU-bound (~0.3 s): call it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
import math

from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

from bot.digest import Digest
from bot.digest_labels import previous_label, span_label, this_label

# The lock and font paths are bot.printing's own: sharing the lock serialises every
# matplotlib render in the process, which a lock per module would not.
from bot.printing import _BOLD, _REGULAR, _RENDER_LOCK
from locales import formats, t

__all__ = ["chart_png"]

WIDTH_PX = 1200
MIN_HEIGHT_PX = 900
DPI = 150

_NOW_COLOUR = "#C8102E"  # the house red (posters)
_BEFORE_COLOUR = "#B0B0B0"  # light grey: lighter than the red even in greyscale
_INK = "#1A1A1A"
_GREY = "#555555"

_MARGIN = 28  # px, left and right page margin
_LABEL_SHARE = 0.40  # of the width, for the indicator and category names
_MAX_LABEL_LINES = 3
_MAX_TIP_ROWS = 6
_LINE = 1.25  # line height in em for wrapped names


def _pt_px(points: float) -> float:
    return points * DPI / 72.0


class _Fonts:
    """The few type sizes of the chart, all DejaVu by path."""

    def __init__(self) -> None:
        self.title = FontProperties(fname=_BOLD, size=15)
        self.subtitle = FontProperties(fname=_REGULAR, size=11.5)
        self.summary = FontProperties(fname=_REGULAR, size=9.5)
        self.panel = FontProperties(fname=_BOLD, size=11.5)
        self.label = FontProperties(fname=_REGULAR, size=10)
        self.value = FontProperties(fname=_REGULAR, size=9.5)
        self.legend = FontProperties(fname=_REGULAR, size=10)
        self.note = FontProperties(fname=_REGULAR, size=10.5)


class _Measure:
    """Text widths in pixels, for wrapping names to the label column."""

    def __init__(self, renderer: RendererAgg) -> None:
        self._renderer = renderer

    def width(self, text: str, prop: FontProperties) -> float:
        w, _h, _d = self._renderer.get_text_width_height_descent(text, prop, ismath=False)
        return w

    def _greedy(self, words: list[str], prop: FontProperties, max_px: float) -> list[str]:
        lines: list[str] = []
        for word in words:
            if lines and self.width(f"{lines[-1]} {word}", prop) <= max_px:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines

    def wrap(self, text: str, prop: FontProperties, max_px: float) -> str:
        """Word wrap to ``max_px`` in balanced lines; past the last line allowed, '…'."""
        words = text.split()
        lines = self._greedy(words, prop, max_px)
        if len(lines) > _MAX_LABEL_LINES:
            last = self.clip(" ".join(lines[_MAX_LABEL_LINES - 1 :]), prop, max_px)
            return "\n".join([*lines[: _MAX_LABEL_LINES - 1], last])
        if len(lines) > 1:
            # The narrowest width that needs no more lines: no lone word on the last line.
            lo, hi = max_px / 2, max_px
            for _ in range(8):
                mid = (lo + hi) / 2
                if len(self._greedy(words, prop, mid)) == len(lines):
                    hi = mid
                else:
                    lo = mid
            lines = self._greedy(words, prop, hi)
        return "\n".join(lines)

    def fit(self, text: str, prop: FontProperties, max_px: float) -> FontProperties:
        """``prop`` or a smaller copy (down to 80 %) in which ``text`` fits on one line."""
        size = prop.get_size_in_points()
        fitted = prop.copy()
        while self.width(text, fitted) > max_px and fitted.get_size_in_points() > size * 0.8:
            fitted.set_size(fitted.get_size_in_points() - 0.5)
        return fitted

    def clip(self, text: str, prop: FontProperties, max_px: float) -> str:
        """``text``, cut with '…' if it is still wider than ``max_px``."""
        if self.width(text, prop) <= max_px:
            return text
        while text and self.width(text + "…", prop) > max_px:
            text = text[:-1]
        return text.rstrip() + "…"


def _tip_rows(d: Digest, locale: str) -> list[tuple[str, int, int]]:
    """Tip categories with a tip this span or the one before: (name, now, before).

    Most tips first, so the categories that matter this span are read first. Past
    ``_MAX_TIP_ROWS`` the smallest categories share one row named by their count: the picture
    stays within what Telegram sends uncompressed (1280 px), and the workbook lists them all.
    """
    now, before = d.tips_by_category, d.tips_by_category_before
    codes = [c for c in dict.fromkeys([*now, *before]) if now.get(c, 0) or before.get(c, 0)]
    rows = sorted(
        ((t(locale, f"tipcat.{c}"), now.get(c, 0), before.get(c, 0)) for c in codes),
        key=lambda r: (-r[1], -r[2]),
    )
    if len(rows) <= _MAX_TIP_ROWS:
        return rows
    kept, rest = rows[: _MAX_TIP_ROWS - 1], rows[_MAX_TIP_ROWS - 1 :]
    others = t(locale, "digest.chart.other_categories", count=formats.number(len(rest), locale))
    return [*kept, (others, sum(r[1] for r in rest), sum(r[2] for r in rest))]


def chart_png(digest: Digest, locale: str) -> bytes:
    """The digest's chart as PNG bytes (1200 px wide, 900 px tall or more), texts in ``locale``."""
    with _RENDER_LOCK, style.context("default"):
        return _render(digest, locale)


def _render(d: Digest, locale: str) -> bytes:
    fonts = _Fonts()
    # A throwaway canvas measures the names before the real figure's height is known.
    probe = FigureCanvasAgg(Figure(figsize=(WIDTH_PX / DPI, MIN_HEIGHT_PX / DPI), dpi=DPI))
    measure = _Measure(probe.get_renderer())

    label_px = WIDTH_PX * _LABEL_SHARE
    ind_names = [
        measure.wrap(t(locale, f"indicator.{code}"), fonts.label, label_px - 16)
        for code in d.indicators
    ]
    now_totals, before_totals = d.totals, d.totals_before
    # No report in the span before: no grey bar (a 0 there would read as a figure).
    ind_values = [(now_totals.get(c, 0), before_totals.get(c, 0) if d.compared else None)
                  for c in d.indicators]
    tip_rows = _tip_rows(d, locale)
    tip_names = [measure.wrap(name, fonts.label, label_px - 16) for name, _n, _b in tip_rows]

    # Room right of the bars for the widest value label.
    numbers = [formats.number(v, locale) for pair in ind_values for v in pair if v is not None]
    numbers += [formats.number(v, locale) for _c, n, b in tip_rows for v in (n, b)]
    value_px = max((measure.width(s, fonts.value) for s in numbers), default=0) + 16

    line_px = _pt_px(fonts.label.get_size_in_points()) * _LINE

    def row_px(names: list[str]) -> float:
        # A group of two bars: tall enough for its name and for two readable bars.
        lines = max((n.count("\n") + 1 for n in names), default=1)
        return max(lines * line_px + 10, 2 * _pt_px(fonts.value.get_size_in_points()) * 1.4)

    row_ind = row_px(ind_names)
    row_tip = row_px(tip_names)
    head_px = 24 + 40 + 32 + 30 + 40  # margin, title, span, summary, legend
    panel_head = 40
    ind_h = row_ind * max(len(d.indicators), 1)
    tip_h = row_tip * len(tip_rows) if tip_rows else 70.0
    fixed = head_px + 2 * panel_head + 28 + 24  # + gap between panels + bottom margin
    height = fixed + ind_h + tip_h
    if height < MIN_HEIGHT_PX:
        # Spread the spare height over the panels with bars rather than leave a white band;
        # with none, the band stays at the bottom.
        barred = (ind_h if d.indicators else 0) + (tip_h if tip_rows else 0)
        if barred:
            grow = (MIN_HEIGHT_PX - height + barred) / barred
            ind_h = ind_h * grow if d.indicators else ind_h
            tip_h = tip_h * grow if tip_rows else tip_h
        height = MIN_HEIGHT_PX
    height_px = math.ceil(height)

    # Agg truncates the size to whole pixels; the +0.25 guards against float error.
    fig = Figure(
        figsize=((WIDTH_PX + 0.25) / DPI, (height_px + 0.25) / DPI), dpi=DPI, facecolor="white"
    )
    canvas = FigureCanvasAgg(fig)

    def fx(px: float) -> float:
        return px / WIDTH_PX

    def fy(px_from_top: float) -> float:
        return 1 - px_from_top / height_px

    def line(top_px: float, s: str, prop: FontProperties, colour: str) -> None:
        # A header line across the page: a long scope name shrinks a little, then is cut.
        room = WIDTH_PX - 2 * _MARGIN
        prop = measure.fit(s, prop, room)
        text(_MARGIN, top_px, measure.clip(s, prop, room), prop, color=colour)

    def text(x_px: float, top_px: float, s: str, prop: FontProperties, **kw: object) -> None:
        fig.text(fx(x_px), fy(top_px), s, fontproperties=prop, va="top", parse_math=False, **kw)

    # Header: scope, span, one line of key figures, the legend shared by both panels.
    y = 24.0
    line(y, d.scope_name, fonts.title, _INK)
    y += 40
    line(y, span_label(locale, d.span), fonts.subtitle, _INK)
    y += 32
    summary = t(
        locale, "digest.chart.summary",
        filed=formats.fraction(d.reports_filed, d.reports_expected, locale),
        tips=formats.number(d.tips_total, locale),
        overdue=formats.number(d.overdue_total, locale),  # all, not the ones listed
        events=formats.number(len(d.events), locale),
    )  # fmt: skip
    line(y, summary, fonts.summary, _GREY)
    y += 30
    fig.legend(
        handles=[
            Patch(color=_NOW_COLOUR, label=this_label(locale, d.span.kind)),
            Patch(color=_BEFORE_COLOUR, label=previous_label(locale, d.span.kind)),
        ],
        loc="upper left", bbox_to_anchor=(fx(_MARGIN), fy(y)), ncols=2, prop=fonts.legend,
        frameon=False, handlelength=1.6, handleheight=1.0, columnspacing=2.0,
        borderaxespad=0.0, borderpad=0.0,
    )  # fmt: skip
    y += 40

    bars_left = _MARGIN + label_px
    bars_width = WIDTH_PX - bars_left - _MARGIN - value_px

    # Panel (a): indicator totals, each pair scaled to its larger bar.
    set_name = t(locale, f"indicatorset.{d.set_code}")
    if d.before in ("none", "running"):
        set_name += " · " + t(locale, f"digest.chart.{d.before}_before")
    line(y, set_name, fonts.panel, _INK)
    y += panel_head
    ax = fig.add_axes((fx(bars_left), fy(y + ind_h), fx(bars_width), ind_h / height_px))
    if d.indicators:
        scaled = [(n / max(n, b or 0, 1), (b or 0) / max(n, b or 0, 1)) for n, b in ind_values]
        _pairs(ax, ind_names, ind_values, scaled, fonts, locale)
    else:
        _note(ax, t(locale, "digest.chart.no_figures"), fonts)
    y += ind_h + 28

    # Panel (b): tips by category on one shared axis.
    line(y, t(locale, "digest.chart.tips"), fonts.panel, _INK)
    y += panel_head
    ax = fig.add_axes((fx(bars_left), fy(y + tip_h), fx(bars_width), tip_h / height_px))
    if tip_rows:
        top = max(max(n, b) for _c, n, b in tip_rows)
        counts = [(n, b) for _c, n, b in tip_rows]
        _pairs(ax, tip_names, counts, [(n / top, b / top) for n, b in counts], fonts, locale)
    else:
        _note(ax, t(locale, "digest.chart.no_tips"), fonts)

    buf = io.BytesIO()
    canvas.print_png(buf)
    fig.clear()
    return buf.getvalue()


def _pairs(
    ax: Axes,
    names: list[str],
    values: list[tuple[int, int | None]],
    lengths: list[tuple[float, float]],
    fonts: _Fonts,
    locale: str,
) -> None:
    """Two horizontal bars per name (this span above the span before), labelled with values;
    a value of None (no figure) draws no bar."""
    height = 0.36
    for i, ((now, before), (len_now, len_before)) in enumerate(zip(values, lengths, strict=True)):
        for offset, value, length, colour in (
            (-height / 2 - 0.01, now, len_now, _NOW_COLOUR),
            (height / 2 + 0.01, before, len_before, _BEFORE_COLOUR),
        ):
            if value is None:
                continue
            ax.barh(i + offset, length, height=height, color=colour, linewidth=0)
            ax.annotate(
                formats.number(value, locale), xy=(length, i + offset), xytext=(5, 0),
                textcoords="offset points", va="center", ha="left", fontproperties=fonts.value,
                color=_INK, annotation_clip=False, parse_math=False,
            )  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first name on top
    ax.set_yticks(
        range(len(names)), names, fontproperties=fonts.label, color=_INK, parse_math=False
    )
    ax.tick_params(axis="y", length=0, pad=8)
    ax.xaxis.set_visible(False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(_GREY)
    ax.set_facecolor("white")


def _note(ax: Axes, message: str, fonts: _Fonts) -> None:
    """A short sentence in place of an empty panel, from the page margin (names start there)."""
    ax.set_axis_off()
    fig = ax.get_figure()
    x = _MARGIN / WIDTH_PX
    ax.text(
        x, 1.0, message, transform=blended_transform_factory(fig.transFigure, ax.transAxes),
        va="top", ha="left",
        fontproperties=fonts.note, color=_GREY, parse_math=False,
    )  # fmt: skip
