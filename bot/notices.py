"""What the outbox's immediate lane says: cards, receipts, relays and notices, rendered when
they are sent.

Each kind of outbox row that follows from what someone did has a renderer here, which turns
the row into Bot API calls (bot.outbox.Part) from the state of that moment, in the
recipient's language: a card shows the tip as it is when it goes out, so a card delayed by a
fault is never out of date, and an edit coalesced with others shows the last change. Rows
for a tip's sender name no user; :func:`address` finds them through the tip's sealed link.

Kinds: ``tip.card`` (media, location, card), ``tip.edit`` (the card edited), ``tip.media``,
``tip.receipt`` (the resident's review turned into the receipt, pinned), ``tip.notice`` (a
status change, a merge, a question with its Answer button), ``tip.answer`` (the resident's
answer copied under a card), ``tip.assigned``, ``tip.staff`` (its assignee told),
``event.card`` (photos, card),
``event.edit``, ``event.media``, ``event.notice`` (to the reporter), ``event.question``
(with its Answer button), ``event.answer`` (the reporter's, under a card), ``role.ended``,
``report.replaced``, ``report.reopened``, and ``reply`` (an answer to a person that could
not be sent while their update was handled).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import InlineKeyboardMarkup

from bot.outbox import PREVIOUS, Address, Part
from handlers import event_card, event_desk
from handlers.callbacks import data
from handlers.common import button, cut
from handlers.reports import period_label
from handlers.services import Services
from handlers.tip_card import card_keyboard, card_text, facts
from handlers.tip_recipients import in_charge
from handlers.tips import place_of, summary_text
from locales import formats, t
from storage.outbox import OutboxItem
from storage.reporting import Period

Render = Callable[[Services, OutboxItem, str], Awaitable[list[Part]]]
RENDERERS: dict[str, Render] = {}


def renders(kind: str) -> Callable[[Render], Render]:
    """Register the renderer of an outbox kind."""
    def register(fn: Render) -> Render:
        RENDERERS[kind] = fn
        return fn

    return register


async def recipient(svc: Services, item: OutboxItem) -> int | None:
    """The users.id an item is for: its user, or the sender of its tip (None once unlinked)."""
    if item.user_id is not None:
        return item.user_id
    if item.tip_id is None:
        return None
    return await svc.tips.sender_of(item.tip_id)


async def address(svc: Services, item: OutboxItem) -> Address:
    """Where an item goes (LookupError when nobody can be reached any more)."""
    user_id = await recipient(svc, item)
    if user_id is None:
        raise LookupError(f"outbox item {item.id}: the tip's sender is no longer linked")
    contact, _ = await svc.users.reach(user_id)
    return Address(contact.chat_id, user_id)


async def render(svc: Services, item: OutboxItem) -> list[Part]:
    """The calls of an immediate item, in its recipient's language."""
    user_id = await recipient(svc, item)
    if user_id is None:
        raise LookupError(f"outbox item {item.id}: the tip's sender is no longer linked")
    _, known = await svc.users.reach(user_id)
    return await RENDERERS[item.kind](svc, item, known or svc.default_locale)


# ---------------------------------------------------------------------- tips


def _media_parts(media: tuple[tuple[str, str], ...] | list, caption: str | None = None
                 ) -> list[Part]:
    """Photos and videos as albums of up to ten, files as albums, voice notes one by one."""
    visual = [m for m in media if m[0] in ("photo", "video")]
    docs = [m for m in media if m[0] == "document"]
    parts: list[Part] = []
    for group in (visual, docs):
        for i in range(0, len(group), 10):
            chunk = tuple(group[i:i + 10])
            first = caption if not parts else None
            if len(chunk) == 1:
                parts.append(Part(chunk[0][0], text=first, file_id=chunk[0][1]))
            else:
                parts.append(Part("album", text=first, media=chunk))
    # Voice notes, round videos and audio files cannot be grouped: one by one.
    # (a voice note or an audio file takes the caption; a round video cannot).
    parts += [Part(kind, file_id=fid, text=caption if kind != "video_note" else None)
              for kind, fid in media if kind in ("voice", "video_note", "audio")]
    return parts


async def _in_charge(svc: Services, item: OutboxItem, unit_id: int | None) -> bool:
    """Whether the item's coordinator still has the tip or event to handle (a role ended
    since the card was sent: no more of it)."""
    return item.user_id in await in_charge(svc, unit_id)


@renders("tip.card")
async def _card(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    if tip is None or not await _in_charge(svc, item, tip.unit_id):
        return []
    f = await facts(svc, tip)
    parts: list[Part] = []
    if item.payload.get("media"):
        parts += _media_parts(tip.media, caption=f"<b>{tip.code}</b>")
        if tip.latitude is not None:
            parts.append(Part("location", location=(tip.latitude, tip.longitude)))
    # The card answers the message above it (the album, the location): one thread to read.
    parts.append(Part("text", card_text(svc, locale, tip, f, svc.now()),
                      markup=card_keyboard(locale, tip, f),
                      reply_to=PREVIOUS if parts else None))
    return parts


@renders("tip.edit")
async def _card_edit(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    copies = [m for u, m in await svc.tips.cards(item.tip_id) if u == item.user_id] \
        if tip is not None else []
    if tip is None or not copies or not await _in_charge(svc, item, tip.unit_id):
        return []  # nothing to edit: the card itself, when it goes, shows the tip as it is
    f = await facts(svc, tip)
    text, markup = card_text(svc, locale, tip, f, svc.now()), card_keyboard(locale, tip, f)
    # Every copy the coordinator holds (a card opened again with /tip), newest first; one
    # deleted from the chat meanwhile is no reason to leave the others as they were.
    return [Part("edit", text, markup=markup, message_id=m, optional=True)
            for m in reversed(copies)]


@renders("tip.media")
async def _media(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    return _media_parts(tip.media, caption=f"<b>{tip.code}</b>") if tip else []


@renders("tip.receipt")
async def _receipt(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    if tip is None:
        return []
    place = await place_of(svc, locale, tip.unit_id, tip.place_text, tip.latitude,
                           tip.longitude)
    summary = summary_text(svc, locale, category_code=tip.category, body=tip.body,
                           media=tip.media, place=place, occurred_kind=tip.occurred_kind,
                           occurred_at=tip.occurred_at, anonymous=tip.anonymous,
                           name=tip.sender_name)
    # The code first (what a pin shows), then what was sent.
    text = "\n\n".join((t(locale, "tips.sent", code=tip.code), summary,
                        t(locale, "emergency")))
    new = Part("text", text)
    review = item.payload.get("message_id")
    first = Part("edit", text, message_id=review, or_else=new) if review else new
    return [first, Part("pin", message_id=PREVIOUS, optional=True)]


@renders("tip.notice")
async def _notice(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    if tip is None:
        return []
    values = {k: (t(locale, v[1:]) if isinstance(v, str) and v.startswith("@") else v)
              for k, v in item.payload.get("values", {}).items()}
    markup = None
    if item.payload.get("answer"):
        markup = InlineKeyboardMarkup([[button(t(locale, "tips.btn.answer"),
                                               data("ans", tip.id))]])
    return [Part("text", t(locale, item.payload["key"], code=tip.code, **values),
                 markup=markup)]


@renders("tip.answer")
async def _answer(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    sender = await svc.tips.sender_of(item.tip_id) if tip is not None else None
    if tip is None or sender is None or not await _in_charge(svc, item, tip.unit_id):
        return []
    contact, _ = await svc.users.reach(sender)
    card = dict(await svc.tips.cards(tip.id)).get(item.user_id)
    copy = Part("copy", source=(contact.chat_id, int(item.payload["message_id"])),
                reply_to=PREVIOUS)
    if not item.payload.get("head", True):  # the rest of an album: under the card, no line
        return [Part("copy", source=copy.source, reply_to=card)]
    return [Part("text", t(locale, "tipdesk.answer", code=tip.code), reply_to=card), copy]


@renders("tip.staff")
async def _to_staff(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    if tip is None:
        return []
    values = {k: (t(locale, v[1:]) if isinstance(v, str) and v.startswith("@")
                  else html.escape(str(v)))
              for k, v in item.payload.get("values", {}).items()}
    return [Part("text", t(locale, item.payload["key"], code=tip.code, **values))]


@renders("tip.assigned")
async def _assigned(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tip = await svc.tips.get(item.tip_id)
    if tip is None:
        return []
    by = html.escape(cut(str(item.payload.get("by") or "—"), 64))
    return [Part("text", t(locale, "tipdesk.assigned_to_you", code=tip.code, by=by))]


# ---------------------------------------------------------------------- events, roles, reports


@renders("event.card")
async def _event(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    event = await svc.events.get(int(item.payload["event"]))
    if event is None or not await _in_charge(svc, item, event.unit_id):
        return []
    f = await event_card.facts(svc, event)
    parts: list[Part] = []
    # The photos first, as one album captioned with the code (a new card only; a card opened
    # again has the button for them).
    if item.payload.get("media", True):
        parts += _media_parts(event.media, caption=f"<b>{event.code}</b>")
    parts.append(Part("text", event_card.card_text(svc, locale, event, f),
                      markup=event_card.card_keyboard(locale, event),
                      reply_to=PREVIOUS if parts else None))
    return parts


@renders("event.edit")
async def _event_edit(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    event = await svc.events.get(int(item.payload["event"]))
    copies = [m for u, m in await svc.events.cards(event.id) if u == item.user_id] \
        if event is not None else []
    if event is None or not copies or not await _in_charge(svc, item, event.unit_id):
        return []
    f = await event_card.facts(svc, event)
    text = event_card.card_text(svc, locale, event, f)
    markup = event_card.card_keyboard(locale, event)
    return [Part("edit", text, markup=markup, message_id=m, optional=True)
            for m in reversed(copies)]


@renders("event.media")
async def _event_media(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    event = await svc.events.get(int(item.payload["event"]))
    return _media_parts(event.media, caption=f"<b>{event.code}</b>") if event else []


@renders("event.notice")
async def _event_notice(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    event = await svc.events.get(int(item.payload["event"]))
    if event is None:
        return []
    values = {k: html.escape(str(v)) for k, v in item.payload.get("values", {}).items()}
    return [Part("text", t(locale, item.payload["key"], code=event.code,
                           type=t(locale, f"eventtype.{event.type}"), **values))]


@renders("event.question")
async def _event_question(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    event = await svc.events.get(int(item.payload["event"]))
    if event is None:
        return []
    p = item.payload
    return [Part("text", event_desk.question_text(locale, event, str(p.get("by") or "—"),
                                                  str(p.get("text") or "")),
                 markup=event_desk.question_markup(locale, event.id))]


@renders("event.answer")
async def _event_answer(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    """The reporter's answer under the coordinator's newest card of the event: in words for
    text, copied (photo, video) otherwise; the rest of an album follows without a line."""
    event = await svc.events.get(int(item.payload["event"]))
    if event is None or not await _in_charge(svc, item, event.unit_id):
        return []
    p = item.payload
    card = next((m for u, m in reversed(await svc.events.cards(event.id))
                 if u == item.user_id), None)
    head = t(locale, "eventdesk.answer.relayed", code=event.code,
             by=html.escape(str(p.get("by") or "—")))
    if not p.get("media"):
        return [Part("text", head + "\n" + html.escape(str(p.get("text") or "")),
                     reply_to=card)]
    copy = Part("copy", source=(int(p["chat_id"]), int(p["message_id"])),
                reply_to=PREVIOUS if p.get("head", True) else card)
    if not p.get("head", True):
        return [copy]
    return [Part("text", head, reply_to=card), copy]


@renders("role.ended")
async def _role_ended(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    tree = await svc.units.tree()
    unit_id = int(item.payload["unit_id"])
    unit = html.escape(tree.path(unit_id)) if unit_id in tree.by_id else "—"
    return [Part("text", t(locale, "invite.replaced",
                           role=t(locale, f"role.{item.payload['role']}"), unit=unit))]


def _unit_name(tree, unit_id: int) -> str:
    return html.escape(tree.by_id[unit_id].name) if unit_id in tree.by_id else "—"


@renders("report.replaced")
async def _report_replaced(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    p = item.payload
    tree = await svc.units.tree()
    return [Part("text", t(locale, "report.replaced_yours",
                           name=html.escape(cut(str(p.get("by") or "—"), 64)),
                           set=t(locale, f"indicatorset.{p['set']}"),
                           period=period_label(locale, Period.from_key(p["period"])),
                           unit=_unit_name(tree, int(p["unit_id"])), version=p["version"],
                           old=p["old"]))]


@renders("report.reopened")
async def _report_reopened(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    p = item.payload
    tree = await svc.units.tree()
    until = datetime.fromisoformat(p["until"])
    return [Part("text", t(locale, "report.reopened_notice",
                           set=t(locale, f"indicatorset.{p['set']}"),
                           period=period_label(locale, Period.from_key(p["period"])),
                           unit=_unit_name(tree, int(p["unit_id"])),
                           moment=formats.moment(until, locale, svc.timezone)))]


@renders("reply")
async def _reply(svc: Services, item: OutboxItem, locale: str) -> list[Part]:
    p = item.payload
    if "file" in p:  # a picture or a workbook
        return [Part(p["kind"], text=p.get("text") or None, data=base64.b64decode(p["file"]),
                     filename=p.get("filename"))]
    return [Part("text", p["text"], markup=p.get("markup"))]
