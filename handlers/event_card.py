"""What an event's card says, and its buttons: the same for every coordinator, in their
language, built from the event as it is when the card is sent or edited.

A card names the event's code, type, status, place, time, people involved, reporter and
description, and what was done with it: who acknowledged and handled it and when, the
questions asked of the reporter and their answers, and notes (the newest few; the whole
history is on every card's next edit, as it stands). Nothing here changes an event
(storage.events, through handlers.event_desk) or sends anything (bot.notices).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from handlers.callbacks import data
from handlers.common import MAX_TEXT, button, cut, units
from handlers.occurred import occurred
from handlers.services import Services
from handlers.tip_card import NOTE_ON_CARD, escaped_within, history_block, media_counts
from locales import formats, t
from storage.events import Event, EventEntry, EventStatus, event_next

BODY_ON_CARD = 1500
_ICON = {EventStatus.NEW: "🆕", EventStatus.ACKNOWLEDGED: "📥", EventStatus.HANDLED: "✅"}


@dataclass(frozen=True)
class EventFacts:
    """What a card shows beyond the event itself, read once for all its recipients."""

    place: str
    reporter: str
    history: list[tuple[EventEntry, str]]  # each entry with the name of who did it


async def facts(svc: Services, event: Event) -> EventFacts:
    """The place, the reporter's name and the history with names."""
    tree = await svc.units.tree()
    place = html.escape(tree.path(event.unit_id)) if event.unit_id in tree.by_id else "—"
    if event.place_text:
        place += f" · «{html.escape(event.place_text)}»"
    names: dict[int, str] = {}

    async def name(user_id: int | None) -> str:
        if user_id is None:
            return "—"
        if user_id not in names:
            names[user_id] = (await svc.users.reach(user_id))[0].name or f"#{user_id}"
        return names[user_id]

    history = [(entry, await name(entry.actor_id)) for entry in await svc.events.history(event.id)]
    return EventFacts(place=place, reporter=await name(event.reporter_id), history=history)


def entry_line(svc: Services, locale: str, entry: EventEntry, name: str) -> str:
    """'• 10:05 18/11/2026 — Cán bộ Minh: đã tiếp nhận' (HTML)."""
    when = formats.moment(entry.at, locale, svc.timezone)
    who = html.escape(cut(name, 64))
    if entry.kind == "status" and entry.to_status is not None:
        what = t(locale, f"eventdesk.did.{entry.to_status.value}")
    else:
        text = html.escape(cut(str(entry.detail.get("text", "")), NOTE_ON_CARD))
        what = t(locale, f"eventdesk.did.{entry.kind}", text=text)
    return f"• {when} — {who}: {what}"


def card_text(svc: Services, locale: str, event: Event, f: EventFacts) -> str:
    """The card in one coordinator's language (HTML), within one message."""
    def tr(key: str, **values: object) -> str:
        return t(locale, key, **values)

    head = [f"{_ICON[event.status]} <b>{event.code}</b> · 🚨 {tr(f'eventtype.{event.type}')}",
            tr("tipdesk.card.status", status=tr(f"eventstatus.{event.status.value}")),
            "📍 " + f.place,
            "🕒 " + occurred(locale, svc, event.occurred_kind, event.occurred_at, on_card=True),
            tr("eventdesk.card.people", n=formats.number(event.people, locale)),
            tr("eventdesk.card.reporter", name=html.escape(cut(f.reporter, 64)),
               moment=formats.moment(event.created_at, locale, svc.timezone))]
    tail = []
    if event.media:
        tail.append("📎 " + media_counts(locale, event.media))
    if f.history:
        tail.append(history_block(locale, [entry_line(svc, locale, entry, name)
                                           for entry, name in f.history]))
    room = MAX_TEXT - sum(units(line) + 1 for line in head + tail) - 8
    limit = max(min(BODY_ON_CARD, room), 0)
    body = html.escape(event.description) or "—"
    if units(body) > limit:
        body = escaped_within(event.description, limit - 1) + "…"
    return "\n".join([*head, "📝 " + body, *tail])


def event_button(text: str, event: Event, *fields: object):
    """A button on an event's card: ``ev:<id>:<action>[:<argument>]``."""
    return button(text, data("ev", event.id, *fields))


def card_keyboard(locale: str, event: Event) -> InlineKeyboardMarkup:
    """The next actions for the event's state."""
    def b(key: str, *fields: object):
        return event_button(t(locale, key), event, *fields)

    rows = []
    if event.is_open:
        rows.append([b(f"eventdesk.btn.{s.value}", "st", s.value)
                     for s in event_next(event.status)])
        rows.append([b("eventdesk.btn.ask", "ask"), b("tipdesk.btn.note", "note")])
    else:
        rows.append([b("tipdesk.btn.note", "note")])
    if event.media:
        rows.append([event_button(t(locale, "eventdesk.btn.media",
                                    n=formats.number(len(event.media), locale)),
                                  event, "media")])
    return InlineKeyboardMarkup(rows)
