"""Digest figures against a synthetic data set whose totals are known (real SQLite file)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.digest import SpanKind, span_of
from bot.digest_build import build, periods_in
from bot.digest_text import digest_messages
from locales import t
from storage.crypto import Vault
from storage.digests import DigestRepo
from storage.events import EventDraft, EventRepo, EventStatus
from storage.reporting import Period, PeriodKind, indicator_sets
from storage.reports import ReportRepo
from storage.tip_lifecycle import Draft, Resolution, Status, TipPolicy
from storage.tips import TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "unit-test-secret-0123456789abcdefghijkl"
NOW = datetime(2026, 12, 1, 7, 30, tzinfo=VN)  # Tuesday morning after November
WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]


def test_weeks_count_where_their_thursday_is() -> None:
    november = span_of(SpanKind.MONTH, date(2026, 11, 5))
    keys = [p.key for p in periods_in(PeriodKind.WEEK, november, date(2026, 12, 10))]
    # W44 (26/10–1/11: Thursday 29/10) is October's; W48 (23–29/11) and W49 (30/11–6/12,
    # Thursday 3/12) — only W48 is November's.
    assert keys == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    early = [p.key for p in periods_in(PeriodKind.WEEK, november, date(2026, 11, 25))]
    assert early == keys  # W48 (to the 29th) still running: in, its reports count
    before = [p.key for p in periods_in(PeriodKind.WEEK, november, date(2026, 11, 22))]
    assert before == ["2026-W45", "2026-W46", "2026-W47"]  # W48 not begun


@pytest.fixture
async def data(store):
    """Tân Hòa (An Phú, Phước Hậu) and Khánh An (Sóc Đồn), with known figures; on each
    backend in turn (tests/conftest.py)."""
    db = store
    vault = Vault(SECRET)
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    users = UserRepo(db, vault)
    bay = (await users.ensure(2001, 2001)).id
    reports = ReportRepo(db)
    await reports.sync_sets(indicator_sets())
    codes = reports.set("antt").codes
    ids = {c: (await units.by_code(c)).id for c in ("TANHOA", "TH-ANPHU", "TH-PHUOCHAU",
                                                     "KHANHAN", "KA-SOC")}
    for n, key in enumerate(WEEKS):
        period = Period.from_key(key)
        on_time = datetime.combine(period.end, datetime.min.time(), VN) + timedelta(hours=20)
        values = {c: n + 1 for c in codes}  # W44 → 1 … W49 → 6, every indicator
        await reports.submit("antt", period, ids["TH-ANPHU"], values, bay, on_time)
        await reports.submit("antt", period, ids["KA-SOC"], values, bay, on_time)  # elsewhere
        if key in ("2026-W45", "2026-W47"):  # Phước Hậu: two weeks, the second late
            late = on_time + (timedelta(days=3) if key == "2026-W47" else timedelta())
            await reports.submit("antt", period, ids["TH-PHUOCHAU"], {c: 10 for c in codes},
                                 bay, late)
    tips = TipRepo(db, vault, TipPolicy())

    async def tip(unit: str, category: str, when: datetime, status: Status | None = None):
        draft = Draft(step="review", category=category, body="x", unit_id=ids[unit],
                      occurred_kind="today", occurred_at=when.date().isoformat(), anonymous=True)
        made, _ = await tips.create(draft, bay, when)
        if status is Status.CLOSED:
            await tips.change_status(made.id, None, status, when, resolution=Resolution.RESOLVED)
        elif status is not None:
            await tips.change_status(made.id, None, status, when)

    await tip("TH-ANPHU", "drugs", datetime(2026, 11, 3, 9, tzinfo=VN))  # Nov, overdue (new)
    await tip("TH-ANPHU", "drugs", datetime(2026, 11, 30, 23, tzinfo=VN), Status.ACKNOWLEDGED)
    await tip("TH-PHUOCHAU", "theft", datetime(2026, 11, 15, 9, tzinfo=VN), Status.CLOSED)
    await tip("TANHOA", "theft", datetime(2026, 10, 20, 9, tzinfo=VN), Status.VERIFYING)  # Oct
    await tip("KA-SOC", "drugs", datetime(2026, 11, 10, 9, tzinfo=VN))  # another commune
    await tip("TH-ANPHU", "gambling", datetime(2026, 12, 1, 0, 30, tzinfo=VN))  # December
    events = EventRepo(db)
    for unit, people in (("TH-ANPHU", 3), ("KA-SOC", 9)):
        draft = EventDraft(step="review", type="disorder", unit_id=ids[unit], occurred_kind="now",
                           occurred_at=NOW.isoformat(), description="x", people=people)
        made = await events.create(draft, bay, datetime(2026, 11, 20, 9, tzinfo=VN))
        if unit == "TH-ANPHU":  # taken up since
            await events.change_status(made.id, bay, EventStatus.ACKNOWLEDGED,
                                       datetime(2026, 11, 20, 10, tzinfo=VN))
    tree = await units.tree()
    return DigestRepo(db), tree, [tree.by_id[ids["TANHOA"]]], reports.set("antt")


async def test_the_november_summary_adds_up(data) -> None:
    repo, tree, roots, stored = data
    november = span_of(SpanKind.MONTH, date(2026, 11, 1))
    d = await build(repo, tree, roots, stored, november, NOW, VN, TipPolicy())
    assert d.scope_name == "Xã Tân Hòa"
    rows = {h.name: h for h in d.hamlets}
    assert set(rows) == {"Ấp An Phú", "Ấp Phước Hậu"}  # Sóc Đồn is another commune's
    anphu, phuochau = rows["Ấp An Phú"], rows["Ấp Phước Hậu"]
    assert (anphu.expected, anphu.filed, anphu.late) == (4, 4, 0)
    assert (phuochau.expected, phuochau.filed, phuochau.late) == (4, 2, 1)
    assert (anphu.missing, phuochau.missing) == (0, 2)  # W46 and W48, both past due
    # W45..W48 → 2+3+4+5 for An Phú; Phước Hậu 10 twice.
    assert anphu.values["patrols"] == 14 and phuochau.values["patrols"] == 20
    assert d.totals["patrols"] == 34 and d.totals["security_incidents"] == 34
    assert d.totals_before["patrols"] == 1  # October: W44 only (An Phú), W40–W43 not filed
    assert (d.reports_filed, d.reports_expected) == (6, 8)
    assert [h.name for h in d.late_hamlets] == ["Ấp Phước Hậu"]
    assert d.tips_by_category == {"drugs": 2, "theft": 1}
    assert d.tips_by_category_before == {"theft": 1}
    assert d.tips_by_status == {"new": 1, "acknowledged": 1, "closed": 1}
    assert [(t.code[:3], t.category, t.status) for t in d.overdue] == [
        ("TB-", "theft", "verifying"), ("TB-", "drugs", "new")]  # Oct verifying > 20 days
    assert d.overdue_total == 2
    assert [(e.type, e.unit_name, e.people, e.code[:3], e.status) for e in d.events] == [
        ("disorder", "Ấp An Phú", 3, "VV-", "acknowledged")]
    assert d.events_by_status == {"new": 0, "acknowledged": 1, "handled": 0}
    text = "\n".join(digest_messages(d, "vi", VN))
    assert "Vụ việc được báo: 1" in text
    assert "Hiện nay: mới 0 · đã tiếp nhận 1 · đã xử lý xong 0" in text
    assert f"<code>{d.events[0].code}</code> · Gây rối" in text and "· Đã tiếp nhận" in text


async def test_a_running_week_counts_what_was_filed_and_nothing_as_missing(data) -> None:
    """W49 runs (NOW is its Tuesday): An Phú filed it, Phước Hậu not yet, which is not late.
    The same figures /completeness shows for the week: 1/2 filed."""
    repo, tree, roots, stored = data
    week = span_of(SpanKind.WEEK, NOW.date())
    d = await build(repo, tree, roots, stored, week, NOW, VN, TipPolicy())
    rows = {h.name: h for h in d.hamlets}
    assert (d.reports_filed, d.reports_expected, d.reports_not_due) == (1, 2, 1)
    assert rows["Ấp An Phú"].values["patrols"] == 6 and d.totals["patrols"] == 6
    assert (rows["Ấp Phước Hậu"].filed, rows["Ấp Phước Hậu"].missing) == (0, 0)
    assert d.late_hamlets == []


async def test_the_weekly_digest_covers_one_week(data) -> None:
    repo, tree, roots, stored = data
    week = span_of(SpanKind.WEEK, date(2026, 11, 16))  # W47
    d = await build(repo, tree, roots, stored, week, NOW, VN, TipPolicy())
    rows = {h.name: h for h in d.hamlets}
    assert rows["Ấp An Phú"].values["patrols"] == 4 and rows["Ấp Phước Hậu"].late == 1
    assert d.totals_before["patrols"] == 3  # W46: An Phú only
    assert d.tips_by_category == {}
    assert [e.people for e in d.events] == [3]


async def test_a_comparison_says_what_it_rests_on(data) -> None:
    """October's summary has no September report to compare with: it says so and shows no
    ▲ (it showed each figure as its own rise). November's October had 1 report of 10."""
    repo, tree, roots, stored = data
    october = await build(repo, tree, roots, stored, span_of(SpanKind.MONTH, date(2026, 10, 1)),
                          NOW, VN, TipPolicy())
    assert (october.before, october.before_filed) == ("none", 0)
    text = "\n".join(digest_messages(october, "vi", VN))
    totals = text.split(t("vi", "digest.text.totals"), 1)[1].split("\n\n", 1)[0]
    assert totals.count("• ") == len(october.indicators)
    assert "Chưa có báo cáo nào cho Tháng 9/2026" in text
    # Overdue is what is overdue now (the tip of 3/11 too), and says so.
    assert "Tin báo đang quá hạn (tính đến 07:30 01/12/2026): 2" in text
    assert "▲" not in totals and "▼" not in totals and "(=)" not in totals
    november = await build(repo, tree, roots, stored, span_of(SpanKind.MONTH, date(2026, 11, 1)),
                           NOW, VN, TipPolicy())
    assert (november.before, november.before_filed, november.before_expected) == (
        "partial", 1, 10)  # October's weeks W40–W44 in two hamlets; An Phú filed W44
    text = "\n".join(digest_messages(november, "en", VN))
    assert "Compared with Month 10/2026, for which only 1/10 (10.0%) reports were filed." in text
