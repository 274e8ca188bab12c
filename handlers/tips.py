"""A resident files a tip: category → what happened → where → when → anonymous? → review.

Each step's handler changes the draft, writes it (storage.drafts: sealed, on
every step, so a restart or a crash loses nothing) and shows the next step. The
conversation's state mirrors ``draft.step``. Every step has Back and Cancel; wrong
input is answered in the user's language and the draft is left as it was.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time

from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers import start, tip_desk
from handlers.common import (
    NO_PREVIEW,
    Keyboard,
    Who,
    button,
    drop_keyboard,
    end_other_flows,
    pager,
    persistent_conversation,
    reply_in_place,
    say,
    step_header,
    who,
)
from handlers.enrolment import POSTER_PREFIX, TIP_UNIT
from handlers.services import Services, services
from locales import formats, t
from storage.tip_lifecycle import Draft, categories, category

log = logging.getLogger(__name__)

STEPS = ("category", "what", "where", "when", "anon", "review")
RESUME = "tip.resume"
STATE = {step: f"tip.{step}" for step in STEPS}
TOTAL = len(STEPS)
PAGE_SIZE = 8
MAX_PLACE = 300
OLDEST_YEARS = 10
_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")


# ---------------------------------------------------------------------- entering


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """/newtip or the menu button: resume a draft, or start one."""
    if update.callback_query:
        await update.callback_query.answer()
    end_other_flows(update, context, keep="tip")
    me = await who(update, context)
    svc = services(context)
    if not await _may_tip(update, svc, me):
        return ConversationHandler.END
    draft = await svc.drafts.get(update.effective_user.id)
    poster_unit = context.user_data.pop(TIP_UNIT, None)
    if draft is not None and poster_unit is None:
        rows = [[button(me.tr("tips.btn.resume"), "tipf:resume"),
                 button(me.tr("tips.btn.fresh"), "tipf:fresh")]]
        await say(update, me.tr("tips.resume", step=me.tr("flow.step", step=_number(draft),
                                                         total=TOTAL)),
                  reply_markup=InlineKeyboardMarkup(rows))
        return RESUME
    # From the menu: the flow opens below it and the menu stays as it is.
    return await _start_draft(update, context, me, poster_unit, in_place=False)


async def begin_from_poster(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """/start t_<hamlet> from a poster: the flow with the hamlet set (language first if new)."""
    me = await who(update, context)
    payload = context.args[0] if context.args else ""
    unit = await services(context).units.by_code(payload.removeprefix(POSTER_PREFIX))
    if me.user.locale is None or unit is None:
        await start.start(update, context)
        return ConversationHandler.END
    await say(update, me.tr("poster.welcome", unit=html.escape(unit.name)))
    context.user_data[TIP_UNIT] = unit.id
    return await begin(update, context)


async def resume_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """Carry on with the saved draft, or throw it away and start again."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    svc = services(context)
    draft = await svc.drafts.get(update.effective_user.id)
    if query.data == "tipf:fresh" or draft is None:
        return await _start_draft(update, context, me, None)
    return await _show(update, context, me, draft)


async def _start_draft(
    update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, poster_unit: int | None, *,
    in_place: bool = True,
) -> str:
    draft = Draft(unit_id=poster_unit, unit_from_poster=poster_unit is not None)
    await _save(update, context, draft)
    return await _show(update, context, me, draft, in_place=in_place)


async def _may_tip(update: Update, svc: Services, me: Who) -> bool:
    """Blocked senders and the daily limit, checked when starting and when sending."""
    now = svc.now()
    midnight = datetime.combine(now.astimezone(svc.timezone).date(), time(), svc.timezone)
    blocked, sent_today = await svc.tips.standing(me.user.id, midnight)
    if blocked:
        await say(update, me.tr("tips.blocked") + "\n\n" + me.tr("emergency"))
        return False
    limit = svc.tip_policy.daily_limit
    if sent_today >= limit:
        await say(update, me.tr("tips.limit", limit=formats.number(limit, me.locale))
                  + "\n\n" + me.tr("emergency"))
        return False
    return True


# ---------------------------------------------------------------------- showing a step


def _number(draft: Draft) -> int:
    return STEPS.index(draft.step) + 1


async def _save(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: Draft) -> None:
    svc = services(context)
    await svc.drafts.save(update.effective_user.id, draft, svc.now())


@functools.cache
def _nav(locale: str, *, back: bool = True, next_: bool = False) -> tuple:
    """Back / Next / Cancel (built once per language: keyboards are immutable)."""
    row = []
    if back:
        row.append(button(t(locale, "flow.back"), "tipf:back"))
    if next_:
        row.append(button(t(locale, "tips.btn.next"), "tipf:next"))
    row.append(button(t(locale, "flow.cancel"), "tipf:cancel"))
    return tuple(row)


@functools.cache
def _keyboard(locale: str, step: str, editing: bool = False) -> Keyboard:
    """The fixed keyboard of a step in one language (cached: every draft shares it)."""
    def b(key: str, data: str):
        return button(t(locale, key), data)

    if step == "category":
        cats = categories()
        rows: list = [[b(f"tipcat.{c.code}", f"tipf:cat:{c.code}") for c in cats[i:i + 2]]
                      for i in range(0, len(cats), 2)]
        rows.append(_nav(locale, back=editing))
    elif step == "what":
        rows = [_nav(locale, next_=True)]
    elif step == "when":
        rows = [[b("tips.when.now", "tipf:when:now"), b("tips.when.today", "tipf:when:today")],
                _nav(locale)]
    else:  # review
        rows = [[b("tips.btn.send", "tipf:send")],
                [b("tips.btn.edit.category", "tipf:edit:category"),
                 b("tips.btn.edit.what", "tipf:edit:what")],
                [b("tips.btn.edit.where", "tipf:edit:where"),
                 b("tips.btn.edit.when", "tipf:edit:when")],
                [b("tips.btn.edit.anon", "tipf:edit:anon")], _nav(locale)]
    return Keyboard(rows)


async def _show(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: Draft, *,
                in_place: bool = True) -> str:
    """Show the prompt of the draft's current step; returns the conversation state.

    After a button press the pressed message becomes the next step (``in_place``);
    otherwise the step is a new message.
    """
    step = draft.step
    header = step_header(me, _number(draft), TOTAL, me.tr(f"tips.{step}.title"))
    markup: object
    if step == "category":
        text = f"{header}\n\n{me.tr('tips.category.ask')}\n\n{me.tr('emergency')}"
        markup = _keyboard(me.locale, "category", draft.editing)
    elif step == "what":
        limit = formats.number(_max_text(context), me.locale)
        text = f"{header}\n\n{me.tr('tips.what.ask', max=limit)}"
        if draft.body or draft.media:
            text += "\n\n" + _contents(me, draft)
        markup = _keyboard(me.locale, "what")
    elif step == "where":
        text = f"{header}\n\n{me.tr('tips.where.ask')}"
        place = await _place(context, me, draft)
        if place:
            text += "\n\n" + me.tr("tips.where.current", place=place)
        markup = _where_keyboard(me, draft)
    elif step == "when":
        text = f"{header}\n\n{me.tr('tips.when.ask')}"
        markup = _keyboard(me.locale, "when")
    elif step == "anon":
        name = html.escape(update.effective_user.full_name)
        days = formats.number(services(context).tip_policy.retention.days, me.locale)
        text = f"{header}\n\n{me.tr('tips.anon.explain', name=name, days=days)}"
        markup = InlineKeyboardMarkup(
            [[button(me.tr("tips.anon.btn.yes"), "tipf:anon:yes")],
             [button(me.tr("tips.anon.btn.no", name=update.effective_user.full_name[:40]),
                     "tipf:anon:no")], _nav(me.locale)])
    else:
        summary = await _summary(context, me, draft)
        text = f"{header}\n\n{summary}\n\n{me.tr('tips.review.ask')}"
        markup = _keyboard(me.locale, "review")
    await reply_in_place(update, text, markup, in_place=in_place)
    return STATE[step]


def _max_text(context: ContextTypes.DEFAULT_TYPE) -> int:
    return services(context).tip_policy.max_text


def _contents(me: Who, draft: Draft) -> str:
    """'So far: 120 characters, 3 photos, 1 voice note'."""
    parts = []
    if draft.body:
        parts.append(me.tr("tips.count.chars", n=formats.number(len(draft.body), me.locale)))
    if draft.media:
        parts.append(tip_desk.media_counts(me.locale, draft.media))
    return me.tr("tips.what.so_far", parts=", ".join(parts))


async def _place(context: ContextTypes.DEFAULT_TYPE, me: Who, draft: Draft) -> str:
    """Where, as set so far (escaped HTML), or empty."""
    parts = []
    if draft.unit_id is not None:
        tree = await services(context).units.tree()
        if draft.unit_id in tree.by_id:
            parts.append(html.escape(tree.path(draft.unit_id)))
    if draft.place_text:
        parts.append(f"«{html.escape(draft.place_text)}»")
    if draft.latitude is not None:
        parts.append(me.tr("tips.where.location",
                           lat=f"{draft.latitude:.5f}", lon=f"{draft.longitude:.5f}"))
    return " · ".join(parts)


async def _summary(context: ContextTypes.DEFAULT_TYPE, me: Who, draft: Draft) -> str:
    svc = services(context)
    body = html.escape(draft.body) if draft.body else "—"
    media = "📎 " + tip_desk.media_counts(me.locale, draft.media) if draft.media else ""
    who_line = (me.tr("tips.review.anonymous") if draft.anonymous
                else me.tr("tips.review.named", name=html.escape(draft.name or "")))
    return me.tr(
        "tips.review.summary",
        category=me.tr(f"tipcat.{draft.category}"),
        body=body + (f"\n{media}" if media else ""),
        place=await _place(context, me, draft) or me.tr("tips.where.none"),
        when=(tip_desk.occurred(me.locale, svc, draft.occurred_kind, draft.occurred_at)
              if draft.occurred_kind and draft.occurred_at else "—"),
        sender=who_line,
    )


def _where_keyboard(me: Who, draft: Draft) -> ReplyKeyboardMarkup:
    has_place = draft.unit_id is not None or draft.place_text or draft.latitude is not None
    return ReplyKeyboardMarkup(
        [[KeyboardButton(me.tr("tips.where.btn.location"), request_location=True)],
         [KeyboardButton(me.tr("tips.where.btn.unit"))],
         [KeyboardButton(me.tr("tips.where.btn.next" if has_place else "tips.where.btn.skip"))],
         [KeyboardButton(me.tr("tips.where.btn.back")),
          KeyboardButton(me.tr("tips.where.btn.cancel"))]],
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=me.tr("tips.where.placeholder")[:64],
    )


async def _advance(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                   draft: Draft, *, in_place: bool = True) -> str:
    """The step is done: on to the next one, or back to the review when editing."""
    if draft.editing:
        draft.editing = False
        draft.step = "review"
    else:
        draft.step = STEPS[STEPS.index(draft.step) + 1]
    await _save(update, context, draft)
    return await _show(update, context, me, draft, in_place=in_place)


async def _current(update: Update, context: ContextTypes.DEFAULT_TYPE) -> tuple[Who, Draft]:
    me = await who(update, context)
    draft = await services(context).drafts.get(update.effective_user.id)
    assert draft is not None  # handlers that read it are wrapped in @_needs_draft
    return me, draft


def _needs_draft(handler: Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[object]]):
    """End the flow politely if its draft is gone (abandoned drafts are purged after 14 days)."""
    @functools.wraps(handler)
    async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> object:
        if await services(context).drafts.get(update.effective_user.id) is None:
            if update.callback_query:
                await update.callback_query.answer()
            me = await who(update, context)
            await say(update, me.tr("tips.draft_gone"), reply_markup=ReplyKeyboardRemove())
            return ConversationHandler.END
        return await handler(update, context)

    return run


async def _pressed(update: Update) -> str:
    """Answer the button (its message is then replaced by the next step, see _reply)."""
    query = update.callback_query
    await query.answer()
    return query.data


# ---------------------------------------------------------------------- buttons every step has


@_needs_draft
async def back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """One step back (from a step being edited: back to the review)."""
    await _pressed(update)
    me, draft = await _current(update, context)
    return await _go_back(update, context, me, draft)


async def _go_back(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                   draft: Draft) -> str:
    in_place = True
    if draft.step == "where":  # the reply keyboard must go, and only a new message does that
        if update.callback_query:
            await drop_keyboard(update.callback_query.message)
        await say(update, me.tr("tips.where.left"), reply_markup=ReplyKeyboardRemove())
        in_place = False
    if draft.editing:
        draft.editing = False
        draft.step = "review"
    else:
        draft.step = STEPS[max(STEPS.index(draft.step) - 1, 0)]
    await _save(update, context, draft)
    return await _show(update, context, me, draft, in_place=in_place)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Throw the draft away; nothing is sent."""
    if update.callback_query:
        await _pressed(update)
        await drop_keyboard(update.callback_query.message)
    me = await who(update, context)
    await services(context).drafts.drop(update.effective_user.id)
    await say(update, me.tr("tips.cancelled"), reply_markup=ReplyKeyboardRemove())
    return ConversationHandler.END


@_needs_draft
async def use_buttons(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A message where the step wants a button: say so and show the step again."""
    me, draft = await _current(update, context)
    await say(update, me.tr("tips.use_buttons"))
    return await _show(update, context, me, draft)


@_needs_draft
async def wrong_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A button of another step (an old message): say where we are and show the step again."""
    query = update.callback_query
    me, draft = await _current(update, context)
    await query.answer(me.tr("tips.wrong_button",
                             step=me.tr("flow.step", step=_number(draft), total=TOTAL)),
                       show_alert=True)
    return await _show(update, context, me, draft, in_place=False)


# ---------------------------------------------------------------------- 1. category


@_needs_draft
async def category_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Step 1 answered; dangerous categories repeat the emergency numbers first."""
    data = await _pressed(update)
    me, draft = await _current(update, context)
    chosen = category(data.removeprefix("tipf:cat:"))
    if chosen is None:  # a category removed from the data since the button was sent
        return await _show(update, context, me, draft)
    draft.category = chosen.code
    if not chosen.danger:
        return await _advance(update, context, me, draft)
    # The warning comes before anything else, so the next step follows it as a new message.
    await drop_keyboard(update.callback_query.message)
    await say(update, me.tr("tips.danger"))
    return await _advance(update, context, me, draft, in_place=False)


# ---------------------------------------------------------------------- 2. what happened


@_needs_draft
async def what_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Text is added to the description (several messages are joined)."""
    me, draft = await _current(update, context)
    text = (update.message.text or "").strip()
    if not text:
        await say(update, me.tr("tips.what.empty"))
        return STATE["what"]
    if not await _add_text(update, context, me, draft, text):
        return STATE["what"]
    await _save(update, context, draft)
    await _acknowledge(update, context, me, draft)
    return STATE["what"]


async def _add_text(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: Draft,
                    text: str) -> bool:
    limit = _max_text(context)
    joined = f"{draft.body}\n{text}" if draft.body else text
    if len(joined) > limit:
        key = "tips.what.too_long" if not draft.body else "tips.what.too_long_total"
        await say(update, me.tr(key, n=formats.number(len(text), me.locale),
                                max=formats.number(limit, me.locale),
                                left=formats.number(max(limit - len(draft.body) - 1, 0),
                                                    me.locale)))
        return False
    draft.body = joined
    return True


@_needs_draft
async def what_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A photo, video, voice note or file; an album's parts are acknowledged once."""
    me, draft = await _current(update, context)
    msg = update.message
    svc = services(context)
    kind, file_id = _media_of(msg)
    if kind == "document" and draft.anonymous:
        await say(update, me.tr("tips.what.file_anonymous"))
        return STATE["what"]
    if len(draft.media) >= svc.tip_policy.max_media:
        await say(update, me.tr("tips.what.too_many",
                                max=formats.number(svc.tip_policy.max_media, me.locale)))
        return STATE["what"]
    caption = (msg.caption or "").strip()
    if caption and not await _add_text(update, context, me, draft, caption):
        return STATE["what"]
    draft.media.append((kind, file_id))
    await _save(update, context, draft)
    if kind == "document":
        await say(update, me.tr("tips.what.file_warning"))
    if msg.media_group_id:
        _acknowledge_later(context, update, msg.media_group_id)
    else:
        await _acknowledge(update, context, me, draft)
    return STATE["what"]


def _media_of(msg: Message) -> tuple[str, str]:
    if msg.photo:
        return "photo", msg.photo[-1].file_id
    if msg.video:
        return "video", msg.video.file_id
    if msg.voice:
        return "voice", msg.voice.file_id
    assert msg.document is not None
    return "document", msg.document.file_id


async def _acknowledge(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                       draft: Draft) -> None:
    await say(update, _contents(me, draft) + "\n" + me.tr("tips.what.more"),
              reply_markup=_keyboard(me.locale, "what"))


def _acknowledge_later(context: ContextTypes.DEFAULT_TYPE, update: Update, group: str) -> None:
    """Albums arrive as one update per item: acknowledge once, when the last has come."""
    name = f"tip-album:{update.effective_user.id}"
    for job in context.job_queue.get_jobs_by_name(name):
        job.schedule_removal()
    context.job_queue.run_once(
        _album_done, services(context).album_wait, name=name,
        chat_id=update.effective_chat.id, user_id=update.effective_user.id, data=group,
    )


async def _album_done(context: ContextTypes.DEFAULT_TYPE) -> None:
    svc = services(context)
    job = context.job
    user = await svc.users.get(job.user_id)
    draft = await svc.drafts.get(job.user_id)
    if user is None or draft is None or draft.step != "what":
        return
    me = Who(user, user.role(), user.locale or svc.default_locale, False)
    await context.bot.send_message(
        job.chat_id, _contents(me, draft) + "\n" + me.tr("tips.what.more"),
        reply_markup=_keyboard(me.locale, "what"), parse_mode="HTML",
    )


async def what_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Stickers, locations, contacts...: not a description."""
    me = await who(update, context)
    await say(update, me.tr("tips.what.unsupported"))
    return STATE["what"]


@_needs_draft
async def what_next(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Step 2 done, if there is something to send."""
    await _pressed(update)
    me, draft = await _current(update, context)
    if draft.step != "what":
        return await _show(update, context, me, draft)
    if not draft.body and not draft.media:
        await reply_in_place(update, me.tr("tips.what.need"), _keyboard(me.locale, "what"))
        return STATE["what"]
    return await _advance(update, context, me, draft)


# ---------------------------------------------------------------------- 3. where


@_needs_draft
async def where_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """The reply keyboard's buttons, or an address typed in."""
    me, draft = await _current(update, context)
    text = (update.message.text or "").strip()
    if text == me.tr("tips.where.btn.unit"):
        return await _ask_unit(update, context, me, draft, parent=None, page=0)
    if text in (me.tr("tips.where.btn.next"), me.tr("tips.where.btn.skip")):
        await say(update, me.tr("tips.where.done",
                                place=await _place(context, me, draft) or me.tr("tips.where.none")),
                  reply_markup=ReplyKeyboardRemove())
        return await _advance(update, context, me, draft)
    if text == me.tr("tips.where.btn.back"):
        return await _go_back(update, context, me, draft)
    if text == me.tr("tips.where.btn.cancel"):
        return await cancel(update, context)
    if not text:
        await say(update, me.tr("tips.where.empty"), reply_markup=_where_keyboard(me, draft))
        return STATE["where"]
    if len(text) > MAX_PLACE:
        await say(update, me.tr("tips.where.too_long", max=formats.number(MAX_PLACE, me.locale)),
                  reply_markup=_where_keyboard(me, draft))
        return STATE["where"]
    draft.place_text = text
    return await _where_noted(update, context, me, draft)


async def _where_noted(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who,
                       draft: Draft) -> str:
    """Save what was added to 'where' and say what the place is now."""
    await _save(update, context, draft)
    await reply_in_place(update, me.tr("tips.where.got", place=await _place(context, me, draft)),
                 _where_keyboard(me, draft))
    return STATE["where"]


@_needs_draft
async def where_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A shared location."""
    me, draft = await _current(update, context)
    loc = update.message.location
    draft.latitude, draft.longitude = loc.latitude, loc.longitude
    return await _where_noted(update, context, me, draft)


@_needs_draft
async def where_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Anything else at the where step."""
    me, draft = await _current(update, context)
    await say(update, me.tr("tips.where.unsupported"), reply_markup=_where_keyboard(me, draft))
    return STATE["where"]


async def _ask_unit(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, draft: Draft,
                    *, parent: int | None, page: int) -> str:
    """The unit tree, one level at a time (a single root is opened at once)."""
    tree = await services(context).units.tree()
    children = list(tree.children.get(parent, []))
    if parent is None:  # from the top: open every level that offers no choice
        while len(children) == 1 and tree.children.get(children[0].id):
            parent = children[0].id
            children = list(tree.children.get(parent, []))
    if not children:
        await say(update, me.tr("tips.where.no_units"), reply_markup=_where_keyboard(me, draft))
        return STATE["where"]
    pages = (len(children) + PAGE_SIZE - 1) // PAGE_SIZE
    page = max(0, min(page, pages - 1))
    key = parent if parent is not None else 0
    rows = []
    for unit in children[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]:
        opens = bool(tree.children.get(unit.id))
        label = unit.name + (" ›" if opens else "")
        rows.append([button(label, f"tipf:ul:{unit.id}:0" if opens else f"tipf:us:{unit.id}")])
    if pages > 1:
        rows.append(pager(page, pages, lambda p: f"tipf:ul:{key}:{p}"))
    if parent is not None and tree.by_id[parent].parent_id is not None:
        rows.append([button(me.tr("tips.where.whole", unit=tree.by_id[parent].name)[:60],
                            f"tipf:us:{parent}")])
    title = tree.path(parent) if parent is not None else me.tr("tips.where.btn.unit")
    await reply_in_place(update, me.tr("tips.where.pick", unit=html.escape(title)),
                 InlineKeyboardMarkup(rows))
    return STATE["where"]


@_needs_draft
async def unit_list(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Open a level of the tree, or another page of it."""
    query = update.callback_query
    await query.answer()
    me, draft = await _current(update, context)
    _, _, parent, page = query.data.split(":")
    return await _ask_unit(update, context, me, draft,
                           parent=int(parent) or None, page=int(page))


@_needs_draft
async def unit_selected(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A hamlet (or a whole commune) chosen from the tree."""
    data = await _pressed(update)
    me, draft = await _current(update, context)
    unit_id = int(data.removeprefix("tipf:us:"))
    tree = await services(context).units.tree()
    if unit_id in tree.by_id:
        draft.unit_id, draft.unit_from_poster = unit_id, False
    return await _where_noted(update, context, me, draft)


# ---------------------------------------------------------------------- 4. when


@_needs_draft
async def when_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """'Just now' or 'today'."""
    data = await _pressed(update)
    me, draft = await _current(update, context)
    svc = services(context)
    now = svc.now()
    if data == "tipf:when:now":
        draft.occurred_kind, draft.occurred_at = "now", now.isoformat()
    else:
        draft.occurred_kind = "today"
        draft.occurred_at = now.astimezone(svc.timezone).date().isoformat()
    return await _advance(update, context, me, draft)


@_needs_draft
async def when_typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """A date typed as dd/mm/yyyy: not in the future, not absurdly old."""
    me, draft = await _current(update, context)
    svc = services(context)
    today = svc.now().astimezone(svc.timezone).date()
    day, problem = parse_day(update.message.text or "", today)
    if day is None:
        await say(update, me.tr(f"tips.when.{problem}", today=formats.day(today, me.locale),
                                years=formats.number(OLDEST_YEARS, me.locale)))
        return STATE["when"]
    draft.occurred_kind, draft.occurred_at = "date", day.isoformat()
    return await _advance(update, context, me, draft)


def parse_day(text: str, today: date) -> tuple[date | None, str]:
    """``21/11/2026`` → the date, or None and why (bad, future, too_old)."""
    match = _DATE.match(text)
    if not match:
        return None, "bad"
    try:
        day = date(int(match[3]), int(match[2]), int(match[1]))
    except ValueError:
        return None, "bad"
    if day > today:
        return None, "future"
    oldest = date(today.year - OLDEST_YEARS, today.month, min(today.day, 28)
                  if (today.month, today.day) == (2, 29) else today.day)
    if day < oldest:
        return None, "too_old"
    return day, ""


async def when_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Anything but a date or a button."""
    me = await who(update, context)
    svc = services(context)
    today = svc.now().astimezone(svc.timezone).date()
    await say(update, me.tr("tips.when.bad", today=formats.day(today, me.locale)))
    return STATE["when"]


# ---------------------------------------------------------------------- 5. anonymous or named


@_needs_draft
async def anon_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Anonymous (refusing files, which keep EXIF/GPS) or named."""
    data = await _pressed(update)
    me, draft = await _current(update, context)
    choice = data.removeprefix("tipf:anon:")
    if choice == "no":
        draft.anonymous, draft.name = False, update.effective_user.full_name
        return await _advance(update, context, me, draft)
    files = sum(1 for kind, _ in draft.media if kind == "document")
    if files and choice == "yes":
        rows = [[button(me.tr("tips.anon.btn.drop"), "tipf:anon:drop")],
                [button(me.tr("tips.anon.btn.resend"), "tipf:anon:resend")],
                [button(me.tr("tips.anon.btn.no", name=update.effective_user.full_name[:40]),
                        "tipf:anon:no")], _nav(me.locale)]
        await reply_in_place(update, me.tr("tips.anon.files", n=formats.number(files, me.locale)),
                     InlineKeyboardMarkup(rows))
        return STATE["anon"]
    draft.anonymous, draft.name = True, None
    draft.media = [m for m in draft.media if m[0] != "document"]
    if choice == "resend":
        # Back to step 2 to send them as photos, then straight back to the review.
        draft.step, draft.editing = "what", True
        await _save(update, context, draft)
        return await _show(update, context, me, draft)
    return await _advance(update, context, me, draft)


# ---------------------------------------------------------------------- 6. review and send


@_needs_draft
async def edit_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Change one field from the review; the review comes back afterwards."""
    data = await _pressed(update)
    me, draft = await _current(update, context)
    field = data.removeprefix("tipf:edit:")
    if field in STEPS[:-1]:
        draft.step, draft.editing = field, True
        await _save(update, context, draft)
    return await _show(update, context, me, draft)


@_needs_draft
async def send(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """File the tip: case code, pinned confirmation, coordinators told at once."""
    await _pressed(update)
    me, draft = await _current(update, context)
    svc = services(context)
    if draft.step != "review" or draft.category is None or draft.occurred_kind is None \
            or draft.anonymous is None:
        return await _show(update, context, me, draft)
    if not await _may_tip(update, svc, me):
        return STATE["review"]  # the draft stays; tomorrow it can be sent
    tip, duplicates = await svc.tips.create(draft, me.user.id, svc.now())
    await svc.drafts.drop(update.effective_user.id)
    # The review becomes the receipt: the code first (what a pin shows), then what was sent.
    receipt = "\n\n".join((me.tr("tips.sent", code=tip.code), await _summary(context, me, draft),
                            me.tr("emergency")))
    query = update.callback_query
    pinned = query.message
    try:
        await query.edit_message_text(receipt, parse_mode=ParseMode.HTML,
                                      link_preview_options=NO_PREVIEW)
    except BadRequest as exc:
        log.debug("could not turn the review into the receipt: %s", exc)
        await drop_keyboard(query.message)
        pinned = await update.effective_chat.send_message(
            receipt, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
    try:
        await pinned.pin(disable_notification=True)
    except TelegramError as exc:  # a failing pin is tolerated: the code is in the message
        log.info("could not pin a case code: %s", exc)
    await tip_desk.announce(context, tip, duplicates)
    return ConversationHandler.END


# ---------------------------------------------------------------------- wiring


def conversation() -> ConversationHandler:
    """The tip flow; persistent, so a restart resumes it (the draft is in its own table)."""
    nav = [
        CallbackQueryHandler(back, pattern=r"^tipf:back$"),
        CallbackQueryHandler(cancel, pattern=r"^tipf:cancel$"),
    ]
    media = filters.PHOTO | filters.VIDEO | filters.VOICE | filters.Document.ALL
    return persistent_conversation(
        "tip",
        entry_points=[
            CommandHandler("newtip", begin),
            CallbackQueryHandler(begin, pattern=r"^menu:tip$"),
            CommandHandler("start", begin_from_poster,
                           filters=filters.Regex(rf"^/start {POSTER_PREFIX}\S+$")),
        ],
        states={
            RESUME: [CallbackQueryHandler(resume_chosen, pattern=r"^tipf:(resume|fresh)$")],
            STATE["category"]: [CallbackQueryHandler(category_chosen, pattern=r"^tipf:cat:"),
                                *nav],
            STATE["what"]: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, what_text),
                MessageHandler(media, what_media),
                CallbackQueryHandler(what_next, pattern=r"^tipf:next$"),
                *nav,
                MessageHandler(~filters.COMMAND, what_other),
            ],
            STATE["where"]: [
                MessageHandler(filters.LOCATION, where_location),
                MessageHandler(filters.TEXT & ~filters.COMMAND, where_text),
                CallbackQueryHandler(unit_list, pattern=r"^tipf:ul:\d+:-?\d+$"),
                CallbackQueryHandler(unit_selected, pattern=r"^tipf:us:\d+$"),
                *nav,
                MessageHandler(~filters.COMMAND, where_other),
            ],
            STATE["when"]: [
                CallbackQueryHandler(when_chosen, pattern=r"^tipf:when:(now|today)$"),
                MessageHandler(filters.TEXT & ~filters.COMMAND, when_typed),
                *nav,
                MessageHandler(~filters.COMMAND, when_other),
            ],
            STATE["anon"]: [
                CallbackQueryHandler(anon_chosen, pattern=r"^tipf:anon:(yes|no|drop|resend)$"),
                *nav,
            ],
            STATE["review"]: [
                CallbackQueryHandler(send, pattern=r"^tipf:send$"),
                CallbackQueryHandler(edit_chosen, pattern=r"^tipf:edit:\w+$"),
                *nav,
            ],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            CallbackQueryHandler(wrong_button, pattern=r"^tipf:"),
            MessageHandler(~filters.COMMAND, use_buttons),
        ],
            )
