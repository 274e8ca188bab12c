"""A reporter reports an event as it happens; the coordinators in scope get it at once.

/event → the hamlet (if they hold several) → type → when → place (or skip) → short
description → how many people were involved (a count, never who) → photos (or none)
→ review → send. Every step has Back and Cancel; the draft is written before every answer
(handlers.flows), and the reporter's hold on the hamlet is checked at every step. On
sending, the event and its cards are written in one transaction; the outbox delivers them.
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, button, cut, step_header
from handlers.event_desk import card_for
from handlers.occurred import WHEN, occurred, pressed, typed
from handlers.tip_card import media_counts
from handlers.tip_recipients import recipients
from handlers.tips import acknowledge_later
from storage.events import MAX_DESCRIPTION, MAX_MEDIA, MAX_PEOPLE, EventDraft, event_types
from storage.models import Role
from storage.outbox import NewItem
from storage.reporting import parse_count

log = logging.getLogger(__name__)

STEPS = ("type", "when", "place", "description", "people", "photos", "review")
TOTAL = len(STEPS)
MAX_PLACE = 300
PREFIX = "evf"


def _b(text: str, *fields: object):
    return button(text, data(PREFIX, *fields))


async def begin(turn: Turn) -> None:
    """/event: reporters only; a hamlet first if they hold several; an event left for later
    is taken up where it was."""
    units = turn.me.user.units_for(Role.REPORTER)
    if not units:
        turn.say(turn.tr("event.not_reporter"))
        return
    found = await flows.load(turn, FLOW)
    if found is not None and (found.unit_id is None or found.unit_id in units):
        await flows.enter(turn, FLOW, found, show=False)
        turn.say(turn.tr("flow.resumed", what=label(turn, found)))
        await show(turn, found, in_place=False)
        return
    draft = EventDraft(unit_id=units[0]) if len(units) == 1 else EventDraft(step="unit")
    await flows.enter(turn, FLOW, draft, show=False)
    await show(turn, draft, in_place=False)


async def may_report(turn: Turn, draft: EventDraft) -> str | None:
    """Still a reporter of the hamlet (checked at every step)?"""
    mine = turn.me.user.units_for(Role.REPORTER)
    if not mine or (draft.unit_id is not None and draft.unit_id not in mine):
        return "report.role_ended"
    return None


def _nav(turn: Turn, *extra) -> list:
    return [*extra, _b(turn.tr("flow.back"), "back"), _b(turn.tr("flow.cancel"), "cancel")]


def label(turn: Turn, draft: EventDraft) -> str:
    """'vụ việc đang báo (Bước 3/7)'."""
    number = STEPS.index(draft.step) + 1 if draft.step in STEPS else 1
    return turn.tr("event.label", step=turn.tr("flow.step", step=number, total=TOTAL))


async def show(turn: Turn, draft: EventDraft, *, in_place: bool = True,
               notice: str = "") -> None:
    """The current step."""
    step = draft.step
    if step == "unit":
        tree = await turn.svc.units.tree()
        units = sorted(u for u in turn.me.user.units_for(Role.REPORTER) if u in tree.by_id)
        rows = [[_b(cut(tree.path(u), 60), "u", u)] for u in units[:40]]
        rows.append([_b(turn.tr("flow.cancel"), "cancel")])
        turn.show(turn.tr("event.choose_unit"), InlineKeyboardMarkup(rows), in_place=in_place)
        return
    header = step_header(turn.me, STEPS.index(step) + 1, TOTAL, turn.tr(f"event.{step}.title"))
    rows: list = []
    if step == "type":
        types = event_types()
        rows = [[_b(turn.tr(f"eventtype.{c}"), "type", c) for c in types[i:i + 2]]
                for i in range(0, len(types), 2)]
        rows.append([_b(turn.tr("flow.cancel"), "cancel")])
        body = turn.tr("event.type.ask") + "\n\n" + turn.tr("emergency")
    elif step == "when":
        rows = [[_b(turn.tr(f"tips.when.{which}"), "when", which) for which in WHEN],
                _nav(turn)]
        body = turn.tr("tips.when.ask")
    elif step == "place":
        rows = [_nav(turn, _b(turn.tr("event.btn.skip"), "skip"))]
        body = turn.tr("event.place.ask", max=turn.number(MAX_PLACE))
    elif step == "description":
        rows = [_nav(turn)]
        body = turn.tr("event.description.ask", max=turn.number(MAX_DESCRIPTION))
    elif step == "people":
        rows = [_nav(turn, _b("0", "people", 0))]
        body = turn.tr("event.people.ask")
    elif step == "photos":
        key = "event.btn.photos_done" if draft.media else "event.btn.no_photos"
        rows = [_nav(turn, _b(turn.tr(key), "photos"))]
        body = turn.tr("event.photos.ask", max=turn.number(MAX_MEDIA))
        if draft.media:
            body += "\n" + turn.tr("event.photos.count",
                                    parts=media_counts(turn.me.locale, draft.media))
    else:
        # Nobody would receive it (no coordinator up the hamlet's chain, no admin): no send
        # button, and a plain explanation; the draft waits.
        nobody = not await recipients(turn.svc, draft.unit_id)
        ask = turn.tr("event.review.nobody") if nobody else turn.tr("event.review.ask")
        body = await _summary(turn, draft) + "\n\n" + ask
        rows = [_nav(turn)] if nobody else [[_b(turn.tr("event.btn.send"), "send")], _nav(turn)]
    text = f"{header}\n\n{body}"
    if notice:
        text = notice + "\n\n" + text
    turn.show(text, InlineKeyboardMarkup(rows), in_place=in_place)


async def _summary(turn: Turn, draft: EventDraft) -> str:
    svc = turn.svc
    tree = await svc.units.tree()
    place = html.escape(tree.path(draft.unit_id)) if draft.unit_id in tree.by_id else "—"
    if draft.place_text:
        place += f" · «{html.escape(draft.place_text)}»"
    return turn.tr(
        "event.review.summary",
        type=turn.tr(f"eventtype.{draft.type}") if draft.type else "—",
        when=(occurred(turn.me.locale, svc, draft.occurred_kind, draft.occurred_at)
              if draft.occurred_kind and draft.occurred_at else "—"),
        place=place, description=html.escape(draft.description) or "—",
        people=turn.number(draft.people or 0), photos=turn.number(len(draft.media)))


async def _advance(turn: Turn, draft: EventDraft, *, in_place: bool = True) -> None:
    draft.step = STEPS[STEPS.index(draft.step) + 1]
    await show(turn, draft, in_place=in_place)


# ---------------------------------------------------------------------- buttons


async def unit_chosen(turn: Turn, draft: EventDraft) -> None:
    """A hamlet button."""
    unit_id = turn.press.int(1)
    if unit_id not in turn.me.user.units_for(Role.REPORTER):
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    draft.unit_id, draft.step = unit_id, "type"
    await show(turn, draft)


async def back(turn: Turn, draft: EventDraft) -> None:
    """One step back."""
    if draft.step in STEPS and STEPS.index(draft.step) > 0:
        draft.step = STEPS[STEPS.index(draft.step) - 1]
    await show(turn, draft)


async def type_chosen(turn: Turn, draft: EventDraft) -> None:
    """The event's type."""
    code = turn.press.field(1)
    if code not in event_types():
        await show(turn, draft)
        return
    draft.type = code
    await _advance(turn, draft)


async def when_chosen(turn: Turn, draft: EventDraft) -> None:
    """'Just now' or 'today'."""
    if pressed(turn, draft):
        await _advance(turn, draft)
    else:
        await show(turn, draft)


async def skip_place(turn: Turn, draft: EventDraft) -> None:
    """No place beyond the hamlet."""
    draft.place_text = None
    await _advance(turn, draft)


async def no_people(turn: Turn, draft: EventDraft) -> None:
    """Nobody involved."""
    draft.people = 0
    await _advance(turn, draft)


async def photos_done(turn: Turn, draft: EventDraft) -> None:
    """Photos done (or none)."""
    await _advance(turn, draft)


# ---------------------------------------------------------------------- typed input


async def when_typed(turn: Turn, draft: EventDraft) -> None:
    """A date."""
    if typed(turn, draft):
        await _advance(turn, draft, in_place=False)


async def place_typed(turn: Turn, draft: EventDraft) -> None:
    """Where, in words."""
    text = turn.text
    if not text:  # nothing that shows (spaces, invisible marks): Skip is the button for that
        turn.say(turn.tr("tips.where.empty"))
        return
    if len(text) > MAX_PLACE:
        turn.say(turn.tr("tips.where.too_long", max=turn.number(MAX_PLACE)))
        return
    draft.place_text = text
    await _advance(turn, draft, in_place=False)


async def description_typed(turn: Turn, draft: EventDraft) -> None:
    """What happened, briefly."""
    text = turn.text
    if not text:
        turn.say(turn.tr("tips.what.empty"))
        return
    if len(text) > MAX_DESCRIPTION:
        turn.say(turn.tr("event.description.too_long", n=turn.number(len(text)),
                         max=turn.number(MAX_DESCRIPTION)))
        return
    draft.description = text
    await _advance(turn, draft, in_place=False)


async def people_typed(turn: Turn, draft: EventDraft) -> None:
    """How many people were involved (a count, never names)."""
    value, problem = parse_count(turn.message.text or "", turn.me.locale)
    if problem is not None:
        turn.say(turn.tr(f"report.count.{problem.value}"))
        return
    if value > MAX_PEOPLE:
        turn.say(turn.tr("event.people.too_many", max=turn.number(MAX_PEOPLE)))
        return
    draft.people = value
    await _advance(turn, draft, in_place=False)


async def use_buttons(turn: Turn, draft: EventDraft) -> None:
    """Text where a button is wanted."""
    turn.say(turn.tr("event.use_buttons"))
    await show(turn, draft, in_place=False)


async def photo(turn: Turn, draft: EventDraft) -> None:
    """A photo (or video) — at the photos step or at any other, it is part of the event;
    its caption is added to the description."""
    msg = turn.message
    if not (msg.photo or msg.video):
        await other(turn, draft)
        return
    if len(draft.media) >= MAX_MEDIA:
        if msg.media_group_id is None or msg.media_group_id != draft.full_album:
            turn.say(turn.tr("tips.what.too_many", max=turn.number(MAX_MEDIA)))
        draft.full_album = msg.media_group_id
        return
    caption = turn.text
    if caption:
        joined = f"{draft.description}\n{caption}" if draft.description else caption
        if len(joined) > MAX_DESCRIPTION:
            turn.say(turn.tr("event.description.too_long", n=turn.number(len(joined)),
                             max=turn.number(MAX_DESCRIPTION)))
            return
        draft.description = joined
    draft.media.append(("photo", msg.photo[-1].file_id) if msg.photo
                       else ("video", msg.video.file_id))
    if msg.media_group_id:
        acknowledge_later(turn, msg.media_group_id, kind="event")
        return
    if draft.step != "photos":
        turn.say(turn.tr("event.photos.count", parts=media_counts(turn.me.locale, draft.media)))
    await show(turn, draft, in_place=False)


async def other(turn: Turn, draft: EventDraft) -> None:
    """Stickers, files, locations...: say what the step wants."""
    turn.say(turn.tr("event.unsupported"))
    await show(turn, draft, in_place=False)


# ---------------------------------------------------------------------- sending


async def send(turn: Turn, draft: EventDraft) -> None:
    """Store the event with its code; its cards go to every coordinator whose scope holds the
    hamlet (else to those a tip with nobody there would reach)."""
    if not draft.type or draft.people is None or not draft.occurred_kind \
            or not draft.description:
        await show(turn, draft)
        return
    svc = turn.svc
    # The people a tip of the hamlet would reach (its chain, else the roots and the admins):
    # no event reaches nobody.
    to = await recipients(svc, draft.unit_id)
    if not to:  # the last coordinator left since the review was shown
        await show(turn, draft)
        return

    def announce(event_id: int) -> list[NewItem]:
        return [card_for(event_id, user_id, media=True) for user_id in to]

    event = await svc.events.create(draft, turn.me.user.id, svc.now(), announce=announce,
                                    also=svc.flows.finishing(turn.tg_id, FLOW.kind))
    flows.end(turn, done=True)
    turn.show(turn.tr("event.sent", code=event.code, n=turn.number(len(to))) + "\n\n"
              + await _summary(turn, draft))


cancel = flows.cancel_saying("event.cancelled")



def album_prompt(me, stored: dict):
    """After an album: how many photos there are now (and at the photos step its buttons)."""
    draft = EventDraft.from_json(stored)
    if draft.step != "photos":
        return me.tr("event.photos.count", parts=media_counts(me.locale, draft.media)), None
    rows = [[_b(me.tr("event.btn.photos_done"), "photos"), _b(me.tr("flow.back"), "back"),
             _b(me.tr("flow.cancel"), "cancel")]]
    text = me.tr("event.photos.count", parts=media_counts(me.locale, draft.media))
    return text, InlineKeyboardMarkup(rows)


FLOW = flows.register(flows.Flow(
    kind="event", prefix=PREFIX, load=EventDraft.from_json, show=show, label=label,
    unexpected=other, allowed=may_report, cancel=cancel, album=album_prompt,
    buttons={"back": back, "cancel": cancel},
))
FLOW.step("unit", buttons={"u": unit_chosen}, text=use_buttons)
FLOW.step("type", buttons={"type": type_chosen}, text=use_buttons, media=photo)
FLOW.step("when", buttons={"when": when_chosen}, text=when_typed, media=photo)
FLOW.step("place", buttons={"skip": skip_place}, text=place_typed, media=photo)
FLOW.step("description", text=description_typed, media=photo)
FLOW.step("people", buttons={"people": no_people}, text=people_typed, media=photo)
FLOW.step("photos", buttons={"photos": photos_done}, media=photo, text=use_buttons)
FLOW.step("review", buttons={"send": send}, text=use_buttons, media=photo)
