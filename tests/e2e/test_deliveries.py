"""Scheduled deliveries through the real bot: who gets what and when, once, with attachments."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot import deliveries
from bot.digest import SpanKind, span_from_text
from storage.models import Role
from storage.reporting import Period
from storage.schedules import ScheduleRepo
from tests.conftest import Harness, collect, has
from tests.e2e.test_reports import PAST, at, reporter

pytestmark = pytest.mark.both_backends  # and once on PostgreSQL

VN = ZoneInfo("Asia/Ho_Chi_Minh")
W47 = Period.from_key("2026-W47")


def moment(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=VN)


def offered(got: list) -> bool:
    """``done`` for collect: a summary has come whole, down to its Word report's button."""
    return any("📄 Báo cáo (Word)" in m.button_texts for m in got)


async def settled(harness: Harness, kind: str) -> dict[str, int]:
    """The outbox rows of ``kind`` by status once the bot is idle (nothing pending or due)."""
    await harness.settle()
    rows = await harness.services.db.fetch(
        "SELECT status, COUNT(*) FROM outbox WHERE kind = ? GROUP BY status", (kind,))
    return {r[0]: r[1] for r in rows}


async def kinds(harness: Harness) -> list[tuple[str, str, int]]:
    rows = await harness.services.db.fetch(
        "SELECT kind, period_key, user_id FROM outbox ORDER BY id")
    return [tuple(r) for r in rows]


async def week_47_filed_by_an_phu(harness: Harness, now: datetime):
    """Bảy (Ấp An Phú) has filed week 47 on Sunday evening; Minh coordinates Tân Hòa and
    has read what he was sent on joining. Returns Minh."""
    await harness.load_units()
    svc = harness.services
    at(harness, now)
    await reporter(harness, 2001, "Bảy")
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    anphu = await svc.units.by_code("TH-ANPHU")
    await svc.reports.submit("antt", W47, anphu.id, PAST, (await svc.users.get(2001)).id,
                             moment(22, 20))
    return minh


async def test_reminders_go_to_missing_reporters_only_once_and_never_at_night(harness: Harness):
    await harness.load_units()
    svc = harness.services
    at(harness, moment(20, 10))
    bay = await reporter(harness, 2001, "Bảy")
    sau = await reporter(harness, 2006, "Sáu", "TH-PHUOCHAU")
    anphu = await svc.units.by_code("TH-ANPHU")
    await svc.reports.submit("antt", W47, anphu.id, PAST, (await svc.users.get(2001)).id,
                             moment(20, 9))
    sau_id = (await svc.users.get(2006)).id

    assert await deliveries.tick(svc, moment(20, 15, 59)) == 0  # not yet
    at(harness, moment(20, 16, 1))
    assert await deliveries.tick(svc, moment(20, 16, 1)) == 1
    assert await deliveries.tick(svc, moment(20, 16, 2)) == 0  # the job ran twice: once
    assert await kinds(harness) == [("reminder.friday", "2026-W47", sau_id)]
    reminder = await sau.next_message(timeout=8)
    assert "Ấp Phước Hậu" in reminder.text and "/report" in reminder.text
    await harness.settle()
    assert bay.unread() == 0  # filed already

    assert await deliveries.tick(svc, moment(22, 22)) == 0  # Sunday night: quiet hours
    at(harness, moment(22, 19, 5))
    assert await deliveries.tick(svc, moment(22, 19, 5)) == 1  # the evening before the deadline
    assert "Ấp Phước Hậu" in (await sau.next_message(timeout=8)).text
    assert await settled(harness, "reminder.eve") == {"sent": 1}


async def test_the_weekly_digest_arrives_once_with_its_chart_and_workbook(harness: Harness):
    svc = harness.services
    minh = await week_47_filed_by_an_phu(harness, moment(20, 10))

    # The bot was down all Monday; on Tuesday morning last week's digest goes out.
    tuesday = moment(24, 9)
    at(harness, tuesday)
    assert await deliveries.tick(svc, tuesday) >= 1
    assert await deliveries.tick(svc, tuesday) == 0
    minh_id = (await svc.users.get(2002)).id
    assert ("digest.week", "2026-W47", minh_id) in await kinds(harness)
    arrived = await collect(minh, has("document"))  # text, chart, then the workbook
    text = "\n".join(m.text or "" for m in arrived if not m.photo and not m.document)
    assert "Bản tổng hợp" in text and "Tuần 47/2026" in text and "Xã Tân Hòa" in text
    assert "1/2 (50,0%)" in text and "Ấp Phước Hậu" in text  # one hamlet missing
    photo = next(m for m in arrived if m.photo)
    assert photo.file_bytes().startswith(b"\x89PNG")
    document = next(m for m in arrived if m.document)
    book = load_workbook(BytesIO(document.file_bytes()))
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "Ấp An Phú" in cells and PAST["patrols"] in cells
    assert await deliveries.tick(svc, moment(24, 10)) == 0  # and never again


async def test_a_commune_moves_its_digest_and_a_coordinator_asks_for_a_summary(
        harness: Harness):
    await harness.load_units()
    svc = harness.services
    at(harness, moment(23, 7, 45))
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    tanhoa = await svc.units.by_code("TANHOA")
    await ScheduleRepo(svc.db).set(tanhoa.id, "digest.week", "mon 09:00", None, moment(20, 9))
    assert not [k for k in await kinds(harness) if k[0] == "digest.week"]
    await deliveries.tick(svc, moment(23, 7, 45))
    assert not [k for k in await kinds(harness) if k[0] == "digest.week"]  # not yet: 09:00
    at(harness, moment(23, 9, 1))
    await deliveries.tick(svc, moment(23, 9, 1))
    assert [k[:2] for k in await kinds(harness) if k[0] == "digest.week"] == [
        ("digest.week", "2026-W47")]
    await collect(minh, has("document"))

    minh.send("/summary tháng 2026-10")
    arrived = await collect(minh, offered)
    assert "Báo cáo tháng" in arrived[0].text and "Tháng 10/2026" in arrived[0].text
    assert any(m.photo for m in arrived)
    minh.send("/export 2026-W47")
    arrived = await collect(minh, has("document"))
    assert [bool(m.document) for m in arrived] == [True]  # the workbook alone
    minh.send("/summary tuần 2026-W99")
    assert "Không hiểu kỳ" in (await minh.next_message()).text
    # As people say them: this month so far, a half-year in two words, and a month typed
    # after "tuần", which is said before the month's summary comes.
    minh.send("/summary tháng này")
    arrived = await collect(minh, offered)
    assert "Tháng 11/2026" in arrived[0].text
    minh.send("/summary sơ kết 2026-H1")
    arrived = await collect(minh, offered)
    assert "6 tháng đầu năm 2026" in arrived[0].text
    minh.send("/summary tuần 10/2026")
    arrived = await collect(minh, offered)
    assert "«10/2026» là một tháng, không phải một tuần" in arrived[0].text
    assert "Tháng 10/2026" in arrived[1].text


async def test_a_running_week_shows_the_same_figures_everywhere(harness: Harness):
    """Ông Bảy files the week that is running; /completeness, /reports, /summary, the digest
    and the workbook all show it filed (1 of 2 hamlets) with the same figures. Before, the
    summary and the digest left a running week out: 'đã nộp 0/0', every indicator 0."""
    await harness.load_units()
    svc = harness.services
    wednesday = datetime(2026, 12, 2, 10, tzinfo=VN)  # week 49 (30/11–6/12) is running
    at(harness, wednesday)
    week = Period.from_key("2026-W49")
    await reporter(harness, 2001, "Bảy")
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    minh.skip_messages()
    anphu = await svc.units.by_code("TH-ANPHU")
    figures = {**PAST, "patrols": 1403, "propaganda_attendees": 227244}
    await svc.reports.submit("antt", week, anphu.id, figures, (await svc.users.get(2001)).id,
                             wednesday)

    minh.send("/completeness")
    completeness = (await minh.next_message()).text
    minh.send("/reports 2026-W49 TH-ANPHU")
    view = (await minh.next_message()).text
    minh.send("/summary tuần now")
    summary = await collect(minh, offered)
    minh.send("/export W49")  # the form /completeness takes
    exported = await collect(minh, has("document"))
    tanhoa = await svc.units.by_code("TANHOA")
    digest = await deliveries.digest_parts(svc, (await svc.users.get(2002)).id, [tanhoa.id],
                                           span_from_text("W49", SpanKind.WEEK,
                                                          wednesday.date()))

    assert "1/2 (50,0%)" in completeness and "Tuần 49/2026" in completeness
    assert "1.403" in view and "227.244" in view
    texts = {"summary": [m.text for m in summary if not m.photo and not m.document],
             "digest": [p.text for p in digest if p.kind == "text"]}
    for name, parts in texts.items():
        text = "\n".join(parts)
        assert "đã nộp 1/2 (50,0%)" in text, (name, text)
        assert "1.403" in text and "227.244" in text, (name, text)
        assert "Ấp Phước Hậu" not in text, (name, text)  # not due yet: not listed as late
        assert "Chưa đến hạn nộp: 1 báo cáo." in text, (name, text)
        assert "Kỳ này đang diễn ra (còn 1 báo cáo chưa đến hạn nộp)" in text, (name, text)
        assert "▲1.403" not in text
    book_of_summary = next(m for m in summary if m.document)
    for name, message in (("summary", book_of_summary), ("export", exported[-1])):
        book = load_workbook(BytesIO(message.file_bytes()))
        rows = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
        anphu_row = next(r for r in rows if "Ấp An Phú" in r)
        assert 1403 in anphu_row and 227244 in anphu_row, (name, anphu_row)
        assert anphu_row[3:5] == [1, 1], (name, anphu_row)  # filed 1 of 1
        previous = next(c for r in rows for c in r if isinstance(c, str) and "Kỳ trước" in c)
        # W49 runs (a report not due yet): not compared with W48, and said so.
        assert previous.endswith("— kỳ này đang diễn ra, chưa so sánh"), previous


async def test_a_coordinator_drafts_the_word_report_of_a_summary(harness: Harness):
    """Under /summary, 📄 Báo cáo (Word) sends the span's report, laid out for sending upward;
    the officer is told what is still a default and that the signer's name is missing, until
    the admin sets them."""
    import docx

    from storage.offices import OfficeFields

    svc = harness.services
    minh = await week_47_filed_by_an_phu(harness, moment(23, 9))

    minh.send("/summary tuần 2026-W47")
    offer = (await collect(minh, offered))[-1]
    assert "Nghị định 30/2020/NĐ-CP" in offer.text
    minh.press(offer, "📄 Báo cáo (Word)")
    arrived = await collect(minh, lambda got: any(m.document for m in got)
                            and any("Chưa đặt họ tên" in (m.text or "") for m in got))
    report = next(m for m in arrived if m.document)
    assert report.document.file_name == "bao-cao-2026-W47.docx"
    assert "Tuần 47/2026" in report.text
    document = docx.Document(BytesIO(report.file_bytes()))
    header = document.tables[0]
    assert header.cell(0, 0).paragraphs[0].text == "CÔNG AN TỈNH CÀ MAU\nCÔNG AN XÃ TÂN HÒA"
    assert header.cell(0, 1).paragraphs[0].text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert header.cell(1, 1).text == "Tân Hòa, ngày 23 tháng 11 năm 2026"
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"- Tổ chức {PAST['patrols']} lượt tuần tra, kiểm soát" in text
    notes = "\n".join(m.text or "" for m in arrived if not m.document)
    assert "binhyen units set-office TANHOA" in notes and "Chưa đặt họ tên người ký" in notes

    tanhoa = await svc.units.by_code("TANHOA")
    await svc.offices.set(tanhoa.id, OfficeFields(
        signer_name="Nguyễn Văn An", signer_title="Phó Trưởng Công an xã",
        signer_authority="KT. Trưởng Công an xã", recipients="Công an tỉnh Cà Mau\nLưu: VT"))
    minh.press(offer, "📄 Báo cáo (Word)")  # the same button, pressed again later
    report = (await collect(minh, has("document")))[-1]
    closing = docx.Document(BytesIO(report.file_bytes())).tables[1]
    assert [p.text for p in closing.cell(0, 1).paragraphs if p.text] == [
        "KT. TRƯỞNG CÔNG AN XÃ\nPHÓ TRƯỞNG CÔNG AN XÃ", "Nguyễn Văn An"]
    assert [p.text for p in closing.cell(0, 0).paragraphs[1:]] == [
        "- Công an tỉnh Cà Mau;", "- Lưu: VT."]
    await harness.settle()
    assert minh.unread() == 0  # nothing to tell now: no note follows
