"""Coordinators act on tips: the card, its buttons, /inbox and /tip.

A new tip reaches every coordinator whose scope holds its hamlet (the commune when
no hamlet was given; the admins when there is no unit at all) as a card with
buttons for what comes next. Every card of a tip is kept current when anyone
changes it. Nothing on a card, and nothing relayed, carries who an anonymous
sender is: media are re-sent by file id and answers are copied, never forwarded.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime

from telegram import (
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers.common import (
    KeyedLocks,
    Who,
    button,
    pager,
    persistent_conversation,
    say,
    scope,
    who,
)
from handlers.services import Services, services
from locales import formats, t
from storage.models import Role
from storage.tip_lifecycle import Resolution, Status, deadline, next_statuses, normalise_code
from storage.tips import Tip, TipConflict

log = logging.getLogger(__name__)

INPUT = "tipdesk.input"
PENDING = "tipdesk_pending"
INBOX_PAGE = 8
BODY_ON_CARD = 2500
MAX_QUESTION = 1000
MAX_NOTE = 1000
MAX_TAGS = 10
_ACTION = re.compile(r"^tip:(\d+):(\w+)(?::(\w+))?$")
_STATUS_ICON = {Status.NEW: "🆕", Status.ACKNOWLEDGED: "📥", Status.VERIFYING: "🔎",
                Status.IN_PROGRESS: "📤", Status.CLOSED: "🏁"}


# ---------------------------------------------------------------------- who gets a tip


async def recipients(svc: Services, tip: Tip) -> list[int]:
    """User ids of the coordinators (and admins) whose scope holds the tip."""
    if tip.unit_id is not None:
        tree = await svc.units.tree()
        chain = [u.id for u in tree.ancestors(tip.unit_id)]
        held = await svc.users.holders(chain, (Role.COORDINATOR, Role.ADMIN))
    else:
        held = await svc.users.holders(None, (Role.ADMIN,))
    ids = {user_id for user_id, _, _ in held}
    if tip.unit_id is None or not ids:
        # The settings' admins see what nobody else would.
        for tg_id in sorted(svc.admins):
            user = await svc.users.get(tg_id)
            if user is not None and user.active:
                ids.add(user.id)
    return sorted(ids)


async def allowed(svc: Services, me: Who, tip: Tip) -> bool:
    """Whether this coordinator may see and act on the tip."""
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        return False
    if tip.unit_id is None:
        return me.role is Role.ADMIN
    tree = await svc.units.tree()
    return any(tree.contains(root.id, tip.unit_id) for root in await scope(svc, me))


# ---------------------------------------------------------------------- the card


@dataclass(frozen=True)
class CardFacts:
    """What a card shows beyond the tip itself, read once for all its recipients."""

    place: str
    duplicates: list[tuple[int, str]]
    assignee: str | None
    notes: list[str]
    blocked: bool


async def facts(
    svc: Services, tip: Tip, *, fresh: bool = False,
    duplicates: list[tuple[int, str]] | None = None,
) -> CardFacts:
    """Duplicates, assignee, notes: the extra reads a card needs (fewer for a new tip).

    ``fresh``: the tip was just filed, so it has no history; ``duplicates`` when
    already read (filing reads them in the same hop).
    """
    tree = await svc.units.tree()
    place = []
    if tip.unit_id is not None and tip.unit_id in tree.by_id:
        place.append(html.escape(tree.path(tip.unit_id)))
    if tip.place_text:
        place.append(f"«{html.escape(tip.place_text)}»")
    history = [] if fresh else await svc.tips.history(tip.id)
    assignee = None
    if tip.assignee_id is not None:
        assignee = (await svc.users.contact(tip.assignee_id)).name
    return CardFacts(
        place=" · ".join(place),
        duplicates=(duplicates if duplicates is not None
                    else await svc.tips.likely_duplicates(tip)),
        assignee=assignee,
        notes=[h.detail.get("text", "") for h in history if h.kind == "note"][-3:],
        blocked=any(h.kind == "block" for h in history),
    )


def card_text(svc: Services, locale: str, tip: Tip, f: CardFacts, now: datetime) -> str:
    """The card in one coordinator's language (HTML)."""
    def tr(key: str, **values: object) -> str:
        return t(locale, key, **values)

    lines = [f"{_STATUS_ICON[tip.status]} <b>{tip.code}</b> · {tr(f'tipcat.{tip.category}')}"]
    status = tr(f"tipstatus.{tip.status.value}")
    if tip.resolution is not None:
        status += " — " + tr(f"tipresolution.{tip.resolution.value}")
    lines.append(tr("tipdesk.card.status", status=status))
    due = deadline(tip.status, tip.created_at, now, svc.tip_policy)
    if due is not None:
        when = formats.moment(due.due, locale, svc.timezone)
        key = f"tipdesk.card.due.{due.kind}" + (".overdue" if due.overdue else "")
        lines.append(tr(key, due=when))
    lines.append(tr("tipdesk.card.received",
                    moment=formats.moment(tip.created_at, locale, svc.timezone)))
    lines.append(tr("tipdesk.card.anonymous") if tip.anonymous else
                 tr("tipdesk.card.named", name=html.escape(tip.sender_name or "—")))
    lines.append("📍 " + (f.place or tr("tips.where.none")))
    if tip.latitude is not None:
        lines.append(tr("tipdesk.card.location", lat=f"{tip.latitude:.5f}",
                        lon=f"{tip.longitude:.5f}"))
    lines.append("🕒 " + occurred(locale, svc, tip.occurred_kind, tip.occurred_at))
    body = tip.body
    if len(body) > BODY_ON_CARD:
        body = body[:BODY_ON_CARD] + "… " + tr("tipdesk.card.cut", code=tip.code)
    lines.append("📝 " + (html.escape(body) if body else "—"))
    if tip.media:
        lines.append("📎 " + media_counts(locale, tip.media))
    if f.duplicates:
        lines.append(tr("tipdesk.card.duplicates", codes=", ".join(c for _, c in f.duplicates)))
    if tip.duplicate_of is not None:
        lines.append(tr("tipdesk.card.merged"))
    if f.assignee:
        lines.append(tr("tipdesk.card.assignee", name=html.escape(f.assignee)))
    if tip.tags:
        lines.append("🏷 " + " ".join(f"#{html.escape(tag)}" for tag in tip.tags))
    if f.notes:
        notes = "\n".join(f"• {html.escape(n[:300])}" for n in f.notes)
        lines.append(tr("tipdesk.card.notes", notes=notes))
    if f.blocked:
        lines.append(tr("tipdesk.card.blocked"))
    return "\n".join(lines)


def occurred(locale: str, svc: Services, kind: str, at: str) -> str:
    """When it happened, as the resident said."""
    if kind == "now":
        return t(locale, "tips.when.was_now",
                 moment=formats.moment(datetime.fromisoformat(at), locale, svc.timezone))
    if kind == "today":
        return t(locale, "tips.when.was_today", day=formats.day(date.fromisoformat(at), locale))
    return formats.day(date.fromisoformat(at), locale)


def media_counts(locale: str, media: tuple[tuple[str, str], ...] | list) -> str:
    """'3 ảnh, 1 tin nhắn thoại'."""
    parts = []
    for kind in ("photo", "video", "voice", "document"):
        n = sum(1 for k, _ in media if k == kind)
        if n:
            parts.append(t(locale, f"tips.count.{kind}", n=formats.number(n, locale)))
    return ", ".join(parts)


def card_keyboard(locale: str, tip: Tip, f: CardFacts) -> InlineKeyboardMarkup:
    """The next actions for the tip's state."""
    def b(key: str, action: str) -> object:
        return button(t(locale, key), f"tip:{tip.id}:{action}")

    rows = []
    if tip.is_open:
        rows.append([b(f"tipdesk.btn.{s.value}", f"st:{s.value}")
                     for s in next_statuses(tip.status) if s is not Status.CLOSED])
        first = [b("tipdesk.btn.close", "close")]
        if tip.reachable:
            first.append(b("tipdesk.btn.ask", "ask"))
        rows.append(first)
        rows.append([b("tipdesk.btn.assign", "assign"), b("tipdesk.btn.note", "note"),
                     b("tipdesk.btn.tag", "tag")])
        if tip.reachable and not f.blocked:
            rows.append([b("tipdesk.btn.block", "block")])
    else:
        rows.append([b("tipdesk.btn.note", "note"), b("tipdesk.btn.tag", "tag")])
    if tip.media:
        rows.append([button(t(locale, "tipdesk.btn.media", n=formats.number(len(tip.media),
                                                                             locale)),
                            f"tip:{tip.id}:media")])
    return InlineKeyboardMarkup([row for row in rows if row])


# ---------------------------------------------------------------------- sending cards


async def announce(
    context: ContextTypes.DEFAULT_TYPE, tip: Tip, duplicates: list[tuple[int, str]]
) -> None:
    """A new tip: media, location and card to everyone whose scope holds it."""
    svc = services(context)
    f = await facts(svc, tip, fresh=True, duplicates=duplicates)
    for user_id in await recipients(svc, tip):
        await send_card(context, tip, user_id, f, with_media=True)


async def send_card(
    context: ContextTypes.DEFAULT_TYPE, tip: Tip, user_id: int, f: CardFacts, *,
    with_media: bool, chat_id: int | None = None, locale: str | None = None,
) -> None:
    """One coordinator's copy of the card (remembered, so later changes edit it)."""
    svc = services(context)
    if chat_id is None or locale is None:
        contact, known = await svc.users.reach(user_id)
        chat_id, locale = contact.chat_id, known or svc.default_locale
    try:
        if with_media:
            await send_media(context, chat_id, tip.media)
            if tip.latitude is not None:
                await context.bot.send_location(chat_id, tip.latitude, tip.longitude)
        sent = await context.bot.send_message(
            chat_id, card_text(svc, locale, tip, f, svc.now()),
            reply_markup=card_keyboard(locale, tip, f), parse_mode="HTML",
        )
    except Forbidden:
        log.info("coordinator %s has blocked the bot; tip %s not delivered to them",
                 user_id, tip.code)
        return
    svc.tips.set_card(tip.id, user_id, sent.message_id)


async def send_media(context: ContextTypes.DEFAULT_TYPE, chat_id: int,
                     media: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> None:
    """Media by file id (a tip's, an event's): photos and videos as albums, files, voices."""
    visual = [InputMediaPhoto(fid) if kind == "photo" else InputMediaVideo(fid)
              for kind, fid in media if kind in ("photo", "video")]
    docs = [InputMediaDocument(fid) for kind, fid in media if kind == "document"]
    for group in (visual, docs):
        for i in range(0, len(group), 10):
            chunk = group[i:i + 10]
            if len(chunk) == 1:
                item = chunk[0]
                send = {InputMediaPhoto: context.bot.send_photo,
                        InputMediaVideo: context.bot.send_video,
                        InputMediaDocument: context.bot.send_document}[type(item)]
                await send(chat_id, item.media)
            else:
                await context.bot.send_media_group(chat_id, chunk)
    for kind, fid in media:
        if kind == "voice":
            await context.bot.send_voice(chat_id, fid)


_refreshing = KeyedLocks()


async def refresh_cards(context: ContextTypes.DEFAULT_TYPE, tip_id: int) -> Tip | None:
    """Edit every card of the tip to show it as it is now.

    Coordinators' updates run concurrently (bot/updates.py): one refresh per tip at
    a time, each reading the tip afresh, so the last edit always shows the last state.
    """
    async with _refreshing.hold(tip_id):
        return await _refresh(context, tip_id)


async def _refresh(context: ContextTypes.DEFAULT_TYPE, tip_id: int) -> Tip | None:
    svc = services(context)
    tip = await svc.tips.get(tip_id)
    if tip is None:
        return None
    f = await facts(svc, tip)
    for user_id, message_id in await svc.tips.cards(tip_id):
        chat_id, locale = await _reach(svc, user_id)
        try:
            await context.bot.edit_message_text(
                card_text(svc, locale, tip, f, svc.now()), chat_id=chat_id,
                message_id=message_id, reply_markup=card_keyboard(locale, tip, f),
                parse_mode="HTML",
            )
        except BadRequest as exc:  # not modified, or deleted by its holder: nothing to fix
            log.debug("card of %s for user %s not edited: %s", tip.code, user_id, exc)
        except Forbidden:
            log.info("coordinator %s has blocked the bot", user_id)
    return tip


async def _reach(svc: Services, user_id: int) -> tuple[int, str]:
    """A user's chat and language (the default language if they never chose)."""
    contact, locale = await svc.users.reach(user_id)
    return contact.chat_id, locale or svc.default_locale


async def tell_sender(
    context: ContextTypes.DEFAULT_TYPE, tip: Tip, key: str, *, answer: bool = False,
    **values: object,
) -> bool:
    """A message to the tip's sender in their language; False if they cannot be reached.

    Values starting with ``@`` are catalog keys, translated into the sender's language;
    ``answer`` adds the button with which they reply to a question.
    """
    svc = services(context)
    user_id = await svc.tips.sender_of(tip.id)
    if user_id is None:
        return False
    chat_id, locale = await _reach(svc, user_id)
    texts = {k: (t(locale, v[1:]) if isinstance(v, str) and v.startswith("@") else v)
             for k, v in values.items()}
    markup = None
    if answer:
        markup = InlineKeyboardMarkup([[button(t(locale, "tips.btn.answer"), f"ans:{tip.id}")]])
    try:
        await context.bot.send_message(chat_id, t(locale, key, code=tip.code, **texts),
                                       reply_markup=markup, parse_mode="HTML")
    except Forbidden:
        log.info("the sender of %s has blocked the bot", tip.code)
        return False
    return True


async def relay_answer(
    context: ContextTypes.DEFAULT_TYPE, tip: Tip, from_chat_id: int, message_id: int
) -> int:
    """Copy a sender's answer under each card of the tip (copy, never forward); how many."""
    svc = services(context)
    delivered = 0
    for user_id, card_id in await svc.tips.cards(tip.id):
        chat_id, locale = await _reach(svc, user_id)
        try:
            head = await context.bot.send_message(
                chat_id, t(locale, "tipdesk.answer", code=tip.code), parse_mode="HTML",
                reply_parameters=ReplyParameters(card_id, allow_sending_without_reply=True),
            )
            await context.bot.copy_message(
                chat_id, from_chat_id, message_id,
                reply_parameters=ReplyParameters(head.message_id,
                                                 allow_sending_without_reply=True),
            )
            delivered += 1
        except TelegramError as exc:
            log.warning("answer on %s not relayed to user %s: %s", tip.code, user_id, exc)
    return delivered


# ---------------------------------------------------------------------- buttons on the card


async def _tip_for(update: Update, context: ContextTypes.DEFAULT_TYPE,
                   tip_id: int) -> tuple[Who, Tip | None]:
    svc = services(context)
    me = await who(update, context)
    tip = await svc.tips.get(tip_id)
    if tip is None or not await allowed(svc, me, tip):
        return me, None
    return me, tip


async def action(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button on a card: tip:<id>:<action>[:<argument>]."""
    query = update.callback_query
    match = _ACTION.match(query.data or "")
    me, tip = await _tip_for(update, context, int(match[1])) if match else (None, None)
    if tip is None or me is None:
        me = me or await who(update, context)
        await query.answer(me.tr("tipdesk.not_found"), show_alert=True)
        return
    svc = services(context)
    act, arg = match[2], match[3]
    if act == "show":
        await query.answer()
        await send_card(context, tip, me.user.id, await facts(svc, tip), with_media=False,
                        chat_id=update.effective_chat.id, locale=me.locale)
    elif act == "media":
        await query.answer()
        await send_media(context, update.effective_chat.id, tip.media)
    elif act == "kb":
        await query.answer()
        await _swap_keyboard(query, card_keyboard(me.locale, tip, await facts(svc, tip)))
    elif act == "st" and arg in {s.value for s in Status} - {Status.CLOSED.value}:
        await _move(update, context, me, tip, Status(arg))
    elif act == "close":
        await query.answer()
        rows = [[_b(me, tip, f"tipresolution.{r.value}", f"cl:{r.value}")] for r in Resolution]
        rows.append([_b(me, tip, "flow.back", "kb")])
        await _swap_keyboard(query, InlineKeyboardMarkup(rows))
    elif act == "cl" and arg in (Resolution.RESOLVED.value, Resolution.UNFOUNDED.value):
        await _move(update, context, me, tip, Status.CLOSED, Resolution(arg))
    elif act == "cl" and arg == Resolution.DUPLICATE.value:
        await query.answer()
        rows = [[_b(me, tip, None, f"dup:{other}", text=code)]
                for other, code in (await facts(svc, tip)).duplicates]
        rows.append([_b(me, tip, "tipdesk.btn.dupcode", "dupcode")])
        rows.append([_b(me, tip, "flow.back", "kb")])
        await _swap_keyboard(query, InlineKeyboardMarkup(rows))
    elif act == "dup" and arg and arg.isdigit():
        await _merge(update, context, me, tip, int(arg))
    elif act == "assign":
        await query.answer()
        rows = [[_b(me, tip, None, f"as:{uid}", text=name)]
                for uid, name in await _colleagues(svc, tip)]
        rows.append([_b(me, tip, "flow.back", "kb")])
        await _swap_keyboard(query, InlineKeyboardMarkup(rows))
    elif act == "as" and arg and arg.isdigit():
        await _assign(update, context, me, tip, int(arg))
    elif act == "block":
        await query.answer()
        rows = [[_b(me, tip, "tipdesk.btn.block_yes", "blk:yes")],
                [_b(me, tip, "flow.back", "kb")]]
        await _swap_keyboard(query, InlineKeyboardMarkup(rows))
        await say(update, me.tr("tipdesk.block.explain", code=tip.code))
    elif act == "blk":
        await query.answer()
        done = await svc.tips.block_sender(tip.id, me.user.id, svc.now())
        await say(update, me.tr("tipdesk.block.done" if done else "tipdesk.unreachable",
                                code=tip.code))
        await refresh_cards(context, tip.id)
    else:
        await query.answer(me.tr("callback.stale"), show_alert=True)


def _b(me: Who, tip: Tip, key: str | None, act: str, *, text: str | None = None):
    return button(text if text is not None else me.tr(key), f"tip:{tip.id}:{act}")


async def _swap_keyboard(query, markup: InlineKeyboardMarkup) -> None:
    try:
        await query.edit_message_reply_markup(markup)
    except BadRequest as exc:
        log.debug("keyboard not swapped: %s", exc)


async def _move(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, tip: Tip,
                target: Status, resolution: Resolution | None = None) -> None:
    """A status change: audited, every card refreshed, the sender told."""
    svc = services(context)
    query = update.callback_query
    try:
        _, after = await svc.tips.change_status(tip.id, me.user.id, target, svc.now(),
                                                resolution=resolution)
    except TipConflict:
        await query.answer(me.tr("tipdesk.conflict"), show_alert=True)
        await refresh_cards(context, tip.id)
        return
    await query.answer(me.tr("tipdesk.moved", status=me.tr(f"tipstatus.{target.value}")))
    await refresh_cards(context, tip.id)
    if resolution is not None:
        await tell_sender(context, after, "tips.notify.closed",
                          resolution=f"@tipresolution.{resolution.value}")
    else:
        await tell_sender(context, after, "tips.notify.status",
                          status=f"@tipstatus.{target.value}")


async def _merge(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, tip: Tip,
                 other_id: int) -> bool:
    """Close ``tip`` as a duplicate of another; both senders are told."""
    svc = services(context)
    query = update.callback_query
    other = await svc.tips.get(other_id)
    if other is None or other.id == tip.id or not await allowed(svc, me, other):
        if query:
            await query.answer(me.tr("tipdesk.not_found"), show_alert=True)
        return False
    try:
        _, after = await svc.tips.change_status(
            tip.id, me.user.id, Status.CLOSED, svc.now(),
            resolution=Resolution.DUPLICATE, duplicate_of=other.id,
        )
    except TipConflict:
        if query:
            await query.answer(me.tr("tipdesk.conflict"), show_alert=True)
        return False
    await svc.tips.add_entry(other.id, me.user.id, "merge", svc.now(), merged=tip.code)
    if query:
        await query.answer(me.tr("tipdesk.merged", code=tip.code, other=other.code))
    else:
        await say(update, me.tr("tipdesk.merged", code=tip.code, other=other.code))
    await refresh_cards(context, tip.id)
    await refresh_cards(context, other.id)
    await tell_sender(context, after, "tips.notify.merged", other=other.code)
    await tell_sender(context, other, "tips.notify.merged_into")
    return True


async def _colleagues(svc: Services, tip: Tip) -> list[tuple[int, str]]:
    """Coordinators who could take the tip: (user id, the name they go by)."""
    out = []
    for user_id in await recipients(svc, tip):
        name = (await svc.users.contact(user_id)).name or f"#{user_id}"
        out.append((user_id, name[:40]))
    return out


async def _assign(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, tip: Tip,
                  assignee_id: int) -> None:
    svc = services(context)
    query = update.callback_query
    if assignee_id not in await recipients(svc, tip):
        await query.answer(me.tr("callback.stale"), show_alert=True)
        return
    await svc.tips.assign(tip.id, me.user.id, assignee_id, svc.now())
    await query.answer(me.tr("tipdesk.assigned"))
    tip = await refresh_cards(context, tip.id) or tip
    if assignee_id != me.user.id:
        chat_id, locale = await _reach(svc, assignee_id)
        by = (await svc.users.contact(me.user.id)).name or "—"
        try:
            await context.bot.send_message(
                chat_id, t(locale, "tipdesk.assigned_to_you", code=tip.code,
                           by=html.escape(by)), parse_mode="HTML")
        except Forbidden:
            log.info("assignee %s has blocked the bot", assignee_id)


# ---------------------------------------------------------------------- typed input: ask, note, tag


async def ask_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """A card button that needs text: the question, a note, tags, or a case code."""
    query = update.callback_query
    match = _ACTION.match(query.data or "")
    me, tip = await _tip_for(update, context, int(match[1]))
    if tip is None:
        await query.answer(me.tr("tipdesk.not_found"), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    context.user_data[PENDING] = {"tip": tip.id, "action": match[2]}
    cancel = InlineKeyboardMarkup([[button(me.tr("flow.cancel"), "tipdesk:cancel")]])
    await say(update, me.tr(f"tipdesk.prompt.{match[2]}", code=tip.code), reply_markup=cancel)
    return INPUT


async def got_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """The text the coordinator typed."""
    svc = services(context)
    pending = context.user_data.get(PENDING)
    me = await who(update, context)
    if not pending:  # lost with a crash between two persistence flushes
        await say(update, me.tr("tipdesk.pending_lost"))
        return ConversationHandler.END
    me, tip = await _tip_for(update, context, pending["tip"])
    if tip is None:
        await say(update, me.tr("tipdesk.not_found"))
        return ConversationHandler.END
    text = (update.message.text or "").strip()
    act = pending["action"]
    if not text:
        await say(update, me.tr("tipdesk.empty"))
        return INPUT
    if act == "ask":
        if len(text) > MAX_QUESTION:
            await say(update, me.tr("tipdesk.too_long", max=formats.number(MAX_QUESTION,
                                                                           me.locale)))
            return INPUT
        delivered = await tell_sender(context, tip, "tips.ask.question",
                                      question=html.escape(text), answer=True)
        if not delivered:
            await say(update, me.tr("tipdesk.unreachable", code=tip.code))
            context.user_data.pop(PENDING, None)
            return ConversationHandler.END
        await svc.tips.add_entry(tip.id, me.user.id, "ask", svc.now(), text=text)
        await say(update, me.tr("tipdesk.asked", code=tip.code))
    elif act == "note":
        if len(text) > MAX_NOTE:
            await say(update, me.tr("tipdesk.too_long", max=formats.number(MAX_NOTE, me.locale)))
            return INPUT
        await svc.tips.add_entry(tip.id, me.user.id, "note", svc.now(), text=text)
        await say(update, me.tr("tipdesk.noted", code=tip.code))
        await refresh_cards(context, tip.id)
    elif act == "tag":
        tags = parse_tags(text)
        if not tags:
            await say(update, me.tr("tipdesk.tags_bad"))
            return INPUT
        await svc.tips.add_tags(tip.id, me.user.id, tags[:MAX_TAGS], svc.now())
        await say(update, me.tr("tipdesk.tagged", code=tip.code))
        await refresh_cards(context, tip.id)
    else:  # dupcode
        code = normalise_code(text)
        other = await svc.tips.by_code(code) if code else None
        if other is None or other.id == tip.id or not await allowed(svc, me, other):
            await say(update, me.tr("tipdesk.dupcode_bad"))
            return INPUT
        if not await _merge(update, context, me, tip, other.id):
            await say(update, me.tr("tipdesk.conflict"))
    context.user_data.pop(PENDING, None)
    return ConversationHandler.END


def parse_tags(text: str) -> list[str]:
    """'#ma_tuy, chợ đêm' → ['ma_tuy', 'chợ_đêm']: lower case, words joined by '_'."""
    out = []
    for part in re.split(r"[,;#\n]+", text):
        tag = "_".join(part.strip().lower().split())[:32]
        if tag and tag.replace("_", "").isalnum() and tag not in out:
            out.append(tag)
    return out


async def input_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Not text: the prompt wants text."""
    me = await who(update, context)
    await say(update, me.tr("tipdesk.empty"))
    return INPUT


async def input_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Cancel typing a question, note or tag."""
    if update.callback_query:
        await update.callback_query.answer()
        try:
            await update.callback_query.edit_message_reply_markup(None)
        except BadRequest as exc:
            log.debug("keyboard not removed: %s", exc)
    me = await who(update, context)
    context.user_data.pop(PENDING, None)
    await say(update, me.tr("flow.cancelled"))
    return ConversationHandler.END


# ---------------------------------------------------------------------- /inbox and /tip


async def inbox(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/inbox: open tips in scope, oldest first, overdue marked, paged."""
    me = await who(update, context)
    page = 0
    if update.callback_query:
        await update.callback_query.answer()
        page = int(update.callback_query.data.removeprefix("inbox:"))
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        await say(update, me.tr("tipdesk.not_allowed"))
        return
    svc = services(context)
    tree = await svc.units.tree()
    unit_ids = sorted({u.id for root in await scope(svc, me) for u in tree.descendants(root.id)})
    tips, total = await svc.tips.open_in(unit_ids, unitless=me.role is Role.ADMIN,
                                         offset=page * INBOX_PAGE, limit=INBOX_PAGE)
    if total == 0:
        await say(update, me.tr("tipdesk.inbox.empty"))
        return
    now = svc.now()
    lines = [me.tr("tipdesk.inbox.head", n=formats.number(total, me.locale))]
    for tip in tips:
        due = deadline(tip.status, tip.created_at, now, svc.tip_policy)
        mark = "⏰ " if due and due.overdue else ""
        unit = tree.by_id[tip.unit_id].name if tip.unit_id in tree.by_id else "—"
        lines.append(
            f"{mark}<b>{tip.code}</b> · {me.tr(f'tipcat.{tip.category}')} · {html.escape(unit)}"
            f" · {me.tr(f'tipstatus.{tip.status.value}')} · {age(me.locale, now - tip.created_at)}"
        )
    if any(deadline(tp.status, tp.created_at, now, svc.tip_policy).overdue for tp in tips):
        lines.append(me.tr("tipdesk.inbox.overdue_note"))
    rows = [[button(tip.code, f"tip:{tip.id}:show") for tip in tips[i:i + 4]]
            for i in range(0, len(tips), 4)]
    rows.append(pager(page, (total + INBOX_PAGE - 1) // INBOX_PAGE, lambda p: f"inbox:{p}"))
    await say(update, "\n".join(lines), reply_markup=InlineKeyboardMarkup([r for r in rows if r]))


def age(locale: str, delta) -> str:
    """How long ago, roughly: '3 ngày', '5 giờ', '12 phút'."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return t(locale, "tipdesk.age.days", n=formats.number(seconds // 86400, locale))
    if seconds >= 3600:
        return t(locale, "tipdesk.age.hours", n=formats.number(seconds // 3600, locale))
    return t(locale, "tipdesk.age.minutes", n=formats.number(seconds // 60, locale))


async def tip_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/tip CODE: the card of one tip in scope."""
    me = await who(update, context)
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        await say(update, me.tr("tipdesk.not_allowed"))
        return
    if not context.args:
        await say(update, me.tr("tipdesk.tip_usage"))
        return
    svc = services(context)
    code = normalise_code(" ".join(context.args))
    tip = await svc.tips.by_code(code) if code else None
    if tip is None or not await allowed(svc, me, tip):
        await say(update, me.tr("tipdesk.not_found"))
        return
    await send_card(context, tip, me.user.id, await facts(svc, tip), with_media=False,
                    chat_id=update.effective_chat.id, locale=me.locale)
    if len(tip.body) > BODY_ON_CARD:
        for i in range(0, len(tip.body), 4000):
            await say(update, html.escape(tip.body[i:i + 4000]))


def conversation() -> ConversationHandler:
    """Typing a question, a note, tags or a case code after pressing a card's button."""
    return persistent_conversation(
        "tipdesk",
        entry_points=[CallbackQueryHandler(ask_input, pattern=r"^tip:\d+:(ask|note|tag|dupcode)$")],
        states={INPUT: [
            MessageHandler(filters.TEXT & ~filters.COMMAND, got_input),
            CallbackQueryHandler(input_cancel, pattern=r"^tipdesk:cancel$"),
            MessageHandler(~filters.COMMAND, input_other),
        ]},
        fallbacks=[CommandHandler("cancel", input_cancel)],
            )


def handlers() -> list:
    """Card buttons, /inbox and /tip."""
    return [
        CommandHandler("inbox", inbox),
        CommandHandler("tip", tip_command),
        CallbackQueryHandler(inbox, pattern=r"^inbox:\d+$"),
        CallbackQueryHandler(action, pattern=r"^tip:\d+:"),
    ]
