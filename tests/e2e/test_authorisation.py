"""The authorisation matrix: every command, menu entry and kind of button, tried by everyone.

Eight people: a stranger who never pressed /start, the resident who sent the tips, a reporter
of Ấp An Phú (the tips' hamlet) and one of Ấp Phước Hậu next to it, a coordinator of Xã Tân Hòa
(their commune) and one of Xã Khánh An, an admin, and a coordinator of Tân Hòa whose role has
just ended. Each tries each probe; a probe is "granted" when what comes back shows or changes
Tân Hòa's things (the tip, Ấp An Phú's reports, the commune's figures). :data:`ALLOWED` says,
in one table, who may: a probe granted to someone not in it is an escalation, and one refused
to someone in it is a broken feature; both fail. A command, menu entry or button kind the bot
has but the table lacks fails the test too, so the table grows with the bot.

Buttons are pressed as the person's own (signed for them): what is tested here is the
handlers' checks of role and scope, which must hold even for a button someone was sent while
they still had the role. Forgery is tests/e2e/test_buttons.py.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

from openpyxl import load_workbook

from handlers import router
from handlers.callbacks import KINDS
from storage.events import EventDraft
from storage.models import Role
from storage.reporting import Period, PeriodKind, period_of
from storage.tip_lifecycle import Draft
from tests.conftest import ADMIN_ID, Harness
from tests.e2e.test_tips import file_tip

PEOPLE = ("stranger", "resident", "reporter", "reporter_next_door", "coordinator",
          "coordinator_elsewhere", "admin", "role_ended")
IDS = {"stranger": 5101, "resident": 5102, "reporter": 5103, "reporter_next_door": 5104,
       "coordinator": 5105, "coordinator_elsewhere": 5106, "admin": ADMIN_ID,
       "role_ended": 5107}
EVERYONE = frozenset(PEOPLE)
NOBODY: frozenset[str] = frozenset()
STAFF_HERE = frozenset({"coordinator", "admin"})
STAFF = frozenset({"coordinator", "coordinator_elsewhere", "admin"})
REPORTERS = frozenset({"reporter", "reporter_next_door"})

# probe name → who may. Commands are "/name", menu entries "menu:name", buttons by kind.
ALLOWED: dict[str, frozenset[str]] = {
    "/start": EVERYONE, "/help": EVERYONE, "/language": EVERYONE, "/newtip": EVERYONE,
    "/cancel": EVERYONE,
    "/mytips": frozenset({"resident"}), "/status": frozenset({"resident"}),
    "/report": frozenset({"reporter"}), "/event": REPORTERS,
    "/inbox": STAFF_HERE, "/tip": STAFF_HERE, "/completeness": STAFF_HERE,
    "/reports": STAFF_HERE, "/summary": STAFF_HERE, "/export": STAFF_HERE,
    "/invite": STAFF, "/units": STAFF_HERE,
    "menu:tip": EVERYONE, "menu:mytips": frozenset({"resident"}), "menu:report":
    frozenset({"reporter"}), "menu:event": REPORTERS, "menu:inbox": STAFF_HERE,
    "menu:invite": STAFF, "menu:units": STAFF_HERE, "menu:language": EVERYONE,
    "menu:help": EVERYONE,
    "lang": EVERYONE, "inbox": STAFF_HERE, "units": STAFF_HERE,
    "ans": frozenset({"resident"}), "mine": frozenset({"resident"}), "cmpl": STAFF_HERE,
    "docx": STAFF_HERE,
    "nudge": STAFF_HERE, "invh": STAFF_HERE,
    "repl": STAFF_HERE,
    "repv": STAFF_HERE, "repo": STAFF_HERE,
    "tip:show": STAFF_HERE, "tip:note": STAFF_HERE, "tip:st": STAFF_HERE,
    "ev:show": STAFF_HERE, "ev:note": STAFF_HERE, "ev:st": STAFF_HERE,
    "evans": frozenset({"reporter"}),  # who reported the event, to answer a question on it
    # A flow's buttons act only inside that person's own open flow (entering one is the
    # command's business, above): pressed with none open, they do nothing for anyone.
    "tipf": NOBODY, "repf": NOBODY, "evf": NOBODY, "inv": NOBODY, "desk": NOBODY,
    "answer": NOBODY, "offer": NOBODY, "evd": NOBODY, "eva": NOBODY,
}


@dataclass
class World:
    harness: Harness
    code: str  # the tip everyone probes
    tip_id: int
    own_tips: dict[str, int]  # a tip per person for the probes that change one
    event_code: str  # the event everyone probes, reported by "reporter"
    event_id: int
    own_events: dict[str, int]  # an event per person for the probes that change one
    hamlet_id: int
    week: Period
    locked: dict[str, Period]  # a locked week per person, for reopening


@dataclass
class Seen:
    """What came back to one probe: texts, captions and button labels, files, the answer."""

    text: str
    files: list[bytes]
    answer: dict | None


def _visible(message) -> str:
    raw = message.raw
    return "\n".join([raw.get("text") or "", raw.get("caption") or "", *message.button_texts])


def shows_the_hamlet(seen: Seen) -> bool:
    return "Ấp An Phú" in seen.text


def opened_workbook_shows_the_commune(seen: Seen) -> bool:
    for data in seen.files:
        if data.startswith(b"PK"):
            sheets = load_workbook(io.BytesIO(data), read_only=True)
            for sheet in sheets.worksheets:
                for row in sheet.iter_rows(values_only=True):
                    if any(isinstance(v, str) and "Tân Hòa" in v for v in row):
                        return True
    return False


def opened_report_shows_the_commune(seen: Seen) -> bool:
    """The Word report lists Tân Hòa's hamlets (its appendix has a row for each)."""
    for data in seen.files:
        if data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as document:
                if "word/document.xml" in document.namelist() \
                        and "Ấp An Phú" in document.read("word/document.xml").decode():
                    return True
    return False


def not_an_alert(seen: Seen) -> bool:
    return seen.answer is not None and not seen.answer.get("show_alert")


def anything(seen: Seen) -> bool:
    return bool(seen.text.strip()) or bool(seen.answer and seen.answer.get("text"))


def db(world: World, sql: str, *args) -> object:
    return world.harness.query(sql, args)[0][0]


@dataclass
class Probe:
    name: str
    # (world, person) → the command text, or ("press", payload)
    action: Callable[[World, str], str | tuple[str, str]]
    granted: Callable[[World, str, Seen], bool]
    before: Callable[[World, str], object] | None = None  # DB state to compare after


def _seen(fn: Callable[[Seen], bool]) -> Callable[[World, str, Seen], bool]:
    return lambda world, person, seen: fn(seen)


def _has_code(world: World, person: str, seen: Seen) -> bool:
    return world.code in seen.text


def _card(world: World, person: str, seen: Seen) -> bool:
    return world.code in seen.text and "✅ Tiếp nhận" in seen.text


def _status(world: World, person: str, seen: Seen) -> bool:
    return world.code in seen.text and "Mới" in seen.text


def _tip_moved(world: World, person: str, seen: Seen) -> bool:
    return db(world, "SELECT status FROM tips WHERE id = ?", world.own_tips[person]) != "new"


def _event_card(world: World, person: str, seen: Seen) -> bool:
    return world.event_code in seen.text and "📥 Tiếp nhận" in seen.text


def _event_prompt(world: World, person: str, seen: Seen) -> bool:
    return world.event_code in seen.text and not seen.answer.get("show_alert")


def _event_moved(world: World, person: str, seen: Seen) -> bool:
    return db(world, "SELECT status FROM events WHERE id = ?", world.own_events[person]) != "new"


def _reopened(world: World, person: str, seen: Seen) -> bool:
    return bool(db(world, "SELECT COUNT(*) FROM report_reopenings WHERE unit_id = ? AND "
                          "period_key = ?", world.hamlet_id, world.locked[person].key))


def _desk_open(world: World, person: str, seen: Seen) -> bool:
    return world.code in seen.text and not seen.answer.get("show_alert")


def _event_step(world: World, person: str, seen: Seen) -> bool:
    return "Bước 1/" in seen.text and "vụ việc" in seen.text.lower()


def _report_step(world: World, person: str, seen: Seen) -> bool:
    return "Ấp An Phú" in seen.text and "kỳ" in seen.text.lower()


def _invite_step(world: World, person: str, seen: Seen) -> bool:
    return "Bước 1/3" in seen.text


def press(payload: Callable[[World, str], str]) -> Callable[[World, str], tuple[str, str]]:
    return lambda world, person: ("press", payload(world, person))


def probes() -> list[Probe]:
    found = [
        Probe("/start", lambda w, p: "/start", _seen(anything)),
        Probe("/help", lambda w, p: "/help", _seen(anything)),
        Probe("/language", lambda w, p: "/language", _seen(anything)),
        Probe("/newtip", lambda w, p: "/newtip", _seen(lambda s: "Bước 1/6" in s.text)),
        Probe("/cancel", lambda w, p: "/cancel", _seen(anything)),
        Probe("/mytips", lambda w, p: "/mytips", _has_code),
        Probe("/status", lambda w, p: f"/status {w.code}", _status),
        Probe("/report", lambda w, p: "/report TH-ANPHU", _report_step),
        Probe("/event", lambda w, p: "/event", _event_step),
        Probe("/inbox", lambda w, p: "/inbox", _has_code),
        Probe("/tip", lambda w, p: f"/tip {w.code}", _card),
        Probe("/completeness", lambda w, p: "/completeness", _seen(shows_the_hamlet)),
        Probe("/reports", lambda w, p: f"/reports {w.week.key} TH-ANPHU",
              _seen(shows_the_hamlet)),
        Probe("/summary", lambda w, p: "/summary", _seen(opened_workbook_shows_the_commune)),
        Probe("/export", lambda w, p: "/export", _seen(opened_workbook_shows_the_commune)),
        Probe("/invite", lambda w, p: "/invite", _invite_step),
        Probe("/units", lambda w, p: "/units", _seen(shows_the_hamlet)),
        Probe("menu:tip", press(lambda w, p: "menu:tip"), _seen(lambda s: "Bước 1/6" in s.text)),
        Probe("menu:mytips", press(lambda w, p: "menu:mytips"), _has_code),
        Probe("menu:report", press(lambda w, p: "menu:report"), _report_step),
        Probe("menu:event", press(lambda w, p: "menu:event"), _event_step),
        Probe("menu:inbox", press(lambda w, p: "menu:inbox"), _has_code),
        Probe("menu:invite", press(lambda w, p: "menu:invite"), _invite_step),
        Probe("menu:units", press(lambda w, p: "menu:units"), _seen(shows_the_hamlet)),
        Probe("menu:language", press(lambda w, p: "menu:language"), _seen(anything)),
        Probe("menu:help", press(lambda w, p: "menu:help"), _seen(anything)),
        Probe("lang", press(lambda w, p: "lang:vi"), _seen(anything)),
        Probe("inbox", press(lambda w, p: "inbox:0"), _has_code),
        Probe("units", press(lambda w, p: "units:0"), _seen(shows_the_hamlet)),
        Probe("ans", press(lambda w, p: f"ans:{w.tip_id}"), _desk_open),
        Probe("mine", press(lambda w, p: f"mine:{w.tip_id}"), _status),
        Probe("cmpl", press(lambda w, p: f"cmpl:{w.week.key}"), _seen(shows_the_hamlet)),
        Probe("docx", press(lambda w, p: f"docx:{w.week.key}"),
              _seen(opened_report_shows_the_commune)),
        Probe("invh", press(lambda w, p: f"invh:{w.hamlet_id}"),
              _seen(lambda s: "Bước 3/3" in s.text and "Ấp An Phú" in s.text)),
        Probe("nudge", press(lambda w, p: f"nudge:{w.week.key}"),
              _seen(lambda s: "Ấp An Phú" in (s.answer or {}).get("text", ""))),
        Probe("repl", press(lambda w, p: f"repl:{w.week.key}:0"), _seen(shows_the_hamlet)),
        Probe("repv", press(lambda w, p: f"repv:{w.hamlet_id}:{w.week.key}"),
              _seen(shows_the_hamlet)),
        Probe("repo", press(lambda w, p: f"repo:{w.hamlet_id}:{w.locked[p].key}"), _reopened),
        Probe("tip:show", press(lambda w, p: f"tip:{w.tip_id}:show"), _card),
        Probe("tip:note", press(lambda w, p: f"tip:{w.tip_id}:note"), _desk_open),
        Probe("tip:st", press(lambda w, p: f"tip:{w.own_tips[p]}:st:acknowledged"), _tip_moved),
        Probe("ev:show", press(lambda w, p: f"ev:{w.event_id}:show"), _event_card),
        Probe("ev:note", press(lambda w, p: f"ev:{w.event_id}:note"), _event_prompt),
        Probe("ev:st", press(lambda w, p: f"ev:{w.own_events[p]}:st:acknowledged"),
              _event_moved),
        Probe("evans", press(lambda w, p: f"evans:{w.event_id}"), _event_prompt),
        Probe("tipf", press(lambda w, p: "tipf:send"), _seen(not_an_alert)),
        Probe("repf", press(lambda w, p: "repf:send"), _seen(not_an_alert)),
        Probe("evf", press(lambda w, p: "evf:send"), _seen(not_an_alert)),
        Probe("inv", press(lambda w, p: "inv:make:add"), _seen(not_an_alert)),
        Probe("desk", press(lambda w, p: "desk:as:note"), _seen(not_an_alert)),
        Probe("answer", press(lambda w, p: f"answer:pick:{w.tip_id}"), _seen(not_an_alert)),
        Probe("offer", press(lambda w, p: "offer:yes"), _seen(not_an_alert)),
        Probe("evd", press(lambda w, p: "evd:as:note"), _seen(not_an_alert)),
        Probe("eva", press(lambda w, p: f"eva:done:{w.event_id}"), _seen(not_an_alert)),
    ]
    return found


def test_the_table_names_every_command_menu_entry_and_button_kind() -> None:
    names = {p.name for p in probes()}
    wanted = ({f"/{c}" for c in router.COMMANDS} | {"/cancel"}
              | {f"menu:{m}" for m in router.MENU} | (set(KINDS) - {"tip", "ev", "menu"})
              | {n for n in names if n.startswith(("tip:", "ev:"))})
    assert {"tip:st", "tip:show", "tip:note", "ev:st", "ev:show", "ev:note"} <= names
    assert wanted == names == set(ALLOWED), (wanted ^ names, names ^ set(ALLOWED))


async def _world(harness: Harness) -> tuple[World, dict]:
    await harness.load_units()
    users = {}
    svc = harness.services
    users["coordinator"] = await harness.enter_as(IDS["coordinator"], "Minh", Role.COORDINATOR,
                                                  "TANHOA")
    users["role_ended"] = await harness.enter_as(IDS["role_ended"], "Cũ", Role.COORDINATOR,
                                                 "TANHOA")
    users["coordinator_elsewhere"] = await harness.enter_as(
        IDS["coordinator_elsewhere"], "Khoa", Role.COORDINATOR, "KHANHAN")
    users["reporter"] = await harness.enter_as(IDS["reporter"], "Tư", Role.REPORTER, "TH-ANPHU")
    users["reporter_next_door"] = await harness.enter_as(IDS["reporter_next_door"], "Năm",
                                                         Role.REPORTER, "TH-PHUOCHAU")
    users["admin"] = await harness.enter(ADMIN_ID, "Quân")
    users["resident"] = await harness.enter(IDS["resident"], "Thúy")
    users["stranger"] = harness.user(IDS["stranger"], "Lạ")  # never pressed /start
    code = await file_tip(users["resident"])
    tip = await svc.tips.by_code(code)
    own = {}  # filed straight into the database: only their status is probed
    resident = await svc.users.get(IDS["resident"])
    tree = await svc.units.tree()
    for person in PEOPLE:
        draft = Draft(category="theft", body=f"Tin riêng để thử: {person}.",
                      unit_id=tree.by_code["TH-ANPHU"].id, occurred_kind="today",
                      occurred_at=svc.now().date().isoformat(), anonymous=True)
        own[person] = (await svc.tips.create(draft, resident.id, svc.now()))[0].id
    reporter = await svc.users.get(IDS["reporter"])
    events = {}
    for person in ("everyone", *PEOPLE):
        event = EventDraft(step="review", type="disorder", unit_id=tree.by_code["TH-ANPHU"].id,
                           occurred_kind="now", occurred_at=svc.now().isoformat(),
                           description=f"Vụ việc để thử: {person}.", people=2)
        events[person] = await svc.events.create(event, reporter.id, svc.now())
    ended = await svc.users.get(IDS["role_ended"])
    (membership,) = [m for m in ended.memberships if m.role is Role.COORDINATOR]
    await svc.users.end_role(ended.id, membership.id, reason="handover", actor_id=None)
    today = svc.now().astimezone(svc.timezone).date()
    week = period_of(PeriodKind.WEEK, today)
    locked, back = {}, Period.from_key("2026-W01")
    for person in PEOPLE:
        locked[person] = back
        back = back.next()
    world = World(harness, code, tip.id, own, events["everyone"].code, events["everyone"].id,
                  {p: events[p].id for p in PEOPLE}, tree.by_code["TH-ANPHU"].id, week, locked)
    await harness.settle()
    return world, users


async def _try(world: World, probe: Probe, person: str, user, anchor) -> bool:
    """One person tries one probe; whether it was granted."""
    harness = world.harness
    before, anchor_was = len(user.messages()), _visible(anchor)
    action = probe.action(world, person)
    answer = None
    if isinstance(action, tuple):
        payload = harness.services.buttons.sign(action[1], IDS[person])
        answer = await user.callback_answer(user.press_forged(anchor, payload))
    else:
        user.send(action)
    await harness.settle()
    fresh = user.messages()[before:]
    if _visible(anchor) != anchor_was:  # the view opened in the pressed message
        fresh.append(anchor)
    seen = Seen("\n".join(_visible(m) for m in fresh),
                [m.file_bytes() for m in fresh if m.document is not None], answer)
    granted = probe.granted(world, person, seen)
    if await harness.active(IDS[person]) is not None:
        user.send("/cancel")  # leave no flow open for the next probe
        await harness.settle()
    return granted


async def test_everyone_tries_everything(harness: Harness) -> None:
    world, users = await _world(harness)
    anchors = {}
    for person in PEOPLE:  # a message of the bot's for each person to press on
        users[person].send("/help")
    await harness.settle()
    anchors = {person: users[person].messages()[-1] for person in PEOPLE}
    outcomes: dict[tuple[str, str], bool] = {}
    for probe in probes():  # the people's chats are independent: all at once
        results = await asyncio.gather(*(_try(world, probe, person, users[person],
                                              anchors[person]) for person in PEOPLE))
        outcomes.update(((probe.name, person), ok) for person, ok in zip(PEOPLE, results,
                                                                          strict=True))

    escalations = sorted(k for k, ok in outcomes.items() if ok and k[1] not in ALLOWED[k[0]])
    refused = sorted(k for k, ok in outcomes.items() if not ok and k[1] in ALLOWED[k[0]])
    granted = sum(outcomes.values())
    print(f"{len(outcomes)} authorisation cases ({len(probes())} probes x {len(PEOPLE)} people):"
          f" {granted} granted as allowed, {len(outcomes) - granted} refused,"
          f" {len(escalations)} escalations, {len(refused)} wrongly refused")
    assert not escalations, escalations
    assert not refused, refused
