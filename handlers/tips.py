"""A resident files a tip: category → what happened → where → when → anonymous? → review.

The flow is declared for the engine (handlers.flows): each step says what it does with a
button, a text, a photo or a location; the engine writes the draft before anything is
said, so a restart or a crash resumes at the same step. Every step has Back and Cancel;
wrong input is answered in the user's language and the draft is left as it was. On sending,
the tip, its coordinators' cards and the resident's receipt are written in one transaction
(the outbox then delivers them), so the resident's answer never depends on the cards.
"""

from __future__ import annotations

import functools
import html
import logging
import unicodedata
from datetime import datetime, time

from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from handlers import flows
from handlers.callbacks import data
from handlers.common import Keyboard, Turn, button, pager, person_name, step_header, units
from handlers.occurred import WHEN, occurred, parse_when, pressed, typed
from handlers.services import Services
from handlers.tip_card import escaped_within, media_counts
from handlers.tip_recipients import recipients
from locales import LOCALES, formats, t
from storage.models import Unit
from storage.outbox import NewItem, now_item
from storage.tip_lifecycle import Draft, categories, category

log = logging.getLogger(__name__)

STEPS = ("category", "what", "where", "when", "anon", "review")
# The commune question belongs to "where" (step 3 of 6): asked when no hamlet was chosen.
NUMBER = {**{step: i + 1 for i, step in enumerate(STEPS)}, "commune": 3}
TOTAL = len(STEPS)
PAGE_SIZE = 8
MAX_PLACE = 300
PREFIX = "tipf"


def _data(*fields: object) -> str:
    return data(PREFIX, *fields)


# ---------------------------------------------------------------------- entering


async def begin(turn: Turn) -> None:
    """/newtip or the menu button: resume a draft, or start one (with what was just offered
    as a tip, if that is what is open)."""
    if not await may_tip(turn):
        return
    offered = flows.FLOWS.get("offer")
    if turn.kind == "offer" and offered is not None:
        content = await flows.load(turn, offered)
        await turn.svc.flows.finish(turn.tg_id, "offer")
        turn.kind = None
        if content is not None:
            await begin_with(turn, content.body, content.media)
            return
    found = await flows.load(turn, FLOW)
    if found is not None:
        await flows.enter(turn, FLOW, found, show=False)
        _ask_resume(turn, found)
        return
    await flows.enter(turn, FLOW, Draft())


async def begin_with_unit(turn: Turn, unit: Unit) -> None:
    """From a hamlet's poster: the flow with the hamlet set (kept on a draft in progress)."""
    turn.say(turn.tr("poster.welcome", unit=html.escape(unit.name)))
    if not await may_tip(turn):
        return
    found = await flows.load(turn, FLOW)
    if found is not None:
        if found.unit_id is None:
            found.unit_id, found.unit_from_poster = unit.id, True
        await flows.enter(turn, FLOW, found, show=False)
        _ask_resume(turn, found)
        return
    await flows.enter(turn, FLOW, Draft(unit_id=unit.id, unit_from_poster=True))


async def begin_with(turn: Turn, body: str, media: list[tuple[str, str]]) -> None:
    """What was sent outside any flow becomes a tip: added to the draft in progress (which
    is resumed) or the start of a new one."""
    found = await flows.load(turn, FLOW)
    draft = found or Draft()
    policy = turn.svc.tip_policy
    if body:
        joined = f"{draft.body}\n{body}" if draft.body else body
        if len(joined) > policy.max_text:  # kept in part, and said so: nothing cut unseen
            turn.say(turn.tr("tips.what.cut", n=turn.number(len(joined)),
                             max=turn.number(policy.max_text)))
        draft.body = joined[:policy.max_text]
    room = max(policy.max_media - len(draft.media), 0)
    if len(media) > room:
        turn.say(turn.tr("tips.what.too_many", max=turn.number(policy.max_media)))
    draft.media.extend(media[:room])
    await flows.enter(turn, FLOW, draft)


def _ask_resume(turn: Turn, draft: Draft) -> None:
    rows = [[button(turn.tr("tips.btn.resume"), _data("resume")),
             button(turn.tr("tips.btn.fresh"), _data("fresh"))]]
    turn.show(turn.tr("tips.resume", step=turn.tr("flow.step", step=NUMBER[draft.step],
                                                  total=TOTAL)),
              InlineKeyboardMarkup(rows), in_place=False)


async def resume(turn: Turn, draft: Draft) -> None:
    """Carry on with the saved draft."""
    await show(turn, draft)


async def fresh(turn: Turn, draft: Draft) -> None:
    """Throw the saved draft away and start again."""
    _reset(draft, Draft())
    await show(turn, draft)


def _reset(draft: Draft, new: Draft) -> None:
    draft.__dict__.update(new.__dict__)


async def may_tip(turn: Turn) -> bool:
    """Blocked senders and the daily limit, checked when starting and when sending."""
    svc = turn.svc
    now = svc.now()
    midnight = datetime.combine(now.astimezone(svc.timezone).date(), time(), svc.timezone)
    blocked, sent_today = await svc.tips.standing(turn.me.user.id, midnight)
    if blocked:
        turn.answer()
        turn.say(turn.tr("tips.blocked") + "\n\n" + turn.tr("emergency"))
        return False
    limit = svc.tip_policy.daily_limit
    if sent_today >= limit:
        turn.answer()
        turn.say(turn.tr("tips.limit", limit=turn.number(limit)) + "\n\n" + turn.tr("emergency"))
        return False
    return True


def label(turn: Turn, draft: Draft) -> str:
    """'tin báo đang soạn (Bước 3/6)'."""
    return turn.tr("tips.label", step=turn.tr("flow.step", step=NUMBER.get(draft.step, 1),
                                               total=TOTAL))


# ---------------------------------------------------------------------- showing a step


@functools.cache
def _nav(locale: str, *, back: bool = True, next_: bool = False) -> tuple:
    """Back / Next / Cancel (built once per language: keyboards are immutable)."""
    row = []
    if back:
        row.append(button(t(locale, "flow.back"), _data("back")))
    if next_:
        row.append(button(t(locale, "tips.btn.next"), _data("next")))
    row.append(button(t(locale, "flow.cancel"), _data("cancel")))
    return tuple(row)


@functools.cache
def _keyboard(locale: str, step: str, editing: bool = False, sendable: bool = True) -> Keyboard:
    """The fixed keyboard of a step in one language (cached: every draft shares it)."""
    def b(key: str, *fields: str):
        return button(t(locale, key), _data(*fields))

    if step == "category":
        cats = categories()
        rows: list = [[b(f"tipcat.{c.code}", "cat", c.code) for c in cats[i:i + 2]]
                      for i in range(0, len(cats), 2)]
        rows.append(_nav(locale, back=editing))
    elif step == "what":
        rows = [_nav(locale, next_=True)]
    elif step == "when":
        rows = [[b(f"tips.when.{which}", "when", which) for which in WHEN], _nav(locale)]
    else:  # review
        rows = [[b("tips.btn.send", "send")]] if sendable else []
        rows += [[b("tips.btn.edit.category", "edit", "category"),
                  b("tips.btn.edit.what", "edit", "what")],
                 [b("tips.btn.edit.where", "edit", "where"),
                  b("tips.btn.edit.when", "edit", "when")],
                 [b("tips.btn.edit.anon", "edit", "anon")], _nav(locale)]
    return Keyboard(rows)


async def show(turn: Turn, draft: Draft, *, in_place: bool = True) -> None:
    """Show the prompt of the draft's current step.

    After a button press the pressed message becomes the next step (``in_place``);
    otherwise the step is a new message.
    """
    me = turn.me
    step = draft.step
    title_step = "where" if step == "commune" else step
    header = step_header(me, NUMBER[step], TOTAL, me.tr(f"tips.{title_step}.title"))
    markup: object
    if step == "category":
        text = f"{header}\n\n{me.tr('tips.category.ask')}\n\n{me.tr('emergency')}"
        markup = _keyboard(me.locale, "category", draft.editing)
    elif step == "what":
        text = f"{header}\n\n{me.tr('tips.what.ask', max=turn.number(_max_text(turn)))}"
        if draft.body or draft.media:
            text += "\n\n" + _contents(turn, draft)
        markup = _keyboard(me.locale, "what")
    elif step == "where":
        text = f"{header}\n\n{me.tr('tips.where.ask')}"
        place = await _place(turn, draft)
        if place:
            text += "\n\n" + me.tr("tips.where.current", place=place)
        markup = _where_keyboard(turn, draft)
    elif step == "commune":
        text, markup = await _commune_question(turn, header)
    elif step == "when":
        text = f"{header}\n\n{me.tr('tips.when.ask')}"
        markup = _keyboard(me.locale, "when")
    elif step == "anon":
        name = html.escape(person_name(turn.update.effective_user))
        days = turn.number(turn.svc.tip_policy.retention.days)
        text = f"{header}\n\n{me.tr('tips.anon.explain', name=name, days=days)}"
        markup = InlineKeyboardMarkup(
            [[button(me.tr("tips.anon.btn.yes"), _data("anon", "yes"))],
             [button(me.tr("tips.anon.btn.no", name=person_name(turn.update.effective_user)[:40]),
                     _data("anon", "no"))], _nav(me.locale)])
    else:
        summary = await _summary(turn, draft)
        nobody = not await recipients(turn.svc, draft.unit_id)
        ask = me.tr("tips.review.nobody") if nobody else me.tr("tips.review.ask")
        text = f"{header}\n\n{summary}\n\n{ask}"
        markup = _keyboard(me.locale, "review", sendable=not nobody)
    turn.show(text, markup, in_place=in_place)


def _max_text(turn: Turn) -> int:
    return turn.svc.tip_policy.max_text


def _contents(turn: Turn, draft: Draft) -> str:
    """'So far: 120 characters, 3 photos, 1 voice note'."""
    parts = []
    if draft.body:
        parts.append(turn.tr("tips.count.chars", n=turn.number(len(draft.body))))
    if draft.media:
        parts.append(media_counts(turn.me.locale, draft.media))
    return turn.tr("tips.what.so_far", parts=", ".join(parts))


async def place_of(svc: Services, locale: str, unit_id: int | None, place_text: str | None,
                   latitude: float | None, longitude: float | None) -> str:
    """Where, as set so far (escaped HTML), or empty."""
    parts = []
    if unit_id is not None:
        tree = await svc.units.tree()
        if unit_id in tree.by_id:
            parts.append(html.escape(tree.path(unit_id)))
    if place_text:
        parts.append(f"«{html.escape(place_text)}»")
    if latitude is not None:
        parts.append(t(locale, "tips.where.location", lat=f"{latitude:.5f}",
                       lon=f"{longitude:.5f}"))
    return " · ".join(parts)


async def _place(turn: Turn, draft: Draft) -> str:
    return await place_of(turn.svc, turn.me.locale, draft.unit_id, draft.place_text,
                          draft.latitude, draft.longitude)


# What a review or receipt shows of the body: the rest of the message needs room too.
BODY_SHOWN = 2500


def summary_text(svc: Services, locale: str, *, category_code: str | None, body: str,
                 media: list | tuple, place: str, occurred_kind: str | None,
                 occurred_at: str | None, anonymous: bool | None, name: str | None) -> str:
    """What a tip says, for its review and its receipt (HTML, within one message)."""
    shown = html.escape(body) if body else "—"
    if units(shown) > BODY_SHOWN:
        shown = escaped_within(body, BODY_SHOWN) + " " + t(
            locale, "tips.body_cut", n=formats.number(len(body), locale))
    if media:
        shown += "\n📎 " + media_counts(locale, media)
    sender = (t(locale, "tips.review.anonymous") if anonymous
              else t(locale, "tips.review.named", name=html.escape(name or "")))
    return t(
        locale, "tips.review.summary",
        category=t(locale, f"tipcat.{category_code}") if category_code else "—",
        body=shown, place=place or t(locale, "tips.where.none"),
        when=(occurred(locale, svc, occurred_kind, occurred_at)
              if occurred_kind and occurred_at else "—"),
        sender=sender,
    )


async def _summary(turn: Turn, draft: Draft) -> str:
    return summary_text(turn.svc, turn.me.locale, category_code=draft.category,
                        body=draft.body, media=draft.media, place=await _place(turn, draft),
                        occurred_kind=draft.occurred_kind, occurred_at=draft.occurred_at,
                        anonymous=draft.anonymous, name=draft.name)


def _where_keyboard(turn: Turn, draft: Draft) -> ReplyKeyboardMarkup:
    me = turn.me
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


async def _advance(turn: Turn, draft: Draft, *, in_place: bool = True) -> None:
    """The step is done: on to the next one, or back to the review when editing."""
    if draft.editing:
        draft.editing = False
        draft.step = "review"
    else:
        after = "where" if draft.step == "commune" else draft.step
        draft.step = STEPS[STEPS.index(after) + 1]
    await show(turn, draft, in_place=in_place)


# ---------------------------------------------------------------------- buttons every step has


async def back(turn: Turn, draft: Draft) -> None:
    """One step back (from a step being edited: back to the review)."""
    in_place = True
    if draft.step == "where":  # the reply keyboard must go, and only a new message does that
        turn.drop_keyboard()
        turn.say(turn.tr("tips.where.left"), ReplyKeyboardRemove())
        in_place = False
    if draft.editing:
        draft.editing = False
        draft.step = "review"
    elif draft.step == "commune":
        draft.step = "where"
    else:
        draft.step = STEPS[max(STEPS.index(draft.step) - 1, 0)]
    await show(turn, draft, in_place=in_place)


cancel = flows.cancel_saying("tips.cancelled", ReplyKeyboardRemove())



async def use_buttons(turn: Turn, draft: Draft) -> None:
    """A message where the step wants a button: say so and show the step again."""
    turn.say(turn.tr("tips.use_buttons"))
    await show(turn, draft)


# ---------------------------------------------------------------------- 1. category


async def category_chosen(turn: Turn, draft: Draft) -> None:
    """Step 1 answered; dangerous categories repeat the emergency numbers first."""
    chosen = category(turn.press.field(1) or "")
    if chosen is None:  # a category removed from the data since the button was sent
        await show(turn, draft)
        return
    draft.category = chosen.code
    if not chosen.danger:
        await _advance(turn, draft)
        return
    # The warning takes the place of step 1 (whose foot already gave the numbers: shown
    # under it, 113 came twice in a row); the next step follows as a new message.
    turn.show(turn.tr("tips.danger"))
    await _advance(turn, draft, in_place=False)


# ---------------------------------------------------------------------- 2. what happened


async def what_text(turn: Turn, draft: Draft) -> None:
    """Text is added to the description (several messages are joined)."""
    text = turn.text
    if not text:
        turn.say(turn.tr("tips.what.empty"))
        return
    if add_text(turn, draft, text):
        _acknowledge(turn, draft)


def add_text(turn: Turn, draft: Draft, text: str) -> bool:
    """Add ``text`` to the body if it fits; else say why (the draft stays as it was)."""
    limit = _max_text(turn)
    joined = f"{draft.body}\n{text}" if draft.body else text
    if len(joined) > limit:
        key = "tips.what.too_long" if not draft.body else "tips.what.too_long_total"
        turn.say(turn.tr(key, n=turn.number(len(text)), max=turn.number(limit),
                         left=turn.number(max(limit - len(draft.body) - 1, 0))))
        return False
    draft.body = joined
    return True


async def what_media(turn: Turn, draft: Draft) -> None:
    """A photo, video, voice note or file; an album's parts are acknowledged once."""
    if not take_media(turn, draft):
        return
    if turn.message.media_group_id:
        acknowledge_later(turn, turn.message.media_group_id)
    else:
        _acknowledge(turn, draft)


def take_media(turn: Turn, draft: Draft) -> bool:
    """Add the message's photo, video, voice note or file (and its caption) to the tip, or
    say why not (a file on an anonymous tip, one too many; once per album)."""
    msg = turn.message
    policy = turn.svc.tip_policy
    kind, file_id = media_of(msg)
    if kind in FILES and draft.anonymous:
        turn.say(turn.tr("tips.what.file_anonymous"))
        return False
    if len(draft.media) >= policy.max_media:
        if msg.media_group_id is None or msg.media_group_id != draft.full_album:
            turn.say(turn.tr("tips.what.too_many", max=turn.number(policy.max_media)))
        draft.full_album = msg.media_group_id
        return False
    caption = turn.text
    if caption and not add_text(turn, draft, caption):
        return False
    draft.media.append((kind, file_id))
    if kind in FILES:
        turn.say(turn.tr("tips.what.file_warning"))
    return True


async def media_elsewhere(turn: Turn, draft: Draft) -> None:
    """A photo (or other media) sent at a step that asks for something else: it is part of
    the story, so it goes into the tip, and the step is shown again."""
    if not take_media(turn, draft):
        return
    if turn.message.media_group_id:
        acknowledge_later(turn, turn.message.media_group_id)
        return
    turn.say(turn.tr("tips.media_added", parts=media_counts(turn.me.locale, draft.media)))
    await show(turn, draft, in_place=False)


MEDIA = ("photo", "video", "voice", "video_note", "audio", "document")
# Files keep what the camera or recorder wrote in them (EXIF, GPS, ID3): refused on anonymous
# tips. Telegram re-encodes photos, videos, voice notes and round videos.
FILES = ("document", "audio")


def has_media(msg: Message | None) -> bool:
    """Whether a message carries something a tip can hold (not a sticker or a location)."""
    return msg is not None and any(getattr(msg, kind) for kind in MEDIA)


def media_of(msg: Message) -> tuple[str, str]:
    """(kind, file id) of a photo, video, voice note, round video, audio file or file."""
    if msg.photo:
        return "photo", msg.photo[-1].file_id
    for kind in MEDIA[1:]:
        item = getattr(msg, kind)
        if item is not None:
            return kind, item.file_id
    raise ValueError("the message carries no media")


def _acknowledge(turn: Turn, draft: Draft) -> None:
    turn.say(_contents(turn, draft) + "\n" + turn.tr("tips.what.more"),
             _keyboard(turn.me.locale, "what"))


def acknowledge_later(turn: Turn, group: str, kind: str = "tip") -> None:
    """Albums arrive as one update per item: acknowledge once, when the last has come."""
    name = f"album:{turn.me.user.id}"  # a row id: job names reach the scheduler's log
    queue = turn.context.job_queue
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_once(_album_done, turn.svc.album_wait, name=name, chat_id=turn.chat_id,
                   user_id=turn.tg_id, data={"group": group, "kind": kind})


async def _album_done(context) -> None:
    """The album is complete: say what the draft holds now (read from the database)."""
    from handlers.common import who_of
    from handlers.services import services

    svc = services(context)
    job = context.job
    flow = flows.FLOWS.get(job.data["kind"])
    user = await svc.users.get(job.user_id)
    if flow is None or flow.album is None or user is None:
        return
    if await svc.flows.active(job.user_id) != flow.kind:
        return  # the person has moved on
    stored = await svc.flows.draft(job.user_id, flow.kind)
    found = flow.album(who_of(user, svc, job.user_id), stored) if stored else None
    if found is not None:
        await context.bot.send_message(job.chat_id, found[0],
                                       reply_markup=svc.buttons.markup(found[1], job.user_id))


def album_prompt(me, stored: dict):
    """After an album: what the draft holds, and at step 2 the step's buttons (at another
    step, its message above still has them)."""
    draft = Draft.from_json(stored)
    if draft.step != "what":
        return me.tr("tips.media_added", parts=media_counts(me.locale, draft.media)), None
    parts = [me.tr("tips.count.chars", n=formats.number(len(draft.body), me.locale))
             ] if draft.body else []
    parts.append(media_counts(me.locale, draft.media))
    text = me.tr("tips.what.so_far", parts=", ".join(parts)) + "\n" + me.tr("tips.what.more")
    return text, _keyboard(me.locale, "what")


async def what_other(turn: Turn, draft: Draft) -> None:
    """Stickers, locations, contacts...: not a description."""
    turn.say(turn.tr("tips.what.unsupported"))


async def what_next(turn: Turn, draft: Draft) -> None:
    """Step 2 done, if there is something to send."""
    if not draft.body and not draft.media:
        turn.show(turn.tr("tips.what.need"), _keyboard(turn.me.locale, "what"))
        return
    await _advance(turn, draft)


# ---------------------------------------------------------------------- 3. where


def _any_language(key: str) -> frozenset[str]:
    """A button's text in every language: a keyboard sent before the person changed
    language still says what it said."""
    return frozenset(t(locale, key) for locale in LOCALES)


async def where_text(turn: Turn, draft: Draft) -> None:
    """The reply keyboard's buttons, or an address typed in."""
    me = turn.me
    text = turn.text
    if text in _any_language("tips.where.btn.unit"):
        await _ask_unit(turn, draft, parent=None, page=0)
        return
    if text in _any_language("tips.where.btn.next") | _any_language("tips.where.btn.skip"):
        await _where_done(turn, draft)
        return
    if text in _any_language("tips.where.btn.back"):
        await back(turn, draft)
        return
    if text in _any_language("tips.where.btn.cancel"):
        await cancel(turn, draft)
        return
    if not text:
        turn.say(me.tr("tips.where.empty"), _where_keyboard(turn, draft))
        return
    if len(text) > MAX_PLACE:
        turn.say(me.tr("tips.where.too_long", max=turn.number(MAX_PLACE)),
                 _where_keyboard(turn, draft))
        return
    if draft.place_text and parse_when(text, turn.svc.now().astimezone(turn.svc.timezone))[0]:
        # "tối qua 9h" typed after the address, as if the next step were open: the time,
        # not a new address (which would have replaced the one typed a moment ago).
        turn.say(me.tr("tips.where.looks_like_time", typed=html.escape(text),
                       place=html.escape(draft.place_text)), _where_keyboard(turn, draft))
        return
    before = draft.place_text
    draft.place_text = text
    if draft.unit_id is None or not await _is_hamlet(turn, draft.unit_id):
        named = await _hamlet_named(turn, text)
        if named is not None:  # "gần chợ ấp An Phú": the tip goes to that hamlet
            draft.unit_id = named
    if before and before != text:
        turn.say(me.tr("tips.where.replaced", before=html.escape(before)))
    await _where_noted(turn, draft)


async def _is_hamlet(turn: Turn, unit_id: int) -> bool:
    tree = await turn.svc.units.tree()
    return unit_id in tree.by_id and not tree.children.get(unit_id)


async def _hamlet_named(turn: Turn, text: str) -> int | None:
    """The one hamlet whose full name ("Ấp An Phú") the typed address holds, if exactly one
    does (within the commune already chosen, if any)."""
    tree = await turn.svc.units.tree()
    typed = unicodedata.normalize("NFC", text).casefold()
    found = [u.id for u in tree.leaves([r.id for r in tree.children.get(None, [])])
             if unicodedata.normalize("NFC", u.name).casefold() in typed]
    return found[0] if len(found) == 1 else None


async def _where_done(turn: Turn, draft: Draft) -> None:
    """Next (or skip): the commune is asked when no hamlet is known and it is not clear."""
    if draft.unit_id is None:
        known = await _known_commune(turn)
        if known is not None:
            draft.unit_id = known
        elif len(await communes(turn.svc)) > 1 and not draft.commune_asked:
            turn.say(turn.tr("tips.where.done", place=await _place(turn, draft)
                             or turn.tr("tips.where.none")), ReplyKeyboardRemove())
            draft.step = "commune"
            await show(turn, draft, in_place=False)
            return
    turn.say(turn.tr("tips.where.done", place=await _place(turn, draft)
                     or turn.tr("tips.where.none")), ReplyKeyboardRemove())
    await _advance(turn, draft, in_place=False)


async def communes(svc: Services) -> list[Unit]:
    """The units hamlets belong to (communes, wards), in tree order."""
    tree = await svc.units.tree()
    seen: dict[int, Unit] = {}
    for leaf in tree.leaves([u.id for u in tree.children.get(None, [])]):
        if leaf.parent_id is not None and leaf.parent_id in tree.by_id:
            seen.setdefault(leaf.parent_id, tree.by_id[leaf.parent_id])
    return list(seen.values())


async def _known_commune(turn: Turn) -> int | None:
    """The commune the resident's tips came from before, or the only one there is."""
    svc = turn.svc
    found = await communes(svc)
    if len(found) == 1:
        return found[0].id
    tree = await svc.units.tree()
    for tip in await svc.tips.mine(turn.me.user.id, limit=5):
        if tip.unit_id in tree.by_id:
            chain = tree.ancestors(tip.unit_id)
            for unit in chain:
                if unit in found:
                    return unit.id
    return None


async def _commune_question(turn: Turn, header: str) -> tuple[str, InlineKeyboardMarkup]:
    found = await communes(turn.svc)
    rows = [[button(u.name, _data("co", u.id))] for u in found[:40]]
    rows.append([button(turn.tr("tips.commune.unknown"), _data("co", "none"))])
    rows.append(list(_nav(turn.me.locale)))
    text = f"{header}\n\n{turn.tr('tips.commune.ask')}"
    if len(found) > 40:  # a province's worth: the tree picker pages them
        text += "\n" + turn.tr("tips.commune.many")
    return text, InlineKeyboardMarkup(rows)


async def commune_chosen(turn: Turn, draft: Draft) -> None:
    """The commune of a tip without a hamlet (or 'not known')."""
    chosen = turn.press.int(1)
    tree = await turn.svc.units.tree()
    if chosen is not None and chosen in tree.by_id:
        draft.unit_id = chosen
    draft.commune_asked = True
    await _advance(turn, draft)


async def _where_noted(turn: Turn, draft: Draft) -> None:
    """Say what was added to 'where' and what the place is now."""
    turn.show(turn.tr("tips.where.got", place=await _place(turn, draft)),
              _where_keyboard(turn, draft))


async def where_location(turn: Turn, draft: Draft) -> None:
    """A shared location."""
    loc = turn.message.location
    draft.latitude, draft.longitude = loc.latitude, loc.longitude
    await _where_noted(turn, draft)


async def where_other(turn: Turn, draft: Draft) -> None:
    """Anything else at the where step."""
    turn.say(turn.tr("tips.where.unsupported"), _where_keyboard(turn, draft))


async def _ask_unit(turn: Turn, draft: Draft, *, parent: int | None, page: int) -> None:
    """The unit tree, one level at a time (a single root is opened at once)."""
    tree = await turn.svc.units.tree()
    children = list(tree.children.get(parent, []))
    if parent is None:  # from the top: open every level that offers no choice
        while len(children) == 1 and tree.children.get(children[0].id):
            parent = children[0].id
            children = list(tree.children.get(parent, []))
    if not children:
        turn.say(turn.tr("tips.where.no_units"), _where_keyboard(turn, draft))
        return
    pages = (len(children) + PAGE_SIZE - 1) // PAGE_SIZE
    page = max(0, min(page, pages - 1))
    key = parent if parent is not None else 0
    rows = []
    for unit in children[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]:
        opens = bool(tree.children.get(unit.id))
        name = unit.name + (" ›" if opens else "")
        rows.append([button(name, _data("ul", unit.id, 0) if opens else _data("us", unit.id))])
    if pages > 1:
        rows.append(pager(page, pages, lambda p: _data("ul", key, p)))
    if parent is not None and tree.by_id[parent].parent_id is not None:
        rows.append([button(turn.tr("tips.where.whole", unit=tree.by_id[parent].name)[:60],
                            _data("us", parent))])
    title = tree.path(parent) if parent is not None else turn.tr("tips.where.btn.unit")
    turn.show(turn.tr("tips.where.pick", unit=html.escape(title)), InlineKeyboardMarkup(rows))


async def unit_list(turn: Turn, draft: Draft) -> None:
    """Open a level of the tree, or another page of it."""
    parent, page = turn.press.int(1), turn.press.int(2)
    tree = await turn.svc.units.tree()
    if parent is None or page is None or (parent and parent not in tree.by_id):
        await _ask_unit(turn, draft, parent=None, page=0)
        return
    await _ask_unit(turn, draft, parent=parent or None, page=page)


async def unit_selected(turn: Turn, draft: Draft) -> None:
    """A hamlet (or a whole commune) chosen from the tree."""
    unit_id = turn.press.int(1)
    tree = await turn.svc.units.tree()
    if unit_id is not None and unit_id in tree.by_id:
        draft.unit_id, draft.unit_from_poster = unit_id, False
    await _where_noted(turn, draft)


# ---------------------------------------------------------------------- 4. when


async def when_chosen(turn: Turn, draft: Draft) -> None:
    """'Just now' or 'today'."""
    if pressed(turn, draft):
        await _advance(turn, draft)
    else:
        await show(turn, draft)


async def when_typed(turn: Turn, draft: Draft) -> None:
    """A date typed as dd/mm/yyyy: not in the future, not absurdly old."""
    if typed(turn, draft):
        await _advance(turn, draft, in_place=False)


async def when_other(turn: Turn, draft: Draft) -> None:
    """Anything but a date or a button."""
    svc = turn.svc
    today = svc.now().astimezone(svc.timezone).date()
    turn.say(turn.tr("tips.when.bad", today=formats.day(today, turn.me.locale)))


# ---------------------------------------------------------------------- 5. anonymous or named


async def anon_chosen(turn: Turn, draft: Draft) -> None:
    """Anonymous (refusing files, which keep EXIF/GPS) or named."""
    choice = turn.press.field(1)
    full_name = person_name(turn.update.effective_user)
    if choice == "no":
        draft.anonymous, draft.name = False, full_name
        await _advance(turn, draft)
        return
    if choice not in ("yes", "drop", "resend"):
        await show(turn, draft)
        return
    files = sum(1 for kind, _ in draft.media if kind in FILES)
    if files and choice == "yes":
        rows = [[button(turn.tr("tips.anon.btn.drop"), _data("anon", "drop"))],
                [button(turn.tr("tips.anon.btn.resend"), _data("anon", "resend"))],
                [button(turn.tr("tips.anon.btn.no", name=full_name[:40]), _data("anon", "no"))],
                _nav(turn.me.locale)]
        turn.show(turn.tr("tips.anon.files", n=turn.number(files)), InlineKeyboardMarkup(rows))
        return
    draft.anonymous, draft.name = True, None
    draft.media = [m for m in draft.media if m[0] not in FILES]
    if choice == "resend":
        # Back to step 2 to send them as photos, then straight back to the review.
        draft.step, draft.editing = "what", True
        await show(turn, draft)
        return
    await _advance(turn, draft)


# ---------------------------------------------------------------------- 6. review and send


async def edit_chosen(turn: Turn, draft: Draft) -> None:
    """Change one field from the review; the review comes back afterwards."""
    field = turn.press.field(1)
    if field in STEPS[:-1]:
        draft.step, draft.editing = field, True
    await show(turn, draft)


async def send(turn: Turn, draft: Draft) -> None:
    """File the tip: its cards and the resident's receipt go out through the outbox."""
    svc = turn.svc
    if draft.category is None or draft.occurred_kind is None or draft.anonymous is None:
        await show(turn, draft)
        return
    if not await may_tip(turn):
        return  # the draft stays; tomorrow it can be sent
    to = await recipients(svc, draft.unit_id)
    if not to:
        await show(turn, draft)  # says why it cannot be sent yet
        return
    pressed = turn.query.message.message_id if turn.query and turn.query.message else None

    def announce(tip_id: int) -> list[NewItem]:
        subject = f"tip:{tip_id}"
        cards = [now_item("tip.card", subject, user_id, {"media": True}, tip_id=tip_id)
                 for user_id in to]
        # The review becomes the receipt (or a new message if it cannot be edited).
        receipt = now_item("tip.receipt", subject, None, {"message_id": pressed},
                           tip_id=tip_id)
        return [receipt, *cards]

    tip, _ = await svc.tips.create(draft, turn.me.user.id, svc.now(), announce=announce,
                                   also=svc.flows.finishing(turn.tg_id, FLOW.kind))
    turn.answer(turn.tr("tips.sending", code=tip.code))
    flows.end(turn, done=True)


# ---------------------------------------------------------------------- wiring


FLOW = flows.register(flows.Flow(
    kind="tip", prefix=PREFIX, load=Draft.from_json, show=show, label=label,
    unexpected=use_buttons, cancel=cancel, album=album_prompt,
    buttons={"back": back, "cancel": cancel, "resume": resume, "fresh": fresh},
))
FLOW.step("category", buttons={"cat": category_chosen}, media=media_elsewhere)
FLOW.step("what", text=what_text, media=what_media, location=what_other, other=what_other,
          buttons={"next": what_next})
FLOW.step("where", text=where_text, location=where_location, media=media_elsewhere,
          other=where_other, buttons={"ul": unit_list, "us": unit_selected})
FLOW.step("commune", buttons={"co": commune_chosen}, media=media_elsewhere)
FLOW.step("when", text=when_typed, media=media_elsewhere, location=when_other,
          other=when_other, buttons={"when": when_chosen})
FLOW.step("anon", buttons={"anon": anon_chosen}, media=media_elsewhere)
FLOW.step("review", buttons={"send": send, "edit": edit_chosen}, media=media_elsewhere)
