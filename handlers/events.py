"""A reporter reports an event as it happens; the coordinators in scope get it at once.

/event → the hamlet (if they hold several) → type → when → place (or skip) → short
description → how many people were involved (a count, never who) → photos (or none)
→ review → send. Every step has Back and Cancel and writes the draft (storage.drafts).
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers import tip_desk
from handlers.common import (
    Who,
    button,
    drop_keyboard,
    end_other_flows,
    persistent_conversation,
    reply_in_place,
    say,
    step_header,
    who,
)
from handlers.services import services
from handlers.tips import OLDEST_YEARS, parse_day
from locales import formats, t
from storage.events import MAX_DESCRIPTION, MAX_MEDIA, MAX_PEOPLE, Event, EventDraft, event_types
from storage.models import Role
from storage.reporting import parse_count

log = logging.getLogger(__name__)

STEPS = ("type", "when", "place", "description", "people", "photos", "review")
STATE = {step: f"event.{step}" for step in STEPS}
CHOOSE = "event.unit"
TOTAL = len(STEPS)
MAX_PLACE = 300


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """/event: reporters only; a hamlet first if they hold several."""
    if update.callback_query:
        await update.callback_query.answer()
    end_other_flows(update, context, keep="event")
    me = await who(update, context)
    units = me.user.units_for(Role.REPORTER)
    if not units:
        await say(update, me.tr("event.not_reporter"))
        return ConversationHandler.END
    if len(units) == 1:
        return await _start(update, context, me, units[0], in_place=False)
    tree = await services(context).units.tree()
    rows = [[button(tree.path(u)[:60], f"evf:u:{u}")] for u in sorted(units) if u in tree.by_id]
    rows.append([button(me.tr("flow.cancel"), "evf:cancel")])
    await say(update, me.tr("event.choose_unit"), reply_markup=InlineKeyboardMarkup(rows))
    return CHOOSE


async def unit_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A hamlet button."""
    await update.callback_query.answer()
    me = await who(update, context)
    unit_id = int(update.callback_query.data.removeprefix("evf:u:"))
    if unit_id not in me.user.units_for(Role.REPORTER):
        await reply_in_place(update, me.tr("report.not_yours_any"))
        return ConversationHandler.END
    return await _start(update, context, me, unit_id)


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, unit_id: int, *,
                 in_place: bool = True) -> str:
    draft = EventDraft(unit_id=unit_id)
    await _save(update, context, draft)
    return await _show(update, context, me, draft, in_place=in_place)


async def _save(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: EventDraft) -> None:
    svc = services(context)
    await svc.event_drafts.save(update.effective_user.id, draft, svc.now())


def _nav(me: Who, *extra) -> list:
    return [*extra, button(me.tr("flow.back"), "evf:back"),
            button(me.tr("flow.cancel"), "evf:cancel")]


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: EventDraft,
                *, in_place: bool = True, notice: str = "") -> str:
    step = draft.step
    header = step_header(me, STEPS.index(step) + 1, TOTAL, me.tr(f"event.{step}.title"))
    rows: list = []
    if step == "type":
        types = event_types()
        rows = [[button(me.tr(f"eventtype.{c}"), f"evf:type:{c}") for c in types[i:i + 2]]
                for i in range(0, len(types), 2)]
        rows.append([button(me.tr("flow.cancel"), "evf:cancel")])
        body = me.tr("event.type.ask") + "\n\n" + me.tr("emergency")
    elif step == "when":
        rows = [[button(me.tr("tips.when.now"), "evf:when:now"),
                 button(me.tr("tips.when.today"), "evf:when:today")], _nav(me)]
        body = me.tr("tips.when.ask")
    elif step == "place":
        rows = [_nav(me, button(me.tr("event.btn.skip"), "evf:skip"))]
        body = me.tr("event.place.ask", max=formats.number(MAX_PLACE, me.locale))
    elif step == "description":
        rows = [_nav(me)]
        body = me.tr("event.description.ask", max=formats.number(MAX_DESCRIPTION, me.locale))
    elif step == "people":
        rows = [_nav(me, button("0", "evf:people:0"))]
        body = me.tr("event.people.ask")
    elif step == "photos":
        label = "event.btn.photos_done" if draft.media else "event.btn.no_photos"
        rows = [_nav(me, button(me.tr(label), "evf:photos"))]
        body = me.tr("event.photos.ask", max=formats.number(MAX_MEDIA, me.locale))
        if draft.media:
            body += "\n" + me.tr("event.photos.count",
                                 n=formats.number(len(draft.media), me.locale))
    else:
        body = await _summary(context, me, draft) + "\n\n" + me.tr("event.review.ask")
        rows = [[button(me.tr("event.btn.send"), "evf:send")], _nav(me)]
    text = f"{header}\n\n{body}"
    if notice:
        text = notice + "\n\n" + text
    await reply_in_place(update, text, InlineKeyboardMarkup(rows), in_place=in_place)
    return STATE[step]


async def _summary(context: ContextTypes.DEFAULT_TYPE, me: Who, draft: EventDraft) -> str:
    svc = services(context)
    tree = await svc.units.tree()
    place = html.escape(tree.path(draft.unit_id)) if draft.unit_id in tree.by_id else "—"
    if draft.place_text:
        place += f" · «{html.escape(draft.place_text)}»"
    return me.tr(
        "event.review.summary",
        type=me.tr(f"eventtype.{draft.type}") if draft.type else "—",
        when=(tip_desk.occurred(me.locale, svc, draft.occurred_kind, draft.occurred_at)
              if draft.occurred_kind and draft.occurred_at else "—"),
        place=place, description=html.escape(draft.description) or "—",
        people=formats.number(draft.people or 0, me.locale),
        photos=formats.number(len(draft.media), me.locale))


async def _current(update: Update, context: ContextTypes.DEFAULT_TYPE
                   ) -> tuple[Who, EventDraft | None]:
    me = await who(update, context)
    return me, await services(context).event_drafts.get(update.effective_user.id)


async def _advance(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                   draft: EventDraft, *, notice: str = "") -> str:
    draft.step = STEPS[STEPS.index(draft.step) + 1]
    await _save(update, context, draft)
    return await _show(update, context, me, draft, notice=notice)


async def _gone(update: Update, me: Who) -> int:
    await reply_in_place(update, me.tr("event.draft_gone"))
    return ConversationHandler.END


# ---------------------------------------------------------------------- buttons


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Every button of the flow but cancel: type, when, skip, people 0, photos done, back."""
    query = update.callback_query
    await query.answer()
    me, draft = await _current(update, context)
    if draft is None:
        return await _gone(update, me)
    svc = services(context)
    data = query.data.removeprefix("evf:")
    if data == "back":
        index = STEPS.index(draft.step)
        if index == 0:
            return await _show(update, context, me, draft)
        draft.step = STEPS[index - 1]
        await _save(update, context, draft)
        return await _show(update, context, me, draft)
    wanted = {"type": "type", "when": "when", "skip": "place", "people": "people",
              "photos": "photos"}.get(data.split(":")[0])
    if wanted != draft.step:  # a button of another step (an old message)
        return await _show(update, context, me, draft)
    if data.startswith("type:"):
        code = data.removeprefix("type:")
        if code not in event_types():
            return await _show(update, context, me, draft)
        draft.type = code
    elif data.startswith("when:"):
        now = svc.now()
        if data == "when:now":
            draft.occurred_kind, draft.occurred_at = "now", now.isoformat()
        else:
            draft.occurred_kind = "today"
            draft.occurred_at = now.astimezone(svc.timezone).date().isoformat()
    elif data == "skip":
        draft.place_text = None
    elif data == "people:0":
        draft.people = 0
    return await _advance(update, context, me, draft)


# ---------------------------------------------------------------------- typed input


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Text for the step that takes text: a date, a place, the description, a count."""
    me, draft = await _current(update, context)
    if draft is None:
        return await _gone(update, me)
    svc = services(context)
    text = (update.message.text or "").strip()
    step = draft.step
    if step == "when":
        today = svc.now().astimezone(svc.timezone).date()
        day, problem = parse_day(text, today)
        if day is None:
            await say(update, me.tr(f"tips.when.{problem}", today=formats.day(today, me.locale),
                                    years=formats.number(OLDEST_YEARS, me.locale)))
            return STATE[step]
        draft.occurred_kind, draft.occurred_at = "date", day.isoformat()
    elif step == "place":
        if len(text) > MAX_PLACE:
            await say(update, me.tr("tips.where.too_long",
                                    max=formats.number(MAX_PLACE, me.locale)))
            return STATE[step]
        draft.place_text = text or None
    elif step == "description":
        if not text:
            await say(update, me.tr("tips.what.empty"))
            return STATE[step]
        if len(text) > MAX_DESCRIPTION:
            await say(update, me.tr("event.description.too_long",
                                    n=formats.number(len(text), me.locale),
                                    max=formats.number(MAX_DESCRIPTION, me.locale)))
            return STATE[step]
        draft.description = text
    elif step == "people":
        value, problem = parse_count(text, me.locale)
        if problem is not None:
            await say(update, me.tr(f"report.count.{problem.value}"))
            return STATE[step]
        if value > MAX_PEOPLE:
            await say(update, me.tr("event.people.too_many",
                                    max=formats.number(MAX_PEOPLE, me.locale)))
            return STATE[step]
        draft.people = value
    else:
        await say(update, me.tr("event.use_buttons"))
        return await _show(update, context, me, draft, in_place=False)
    return await _advance(update, context, me, draft)


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A photo (or video) at the photos step."""
    me, draft = await _current(update, context)
    if draft is None:
        return await _gone(update, me)
    if draft.step != "photos":
        await say(update, me.tr("event.photo_not_now"))
        return STATE[draft.step]
    if len(draft.media) >= MAX_MEDIA:
        await say(update, me.tr("tips.what.too_many", max=formats.number(MAX_MEDIA, me.locale)))
        return STATE["photos"]
    msg = update.message
    draft.media.append(("photo", msg.photo[-1].file_id) if msg.photo
                       else ("video", msg.video.file_id))
    await _save(update, context, draft)
    if msg.media_group_id and len(draft.media) > 1:
        return STATE["photos"]  # an album: one prompt is enough
    return await _show(update, context, me, draft, in_place=False)


async def other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Stickers, files, locations...: say what the step wants."""
    me, draft = await _current(update, context)
    if draft is None:
        return await _gone(update, me)
    await say(update, me.tr("event.unsupported"))
    return await _show(update, context, me, draft, in_place=False)


# ---------------------------------------------------------------------- sending


async def send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Store the event and send it to every coordinator whose scope holds the hamlet."""
    query = update.callback_query
    await query.answer()
    me, draft = await _current(update, context)
    if draft is None:
        return await _gone(update, me)
    if draft.step != "review" or not draft.type or draft.people is None \
            or not draft.occurred_kind or not draft.description:
        return await _show(update, context, me, draft)
    svc = services(context)
    event = await svc.events.create(draft, me.user.id, svc.now())
    await svc.event_drafts.drop(update.effective_user.id)
    told = await announce(context, event, me)
    await reply_in_place(update, me.tr("event.sent", n=formats.number(told, me.locale)) + "\n\n"
                         + await _summary(context, me, draft))
    return ConversationHandler.END


async def announce(context: ContextTypes.DEFAULT_TYPE, event: Event, reporter: Who) -> int:
    """The event's photos and card to the coordinators in scope; how many were reached."""
    svc = services(context)
    tree = await svc.units.tree()
    chain = [u.id for u in tree.ancestors(event.unit_id)] if event.unit_id else []
    held = await svc.users.holders(chain, (Role.COORDINATOR, Role.ADMIN)) if chain else []
    name = (await svc.users.reach(reporter.user.id))[0].name or "—"
    reached = 0
    for user_id in sorted({u for u, _, _ in held}):
        contact, locale = await svc.users.reach(user_id)
        locale = locale or svc.default_locale
        place = html.escape(tree.path(event.unit_id)) if event.unit_id in tree.by_id else "—"
        if event.place_text:
            place += f" · «{html.escape(event.place_text)}»"
        text = t(locale, "event.card", type=t(locale, f"eventtype.{event.type}"),
                 place=place, when=tip_desk.occurred(locale, svc, event.occurred_kind,
                                                     event.occurred_at),
                 people=formats.number(event.people, locale),
                 description=html.escape(event.description), reporter=html.escape(name),
                 received=formats.moment(event.created_at, locale, svc.timezone))
        try:
            if event.media:
                await tip_desk.send_media(context, contact.chat_id, event.media)
            await context.bot.send_message(contact.chat_id, text, parse_mode="HTML")
            reached += 1
        except Forbidden:
            log.info("coordinator %s has blocked the bot; event %s not delivered", user_id,
                     event.id)
        except TelegramError as exc:
            log.warning("event %s not delivered to coordinator %s: %s", event.id, user_id, exc)
    return reached


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Throw the draft away."""
    if update.callback_query:
        await update.callback_query.answer()
        await drop_keyboard(update.callback_query.message)
    me = await who(update, context)
    await services(context).event_drafts.drop(update.effective_user.id)
    await say(update, me.tr("event.cancelled"))
    return ConversationHandler.END


def conversation() -> ConversationHandler:
    """The event flow; persistent, so a restart resumes it."""
    flow = [
        CallbackQueryHandler(cancel, pattern=r"^evf:cancel$"),
        CallbackQueryHandler(send, pattern=r"^evf:send$"),
        CallbackQueryHandler(pressed, pattern=r"^evf:(back|skip|photos|type:\w+|when:\w+|"
                                              r"people:0)$"),
        MessageHandler(filters.TEXT & ~filters.COMMAND, typed),
        MessageHandler(filters.PHOTO | filters.VIDEO, photo),
        MessageHandler(~filters.COMMAND, other),
    ]
    return persistent_conversation(
        "event",
        entry_points=[CommandHandler("event", begin),
                      CallbackQueryHandler(begin, pattern=r"^menu:event$")],
        states={
            CHOOSE: [CallbackQueryHandler(unit_chosen, pattern=r"^evf:u:\d+$"),
                     CallbackQueryHandler(cancel, pattern=r"^evf:cancel$")],
            **{state: flow for state in STATE.values()},
        },
        fallbacks=[CommandHandler("cancel", cancel)],
    )
