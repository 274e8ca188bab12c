"""A digest as an Excel workbook laid out like the official tables ("biểu tổng hợp").

A commune sends the first sheet upward as it is, so it carries what Nghị định 30/2020/NĐ-CP
puts on an official document: the issuing body under the body above it and the national
motto side by side, the number and the place and date line, the title "BIỂU TỔNG HỢP KẾT QUẢ
PHONG TRÀO…", the span, and at the foot "NGƯỜI LẬP BIỂU" and the head of the body. Below the
header: one row per hamlet (reports filed, due, the rate, every indicator), then the totals,
the span before and the change. Three more sheets: tips by category and by status, overdue
tips, the span's events.

Everything is Times New Roman, and prints on A4. Numbers are numbers and moments are dates
(local time, as Excel has no zones). Totals, rates and changes are formulas, so a figure an
officer corrects carries through; each also holds the value the bot computed as its cached
result (openpyxl cannot write one: :func:`_cache_results` puts it in the saved file), so a
phone preview that does not recalculate shows the same figure as the bot's text. Excel
recalculates on opening (``fullCalcOnLoad``); LibreOffice shows the stored results unless set to
recalculate, and computes the same figures when it does (tests/documents). A hamlet that has
not reported says "Chưa báo cáo" across its indicators instead of blank cells. Every label
comes from the catalogs in the user's language. Names typed by people are always stored as
text, never as a formula, even when they start with "=". Rows keep the digest's order.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.indexed_list import IndexedList
from openpyxl.worksheet.worksheet import Worksheet

from bot.digest import Digest, change
from bot.digest_labels import previous_label, span_label, this_label
from bot.official import Office, date_line, number_line
from locales import formats, t
from storage.tip_lifecycle import Status, categories

__all__ = ["FONT", "VIETNAM", "workbook_xlsx"]

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CREATOR = "Bình Yên"
FONT = "Times New Roman"

_INTEGER = "#,##0"
_SIGNED = "+#,##0;-#,##0;0"  # a change shows its sign
_RATE = "0.0%"
_MOMENT = "hh:mm dd/mm/yyyy"  # 24-hour, day first, as the bot writes moments
_THIN = Side(style="thin", color="808080")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="E7E6E6")
_SHORT_FILL = PatternFill("solid", fgColor="FFF2CC")  # a hamlet with a report missing past due
_PLAIN = Font(name=FONT, size=12)
_BOLD = Font(name=FONT, size=12, bold=True)
_ITALIC = Font(name=FONT, size=12, italic=True)
_TITLE = Font(name=FONT, size=14, bold=True)
_NOTE = Font(name=FONT, size=12, italic=True, color="595959")
_MOTTO = Font(name=FONT, size=12, bold=True)
_TAGLINE = Font(name=FONT, size=13, bold=True, underline="single")
_WRAP_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_CENTRE = Alignment(horizontal="center", vertical="center")
_LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)

# Rows of sheets 2–4: title, "figures as of", then the header. Sheet 1 has the official
# header above its own (_REPORT_HEAD_ROW).
_TITLE_ROW, _AS_OF_ROW, _HEAD_ROW = 1, 2, 3
_REPORT_HEAD_ROW = 9
_SHEET_NAME_MAX = 31  # Excel's limit
_SHEET_NAME_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})
_FIRST_INDICATOR = 7  # sheet 1: No., hamlet, commune, filed, due, rate, then the indicators


def workbook_xlsx(digest: Digest, locale: str, *, office: Office,
                  tz: ZoneInfo = VIETNAM) -> bytes:
    """The digest as .xlsx bytes, issued by ``office``: report table, tips, overdue tips and
    events, in ``locale``."""
    wb = Workbook()
    # The workbook's default font (cells nobody wrote, what an officer types in later):
    # openpyxl keeps it as the first font and in the "Normal" style.
    wb._fonts = IndexedList([_PLAIN])
    wb._named_styles["Normal"].font = _PLAIN
    results: dict[str, dict[str, float]] = {}  # sheet → cell → the value its formula gives
    _report_sheet(wb.worksheets[0], digest, locale, tz, office, results)
    _tips_sheet(wb.create_sheet(), digest, locale, tz, results)
    _overdue_sheet(wb.create_sheet(), digest, locale, tz)
    _events_sheet(wb.create_sheet(), digest, locale, tz)

    wb.properties.title = _title(digest, locale, t(locale, f"indicatorset.{digest.set_code}"))
    wb.properties.creator = CREATOR
    wb.properties.lastModifiedBy = CREATOR
    wb.properties.language = locale
    # Stamped with when the digest was made, not when the file was written (openpyxl wants UTC
    # without a zone).
    wb.properties.created = digest.made_at.astimezone(UTC).replace(tzinfo=None)
    _localise_formats(wb, locale)
    wb.calculation.fullCalcOnLoad = True  # spreadsheets recalculate what an officer changed
    buf = io.BytesIO()
    wb.save(buf)
    return _cache_results(buf.getvalue(), [ws.title for ws in wb.worksheets], results)


# A number format's locale (a Windows LCID): LibreOffice then writes "3.625" and "97,8%" for
# Vietnamese whatever the machine's own settings, as the bot's text does.
_LOCALE_TAG = {"vi": "[$-42A]", "en": "[$-409]"}


def _localise_formats(wb: Workbook, locale: str) -> None:
    tag = _LOCALE_TAG.get(locale)
    if tag is None:
        return
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.number_format != "General":
                    cell.number_format = tag + cell.number_format


def _cache_results(data: bytes, titles: list[str],
                   results: dict[str, dict[str, float]]) -> bytes:
    """The saved workbook with each formula's value written as its cached result.

    openpyxl writes ``<c r="G12"><f>SUM(G10:G11)</f><v></v></c>``; a viewer that does not
    recalculate shows the empty ``<v>``. Sheets are saved as ``xl/worksheets/sheetN.xml`` in
    order.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        files = {f"xl/worksheets/sheet{i}.xml": results.get(title, {})
                 for i, title in enumerate(titles, start=1)}
        for info in src.infolist():
            body = src.read(info.filename)
            cached = files.get(info.filename)
            if cached:
                def fill(match: re.Match[bytes], cached=cached) -> bytes:
                    value = cached.get(match[2].decode())
                    if value is None:
                        raise ValueError(f"formula in {match[2].decode()} without its value")
                    return match[1] + repr(float(value)).removesuffix(".0").encode() + b"</v>"

                body, count = re.subn(rb'(<c r="([A-Z]+[0-9]+)"[^>]*><f>[^<]*</f><v>)</v>',
                                      fill, body)
                if count != len(cached):
                    raise ValueError(f"{count} formulas written, {len(cached)} values computed")
            dst.writestr(info, body)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Cells


def _text(cell: Cell, value: str, font: Font = _PLAIN) -> Cell:
    """Store ``value`` as text: never a formula, without characters Excel refuses."""
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.data_type = "s"  # openpyxl would take a leading "=" for a formula
    cell.font = font
    return cell


def _put(ws: Worksheet, row: int, col: int, value: str | int | datetime | None,
         fmt: str = _INTEGER) -> Cell:
    """A boxed table cell: text as text, integers with the given number format, a moment as a
    date, None blank."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        _text(cell, value)
        cell.alignment = _LEFT
    elif value is not None:
        cell.value = value
        cell.number_format = _MOMENT if isinstance(value, datetime) else fmt
    cell.font = _PLAIN
    cell.border = _BOX
    return cell


def _formula(ws: Worksheet, results: dict[str, dict[str, float]], row: int, col: int,
             formula: str, value: float, fmt: str = _INTEGER) -> Cell:
    """A boxed formula cell; ``value`` is what the bot computed, kept as its result."""
    cell = ws.cell(row=row, column=col, value=formula)
    cell.number_format = fmt
    cell.font = _PLAIN
    cell.border = _BOX
    results.setdefault(ws.title, {})[cell.coordinate] = value
    return cell


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    """A moment as local wall time without a zone (what a spreadsheet's date is)."""
    return moment.astimezone(tz).replace(tzinfo=None, microsecond=0)


def _title(d: Digest, locale: str, what: str) -> str:
    return t(locale, "digest.title", what=what, scope=d.scope_name, span=span_label(locale, d.span))


def _sheet_name(name: str) -> str:
    return " ".join(name.translate(_SHEET_NAME_BAD).split())[:_SHEET_NAME_MAX]


def _merged(ws: Worksheet, row: int, first: int, last: int, value: str, font: Font,
            align: Alignment = _CENTRE) -> Cell:
    """Text across columns ``first``..``last`` of ``row``."""
    cell = _text(ws.cell(row=row, column=first), value, font)
    cell.alignment = align
    if last > first:
        ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
    return cell


def _as_of(ws: Worksheet, row: int, d: Digest, locale: str, tz: ZoneInfo, cols: int) -> None:
    """'Số liệu tính đến' and the moment, a date cell."""
    label = t(locale, "digest.as_of_label")
    _merged(ws, row, 1, 1 if cols < 4 else 2, label, _NOTE, Alignment(horizontal="left"))
    at = 2 if cols < 4 else 3
    cell = ws.cell(row=row, column=at, value=_local(d.made_at, tz))
    cell.number_format = _MOMENT
    cell.font = _NOTE
    cell.alignment = Alignment(horizontal="left")
    if cols > at:
        ws.merge_cells(start_row=row, start_column=at, end_row=row, end_column=min(at + 1, cols))


def _heading(
    ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo, name: str, what: str, cols: int
) -> None:
    """The sheet's ``name``, a title row about ``what`` and a 'figures as of' row."""
    ws.title = _sheet_name(name)
    _merged(ws, _TITLE_ROW, 1, cols, _title(d, locale, what), _TITLE,
            Alignment(horizontal="left", vertical="center"))
    _as_of(ws, _AS_OF_ROW, d, locale, tz, cols)
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
    ws.row_dimensions[row].height = 16 * lines + 4


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
    _merged(ws, row, 1, cols, message, _NOTE, Alignment(horizontal="left"))


def _print_setup(ws: Worksheet, landscape: bool, head_row: int = _HEAD_ROW) -> None:
    """A4, whole pages' width, the header repeated on every page, numbered at the foot."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{head_row}:{head_row}"
    ws.print_options.horizontalCentered = True
    # Nghị định 30's margins, in inches: 20 mm top and bottom, 30 mm left, 15 mm right.
    ws.page_margins.top = ws.page_margins.bottom = 20 / 25.4
    ws.page_margins.left, ws.page_margins.right = 30 / 25.4, 15 / 25.4
    ws.page_margins.header = ws.page_margins.footer = 8 / 25.4
    ws.oddFooter.center.text = "&P/&N"
    ws.oddFooter.center.font = f"{FONT},Regular"


# --------------------------------------------------------------------------------------------
# Sheets


def _official_header(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo, office: Office,
                     cols: int) -> int:
    """Rows 1–7 of sheet 1: body and motto, number and date line, title, span, 'as of'.
    Returns the column where the right-hand block begins."""
    split = max(3, round(cols * 0.4)) + 1  # the left block: about two fifths of the width
    made = d.made_at.astimezone(tz).date()
    left = [(office.parent_body.upper(), _PLAIN), (office.body.upper(), _BOLD)]
    if not office.parent_body:
        left = [("", _PLAIN), left[1]]
    right = [(t(locale, "doc.motto"), _MOTTO), (t(locale, "doc.tagline"), _TAGLINE)]
    for row, ((l_text, l_font), (r_text, r_font)) in enumerate(zip(left, right, strict=True),
                                                               start=1):
        if l_text:
            _merged(ws, row, 1, split - 1, l_text, l_font)
        _merged(ws, row, split, cols, r_text, r_font)
    _merged(ws, 3, 1, split - 1, number_line(office, locale), _PLAIN)
    _merged(ws, 3, split, cols, date_line(office, made, locale), _ITALIC)
    _merged(ws, 5, 1, cols, t(locale, "digest.sheet.title"), _TITLE)
    _merged(ws, 6, 1, cols, t(locale, "digest.sheet.subject", scope=d.scope_name,
                              span=span_label(locale, d.span)), _BOLD)
    _as_of(ws, 7, d, locale, tz, cols)
    ws.row_dimensions[5].height = 22
    return split


def _signatures(ws: Worksheet, row: int, locale: str, office: Office, cols: int,
                split: int) -> None:
    """'NGƯỜI LẬP BIỂU' on the left, the head of the body on the right, room to sign."""
    right_title = office.signer_title.upper()
    if office.signer_authority:
        right_title = f"{office.signer_authority.upper()}\n{right_title}"
    _merged(ws, row, 1, split - 1, t(locale, "digest.sheet.preparer"), _BOLD)
    _merged(ws, row, split, cols, right_title, _BOLD, _WRAP_CENTRE)
    if office.signer_authority:  # two lines: authority over title
        ws.row_dimensions[row].height = 34
    _merged(ws, row + 1, 1, split - 1, t(locale, "digest.sheet.sign_name"), _ITALIC)
    _merged(ws, row + 1, split, cols, t(locale, "digest.sheet.sign_seal"), _ITALIC)
    name_row = row + 5  # four rows for the signature and the seal
    if office.signer_name:
        _merged(ws, name_row, split, cols, office.signer_name, _BOLD)
    else:
        cell = _merged(ws, name_row, split, cols, t(locale, "doc.signer_missing"), _ITALIC)
        cell.fill = _SHORT_FILL  # to be written in: it must not go upward blank


def _report_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo, office: Office,
                  results: dict[str, dict[str, float]]) -> None:
    """Sheet 1: the official header, hamlets × indicators with totals, the span before and
    the change, and the signatures."""
    first = _FIRST_INDICATOR
    labels = [
        t(locale, "digest.col.no"), t(locale, "digest.col.hamlet"),
        t(locale, "digest.col.commune"), t(locale, "digest.col.filed"),
        t(locale, "digest.col.due"), t(locale, "digest.col.rate"),
        *(t(locale, f"indicator.{code}") for code in d.indicators),
    ]  # fmt: skip
    widths = [6, 24, 20, 11, 11, 11, *(15 for _ in d.indicators)]
    cols = len(labels)
    last = first + len(d.indicators) - 1
    ws.title = _sheet_name(t(locale, "digest.sheet.report"))
    split = _official_header(ws, d, locale, tz, office, cols)
    head = _REPORT_HEAD_ROW
    _header(ws, head, labels, widths)

    row = head + 1
    top = row
    for number, hamlet in enumerate(d.hamlets, start=1):
        _put(ws, row, 1, number).alignment = _CENTRE
        _put(ws, row, 2, hamlet.name)
        _put(ws, row, 3, hamlet.commune)
        filed = _put(ws, row, 4, hamlet.filed)
        _put(ws, row, 5, hamlet.expected)
        if hamlet.missing:  # one not due yet is not short
            filed.fill = _SHORT_FILL
        if hamlet.expected:
            _formula(ws, results, row, 6, f"=D{row}/E{row}", hamlet.filed / hamlet.expected,
                     _RATE)
        else:
            _put(ws, row, 6, None)
        if hamlet.filed == 0 and hamlet.expected:
            # Nothing filed: say so across the indicators (blank cells read as zeros).
            key = "doc.appendix.not_filed" if hamlet.missing else "doc.appendix.not_due"
            for col in range(first, last + 1):
                ws.cell(row=row, column=col).border = _BOX
            cell = _merged(ws, row, first, last, t(locale, key), _ITALIC)
            if hamlet.missing:
                cell.fill = _SHORT_FILL
        else:
            for col, code in enumerate(d.indicators, start=first):
                _put(ws, row, col, hamlet.values.get(code, 0))
        row += 1
    bottom = row - 1

    totals = d.totals
    total_row = row
    _label_row(ws, row, t(locale, "digest.total"), 3, _BOLD)

    def column_sum(col: int, value: int) -> None:
        letter = get_column_letter(col)
        formula = f"=SUM({letter}{top}:{letter}{bottom})" if d.hamlets else "=0"
        _formula(ws, results, row, col, formula, value).font = _BOLD

    column_sum(4, d.reports_filed)
    column_sum(5, d.reports_expected)
    if d.reports_expected:
        _formula(ws, results, row, 6, f"=D{row}/E{row}",
                 d.reports_filed / d.reports_expected, _RATE).font = _BOLD
    else:
        _put(ws, row, 6, None)
    for col, code in enumerate(d.indicators, start=first):
        column_sum(col, totals[code])
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
    before_row = row
    _label_row(ws, row, previous, first - 1, _PLAIN)
    for col, code in enumerate(d.indicators, start=first):
        _put(ws, row, col, before_totals.get(code))
    row += 1

    _label_row(ws, row, t(locale, "digest.change"), first - 1, _ITALIC)
    for col, code in enumerate(d.indicators, start=first):
        before = before_totals.get(code) if d.compared else None
        # No figure for the span before (a new indicator), or this span still running: no
        # change to show.
        if before is None:
            _put(ws, row, col, None)
        else:
            letter = get_column_letter(col)
            _formula(ws, results, row, col, f"={letter}{total_row}-{letter}{before_row}",
                     change(totals[code], before), _SIGNED)
    _signatures(ws, row + 2, locale, office, cols, split)

    ws.freeze_panes = f"C{head + 1}"  # header and hamlet names stay
    _print_setup(ws, landscape=True, head_row=head)


def _filed(filed: int, expected: int, locale: str) -> str:
    return f"{formats.number(filed, locale)}/{formats.number(expected, locale)}"


def _ordered(codes: Iterable[str], order: Sequence[str]) -> list[str]:
    """``codes`` in the configured order, unknown ones after in their own order."""
    codes = list(dict.fromkeys(codes))
    rank = {code: i for i, code in enumerate(order)}
    return sorted(codes, key=lambda c: rank.get(c, len(order)))


def _tips_sheet(ws: Worksheet, d: Digest, locale: str, tz: ZoneInfo,
                results: dict[str, dict[str, float]]) -> None:
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
    row = top = _HEAD_ROW + 1
    for code in codes:
        _put(ws, row, 1, t(locale, f"tipcat.{code}"))
        _put(ws, row, 2, now.get(code, 0))
        _put(ws, row, 3, before.get(code, 0))
        _formula(ws, results, row, 4, f"=B{row}-C{row}",
                 change(now.get(code, 0), before.get(code, 0)), _SIGNED)
        row += 1
    if not codes:
        _note_row(ws, row, t(locale, "digest.tips.none"), len(labels))
        row += 1
    else:
        # Every tip of the span is in a listed category: the sum is the span's total.
        total_now, total_before = d.tips_total, sum(before.values())
        _put(ws, row, 1, t(locale, "digest.total")).font = _BOLD
        _formula(ws, results, row, 2, f"=SUM(B{top}:B{row - 1})", total_now).font = _BOLD
        _formula(ws, results, row, 3, f"=SUM(C{top}:C{row - 1})", total_before).font = _BOLD
        _formula(ws, results, row, 4, f"=B{row}-C{row}", change(total_now, total_before),
                 _SIGNED).font = _BOLD
        row += 1

    statuses = _ordered(d.tips_by_status, list(Status))
    if statuses:
        row += 1  # a blank row between the two tables
        _header(ws, row, [t(locale, "digest.col.status"), t(locale, "digest.col.count")], [34, 14])
        row += 1
        top = row
        for status in statuses:
            _put(ws, row, 1, t(locale, f"tipstatus.{status}"))
            _put(ws, row, 2, d.tips_by_status[status])
            row += 1
        _put(ws, row, 1, t(locale, "digest.total")).font = _BOLD
        _formula(ws, results, row, 2, f"=SUM(B{top}:B{row - 1})",
                 sum(d.tips_by_status.values())).font = _BOLD

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
        _put(ws, row, 5, _local(tip.created_at, tz))
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
        _put(ws, row, 2, _local(event.created_at, tz))
        _put(ws, row, 3, t(locale, f"eventtype.{event.type}"))
        _put(ws, row, 4, event.unit_name)
        _put(ws, row, 5, event.people)
        _put(ws, row, 6, t(locale, f"eventstatus.{event.status}"))
        row += 1
    if not d.events:
        _note_row(ws, row, t(locale, "digest.events.none"), len(labels))
    ws.freeze_panes = f"A{_HEAD_ROW + 1}"
    _print_setup(ws, landscape=True)
