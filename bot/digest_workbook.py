"""A digest as an Excel workbook laid out like the official tables ("bảng tổng hợp").

Commune and ward offices copy figures into their own reports; a workbook they can open, sort
and print saves retyping. Four sheets:

1. the report table: one row per hamlet with its reports filed and every indicator, then the
   totals, the span before and the change;
2. tips by category (this span, the span before, the change) and by status now;
3. overdue tips; 4. events of the span.

Every label comes from the catalogs in the user's language. Figures are real numbers (a
thousands format, so they add up in Excel); totals are written as values, not ``=SUM()``
formulas, because openpyxl cannot store a formula's result and phone viewers and previews
that do not recalculate would show an empty cell. Names typed by people are always stored as
text, never as a formula, even when they start with "=". Rows keep the digest's order.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.digest import Digest, change
from bot.digest_labels import previous_label, span_label, this_label
from locales import formats, t
from storage.tip_lifecycle import Status, categories

__all__ = ["VIETNAM", "workbook_xlsx"]

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CREATOR = "Bình Yên"

_INTEGER = "#,##0"
_SIGNED = "+#,##0;-#,##0;0"  # a change shows its sign
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="E7E6E6")
_SHORT_FILL = PatternFill("solid", fgColor="FFF2CC")  # a hamlet with a report missing past due
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_NOTE = Font(italic=True, color="595959")
_WRAP_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_CENTRE = Alignment(horizontal="center", vertical="center")
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)

# Rows shared by every sheet: title, "figures as of", then the header.
_TITLE_ROW, _AS_OF_ROW, _HEAD_ROW = 1, 2, 3
_SHEET_NAME_MAX = 31  # Excel's limit
_SHEET_NAME_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})


def workbook_xlsx(digest: Digest, locale: str, *, tz: ZoneInfo = VIETNAM) -> bytes:
    """The digest as .xlsx bytes: report table, tips, overdue tips and events, in ``locale``."""
    wb = Workbook()
    _report_sheet(wb.worksheets[0], digest, locale, tz)
    _tips_sheet(wb.create_sheet(), digest, locale, tz)
    _overdue_sheet(wb.create_sheet(), digest, locale, tz)
    _events_sheet(wb.create_sheet(), digest, locale, tz)

    wb.properties.title = _title(digest, locale, t(locale, f"indicatorset.{digest.set_code}"))
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    # Stamped with when the digest was made, not when the file was written (openpyxl wants UTC
    # without a zone).
    wb.properties.created = digest.made_at.astimezone(UTC).replace(tzinfo=None)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# Cells


def _text(cell: Cell, value: str) -> Cell:
    """Store ``value`` as text: never a formula, without characters Excel refuses."""
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.data_type = "s"  # openpyxl would take a leading "=" for a formula
    return cell


def _put(ws: Worksheet, row: int, col: int, value: str | int | None, fmt: str = _INTEGER) -> Cell:
    """A boxed table cell: text as text, integers with the given number format, None blank."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        _text(cell, value)
        cell.alignment = _LEFT
    elif value is not None:
        cell.value = value
        cell.number_format = fmt
    cell.border = _BOX
    return cell


def _title(d: Digest, locale: str, what: str) -> str:
    return t(locale, "digest.title", what=what, scope=d.scope_name, span=span_label(locale, d.span))


def _sheet_name(name: str) -> str:
    return " ".join(name.translate(_SHEET_NAME_BAD).split())[:_SHEET_NAME_MAX]


def _heading(
    ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo, name: str, what: str, cols: int
) -> None:
    """The sheet's ``name``, a title row about ``what`` and a 'figures as of' row."""
    ws.title = _sheet_name(name)
    as_of = t(locale, "digest.as_of", moment=formats.moment(d.made_at, locale, tz))
    for row, value, font in (
        (_TITLE_ROW, _title(d, locale, what), _TITLE),
        (_AS_OF_ROW, as_of, _NOTE),
    ):
        cell = _text(ws.cell(row=row, column=1), value)
        cell.font = font
        cell.alignment = Alignment(horizontal="left", vertical="center")
        if cols > 1:
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=cols)
    ws.row_dimensions[_TITLE_ROW].height = 24


def _header(ws: Worksheet, row: int, labels: Sequence[str], widths: Sequence[float]) -> None:
    """A bold, grey, wrapped header row; its height fits the longest wrapped label."""
    lines = 1
    for col, (label, width) in enumerate(zip(labels, widths, strict=True), start=1):
        cell = _put(ws, row, col, label)
        cell.font = _BOLD
        cell.fill = _HEAD_FILL
        cell.alignment = _WRAP_CENTRE
        ws.column_dimensions[get_column_letter(col)].width = width
        # Excel does not grow a row for wrapped text in a written file: estimate the lines.
        lines = max(lines, _lines(label, width))
    ws.row_dimensions[row].height = 15 * lines + 4


def _lines(label: str, width: float) -> int:
    """How many lines ``label`` wraps to in a column ``width`` characters wide (roughly)."""
    count, used = 1, 0
    room = max(width - 2, 1)
    for word in label.split():
        need = len(word) if used == 0 else used + 1 + len(word)
        if used and need > room:
            count, used = count + 1, len(word)
        else:
            used = need
    return count


def _label_row(ws: Worksheet, row: int, label: str, span_cols: int, font: Font) -> None:
    """A row label merged over the first ``span_cols`` columns (totals, the span before…)."""
    cell = _put(ws, row, 1, label)
    cell.font = font
    for col in range(2, span_cols + 1):
        ws.cell(row=row, column=col).border = _BOX
    if span_cols > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=span_cols)


def _note_row(ws: Worksheet, row: int, message: str, cols: int) -> None:
    """An italic sentence across the table where there is nothing to list."""
    cell = _text(ws.cell(row=row, column=1), message)
    cell.font = _NOTE
    if cols > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=cols)


def _print_setup(ws: Worksheet, landscape: bool) -> None:
    """Print on whole pages' width with the header repeated, as offices print tables."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{_HEAD_ROW}:{_HEAD_ROW}"


# --------------------------------------------------------------------------------------------
# Sheets


def _report_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo) -> None:
    """Sheet 1: hamlets × indicators with totals, the span before and the change."""
    first = 5  # the first indicator column (after No., hamlet, commune, reports filed)
    labels = [
        t(locale, "digest.col.no"), t(locale, "digest.col.hamlet"),
        t(locale, "digest.col.commune"), t(locale, "digest.col.filed"),
        *(t(locale, f"indicator.{code}") for code in d.indicators),
    ]  # fmt: skip
    widths = [6, 24, 20, 14, *(16 for _ in d.indicators)]
    set_name = t(locale, f"indicatorset.{d.set_code}")
    _heading(ws, d, locale, tz, t(locale, "digest.sheet.report"), set_name, len(labels))
    _header(ws, _HEAD_ROW, labels, widths)

    row = _HEAD_ROW + 1
    for number, hamlet in enumerate(d.hamlets, start=1):
        _put(ws, row, 1, number).alignment = _CENTRE
        _put(ws, row, 2, hamlet.name)
        _put(ws, row, 3, hamlet.commune)
        filed = _put(ws, row, 4, _filed(hamlet.filed, hamlet.expected, locale))
        filed.alignment = _CENTRE
        if hamlet.missing:  # one not due yet is not short
            filed.fill = _SHORT_FILL
        for col, code in enumerate(d.indicators, start=first):
            _put(ws, row, col, hamlet.values.get(code))
        row += 1

    totals = d.totals
    _label_row(ws, row, t(locale, "digest.total"), 3, _BOLD)
    filed = _put(ws, row, 4, formats.fraction(d.reports_filed, d.reports_expected, locale))
    filed.alignment = _CENTRE
    filed.font = _BOLD
    for col, code in enumerate(d.indicators, start=first):
        _put(ws, row, col, totals[code]).font = _BOLD
    row += 1

    previous = t(locale, "digest.previous_span", span=span_label(locale, d.span.previous()))
    if d.before == "running":
        previous += " — " + t(locale, "digest.before.running")
    elif d.before == "none":
        previous += " — " + t(locale, "digest.before.none")
    elif d.before == "partial":
        previous += " — " + t(locale, "digest.before.partial", n=_filed(
            d.before_filed, d.before_expected, locale))
    before_totals = {} if d.before == "none" else d.totals_before
    _label_row(ws, row, previous, 4, Font())
    for col, code in enumerate(d.indicators, start=first):
        _put(ws, row, col, before_totals.get(code))
    row += 1

    _label_row(ws, row, t(locale, "digest.change"), 4, Font(italic=True))
    for col, code in enumerate(d.indicators, start=first):
        before = before_totals.get(code) if d.compared else None
        # No figure for the span before (a new indicator), or this span still running: no
        # change to show.
        diff = None if before is None else change(totals[code], before)
        _put(ws, row, col, diff, _SIGNED)

    ws.freeze_panes = f"C{_HEAD_ROW + 1}"  # header and hamlet names stay
    _print_setup(ws, landscape=True)


def _filed(filed: int, expected: int, locale: str) -> str:
    return f"{formats.number(filed, locale)}/{formats.number(expected, locale)}"


def _ordered(codes: Iterable[str], order: Sequence[str]) -> list[str]:
    """``codes`` in the configured order, unknown ones after in their own order."""
    codes = list(dict.fromkeys(codes))
    rank = {code: i for i, code in enumerate(order)}
    return sorted(codes, key=lambda c: rank.get(c, len(order)))


def _tips_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo) -> None:
    """Sheet 2: tips by category against the span before, then by status now."""
    labels = [
        t(locale, "digest.col.category"), this_label(locale, d.span.kind),
        previous_label(locale, d.span.kind), t(locale, "digest.change"),
    ]  # fmt: skip
    tips = t(locale, "digest.sheet.tips")
    _heading(ws, d, locale, tz, tips, t(locale, "digest.chart.tips"), len(labels))
    _header(ws, _HEAD_ROW, labels, [34, 14, 14, 14])

    now, before = d.tips_by_category, d.tips_by_category_before
    codes = [
        c
        for c in _ordered([*now, *before], [c.code for c in categories()])
        if now.get(c, 0) or before.get(c, 0)
    ]
    row = _HEAD_ROW + 1
    for code in codes:
        _put(ws, row, 1, t(locale, f"tipcat.{code}"))
        _put(ws, row, 2, now.get(code, 0))
        _put(ws, row, 3, before.get(code, 0))
        _put(ws, row, 4, change(now.get(code, 0), before.get(code, 0)), _SIGNED)
        row += 1
    if not codes:
        _note_row(ws, row, t(locale, "digest.tips.none"), len(labels))
        row += 1
    else:
        total_now, total_before = d.tips_total, sum(before.values())
        _put(ws, row, 1, t(locale, "digest.total")).font = _BOLD
        _put(ws, row, 2, total_now).font = _BOLD
        _put(ws, row, 3, total_before).font = _BOLD
        _put(ws, row, 4, change(total_now, total_before), _SIGNED).font = _BOLD
        row += 1

    statuses = _ordered(d.tips_by_status, list(Status))
    if statuses:
        row += 1  # a blank row between the two tables
        _header(ws, row, [t(locale, "digest.col.status"), t(locale, "digest.col.count")], [34, 14])
        row += 1
        for status in statuses:
            _put(ws, row, 1, t(locale, f"tipstatus.{status}"))
            _put(ws, row, 2, d.tips_by_status[status])
            row += 1
        _put(ws, row, 1, t(locale, "digest.total")).font = _BOLD
        _put(ws, row, 2, sum(d.tips_by_status.values())).font = _BOLD

    ws.freeze_panes = f"A{_HEAD_ROW + 1}"
    _print_setup(ws, landscape=False)


def _overdue_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo) -> None:
    """Sheet 3: open tips past their deadline when the digest was made (titled "now": a
    summary of an earlier span lists what is overdue today)."""
    labels = [
        t(locale, "digest.col.code"), t(locale, "digest.col.category"),
        t(locale, "digest.col.status"), t(locale, "digest.col.hamlet"),
        t(locale, "digest.col.received"), t(locale, "digest.col.overdue"),
    ]  # fmt: skip
    name = t(locale, "digest.sheet.overdue")
    _heading(ws, d, locale, tz, name, t(locale, "digest.overdue.now"), len(labels))
    _header(ws, _HEAD_ROW, labels, [14, 30, 22, 24, 20, 18])
    row = _HEAD_ROW + 1
    for tip in d.overdue:
        _put(ws, row, 1, tip.code)
        _put(ws, row, 2, t(locale, f"tipcat.{tip.category}"))
        _put(ws, row, 3, t(locale, f"tipstatus.{tip.status}"))
        _put(ws, row, 4, tip.unit_name)
        _put(ws, row, 5, formats.moment(tip.created_at, locale, tz))
        _put(ws, row, 6, t(locale, f"digest.due.{tip.due_kind}"))
        row += 1
    if not d.overdue:
        _note_row(ws, row, t(locale, "digest.overdue.none"), len(labels))
    ws.freeze_panes = f"A{_HEAD_ROW + 1}"
    _print_setup(ws, landscape=True)


def _events_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo) -> None:
    """Sheet 4: the span's events."""
    labels = [
        t(locale, "digest.col.event_code"), t(locale, "digest.col.received"),
        t(locale, "digest.col.event_type"), t(locale, "digest.col.hamlet"),
        t(locale, "digest.col.people"), t(locale, "digest.col.status"),
    ]  # fmt: skip
    name = t(locale, "digest.sheet.events")
    _heading(ws, d, locale, tz, name, name, len(labels))
    _header(ws, _HEAD_ROW, labels, [12, 20, 26, 24, 14, 18])
    row = _HEAD_ROW + 1
    for event in d.events:
        _put(ws, row, 1, event.code)
        _put(ws, row, 2, formats.moment(event.created_at, locale, tz))
        _put(ws, row, 3, t(locale, f"eventtype.{event.type}"))
        _put(ws, row, 4, event.unit_name)
        _put(ws, row, 5, event.people)
        _put(ws, row, 6, t(locale, f"eventstatus.{event.status}"))
        row += 1
    if not d.events:
        _note_row(ws, row, t(locale, "digest.events.none"), len(labels))
    ws.freeze_panes = f"A{_HEAD_ROW + 1}"
    _print_setup(ws, landscape=True)
