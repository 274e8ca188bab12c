"""Fuzz: every state a person can be in, and every kind of update thrown at it.

The states are found, not listed: each *walk* below is what a person does to go through one
flow (the resident's tip, the reporter's report and event, the coordinator's invitation and
tip desk, the resident's answer to an officer), and every new place the router puts them on
the way — the active flow's kind and step as the database holds them (handlers.flows), or no
flow, or no language chosen yet — is a state. The test fails if a step some flow declares
(``flows.FLOWS[kind].steps``, and each of the desk's ``tip_desk.INPUTS``) was never reached,
so a new step is covered as soon as a walk passes through it, and a walk that no longer works
says where it broke. Each state is reached again, as a person would, by a fresh user who
repeats the walk up to it; a fuzzed input that moves them on (a text the step takes, a
button) retires that user, and the next input goes to a new one.

At every state each kind of input is tried once (a Vietnamese and an English user take turns):
texts that are empty, blank, invisible, 10,000 characters long, full of emoji, HTML, SQL,
format placeholders, button labels or Vietnamese; a photo, video, voice note, file, round
video or audio file; a sticker, a contact, a location; an edit; a Telegram reply to one of
the bot's messages; unknown commands and commands with junk; presses with forged (unsigned)
data, with well-formed signed data full of ids and words the bot never sent, and on real
buttons of older messages. Hypothesis draws the concrete inputs (a fixed, derandomized list:
CI runs the same cases every time).

For every case: nothing the bot logs as a warning or an error, an answer arrives (a message or
an edit in the person's chat, or the answer to their press), in their language (no text of
the other language's catalog, some of their own; for English, no Vietnamese letters outside
what people typed and the names of places and people), every Bot API call accepted (the
emulator refuses with 400 what Telegram refuses — text over 4,096 characters after entities,
captions over 1,024, callback data over 64 bytes, answers over 200, keyboards over 100
buttons — and the bot catches some of those refusals and logs them at debug level only, so
the call log is read), and an input the step must refuse leaves the flow and its draft
exactly as they were.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from telegram.ext import AIORateLimiter

import bot.app as bot_app
from bot.emulator.core import tiny_png
from bot.emulator.markup import MarkupError, parse_text, utf16_len
from handlers import events, flows, invitations, outside, reports, router, tip_desk, tips
from handlers.callbacks import KINDS, MAX_PAYLOAD
from locales import LANGUAGE_NAMES, LOCALES, catalog, t
from storage.events import EventDraft, event_types
from storage.models import Role
from storage.tip_lifecycle import categories
from tests.conftest import UNITS_CSV, ErrorLog, Harness
from tests.e2e.test_event_desk import EVENT_CODE
from tests.e2e.test_reports import PAST, W45, W46, WEDNESDAY, at
from tests.e2e.test_tips import CODE

# ---------------------------------------------------------------------- the world

# Hamlets for reporters, two each: a reporter's report and events are theirs alone, so what a
# fuzzed press files (a report sent from an old review) changes no other state's walk. And a
# commune of their own for the coordinators who make invitations: tips (and the answers
# relayed under their cards) reach only Minh (Tân Hòa) and the desk's coordinators (Khánh An).
SPARE_HAMLETS = 160
UNITS = (UNITS_CSV + "".join(f"TH-F{i:03d},Ấp Thử Nghiệm {i:03d},hamlet,TANHOA\n"
                             for i in range(SPARE_HAMLETS))
         + "XA-INV,Xã Mời,commune,CM\n"
         + "".join(f"XI-{i:02d},Ấp Mời {i:02d},hamlet,XA-INV\n" for i in range(20)))
CODES = {line.split(",")[0].upper() for line in UNITS.splitlines()[1:]}
PLAIN = next(c.code for c in categories() if not c.danger)  # a category without a warning
TIP_TEXT = "Mất trộm xe máy trước nhà, khoảng 22 giờ."
# Presses on real buttons of older messages: every flow's and the menu's. Not a tip card's:
# those change the tip for every coordinator (tested in test_tip_desk and test_authorisation),
# and the desk's walks need their tips open.
STALE_KINDS = frozenset(flows.BY_PREFIX) | {"menu", "lang", "ans"}
# Commands that start a flow: they may leave the open one for later (legitimately).
FLOW_COMMANDS = frozenset({"newtip", "report", "event", "invite", "cancel"})


async def settle(harness: Harness) -> None:
    """harness.settle(), checked every 5 ms instead of every 50 (the bot's "handled" mark is
    not an emulator change, so nothing wakes the wait sooner)."""
    await harness.emu.wait_until(harness.idle, 30.0, poll=0.005)
    await harness.settle()


@dataclass
class World:
    harness: Harness
    minh: Any  # coordinator of Xã Tân Hòa: residents' tips reach him; he asks them questions
    khoa: Any  # coordinator of Xã Khánh An: the desk's tips are there
    desk: dict[str, tuple[int, str]] = field(default_factory=dict)  # action → (tip id, code)
    events: dict[str, tuple[int, str]] = field(default_factory=dict)  # the same, of events
    ids: itertools.count = field(default_factory=lambda: itertools.count(7_100_001))
    hamlets: list[int] = field(default_factory=list)
    # Names of places and people, and everything anyone typed: a bot message may show them
    # in any language (a tip's text on a card, a place the person typed).
    said: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)  # the words of all that

    def say(self, text: str) -> None:
        self.said.add(text)
        self.tokens.update(w.strip(_EDGES) for w in text.split())

    @property
    def svc(self):
        return self.harness.services

    async def unit(self, code: str) -> int:
        return (await self.svc.units.by_code(code)).id


@dataclass
class Ctx:
    """One fuzzed person: their chat, their language, what their walk remembered (tips filed,
    the communes' ids) and, for a reporter, their two hamlets."""

    world: World
    user: Any
    locale: str
    vars: dict[str, Any] = field(default_factory=dict)
    hamlets: tuple[int, ...] = ()

    @property
    def harness(self) -> Harness:
        return self.world.harness

    @property
    def tg_id(self) -> int:
        return self.user.id


def payload_of(button: dict) -> str | None:
    data = button.get("callback_data")
    return data.rpartition("~")[0] if data and "~" in data else data


def find_button(user, pattern: str):
    """The newest bot message with a button whose (unsigned) data is ``pattern`` or starts
    with ``pattern:``; (message, its callback data)."""
    for view in reversed(user.messages()):
        for row in view.buttons:
            for b in row:
                p = payload_of(b)
                if p and (p == pattern or p.startswith(pattern + ":")):
                    return view, b["callback_data"]
    raise LookupError(f"no button {pattern!r} for {user!r}; last: {user.messages()[-3:]}")


# ---------------------------------------------------------------------- moves of the walks


Value = str | Callable[[Ctx], str]


def _value(value: Value, ctx: Ctx) -> str:
    return value(ctx) if callable(value) else value


@dataclass
class Send:
    text: Value

    async def __call__(self, ctx: Ctx) -> None:
        text = _value(self.text, ctx)
        ctx.world.say(text)
        ctx.user.send(text)


@dataclass
class Press:
    pattern: Value
    optional: bool = False  # only if the button is there (a choice the bot may skip)

    async def __call__(self, ctx: Ctx) -> None:
        try:
            view, data = find_button(ctx.user, _value(self.pattern, ctx))
        except LookupError:
            if self.optional:
                return
            raise
        ctx.user.press(view, data)


@dataclass
class PressUntil:
    """Press ``pattern`` until the person is at ``signature`` (a report's indicators)."""

    pattern: str
    signature: str

    async def __call__(self, ctx: Ctx) -> None:
        for _ in range(60):
            if await signature(ctx) == self.signature:
                return
            await Press(self.pattern)(ctx)
            await settle(ctx.harness)
        raise AssertionError(f"{self.pattern!r} never led to {self.signature}")


@dataclass
class Key:
    """A reply-keyboard button, by its catalog key."""

    key: str

    async def __call__(self, ctx: Ctx) -> None:
        ctx.user.reply_keyboard_press(t(ctx.locale, self.key))


@dataclass
class Reply:
    """A Telegram reply (no button) to the newest message with a button ``pattern``."""

    pattern: Value
    text: str

    async def __call__(self, ctx: Ctx) -> None:
        view, _ = find_button(ctx.user, _value(self.pattern, ctx))
        ctx.world.say(self.text)
        ctx.user.send(self.text, reply_to=view)


@dataclass
class Do:
    """Anything else (another person acting, remembering what was filed)."""

    what: str
    action: Callable[[Ctx], Awaitable[None]]

    async def __call__(self, ctx: Ctx) -> None:
        await self.action(ctx)


def remember(name: str) -> Do:
    """The code of the tip just filed (the review became its receipt)."""
    async def action(ctx: Ctx) -> None:
        codes = [c for m in ctx.user.messages() for c in CODE.findall(m.text or "")]
        tip = await ctx.world.svc.tips.by_code(codes[-1])
        ctx.vars[name] = (tip.id, tip.code)
    return Do(f"remember {name}", action)


def asks(name: str, question: str) -> Do:
    """Minh asks the sender of tip ``name`` a question from its card."""
    async def action(ctx: Ctx) -> None:
        tip_id, code = ctx.vars[name]
        minh = ctx.world.minh
        minh.send(f"/tip {code}")
        await settle(ctx.harness)
        view, data = find_button(minh, f"tip:{tip_id}:ask")
        minh.press(view, data)
        await settle(ctx.harness)
        ctx.world.say(question)
        minh.send(question)
    return Do(f"Minh asks about {name}", action)


def remember_event(name: str) -> Do:
    """The code of the event just reported (its review became the 'sent' line)."""
    async def action(ctx: Ctx) -> None:
        codes = [c for m in ctx.user.messages() for c in EVENT_CODE.findall(m.text or "")]
        event = await ctx.world.svc.events.by_code(codes[-1])
        ctx.vars[name] = (event.id, event.code)
    return Do(f"remember {name}", action)


def asks_reporter(name: str, question: str) -> Do:
    """Minh asks the reporter of event ``name`` a question from its card."""
    async def action(ctx: Ctx) -> None:
        event_id, code = ctx.vars[name]
        minh = ctx.world.minh
        minh.send(f"/tip {code}")
        await settle(ctx.harness)
        view, data = find_button(minh, f"ev:{event_id}:ask")
        minh.press(view, data)
        await settle(ctx.harness)
        ctx.world.say(question)
        minh.send(question)
    return Do(f"Minh asks about {name}", action)


def file_tip(hamlet: str, name: str) -> list:
    """A tip from the hamlet's poster (its QR code opens the flow with the hamlet set), sent
    anonymously the short way."""
    return [Send(f"/start t_{hamlet}"), Press(f"tipf:cat:{PLAIN}"), Send(TIP_TEXT),
            Press("tipf:next"), Key("tips.where.btn.next"), Press("tipf:when:today"),
            Press("tipf:anon:yes"), Press("tipf:send"), remember(name)]


@dataclass
class Walk:
    name: str
    role: str  # newcomer, resident, reporter, coordinator:<commune code>
    moves: list


def desk_walk(action: str) -> Walk:
    """A coordinator opens a tip's card (/tip CODE) and presses the button that asks for
    ``action``'s text. The case code of a duplicate is behind Close → Duplicate, the message
    to the sender about the outcome behind Close → Resolved."""
    detours = {"dupcode": ("close", "cl:duplicate"), "closing": ("close", "cl:resolved")}
    moves: list = [Send(lambda c: f"/tip {c.world.desk[action][1]}")]
    for step in detours.get(action, ()):  # done already when the walk is walked again
        moves.append(Press(lambda c, s=step: f"tip:{c.world.desk[action][0]}:{s}",
                           optional=action == "closing"))
    moves.append(Press(lambda c: f"tip:{c.world.desk[action][0]}:{action}"))
    return Walk(f"desk {action}", "coordinator:KHANHAN", moves)


def walks() -> list[Walk]:
    return [
        Walk("language", "newcomer", []),
        Walk("outside", "resident", [Send("Tối qua có người lạ dò xét nhà ông Năm.")]),
        Walk("tip", "resident", [
            Send("/newtip"), Press(f"tipf:cat:{PLAIN}"), Send(TIP_TEXT), Press("tipf:next"),
            Send("Số 12 đường Lý Văn Lâm"), Key("tips.where.btn.next"),  # no hamlet: commune?
            Press(lambda c: f"tipf:co:{c.vars['TANHOA']}"), Press("tipf:when:today"),
            Press("tipf:anon:yes")]),
        Walk("report", "reporter", [
            Send("/report"), Press(lambda c: f"repf:u:{c.hamlets[0]}"),
            Press("repf:s", optional=True), Press("repf:p"),
            Send("99999"),  # far above the history: "are you sure?"
            Press("repf:again"), PressUntil("repf:zero", "report:entry:review"),
            Press("repf:edit")]),
        Walk("event", "reporter", [
            Send("/event"), Press(lambda c: f"evf:u:{c.hamlets[0]}"),
            Press(f"evf:type:{event_types()[0]}"), Press("evf:when:now"), Press("evf:skip"),
            Send("Hai nhóm xô xát trước chợ."), Press("evf:people"), Press("evf:photos")]),
        Walk("event answer", "reporter", [
            Send("/event"), Press(lambda c: f"evf:u:{c.hamlets[0]}"),
            Press(f"evf:type:{event_types()[0]}"), Press("evf:when:now"), Press("evf:skip"),
            Send("Cháy nhỏ ở bãi rác."), Press("evf:people"), Press("evf:photos"),
            Press("evf:send"), remember_event("E"), asks_reporter("E", "Đã dập chưa?"),
            Press(lambda c: f"evans:{c.vars['E'][0]}"), Send("Đã dập xong.")]),
        *(Walk(f"event desk {action}", "coordinator:KHANHAN", [
            Send(lambda c, a=action: f"/tip {c.world.events[a][1]}"),
            Press(lambda c, a=action: f"ev:{c.world.events[a][0]}:{a}")])
          for action in ("ask", "note")),
        Walk("event desk reply", "coordinator:KHANHAN", [
            Send(lambda c: f"/tip {c.world.events['reply'][1]}"),
            Reply(lambda c: f"ev:{c.world.events['reply'][0]}", "Đã cử tổ tuần tra.")]),
        Walk("invite", "coordinator:XA-INV", [
            Send("/invite"), Press("inv:role:reporter"), Press("inv:unit")]),
        *(desk_walk(action) for action in tip_desk.INPUTS),
        Walk("desk reply", "coordinator:KHANHAN", [
            Send(lambda c: f"/tip {c.world.desk['reply'][1]}"),
            Reply(lambda c: f"tip:{c.world.desk['reply'][0]}", "Đã cử tổ tuần tra.")]),
        Walk("answer", "resident", [
            *file_tip("TH-ANPHU", "A"), asks("A", "Xe màu gì?"),
            Press(lambda c: f"ans:{c.vars['A'][0]}"), Send("Xe màu đỏ."),
            Press(lambda c: f"answer:done:{c.vars['A'][0]}"),
            *file_tip("TH-ANPHU", "B"), asks("A", "Biển số?"), asks("B", "Ở đâu?"),
            Send("Sau nhà văn hóa.")]),  # two questions open: which tip?
    ]


# ---------------------------------------------------------------------- where a person is


def _report_detail(svc, draft) -> str:
    if draft.period_key is None:
        return "unit" if draft.unit_id is None else "set" if draft.set_code is None else "period"
    if draft.pending is not None:
        return ""
    stored = svc.reports.set(draft.set_code) if draft.set_code else None
    if stored is not None and draft.step >= len(stored.codes):
        return "lines" if draft.lines else "review"
    return "indicator"


# Steps that are several screens: a report's choice and entry, the desk's four prompts.
DETAIL: dict[str, Callable[[Any, Any], str]] = {
    "report": _report_detail,
    "desk": lambda svc, draft: draft.action if draft.step == "type" else "",
    "evdesk": lambda svc, draft: draft.action if draft.step == "type" else "",
}


async def signature(ctx: Ctx) -> str:
    """Where the router has the person: 'language', 'outside' or 'kind:step[:detail]'."""
    svc = ctx.world.svc
    user = await svc.users.get(ctx.tg_id)
    kind = await svc.flows.active(ctx.tg_id)
    where = "outside"
    if kind is not None:
        data = await svc.flows.draft(ctx.tg_id, kind)
        if data is None:
            where = f"{kind}:(no draft)"
        else:
            flow = flows.FLOWS[kind]
            draft = flow.load(data)
            detail = DETAIL.get(kind, lambda svc, d: "")(svc, draft)
            where = f"{kind}:{flow.step_of(draft)}" + (f":{detail}" if detail else "")
    if user is None or user.locale is None:
        return "language" if kind is None else f"language/{where}"
    return where


@dataclass
class State:
    name: str  # its signature
    walk: Walk
    moves: list  # the walk up to here


async def person(world: World, role: str, locale: str) -> Ctx:
    """A fresh user of ``role`` who has chosen ``locale`` (a newcomer: only /start)."""
    h = world.harness
    tg_id = next(world.ids)
    if role == "newcomer":  # the client's language is all the bot could know
        user = h.user(tg_id, "Lan")
        world.harness.emu.user(tg_id, language_code=locale)
        user.send("/start")
        await settle(h)
        return Ctx(world, user, locale)
    user = await h.enter(tg_id, "Lan", locale_button=LANGUAGE_NAMES[locale])
    ctx = Ctx(world, user, locale)
    ctx.vars["TANHOA"] = await world.unit("TANHOA")
    if role.startswith("coordinator:"):
        await h.grant(tg_id, Role.COORDINATOR, role.split(":")[1])
    elif role == "reporter":
        assert len(world.hamlets) >= 2, "SPARE_HAMLETS is too small for this many reporters"
        ctx.hamlets = (world.hamlets.pop(), world.hamlets.pop())
        svc = world.svc
        for hamlet in ctx.hamlets:
            unit = await svc.units.get(hamlet)
            await h.grant(tg_id, Role.REPORTER, unit.code)
        me = await svc.users.get(tg_id)
        stored = svc.reports.sets()[0]
        values = {code: PAST.get(code, 1) for code in stored.codes}
        for period in (W45, W46):  # a history, so that an outlier asks "are you sure?"
            await svc.reports.submit(stored.code, period, ctx.hamlets[0], values, me.id,
                                     WEDNESDAY)
    return ctx


async def walk_to(world: World, state: State, locale: str) -> Ctx:
    ctx = await person(world, state.walk.role, locale)
    for move in state.moves:
        await move(ctx)
        await settle(world.harness)
    where = await signature(ctx)
    assert where == state.name, f"walking {state.walk.name} to {state.name} led to {where}"
    return ctx


async def discover(world: World) -> list[State]:
    """Every state the walks pass through, with the moves that lead there."""
    found: dict[str, State] = {}
    for walk in walks():
        ctx = await person(world, walk.role, "vi")
        for i in range(len(walk.moves) + 1):
            if i:
                try:
                    await walk.moves[i - 1](ctx)
                    await settle(world.harness)
                except (LookupError, AssertionError) as exc:
                    raise AssertionError(f"walk {walk.name!r} broke at move {i}: "
                                         f"{walk.moves[i - 1]!r}: {exc}") from exc
            where = await signature(ctx)
            found.setdefault(where, State(where, walk, walk.moves[:i]))
    return list(found.values())


# Steps no walk reaches (none today); each would need a reason here.
UNREACHED: dict[str, str] = {}


def missing_steps(states: list[State]) -> list[str]:
    seen = {s.name.split("/")[-1] for s in states}
    missing = []
    for kind, flow in flows.FLOWS.items():
        for step in flow.steps:
            name = f"{kind}:{step}"
            if name not in UNREACHED and not any(s == name or s.startswith(name + ":")
                                                 for s in seen):
                missing.append(name)
    for action in tip_desk.INPUTS:
        if f"desk:type:{action}" not in seen:
            missing.append(f"desk:type:{action}")
    for action in ("ask", "note"):
        if f"evdesk:type:{action}" not in seen:
            missing.append(f"evdesk:type:{action}")
    return missing


# ---------------------------------------------------------------------- inputs

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066",
             "\u2069", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u3164"]
SPACES = [" ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000"]
EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🇻🇳", "❤️", "🏳️‍🌈", "🚨", "😀", "🙏🏻", "1️⃣", "©️",
         "🫠", "🧑🏿‍🚒", "🔥" * 30]
HTML = ['<b>', '</b>', '<i>nghiêng', '<a href="https://example.com">link</a>',
        "<a href='javascript:alert(1)'>x", '</a>', '&amp;', '&lt;', '&gt;', '&', '<', '>',
        '<tg-spoiler>', '<code>x</code>', '<pre><code class="language-py">', '<br>', '&#0;',
        '&nbsp;', '<b><i>x</b></i>', '<blockquote expandable>', '<script>alert(1)</script>',
        '<tg-emoji emoji-id="1">👍</tg-emoji>', '<u', '</>', '<<>>']
SQL = ["'; DROP TABLE tips; --", '" OR "1"="1', "' OR 1=1 --", "Robert'); DROP TABLE users;--",
       "%", "_", "\\", "NULL", "1; SELECT * FROM drafts", "' UNION SELECT * FROM users --",
       # and placeholders, for a text passed through str.format or %
       "{code}", "{0}", "{}", "{name!r}", "{{", "}", "%s", "%(n)d", "$1"]
VIETNAMESE = ["Tối qua", "có người lạ", "dò xét", "nhà ông Năm", "ở ấp An Phú",
              "mất trộm xe máy", "đánh nhau", "trước chợ", "khoảng 10 giờ", "Hòa", "Thủy",
              "Nguyễn Văn Ánh", "ạ", "ừ", "Được rồi", "hôm qua", "15/11/2026", "1.403", "0",
              "١٢", "-3", "1,5", "TB-ACDEF", "ĐỒNG Ý", "không"]
LABELS = sorted({text for locale in LOCALES for key, text in catalog(locale).items()
                 if ".btn." in key and "{" not in text})


def _pieces(primary: list[str]) -> st.SearchStrategy[str]:
    """Texts mostly made of ``primary``, with anything else mixed in."""
    other = st.text(st.characters(exclude_categories=("Cs",)), max_size=4)
    return st.lists(st.one_of(st.sampled_from(primary), st.sampled_from(primary), other),
                    min_size=1, max_size=8).map("".join)


TEXTS = {
    "blank": st.lists(st.sampled_from(INVISIBLE + SPACES), max_size=30).map("".join),
    "long": st.tuples(_pieces(VIETNAMESE + EMOJI + HTML + SQL).filter(bool),
                      st.sampled_from([9_999, 10_000])).map(
        lambda p: (p[0] * (p[1] // len(p[0]) + 1))[:p[1]]),
    "marks": _pieces([*INVISIBLE, "a", "Tân Hòa", "123", "\u202eabc", "x\u200by"]),
    "emoji": _pieces(EMOJI),
    "html": _pieces([*HTML, "Tân Hòa"]),
    "sql": _pieces(SQL),
    "vietnamese": st.tuples(_pieces(VIETNAMESE), st.booleans()).map(
        lambda p: unicodedata.normalize("NFD", p[0]) if p[1] else p[0]),
    "labels": st.tuples(st.sampled_from(LABELS), st.sampled_from(["", " ", "\u200b", "\n"])).map(
        "".join),
}
ANY_TEXT = st.one_of(*TEXTS.values())
SHORT_TEXT = ANY_TEXT.map(lambda s: s[:1024])


@dataclass(frozen=True)
class Input:
    """One update a person (or a modified client) sends."""

    slot: str
    kind: str  # text, media, location, other, edit, command, press
    value: Any = None
    extra: Any = None

    def describe(self) -> str:
        shown = self.value if not isinstance(self.value, str) or len(self.value) < 60 else (
            f"{self.value[:40]!r}…({len(self.value)} chars)")
        return f"{self.slot} {shown!r}" + (f" {self.extra!r}" if self.extra is not None else "")


def _text_input(slot: str) -> st.SearchStrategy[Input]:
    return TEXTS[slot].map(lambda s: Input(f"text:{slot}", "text", s))


MEDIA = st.builds(
    lambda kind, caption, name: Input("media", "media", kind, (caption, name)),
    st.sampled_from(["photo", "video", "voice", "document", "audio", "video_note"]),
    st.none() | SHORT_TEXT,
    st.sampled_from(["bang_chung.pdf", "../../etc/passwd", "<b>x</b>.txt", "tệp tin.docx",
                     "a" * 200 + ".zip", ".htaccess"]))
CONTACT = st.from_regex(r"\+?[0-9]{3,15}", fullmatch=True).map(
    lambda phone: Input("contact", "other", phone))
LOCATION = st.tuples(
    st.one_of(st.floats(-90, 90, allow_nan=False), st.sampled_from([-90.0, 90.0, 0.0])),
    st.one_of(st.floats(-180, 180, allow_nan=False), st.sampled_from([-180.0, 180.0, 0.0])),
).map(lambda p: Input("location", "location", p))
EDIT = ANY_TEXT.filter(lambda s: s.strip()).map(lambda s: Input("edit", "edit", s[:4096]))
_WORDS = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,23}", fullmatch=True), st.sampled_from(
    ["yes", "no", "now", "today", "none", "add", "handover", "ask", "note", "tag", "what",
     "where", "when", "anon", "category", "drop", "resend", "reporter", "admin", "vi", "en",
     PLAIN, "duplicate", "resolved", "help"]))
_KNOWN = sorted(set(router.COMMANDS) - FLOW_COMMANDS)


def _poster(command: str) -> bool:
    """/start with a real hamlet poster's payload: it opens the tip flow (not junk)."""
    words = command.split()
    return len(words) > 1 and words[0].lower().startswith("/start") \
        and words[1][:2].lower() == "t_" and words[1][2:].upper() in CODES
COMMAND = st.one_of(
    st.from_regex(r"/[A-Za-z0-9_]{1,40}(@[a-z_]{1,20}bot)?", fullmatch=True).filter(
        lambda c: c[1:].split("@")[0].lower() not in set(router.COMMANDS) | FLOW_COMMANDS),
    st.tuples(st.sampled_from(["/start", "/start@binhyen_test_bot", "/START"]),
              st.one_of(st.from_regex(r"[jt]_[A-Za-z0-9_-]{0,60}", fullmatch=True),
                        ANY_TEXT.map(lambda s: s[:300]))).map(" ".join),
    st.tuples(st.sampled_from(_KNOWN), ANY_TEXT.map(lambda s: s[:300])).map(
        lambda p: f"/{p[0]} {p[1]}"),
).filter(lambda c: not _poster(c)).map(lambda c: Input("command", "command", c))
JUNK_PRESS = st.one_of(
    st.none(),
    st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64),
    st.tuples(st.sampled_from(sorted(KINDS)), st.text("abcdef:0123456789", max_size=20),
              st.text("ABCDEFGHabcdefgh0123456789-_", min_size=8, max_size=8)).map(
        lambda p: f"{p[0]}:{p[1]}~{p[2]}"[:64]),
).map(lambda data: Input("press:junk", "press", data))
SIGNED_PRESS = st.builds(
    lambda active, kind, shape, ints, words, periods: Input(
        "press:signed", "press", (active, kind, shape), (ints, words, periods)),
    st.booleans(), st.integers(0, 1000), st.integers(0, 1000),
    st.lists(st.one_of(st.just(0), st.integers(10**6, 10**12)), min_size=1, max_size=3),
    st.lists(_WORDS, min_size=1, max_size=3),
    st.lists(st.sampled_from(["2026-W47", "2026-W46", "2026-W01", "2026-11", "2026-Q4", "2026",
                              "2020-W10", "2031-W05", "2019-01", "2026-W53"]),
             min_size=1, max_size=2))
STALE_PRESS = st.integers(0, 10**6).map(lambda n: Input("press:stale", "press", n))
REPLY = st.tuples(ANY_TEXT.filter(str.strip), st.integers(0, 10**6)).map(
    lambda p: Input("reply", "text", p[0][:4096], p[1]))

SLOTS: dict[str, st.SearchStrategy[Input]] = {
    **{f"text:{slot}": _text_input(slot) for slot in TEXTS},
    "media": MEDIA,
    "sticker": st.just(Input("sticker", "other")),
    "contact": CONTACT,
    "location": LOCATION,
    "edit": EDIT,
    "reply": REPLY,
    "command": COMMAND,
    "press:junk": JUNK_PRESS,
    "press:signed": SIGNED_PRESS,
    "press:stale": STALE_PRESS,
}


def examples(n: int) -> list[dict[str, Input]]:
    """``n`` draws of one input per slot: the inputs of ``n`` states (derandomized)."""
    found: list[dict[str, Input]] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries(SLOTS))
    def keep(inputs: dict[str, Input]) -> None:
        found.append(inputs)

    keep()
    return found


_TYPED = {kind: [shape.split(":") for shape in shapes if "{" in shape]
          for kind, shapes in KINDS.items()}
_TYPED = {kind: shapes for kind, shapes in _TYPED.items() if shapes}


def signed_payload(spec: Input, active: str | None) -> str:
    """Well-formed data of a declared shape, with values the bot never sent."""
    use_active, kind_n, shape_n = spec.value
    ints, words, periods = spec.extra
    prefix = flows.FLOWS[active].prefix if active in flows.FLOWS else None
    kind = prefix if use_active and prefix in _TYPED else sorted(_TYPED)[kind_n % len(_TYPED)]
    shape = _TYPED[kind][shape_n % len(_TYPED[kind])]
    pools = {"{int}": itertools.cycle(ints), "{word}": itertools.cycle(words),
             "{period}": itertools.cycle(periods), "{span}": itertools.cycle(periods)}
    fields = [str(next(pools[part])) if part in pools else part for part in shape]
    return ":".join([kind, *fields]).encode()[:MAX_PAYLOAD].decode(errors="ignore")


async def perform(ctx: Ctx, case: Input, active: str | None):
    """Send the input; the press made, if it is one."""
    user, h = ctx.user, ctx.harness
    for said in (case.value, *(case.extra if case.kind == "media" else ())):
        if isinstance(said, str):
            ctx.world.say(said)
    if case.slot == "reply":  # a Telegram reply to one of the bot's messages, no button
        messages = user.messages()
        user.send(case.value, reply_to=messages[case.extra % len(messages)])
        return None
    if case.kind in ("text", "command"):
        if case.value:
            user.send(case.value)
        else:  # no client sends it; the lowest level can
            h.emu.user_message(user.state, {"text": ""})
        return None
    if case.kind == "media":
        caption, name = case.extra
        send = {"photo": lambda: user.send_photo(tiny_png(), caption=caption),
                "video": lambda: user.send_video(caption=caption),
                "voice": user.send_voice, "video_note": user.send_video_note,
                "audio": lambda: user.send_audio(caption=caption),
                "document": lambda: user.send_document(b"%PDF-1.4 fuzz", filename=name,
                                                       caption=caption)}
        send[case.value]()
        return None
    if case.slot == "sticker":
        user.send_sticker()
    elif case.slot == "contact":
        user.send_contact(case.value)
    elif case.kind == "location":
        user.send_location(*case.value)
    elif case.kind == "edit":
        mine = [m for m in user.history() if not m.from_bot and "text" in m.raw]
        text = case.value if case.value != mine[-1].text else case.value + " ✎"
        user.edit(mine[-1], text)
    elif case.slot == "press:junk":
        return user.press_forged(user.messages()[-1], case.value)
    elif case.slot == "press:signed":
        data = h.services.buttons.sign(signed_payload(case, active), user.id)
        return user.press_forged(user.messages()[-1], data)
    else:  # press:stale
        buttons = [(view, b["callback_data"]) for view in user.messages()
                   for row in view.buttons for b in row
                   if (payload_of(b) or "").split(":")[0] in STALE_KINDS]
        if not buttons:
            return user.press_forged(user.messages()[-1], "stale")
        view, data = buttons[case.value % len(buttons)]
        return user.press(view, data)
    return None


# Step handlers that only say what the step wants (and show it again), as a flow's
# ``unexpected`` does: what they get must leave the draft as it was.
REFUSERS = frozenset({tips.use_buttons, tips.what_other, tips.where_other, tips.when_other,
                      events.use_buttons, events.other, reports.use_buttons, reports.value_other,
                      invitations.wrong_input, tip_desk.input_other, outside.not_content})


def refused(case: Input, state: State) -> bool:
    """Whether the step must refuse this input (so the flow and its draft stay as they were):
    an edit, a forged press, a command that starts nothing, a text that shows nothing or is
    longer than anything the bot keeps (a tip's 4,000 characters, Telegram's 4,096), or an
    input the step has no handler for (handlers.flows gives it to the flow's ``unexpected``)
    or one that only says what the step wants."""
    if case.kind == "edit" or case.slot in ("press:junk", "text:blank", "text:long"):
        return True
    if case.kind == "command" or (case.kind == "text" and case.value.startswith("/")):
        head = case.value.split()[0] if case.value.split() else "/"
        return head[1:].split("@")[0].lower() not in FLOW_COMMANDS
    if case.kind == "press":
        return False
    where = state.name.split("/")[-1]
    if where in ("outside", "language"):
        return case.kind in ("location", "other")  # not something a tip could be
    kind, step = where.split(":")[:2]
    handler = getattr(flows.FLOWS[kind].steps.get(step, flows.Step()), case.kind)
    return handler is None or handler in REFUSERS


# ---------------------------------------------------------------------- the checks


def _plain(text: str) -> str:
    try:
        return parse_text(text, "HTML")[0]
    except MarkupError:
        return re.sub(r"<[^>]+>", " ", text)


def _fragments(locale: str) -> set[str]:
    out = set()
    for text in catalog(locale).values():
        for piece in re.split(r"\{[^{}]*\}|\n|•|·|—|:|\(|\)|«|»|\"", _plain(text)):
            piece = piece.strip(" .,;!?…-–/'")
            if len(piece) >= 8 and " " in piece:
                out.add(piece)
    return out


# The first prompt, in both languages on purpose (the person's language is not known yet).
BILINGUAL = sorted((_plain(t(loc, key)) for loc in LOCALES for key in ("lang.choose",
                                                                        "start.hello")),
                   key=len, reverse=True)


def _foreign_patterns() -> dict[str, re.Pattern]:
    """For each language, the texts of the other catalog that this one has not."""
    whole = {loc: "\n".join(_plain(v) for v in catalog(loc).values()).casefold()
             for loc in LOCALES}
    out = {}
    for locale in LOCALES:
        foreign = {f for other in LOCALES if other != locale for f in _fragments(other)
                   if f.casefold() not in whole[locale] and not any(f in b for b in BILINGUAL)}
        out[locale] = re.compile("|".join(map(re.escape, sorted(foreign, key=len,
                                                                  reverse=True))))
    return out


FOREIGN = _foreign_patterns()
OWN = {locale: FOREIGN[other] for locale in LOCALES for other in LOCALES if other != locale}
VIETNAMESE_LETTERS = re.compile("[ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợ"
                                "ùúủũụừứửữựỳýỷỹỵÀÁẢÃẠÈÉẺẼẸÌÍỈĨỊÒÓỎÕỌÙÚỦŨỤỲÝỶỸỴ]")
_EDGES = " \t\n.,;:!?…«»“”\"'()[]<>—–-•·/*#@"


def wrong_language(texts: list[str], locale: str, world: World) -> list[str]:
    """What in the bot's texts is not in ``locale``: the other catalog's phrases, and for
    English any word with Vietnamese letters that is not someone's own or a name."""
    found = []
    for text in texts:
        for match in FOREIGN[locale].findall(text):
            if not any(match in said for said in world.said):
                found.append(match)
        if locale == "en":
            for both in BILINGUAL:
                text = text.replace(both, "")
            for word in text.split():
                word = word.strip(_EDGES)
                if VIETNAMESE_LETTERS.search(unicodedata.normalize("NFC", word)) \
                        and word not in world.tokens \
                        and not any(word in said for said in world.said):
                    found.append(word)
    return found


def limits_broken(calls: list) -> list[str]:
    """Calls Telegram refuses (an edit that changes nothing is not one), and what the
    emulator took that Telegram would not."""
    out = []
    for call in calls:
        if call.error_code == 400 and "not modified" not in (call.description or ""):
            out.append(f"{call.method}: 400 {call.description}")
        if call.error_code == 429:
            out.append(f"{call.method}: 429")
        markup = call.params.get("reply_markup")
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        if sum(len(r) for r in rows) > 100:
            out.append(f"{call.method}: {sum(len(r) for r in rows)} buttons")
        for b in (b for r in rows for b in r if isinstance(b, dict)):
            if len(str(b.get("callback_data", "")).encode()) > 64:
                out.append(f"{call.method}: callback data {b['callback_data']!r}")
        if call.method == "answerCallbackQuery" and \
                utf16_len(str(call.params.get("text") or "")) > 200:
            out.append(f"answerCallbackQuery: {call.params['text'][:40]!r}… over 200")
    return out


def shown(view, since: int) -> list[str]:
    """Texts, captions and buttons of a message's versions from ``since`` on."""
    out = []
    for version in view.versions[since:] or [view.raw]:
        out.append(version.get("text") or version.get("caption") or "")
        markup = version.get("reply_markup") or {}
        out += [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    if view.sent_markup and since == 0:
        out += [b.get("text", "") if isinstance(b, dict) else str(b)
                for row in view.sent_markup.get("keyboard", []) for b in row]
    return out


# ---------------------------------------------------------------------- the test


@dataclass
class Tally:
    states: int = 0
    cases: int = 0
    by_locale: Counter = field(default_factory=Counter)
    by_slot: Counter = field(default_factory=Counter)
    refused: int = 0
    moved_on: int = 0
    walked: int = 0
    problems: list[str] = field(default_factory=list)


async def setup(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> World:
    # Throughput is not what is tested here (tests/emulator, tests/unit/test_outbox.py and
    # tests/e2e/test_faults.py are about it): PTB's limiter (30 sends a second) and the
    # outbox's pacing of each chat (a message a second after a burst) would have this test wait
    # minutes for the coordinators' copies. Both lifted, the bot started again.
    monkeypatch.setattr(bot_app, "AIORateLimiter", lambda **kw: AIORateLimiter(
        overall_max_rate=0, group_max_rate=0, **kw))
    monkeypatch.setattr(bot_app, "CHAT_BURST", 100_000)
    await harness.restart()
    harness.emu.rate_limits = False
    at(harness, WEDNESDAY)  # a week with a report history (tests/e2e/test_reports)
    await harness.load_units(UNITS)
    minh = await harness.enter_as(2002, "Minh", Role.COORDINATOR, "TANHOA")
    khoa = await harness.enter_as(2003, "Khoa", Role.COORDINATOR, "KHANHAN")
    world = World(harness, minh, khoa)
    tree = await world.svc.units.tree()
    world.hamlets = sorted((u.id for u in tree.by_id.values() if u.code.startswith("TH-F")),
                           reverse=True)
    for name in (*(u.name for u in tree.by_id.values()), "Minh", "Khoa", "Lan", "Bình Yên",
                 *LANGUAGE_NAMES.values()):
        world.say(name)
    # The desk's tips, one per prompt (and one to reply to), sent by a resident of Khánh An.
    sender = await person(world, "resident", "vi")
    for action in (*tip_desk.INPUTS, "reply"):
        for move in file_tip("KA-SOC", action):
            await move(sender)
            await settle(harness)
        world.desk[action] = sender.vars[action]
    # The events' desk: one event per prompt (and one to reply to), from Sóc Đồn's reporter.
    reporter = await person(world, "resident", "vi")
    await harness.grant(reporter.tg_id, Role.REPORTER, "KA-SOC")
    reporter_id = (await world.svc.users.get(reporter.tg_id)).id
    soc = await world.unit("KA-SOC")
    for action in ("ask", "note", "reply"):
        draft = EventDraft(step="review", type=event_types()[0], unit_id=soc,
                           occurred_kind="now", occurred_at=world.svc.now().isoformat(),
                           description=f"Vụ việc để thử: {action}.", people=1)
        event = await world.svc.events.create(draft, reporter_id, world.svc.now())
        world.events[action] = (event.id, event.code)
        world.say(draft.description)
    return world


async def test_every_state_takes_every_kind_of_update(harness: Harness,
                                                     monkeypatch: pytest.MonkeyPatch):
    started = time.perf_counter()
    captured = ErrorLog(logging.WARNING)  # warnings too, pinned on the case
    for name in ("handlers", "bot"):
        logging.getLogger(name).addHandler(captured)
    try:
        tally = await fuzz(harness, monkeypatch, captured)
    finally:
        for name in ("handlers", "bot"):
            logging.getLogger(name).removeHandler(captured)
    elapsed = time.perf_counter() - started
    print(f"\nfuzz: {tally.states} states × {len(SLOTS)} inputs = {tally.cases} cases "
          f"({dict(tally.by_locale)}), {tally.refused} refused inputs checked for an intact "
          f"draft, {tally.moved_on} moved the person on, {tally.walked} walks; "
          f"{len(tally.problems)} problems; {elapsed:.1f} s")
    assert not tally.problems, "\n".join(tally.problems[:60])


async def fuzz(harness: Harness, monkeypatch: pytest.MonkeyPatch, captured: ErrorLog) -> Tally:
    world = await setup(harness, monkeypatch)
    states = await discover(world)
    assert {"language", "outside"} <= {s.name for s in states}, [s.name for s in states]
    missing = missing_steps(states)
    assert not missing, f"no walk reaches {missing}: add a move to a walk (or to UNREACHED)"
    inputs = examples(len(states))
    assert len(inputs) == len(states), "hypothesis drew fewer examples than there are states"
    tally = Tally()
    tally.states = len(states)
    for i, state in enumerate(states):
        people: dict[str, Ctx | None] = dict.fromkeys(LOCALES)
        for j, (slot, case) in enumerate(inputs[i].items()):
            locale = LOCALES[(i + j) % len(LOCALES)]
            if people[locale] is None:
                people[locale] = await walk_to(world, state, locale)
                tally.walked += 1
            ctx = people[locale]
            problems, moved = await run_case(ctx, state, case, captured, tally)
            tally.cases += 1
            tally.by_locale[locale] += 1
            tally.by_slot[slot] += 1
            tally.problems += [f"{state.name} [{locale}] {case.describe()}: {p}"
                               for p in problems]
            if moved:
                people[locale] = None
                tally.moved_on += 1
    assert tally.cases == len(states) * len(SLOTS)
    assert set(tally.by_slot) == set(SLOTS) and all(tally.by_locale[loc] for loc in LOCALES)
    return tally


async def run_case(ctx: Ctx, state: State, case: Input, captured: ErrorLog, tally: Tally
                   ) -> tuple[list[str], bool]:
    """One input at one state: (what went wrong, whether the person is elsewhere now)."""
    h, svc = ctx.harness, ctx.world.svc
    active = await svc.flows.active(ctx.tg_id)
    before = json.dumps(await svc.flows.draft(ctx.tg_id, active), sort_keys=True) \
        if active else None
    bot_messages = ctx.user.messages(include_deleted=True)
    versions = {m.message_id: len(m.versions) for m in bot_messages}
    calls, logged = len(h.emu.call_log), len(captured.records)
    press = await perform(ctx, case, active)
    await settle(h)

    problems = [f"logged {r.levelname}: {r.getMessage()}" for r in captured.records[logged:]]
    problems += limits_broken(h.emu.call_log[calls:])
    texts, changed = [], 0
    for view in ctx.user.messages(include_deleted=True):
        seen = versions.get(view.message_id)
        if seen is None or len(view.versions) > seen:
            texts += shown(view, seen or 0)
            changed += 1
    if press is not None:
        if not press.record.answered:
            problems.append("the press was not answered")
        texts.append((press.answer or {}).get("text") or "")
    elif not changed:
        problems.append("no answer")
    user = await svc.users.get(ctx.tg_id)
    expected = user.locale or svc.default_locale
    said = [x for x in texts if x]
    if bad := wrong_language(said, expected, ctx.world):
        problems.append(f"not in {expected}: {sorted(set(bad))[:5]} in {texts[:3]!r}"[:600])
    elif said and not any(OWN[expected].search(x) for x in said) \
            and not any(b in x for x in said for b in BILINGUAL):
        problems.append(f"nothing of the {expected} catalog in {said[:3]!r}"[:600])

    now_active = await svc.flows.active(ctx.tg_id)

    if refused(case, state):
        tally.refused += 1
        after = json.dumps(await svc.flows.draft(ctx.tg_id, active), sort_keys=True) \
            if active else None
        if now_active != active:
            problems.append(f"the active flow went from {active} to {now_active}")
        elif after != before:
            problems.append(f"the draft changed: {before[:300]} → {str(after)[:300]}")
    elif case.kind in ("text", "media", "location", "other") and active is not None \
            and now_active not in (active, None):
        problems.append(f"a message moved the flow from {active} to {now_active}")
    moved = await signature(ctx) != state.name or (user.locale or "") != (
        "" if state.name.startswith("language") else ctx.locale)
    return problems, moved
