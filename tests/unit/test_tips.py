"""Tips without Telegram: the lifecycle, codes, deadlines, input parsing and the repository."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.occurred import parse_when
from handlers.tip_desk import parse_tags
from locales import LOCALES, catalog
from storage.crypto import Vault
from storage.flows import Flows
from storage.tip_lifecycle import (
    CODE_ALPHABET,
    Draft,
    Resolution,
    Status,
    TipPolicy,
    can_move,
    categories,
    deadline,
    new_code,
    next_statuses,
    normalise_code,
)
from storage.tips import TipConflict, TipRepo
from storage.units import UnitRepo, parse_units_csv
from storage.users import UserRepo
from tests.conftest import UNITS_CSV

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SECRET = "unit-test-secret-0123456789abcdefghijkl"
T0 = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_the_lifecycle_only_moves_forward_and_closed_is_final() -> None:
    assert next_statuses(Status.NEW) == [Status.ACKNOWLEDGED, Status.VERIFYING,
                                         Status.IN_PROGRESS, Status.CLOSED]
    assert can_move(Status.VERIFYING, Status.CLOSED)
    assert not can_move(Status.VERIFYING, Status.ACKNOWLEDGED)
    assert not can_move(Status.NEW, Status.NEW)
    assert next_statuses(Status.CLOSED) == []


def test_case_codes_are_short_unambiguous_and_typed_loosely() -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) > 1990
    assert all(re.fullmatch(rf"TB-[{CODE_ALPHABET}]{{5}}", c) for c in codes)
    assert not set(CODE_ALPHABET) & set("0O1IL5SBZ2")
    assert normalise_code("tb 7k3q9") == "TB-7K3Q9"
    assert normalise_code("7K3Q9") == "TB-7K3Q9"
    assert normalise_code("TB-7K3Q") is None
    assert normalise_code("TB-7K3Q0") is None  # 0 is never in a code
    assert normalise_code("") is None


def test_deadlines_follow_the_policy() -> None:
    policy = TipPolicy()
    new = deadline(Status.NEW, T0, T0 + timedelta(hours=23), policy)
    assert (new.kind, new.due, new.overdue) == ("acknowledge", T0 + timedelta(hours=24), False)
    assert deadline(Status.NEW, T0, T0 + timedelta(hours=25), policy).overdue
    working = deadline(Status.VERIFYING, T0, T0 + timedelta(days=21), policy)
    assert working.kind == "close" and working.overdue
    assert deadline(Status.CLOSED, T0, T0 + timedelta(days=99), policy) is None


def test_categories_are_data_with_names_in_every_catalog() -> None:
    cats = categories()
    assert len(cats) == 14 and cats[0].code == "drugs" and cats[-1].code == "other"
    assert {c.code for c in cats if c.danger} == {"drugs", "disorder", "trafficking",
                                                   "domestic_violence"}
    for locale in LOCALES:
        for cat in cats:
            assert catalog(locale).get(f"tipcat.{cat.code}"), (locale, cat.code)
        for status in Status:
            assert catalog(locale).get(f"tipstatus.{status.value}")
        for resolution in Resolution:
            assert catalog(locale).get(f"tipresolution.{resolution.value}")


@pytest.mark.parametrize(("text", "expected"), [
    ("21/11/2026", (date(2026, 11, 21), "")),
    (" 1/2/2026 ", (date(2026, 2, 1), "")),
    ("01.02.2026", (date(2026, 2, 1), "")),
    ("1-2-2026", (date(2026, 2, 1), "")),
    ("31/02/2026", (None, "no_day")),
    ("21/11/26", (date(2026, 11, 21), "")),
    ("hôm qua", (date(2026, 11, 20), "")),
    ("22/11/2026", (None, "future")),
    ("20/11/2016", (None, "too_old")),
    ("21/11/2016", (date(2016, 11, 21), "")),
])
def test_typed_dates(text: str, expected: tuple) -> None:
    assert parse_when(text, datetime(2026, 11, 21, 23, 59, tzinfo=VN)) == expected


NOW = datetime(2026, 12, 2, 10, 15, tzinfo=VN)  # Wednesday morning


def _at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=VN)


@pytest.mark.parametrize(("text", "expected"), [
    ("hôm qua", date(2026, 12, 1)), ("Hôm kia", date(2026, 11, 30)), ("hqua", date(2026, 12, 1)),
    ("yesterday", date(2026, 12, 1)), ("30/11", date(2026, 11, 30)),
    ("\u200bhôm qua.", date(2026, 12, 1)),
    ("30/11 khoảng 22h", _at(30, 22, month=11)), ("30/11/2026, 22:30", _at(30, 22, 30, 11)),
    ("22h", _at(1, 22)), ("22:30", _at(1, 22, 30)), ("khoảng 22h30", _at(1, 22, 30)),
    ("8h", _at(2, 8)), ("10h15", _at(2, 10, 15)),  # a time alone: the last time it was
    ("10 giờ tối", _at(1, 22)), ("3h chiều", _at(1, 15)), ("tối qua 21h", _at(1, 21)),
    ("hôm qua lúc 9h sáng", _at(1, 9)), ("yesterday at 9pm", _at(1, 21)),
    ("tối qua lúc 9h", _at(1, 21)), ("đêm qua 11h", _at(1, 23)),  # the day words say which 9
    ("đêm qua 2h", _at(2, 2)), ("12h đêm", _at(2, 0)),  # small hours, midnight: not noon
    (unicodedata.normalize("NFD", "hôm qua"), date(2026, 12, 1)),  # accents typed apart
    # What a probing session typed and was refused.
    ("sáng nay", date(2026, 12, 2)), ("chiều qua", date(2026, 12, 1)),
    ("8h sáng hôm qua", _at(1, 8)), ("ngày 30/11", date(2026, 11, 30)),
    ("30/11/26", date(2026, 11, 30)), ("2 ngày trước", date(2026, 11, 30)),
    ("1 tuần trước", date(2026, 11, 25)), ("this morning", date(2026, 12, 2)),
    ("2 days ago", date(2026, 12, 1) - timedelta(days=1)),
    ("sáng nay 8h", _at(2, 8)), ("chiều qua 3h", _at(1, 15)), ("9h tối qua", _at(1, 21)),
    ("22h ngày 30/11", _at(30, 22, month=11)), ("lúc 22h hôm qua", _at(1, 22)),
    ("1h trưa hôm qua", _at(1, 13)), ("tối hôm qua 9", _at(1, 21)),
    ("yesterday evening 8", _at(1, 20)), ("10pm last night", _at(1, 22)),
])
def test_days_and_times_as_people_type_them(text: str, expected) -> None:
    assert parse_when(text, NOW) == (expected, "")


@pytest.mark.parametrize(("text", "problem"), [
    ("", "bad"), ("xyz", "bad"), ("22", "bad"), ("hôm qua 22", "bad"), ("25h", "bad"),
    ("20h sáng", "bad"),
    ("31/02", "no_day"), ("29/2/2026", "no_day"), ("25/12", "future"), ("12:00", None),
    ("2/12 11h", "future"), ("3/12/2026", "future"), ("1/1/2010", "too_old"),
    ("ngày mai", "future"), ("mai 8h", "future"), ("tomorrow", "future"),
    ("chiều nay 5h", "future"), ("30/11/2", "bad"), ("hôm qua hôm kia", "bad"),
])
def test_what_cannot_have_happened_is_refused_with_the_reason(text: str, problem) -> None:
    found, why = parse_when(text, NOW)
    if problem is None:  # 12:00 has not come yet today: yesterday's
        assert found == _at(1, 12)
    else:
        assert (found, why) == (None, problem)


def test_a_day_without_its_year_early_in_january_is_last_years() -> None:
    january = datetime(2027, 1, 2, 9, tzinfo=VN)
    assert parse_when("30/12", january) == (date(2026, 12, 30), "")
    assert parse_when("30/12 22h", january) == (datetime(2026, 12, 30, 22, tzinfo=VN), "")


def test_tags_are_cleaned() -> None:
    assert parse_tags("#Ma Túy, chợ đêm;  #chợ đêm") == ["ma_túy", "chợ_đêm"]
    assert parse_tags("!!!, ???") == []
    assert parse_tags("x" * 50) == ["x" * 32]


def test_a_draft_survives_json() -> None:
    draft = Draft(step="where", category="theft", body="a\nb", media=[("photo", "F1")],
                  latitude=9.1, longitude=105.2, anonymous=True)
    assert Draft.from_json(draft.to_json()) == draft
    assert Draft.from_json({**draft.to_json(), "from_a_future_version": 1}) == draft


@pytest.fixture
async def repos(store):
    """The repositories, on each backend in turn (tests/conftest.py)."""
    db = store
    vault = Vault(SECRET)
    units = UnitRepo(db)
    await units.import_rows(parse_units_csv(UNITS_CSV))
    users = UserRepo(db, vault)
    return TipRepo(db, vault, TipPolicy()), Flows(db, vault), users, units


def _draft(unit_id: int | None, category: str = "theft", **kw) -> Draft:
    return Draft(step="review", category=category, body="Mất trộm xe.", unit_id=unit_id,
                 occurred_kind="today", occurred_at="2026-11-21", anonymous=True, **kw)


async def test_tips_are_linked_to_their_sender_only_through_the_key(repos) -> None:
    tips, _, users, units = repos
    anphu = (await units.by_code("TH-ANPHU")).id
    lan = await users.ensure(101, 101)
    other = await users.ensure(102, 102)
    tip, _ = await tips.create(_draft(anphu, media=[("photo", "P1"), ("voice", "V1")]), lan.id,
                               T0)
    assert tip.status is Status.NEW and tip.media == (("photo", "P1"), ("voice", "V1"))
    assert tip.sender_name is None and tip.reachable
    assert await tips.sender_of(tip.id) == lan.id
    assert (await tips.for_sender(tip.code, lan.id)).id == tip.id
    assert await tips.for_sender(tip.code, other.id) is None
    assert [t.code for t in await tips.mine(lan.id)] == [tip.code]
    assert (await tips.standing(lan.id, T0 - timedelta(seconds=1)))[1] == 1
    # Local midnight in Asia/Ho_Chi_Minh is 17:00 UTC the day before: compared correctly.
    from zoneinfo import ZoneInfo
    midnight = datetime(2026, 11, 21, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (await tips.standing(lan.id, midnight))[1] == 1
    assert (await tips.standing(lan.id, midnight + timedelta(days=1)))[1] == 0


async def test_named_tip_keeps_the_agreed_name_sealed(repos) -> None:
    tips, _, users, _ = repos
    lan = await users.ensure(101, 101)
    draft = _draft(None)
    draft.anonymous, draft.name = False, "Nguyễn Thị Lan"
    tip, _ = await tips.create(draft, lan.id, T0)
    assert tip.sender_name == "Nguyễn Thị Lan" and not tip.anonymous


async def test_status_changes_are_checked_against_the_current_state(repos) -> None:
    tips, _, users, _ = repos
    lan = await users.ensure(101, 101)
    officer = await users.ensure(201, 201)
    tip, _ = await tips.create(_draft(None), lan.id, T0)
    before, after = await tips.change_status(tip.id, officer.id, Status.VERIFYING, T0)
    assert before.status is Status.NEW and after.status is Status.VERIFYING
    assert after.acknowledged_at == T0  # skipping "acknowledged" still acknowledges
    with pytest.raises(TipConflict):
        await tips.change_status(tip.id, officer.id, Status.ACKNOWLEDGED, T0)
    _, closed = await tips.change_status(tip.id, officer.id, Status.CLOSED, T0,
                                         resolution=Resolution.UNFOUNDED)
    assert closed.resolution is Resolution.UNFOUNDED and closed.closed_at == T0
    with pytest.raises(TipConflict):
        await tips.change_status(tip.id, officer.id, Status.CLOSED, T0,
                                 resolution=Resolution.RESOLVED)
    public = [h.to_status for h in await tips.history(tip.id, public_only=True)]
    assert public == [Status.NEW, Status.VERIFYING, Status.CLOSED]


async def test_retention_drops_the_sender_link_after_closing(repos) -> None:
    tips, _, users, _ = repos
    lan = await users.ensure(101, 101)
    old, _ = await tips.create(_draft(None), lan.id, T0)
    still_open, _ = await tips.create(_draft(None), lan.id, T0)
    recent, _ = await tips.create(_draft(None), lan.id, T0)
    await tips.change_status(old.id, None, Status.CLOSED, T0, resolution=Resolution.RESOLVED)
    await tips.change_status(recent.id, None, Status.CLOSED, T0 + timedelta(days=60),
                             resolution=Resolution.RESOLVED)
    await tips.block_sender(old.id, None, T0)
    assert await tips.purge_senders(T0 + timedelta(days=91)) == 1
    assert await tips.sender_of(old.id) is None and not (await tips.get(old.id)).reachable
    assert await tips.sender_of(still_open.id) == lan.id
    assert await tips.sender_of(recent.id) == lan.id
    assert await tips.for_sender(old.code, lan.id) is None
    # A block outlives the link of the tip it came from.
    assert (await tips.standing(lan.id, None))[0]
    assert await tips.purge_senders(T0 + timedelta(days=200)) == 1  # recent, now
    assert await tips.block_sender(old.id, None, T0) is False  # nobody to block any more


async def test_retention_unlinks_in_batches_past_many_closed_at_once(repos, monkeypatch
                                                                     ) -> None:
    """Batches of 3 (the real ones hold 2,000): seven tips closed in the same second and
    two later, all past retention, one not yet; each counted once, none left."""
    monkeypatch.setattr("storage.tips._PURGE_BATCH", 3)
    tips, _, users, _ = repos
    lan = await users.ensure(102, 102)
    filed = [(await tips.create(_draft(None), lan.id, T0))[0] for _ in range(10)]
    for n, tip in enumerate(filed):
        closed = T0 + timedelta(seconds=max(0, n - 6)) if n < 9 else T0 + timedelta(days=30)
        await tips.change_status(tip.id, None, Status.CLOSED, closed,
                                 resolution=Resolution.RESOLVED)
    assert await tips.purge_senders(T0 + timedelta(days=95)) == 9
    assert [await tips.sender_of(tip.id) for tip in filed] == [None] * 9 + [lan.id]
    assert await tips.purge_senders(T0 + timedelta(days=95)) == 0


async def test_likely_duplicates_same_category_and_hamlet_within_a_week(repos) -> None:
    tips, _, users, units = repos
    anphu = (await units.by_code("TH-ANPHU")).id
    phuochau = (await units.by_code("TH-PHUOCHAU")).id
    lan = await users.ensure(101, 101)
    base, _ = await tips.create(_draft(anphu), lan.id, T0)
    same, seen = await tips.create(_draft(anphu), lan.id, T0 + timedelta(days=6))
    assert seen == [(base.id, base.code)]  # filing reads them in the same hop
    await tips.create(_draft(anphu), lan.id, T0 + timedelta(days=8))  # too late
    await tips.create(_draft(phuochau), lan.id, T0)  # another hamlet
    await tips.create(_draft(anphu, category="drugs"), lan.id, T0)  # another category
    assert await tips.likely_duplicates(base) == [(same.id, same.code)]
    nowhere, _ = await tips.create(_draft(None), lan.id, T0)
    assert await tips.likely_duplicates(nowhere) == []


async def test_open_tips_in_units_oldest_first_paged(repos) -> None:
    tips, _, users, units = repos
    anphu = (await units.by_code("TH-ANPHU")).id
    soc = (await units.by_code("KA-SOC")).id
    lan = await users.ensure(101, 101)
    made = [(await tips.create(_draft(anphu), lan.id, T0 + timedelta(hours=i)))[0]
            for i in range(5)]
    await tips.create(_draft(soc), lan.id, T0)
    nowhere, _ = await tips.create(_draft(None), lan.id, T0)
    await tips.change_status(made[1].id, None, Status.CLOSED, T0, resolution=Resolution.RESOLVED)
    page, total = await tips.open_in([anphu], unitless=False, offset=0, limit=3)
    assert total == 4 and [t.id for t in page] == [made[0].id, made[2].id, made[3].id]
    page, total = await tips.open_in([anphu], unitless=True, offset=3, limit=3)
    assert total == 5 and [t.id for t in page] == [made[3].id, made[4].id]
    page, _ = await tips.open_in([anphu], unitless=True, offset=0, limit=2)
    assert [t.id for t in page] == [made[0].id, nowhere.id]  # same time: filing order
    assert await tips.open_in([], unitless=False, offset=0, limit=3) == ([], 0)


async def test_flows_are_written_at_once_sealed_and_purged(repos) -> None:
    _, flows, _, _ = repos
    draft = Draft(step="what", body="bí mật chưa gửi")
    await flows.save(7, "tip", draft.to_json(), T0)
    loaded = await flows.draft(7, "tip")
    loaded["body"] = "changed without saving"
    assert (await flows.draft(7, "tip"))["body"] == "bí mật chưa gửi"  # the cache is a copy
    fresh = Flows(flows._db, Vault(SECRET))  # another process: read from the file at once
    assert (await fresh.draft(7, "tip"))["body"] == "bí mật chưa gửi"
    assert await fresh.active(7) == "tip"
    # Another flow becomes the active one; the tip's draft is left for later.
    await flows.save(7, "report", {"step": 0}, T0)
    assert await Flows(flows._db, Vault(SECRET)).active(7) == "report"
    assert await flows.has_draft(7, "tip")
    await flows.finish(7, "report")
    assert await Flows(flows._db, Vault(SECRET)).active(7) is None
    assert await flows.draft(7, "report") is None and await flows.has_draft(7, "tip")
    db = flows._db
    if db.dialect == "sqlite":  # the file and its journal
        raw = b"".join(p.read_bytes() for p in db.path.parent.iterdir()
                       if p.name.startswith(db.path.name))
    else:  # every row of the table
        raw = repr(await db.fetch("SELECT * FROM drafts")).encode()
    assert len(raw) > 100 and "bí mật chưa gửi".encode() not in raw  # sealed
    # Updates that changed the flow are remembered (Telegram may send one again after a
    # crash); a lower id is not one of them (ids restart at random after a quiet week).
    await flows.save(7, "tip", draft.to_json(), T0, update_id=500)
    await flows.save(7, "tip", draft.to_json(), T0, update_id=501)
    again = Flows(flows._db, Vault(SECRET))
    assert await again.applied(7, 500) and await again.applied(7, 501)
    assert not await again.applied(7, 12) and not await again.applied(7, 502)
    assert await flows.purge(T0 + timedelta(days=1)) == 1
    assert await flows.draft(7, "tip") is None


def test_just_now_is_said_only_while_it_is() -> None:
    """A draft taken up the next day says when it happened, not "vừa xảy ra"."""
    from types import SimpleNamespace

    from handlers.occurred import occurred

    at = _at(2, 10, 0).isoformat()
    soon = SimpleNamespace(now=lambda: _at(2, 10, 20), timezone=VN)
    later = SimpleNamespace(now=lambda: _at(3, 9, 0), timezone=VN)
    assert occurred("vi", soon, "now", at) == "vừa xảy ra (10:00 02/12/2026)"
    assert occurred("vi", later, "now", at) == "10:00 02/12/2026"
    assert occurred("vi", soon, "now", at, on_card=True) == "10:00 02/12/2026"
    assert occurred("vi", later, "today", "2026-12-02") == "02/12/2026"
