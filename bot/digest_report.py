"""A period's report as a Word document a commune sends upward ("Báo cáo sơ kết/tổng kết").

Laid out as Nghị định 30/2020/NĐ-CP (appendix I) asks: A4 portrait, margins 20/20/30/15 mm,
Times New Roman, black, 14 pt body; a header table with the issuing body (under the body
above it) on the left and the national motto on the right, each with its rule; the number and
the italic place and date line under them; "BÁO CÁO" and its subject; page numbers at the top
centre from the second page; "Nơi nhận" at the bottom left and the signer at the bottom right.
The figures are written into sentences the way the movement's own reports write them
("tổ chức 1.403 buổi tuyên truyền…", "hòa giải thành 590/603 vụ, đạt 97,8%"), from the same
:class:`~bot.digest.Digest` the text, chart and workbook are made from, so they agree. The
parts only an officer can write (shortcomings, next steps) are marked, highlighted, and hold
only facts: the hamlets late or missing and the overdue tips. The per-hamlet table follows as
an appendix on a landscape page. Every text comes from the catalogs (``report.*``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.table import _Cell

from bot.digest import Digest, SpanKind, change
from bot.digest_labels import span_label
from bot.official import Office, date_line, in_sentence, number_line, title_case
from locales import catalog, formats, t
from storage.tip_lifecycle import Status, categories

__all__ = ["FONT", "report_docx", "report_kind"]

FONT = "Times New Roman"
BLACK = RGBColor(0, 0, 0)
BODY_PT = 14
# A4 and the margins of Nghị định 30 (top and bottom 20–25 mm, left 30–35, right 15–20).
PAGE = (Mm(210), Mm(297))
MARGINS = {"top": Mm(20), "bottom": Mm(20), "left": Mm(30), "right": Mm(15)}
TEXT_WIDTH = Mm(210 - 30 - 15)
KINDS = ("so_ket", "tong_ket", "ket_qua")  # sơ kết, tổng kết, a plain period report


def report_kind(span_kind: SpanKind, asked: str | None = None) -> str:
    """What the report is called: a half-year is a "sơ kết", a year a "tổng kết", a week,
    month or quarter a report of results; ``asked`` (the command line's --kind) decides."""
    if asked:
        return asked
    return {SpanKind.HALF: "so_ket", SpanKind.YEAR: "tong_ket"}.get(span_kind, "ket_qua")


def report_docx(digest: Digest, office: Office, locale: str, *, kind: str | None = None,
                tz: ZoneInfo) -> bytes:
    """The report of ``digest`` issued by ``office``, as .docx bytes, in ``locale``."""
    kind = report_kind(digest.span.kind, kind)
    doc = Document()
    _styles(doc)
    section = doc.sections[0]
    _page(section, landscape=False)
    section.different_first_page_header_footer = True  # no number on the first page
    _page_number(section.header.paragraphs[0])
    made = digest.made_at.astimezone(tz).date()
    w = _Writer(doc, locale)

    _header_table(w, office, made)
    w.para(t(locale, "doc.title"), bold=True, align="center", space_before=12,
           space_after=0)
    subject = t(locale, f"doc.subject.{kind}", span=_inline(span_label(locale, digest.span)),
                scope=digest.scope_name)
    w.para(subject, bold=True, align="center", space_after=0)
    w.rule(Cm(4))

    _situation(w, digest)
    _results(w, digest)
    _shortcomings(w, digest)
    _next_steps(w, digest, tz)
    _closing(w, office)
    _appendix(doc, w, digest, office, made)

    doc.core_properties.title = subject
    doc.core_properties.author = office.body
    doc.core_properties.created = digest.made_at.astimezone(UTC).replace(tzinfo=None)
    doc.core_properties.language = locale
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# The page and the runs


def _styles(doc) -> None:
    """Times New Roman, black, 14 pt everywhere (the East Asian and complex-script slots
    too: Word picks those for some characters, and an unset one falls back to another font)."""
    for name in ("Normal", "Table Grid"):
        style = doc.styles[name]
        style.font.name = FONT
        style.font.color.rgb = BLACK
        if name == "Normal":
            style.font.size = Pt(BODY_PT)
        _all_slots(style.element.get_or_add_rPr())
    fmt = doc.styles["Normal"].paragraph_format
    fmt.space_after = Pt(6)
    fmt.line_spacing = 1.15


def _all_slots(rpr) -> None:
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), FONT)


def _page(section, *, landscape: bool) -> None:
    width, height = PAGE
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (height, width) if landscape else (width, height)
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance = Mm(10)


def _page_number(paragraph) -> None:
    """A PAGE field, centred (the header of every page but the first)."""
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "2"),
                       ("end", None)):
        run = paragraph.add_run()
        _font(run, size=BODY_PT)
        if kind is not None:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == "PAGE":
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = " PAGE "
            run._r.append(code)
        else:
            run.text = text  # shown until the field is updated


def _font(run, *, size: float | None = None, bold: bool = False, italic: bool = False) -> None:
    run.font.name = FONT
    run.font.color.rgb = BLACK
    run.font.bold = bold
    run.font.italic = italic
    if size is not None:
        run.font.size = Pt(size)
    _all_slots(run._r.get_or_add_rPr())


def _line_break(paragraph) -> None:
    run = paragraph.add_run()
    _font(run)
    run.add_break(WD_BREAK.LINE)


_ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
          "justify": WD_ALIGN_PARAGRAPH.JUSTIFY, "right": WD_ALIGN_PARAGRAPH.RIGHT}


class _Writer:
    """Paragraphs in the document's voice: body text justified with a first-line indent."""

    def __init__(self, doc, locale: str) -> None:
        self.doc = doc
        self.locale = locale

    def tr(self, key: str, /, **values: object) -> str:
        return t(self.locale, key, **values)

    def n(self, value: int) -> str:
        return formats.number(value, self.locale)

    def para(self, text: str = "", *, container=None, bold: bool = False, italic: bool = False,
             size: float = BODY_PT, align: str = "justify", indent: bool = False,
             space_before: float = 0, space_after: float = 6, mark: bool = False):
        where = container if container is not None else self.doc
        paragraph = where.add_paragraph()
        paragraph.alignment = _ALIGN[align]
        fmt = paragraph.paragraph_format
        fmt.space_before, fmt.space_after = Pt(space_before), Pt(space_after)
        if indent:
            fmt.first_line_indent = Cm(1)
        if text:
            self.run(paragraph, text, bold=bold, italic=italic, size=size, mark=mark)
        return paragraph

    @staticmethod
    def run(paragraph, text: str, *, bold: bool = False, italic: bool = False,
            size: float = BODY_PT, mark: bool = False):
        run = paragraph.add_run(text)
        _font(run, size=size, bold=bold, italic=italic)
        if mark:  # a place for the officer to write: it must not go upward as it is
            run.font.highlight_color = WD_COLOR_INDEX.YELLOW
        return run

    def text(self, text: str) -> None:
        """A body paragraph."""
        self.para(text, indent=True)

    def heading(self, text: str) -> None:
        self.para(text, bold=True, indent=True, space_before=6)

    def subheading(self, text: str) -> None:
        self.para(text, bold=True, italic=True, indent=True)

    def rule(self, length, *, container=None) -> None:
        """A centred horizontal line ``length`` long (under the motto, the subject…): a
        bottom border on an empty paragraph indented from both sides."""
        where = container if container is not None else self.doc
        paragraph = where.add_paragraph()
        width = _cell_width(container) if container is not None else TEXT_WIDTH
        side = max(int((width - length) / 2), 0)
        fmt = paragraph.paragraph_format
        fmt.left_indent = fmt.right_indent = side
        fmt.space_before, fmt.space_after = Pt(0), Pt(6)
        fmt.line_spacing = 1.0
        mark = OxmlElement("w:rPr")  # the empty line is as high as its mark's font: small
        size = OxmlElement("w:sz")
        size.set(qn("w:val"), "4")  # half-points
        mark.append(size)
        props = paragraph._p.get_or_add_pPr()
        props.insert_element_before(mark, "w:sectPr", "w:pPrChange")
        borders = OxmlElement("w:pBdr")
        bottom = OxmlElement("w:bottom")
        for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"),
                           ("w:color", "000000")):
            bottom.set(qn(key), value)
        borders.append(bottom)
        # Where the schema puts it (before shading, tabs, spacing…): Word refuses it elsewhere.
        props.insert_element_before(borders, *_AFTER_BORDER)


# What follows w:pBdr in a paragraph's properties (ECMA-376 CT_PPrBase).
_AFTER_BORDER = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap",
                 "w:overflowPunct", "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN",
                 "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
                 "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
                 "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
                 "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


def _cell_width(cell: _Cell):
    return cell.width if cell.width is not None else TEXT_WIDTH


def _no_borders(table) -> None:
    props = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    props.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook",
                                "w:tblCaption", "w:tblDescription", "w:tblPrChange")


def _widths(table, widths: Sequence) -> None:
    """Column widths, in the grid (what LibreOffice reads) and in every cell (what Word
    reads)."""
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=True):
            cell.width = width


def _first(cell: _Cell):
    """The paragraph every new cell holds, to write into."""
    return cell.paragraphs[0]


# --------------------------------------------------------------------------------------------
# Header and closing


def _header_table(w: _Writer, office: Office, made) -> None:
    """Body and motto side by side, with their rules; the number and the date line under."""
    table = w.doc.add_table(rows=2, cols=2)
    _no_borders(table)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    left, right = Mm(60), TEXT_WIDTH - Mm(60)
    _widths(table, (left, right))
    body, motto = table.cell(0, 0), table.cell(0, 1)

    paragraph = _first(body)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(0)
    if office.parent_body:
        w.run(paragraph, office.parent_body.upper(), size=13)
        _line_break(paragraph)
    w.run(paragraph, office.body.upper(), bold=True, size=13)
    w.rule(Mm(22), container=body)

    paragraph = _first(motto)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(0)
    w.run(paragraph, w.tr("doc.motto"), bold=True, size=12.5)
    w.para(w.tr("doc.tagline"), container=motto, bold=True, align="center", space_after=0)
    w.rule(Mm(62), container=motto)

    number, day = table.cell(1, 0), table.cell(1, 1)
    paragraph = _first(number)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    w.run(paragraph, number_line(office, w.locale), size=13)
    paragraph = _first(day)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    w.run(paragraph, date_line(office, made, w.locale), italic=True)


def _closing(w: _Writer, office: Office) -> None:
    """'Nơi nhận' on the left, the signer on the right (Nghị định 30, items 7 and 9)."""
    w.para(space_after=0)
    table = w.doc.add_table(rows=1, cols=2)
    _no_borders(table)
    _widths(table, (Mm(75), TEXT_WIDTH - Mm(75)))
    to, sign = table.cell(0, 0), table.cell(0, 1)

    paragraph = _first(to)
    paragraph.paragraph_format.space_after = Pt(0)
    w.run(paragraph, w.tr("doc.recipients"), bold=True, italic=True, size=12)
    last = len(office.recipients) - 1
    for i, line in enumerate(office.recipients):
        line = line.strip().removeprefix("-").strip().rstrip(";.")
        w.para(f"- {line}{'.' if i == last else ';'}", container=to, size=11, align="left",
               space_after=0)

    paragraph = _first(sign)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.space_after = Pt(0)
    if office.signer_authority:
        w.run(paragraph, office.signer_authority.upper(), bold=True)
        _line_break(paragraph)
    w.run(paragraph, office.signer_title.upper(), bold=True)
    for _ in range(4):  # room for the signature and the seal
        w.para(container=sign, align="center", space_after=0)
    if office.signer_name:
        w.para(office.signer_name, container=sign, bold=True, align="center", space_after=0)
    else:  # left to be written by hand: marked, so it is not sent upward blank
        w.para(w.tr("doc.signer_missing"), container=sign, italic=True, align="center",
               space_after=0, mark=True)


# --------------------------------------------------------------------------------------------
# The sections


def _inline(label: str) -> str:
    """A span's name inside a sentence: 'Tháng 11/2026' → 'tháng 11/2026'."""
    return label[:1].lower() + label[1:] if label[:1] != "Q" else label


def _lower(label: str) -> str:
    return label[:1].lower() + label[1:]


def _delta(w: _Writer, now: int, before: int, keys: str, previous: str) -> str:
    """' (tăng 12 so với tháng trước)', ' (giảm 2 tin so với…)' or ' (bằng tháng trước)';
    ``keys``: "doc" for an indicator, "doc.tips" for tips."""
    diff = change(now, before)
    if diff == 0:
        return w.tr(f"{keys}.same", previous=previous)
    return w.tr(f"{keys}.up" if diff > 0 else f"{keys}.down", n=w.n(abs(diff)),
                previous=previous)


def _situation(w: _Writer, d: Digest) -> None:
    """I. Tips received by category (against the span before) and by status; events."""
    span = _inline(span_label(w.locale, d.span))
    previous = _lower(w.tr(f"digest.previous.{d.span.kind.value}"))
    w.heading(w.tr("doc.part1"))
    w.subheading(w.tr("doc.part1.tips"))
    order = [c.code for c in categories()]
    if d.tips_total:
        parts = [w.tr("doc.tips.category", category=_lower(w.tr(f"tipcat.{code}")),
                      n=w.n(d.tips_by_category[code]))
                 for code in sorted(d.tips_by_category,
                                    key=lambda c: order.index(c) if c in order else len(order))
                 if d.tips_by_category[code]]
        trend = ""
        if d.before != "running":
            trend = _delta(w, d.tips_total, sum(d.tips_by_category_before.values()),
                           "doc.tips", previous)
        w.text(w.tr("doc.tips.some", span=span, scope=in_sentence(d.scope_name),
                    n=w.n(d.tips_total),
                    trend=trend, parts="; ".join(parts)))
        statuses = [w.tr("doc.tips.status", status=_lower(w.tr(f"tipstatus.{s}")),
                         n=w.n(d.tips_by_status[s]))
                    for s in Status if d.tips_by_status.get(s)]
        w.text(w.tr("doc.tips.statuses", parts="; ".join(statuses)))
    else:
        w.text(w.tr("doc.tips.none", span=span, scope=in_sentence(d.scope_name)))

    w.subheading(w.tr("doc.part1.events"))
    if d.events:
        by_type: dict[str, int] = {}
        for event in d.events:
            by_type[event.type] = by_type.get(event.type, 0) + 1
        types = "; ".join(w.tr("doc.events.type", type=_lower(w.tr(f"eventtype.{k}")),
                               n=w.n(v)) for k, v in by_type.items())
        handled = d.events_by_status["handled"]
        w.text(w.tr("doc.events.some", n=w.n(len(d.events)), types=types,
                    people=w.n(sum(e.people for e in d.events)), handled=w.n(handled)))
    else:
        w.text(w.tr("doc.events.none"))


def _indicator_line(w: _Writer, d: Digest, code: str, previous: str) -> str:
    totals = d.totals
    value = totals[code]
    key = f"doc.indicator.{code}"
    whole_code = d.parts_of.get(code)
    sentence = catalog(w.locale).get(key, "")
    if "{whole}" in sentence and (whole_code is None or whole_code not in totals):
        sentence = ""  # a share of an indicator this set does not have: said plainly
    if sentence:
        if whole_code is not None and whole_code in totals:
            whole = totals[whole_code]
            text = w.tr(key, value=w.n(value), whole=w.n(whole),
                        share=formats.percent(value / whole, w.locale) if whole else "—")
        else:
            text = w.tr(key, value=w.n(value))
    else:  # an indicator added as data, with no sentence written for it yet
        text = w.tr("doc.indicator.other", label=w.tr(f"indicator.{code}"),
                    value=w.n(value))
    if d.compared and code in d.totals_before:
        text += _delta(w, value, d.totals_before[code], "doc", previous)
    return f"- {text};"


def _results(w: _Writer, d: Digest) -> None:
    """II. Reports filed; the indicators as sentences with their trend; tips settled."""
    previous = _lower(w.tr(f"digest.previous.{d.span.kind.value}"))
    w.heading(w.tr("doc.part2"))
    w.subheading(w.tr("doc.part2.reports"))
    late = sum(h.late for h in d.hamlets)
    sentence = w.tr("doc.reports.filed",
                    filed=formats.fraction(d.reports_filed, d.reports_expected, w.locale),
                    hamlets=w.n(len(d.hamlets)))
    if late:
        sentence += w.tr("doc.reports.late", n=w.n(late))
    sentence += "."
    if d.reports_not_due:
        sentence += " " + w.tr("doc.reports.not_due", n=w.n(d.reports_not_due))
    w.text(sentence)

    w.subheading(w.tr("doc.part2.indicators"))
    if d.before == "running":
        w.text(w.tr("doc.indicators.running"))
    elif d.before == "partial":
        w.text(w.tr("doc.indicators.partial", previous=previous,
                    n=formats.fraction(d.before_filed, d.before_expected, w.locale)))
    lines = [_indicator_line(w, d, code, previous) for code in d.indicators]
    if lines:
        lines[-1] = lines[-1].removesuffix(";") + "."
    for line in lines:
        w.text(line)

    w.subheading(w.tr("doc.part2.tips"))
    if d.tips_closed:
        on_time = d.tips_closed - d.tips_closed_late
        w.text(w.tr("doc.handled.some", n=w.n(d.tips_closed),
                    on_time=formats.fraction(on_time, d.tips_closed, w.locale),
                    late=w.n(d.tips_closed_late)))
    else:
        w.text(w.tr("doc.handled.none"))
    if d.overdue_total:
        w.text(w.tr("doc.handled.overdue", n=w.n(d.overdue_total)))
    else:
        w.text(w.tr("doc.handled.no_overdue"))


def _shortcomings(w: _Writer, d: Digest) -> None:
    """III. A marked place to write in, with the facts: hamlets missing or late, overdue."""
    w.heading(w.tr("doc.part3"))
    w.para(w.tr("doc.write_here.part3"), indent=True, italic=True, mark=True)
    missing = [h for h in d.hamlets if h.missing]
    late = [h for h in d.hamlets if h.late]
    if missing:
        w.text(w.tr("doc.facts.missing", hamlets="; ".join(
            w.tr("doc.facts.hamlet_of", name=h.name, n=w.n(h.missing),
                 of=w.n(h.expected)) for h in missing)))
    if late:
        w.text(w.tr("doc.facts.late", hamlets="; ".join(
            w.tr("doc.facts.hamlet_of", name=h.name, n=w.n(h.late), of=w.n(h.expected))
            for h in late)))
    if not missing and not late and d.reports_expected:
        w.text(w.tr("doc.facts.all_in"))
    if d.overdue_total:
        w.text(w.tr("doc.facts.overdue", n=w.n(d.overdue_total)))


def _next_steps(w: _Writer, d: Digest, tz: ZoneInfo) -> None:
    """IV. A marked place to write in, with the overdue tips still to settle, by name."""
    w.heading(w.tr("doc.part4"))
    w.para(w.tr("doc.write_here.part4"), indent=True, italic=True, mark=True)
    if d.overdue:
        w.text(w.tr("doc.facts.settle"))
        for tip in d.overdue:
            w.text(w.tr("doc.facts.tip", code=tip.code,
                        category=w.tr(f"tipcat.{tip.category}"), hamlet=tip.unit_name,
                        received=formats.day(tip.created_at, w.locale, tz),
                        due=_lower(w.tr(f"digest.due.{tip.due_kind}"))))
        if d.overdue_total > len(d.overdue):
            w.text(w.tr("doc.facts.more", n=w.n(d.overdue_total - len(d.overdue))))


def _appendix(doc, w: _Writer, d: Digest, office: Office, made) -> None:
    """The per-hamlet table, on a landscape page of its own."""
    section = doc.add_section(WD_SECTION.NEW_PAGE)
    _page(section, landscape=True)
    section.different_first_page_header_footer = False  # numbered like the pages before
    width = section.page_width - section.left_margin - section.right_margin
    w.para(w.tr("doc.appendix"), bold=True, align="center", space_after=0)
    w.para(w.tr("doc.appendix.title", span=_inline(span_label(w.locale, d.span))).upper(),
           bold=True, align="center", space_after=0)
    w.para(w.tr("doc.appendix.attached", prefix=office.number_prefix,
                body=title_case(office.body), day=formats.day(made, w.locale)),
           italic=True, align="center", space_after=8)

    columns = [w.tr("digest.col.no"), w.tr("digest.col.hamlet"), w.tr("digest.col.filed"),
               *(w.tr(f"indicator.{code}") for code in d.indicators)]
    table = doc.add_table(rows=1, cols=len(columns))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    fixed = [Mm(10), Mm(38), Mm(20)]
    rest = (width - sum(fixed)) / max(len(d.indicators), 1)
    widths = [*fixed, *(int(rest) for _ in d.indicators)]
    size = 10 if len(d.indicators) > 6 else 11
    for cell, label in zip(table.rows[0].cells, columns, strict=True):
        paragraph = _first(cell)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        w.run(paragraph, label, bold=True, size=size)
    _repeat_header(table.rows[0])

    def row(values: Sequence[str], *, bold: bool = False, merge_from: int | None = None):
        cells = table.add_row().cells
        for i, (cell, value) in enumerate(zip(cells, values, strict=True)):
            paragraph = _first(cell)
            paragraph.alignment = (WD_ALIGN_PARAGRAPH.LEFT if i == 1
                                   else WD_ALIGN_PARAGRAPH.CENTER if i < 3
                                   else WD_ALIGN_PARAGRAPH.RIGHT)
            if value:
                w.run(paragraph, value, bold=bold, size=size)
        if merge_from is not None and len(cells) > merge_from + 1:
            merged = cells[merge_from].merge(cells[-1])
            for extra in merged.paragraphs[1:]:  # merging keeps each cell's paragraph
                extra._p.getparent().remove(extra._p)
            merged.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER

    for number, hamlet in enumerate(d.hamlets, start=1):
        filed = f"{w.n(hamlet.filed)}/{w.n(hamlet.expected)}"
        if hamlet.filed == 0 and hamlet.expected:
            note = w.tr("doc.appendix.not_filed" if hamlet.missing
                        else "doc.appendix.not_due")
            row([w.n(number), hamlet.name, filed, note,
                 *("" for _ in d.indicators[1:])], merge_from=3)
        else:
            row([w.n(number), hamlet.name, filed,
                 *(w.n(hamlet.values.get(code, 0)) for code in d.indicators)])
    totals = d.totals
    row(["", w.tr("digest.total"), f"{w.n(d.reports_filed)}/{w.n(d.reports_expected)}",
         *(w.n(totals[code]) for code in d.indicators)], bold=True)
    _widths(table, widths)


def _repeat_header(row) -> None:
    """The header row is printed again at the top of each page the table runs onto."""
    props = row._tr.get_or_add_trPr()
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    props.append(element)
