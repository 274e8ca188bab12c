"""Residents follow their tips: /status CODE, /mytips, and answering a coordinator.

``/status`` shows a tip's history to its own sender only; anyone else gets the
same "not found" as for a code that does not exist, so codes cannot be probed.
Answers are copied (never forwarded) under the coordinators' cards.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers import tip_desk
from handlers.common import Who, button, persistent_conversation, say, who
from handlers.services import Services, services
from locales import formats
from storage.tip_lifecycle import normalise_code
from storage.tips import HistoryEntry, Tip

ANSWER = "tipanswer.text"
ANSWERING = "tip_answering"
MAX_ANSWER = 4000


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/status CODE: the tip's status history, for its sender."""
    me = await who(update, context)
    svc = services(context)
    if not context.args:
        await say(update, me.tr("tips.status.usage"))
        return
    code = normalise_code(" ".join(context.args))
    found = await svc.tips.status_for_sender(code, me.user.id) if code else None
    if found is None:
        await say(update, me.tr("tips.status.not_found"))
        return
    await say(update, _history(svc, me, *found))


def _history(svc: Services, me: Who, tip: Tip, history: list[HistoryEntry]) -> str:
    lines = [me.tr("tips.status.head", code=tip.code, category=me.tr(f"tipcat.{tip.category}"))]
    for entry in history:
        name = me.tr(f"tipstatus.{entry.to_status.value}") if entry.to_status else entry.kind
        if entry.detail.get("resolution"):
            name += " — " + me.tr(f"tipresolution.{entry.detail['resolution']}")
        lines.append(f"• {formats.moment(entry.at, me.locale, svc.timezone)} — {name}")
    return "\n".join(lines)


async def mytips(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/mytips (or the menu button): the user's own tips, newest first."""
    if update.callback_query:
        await update.callback_query.answer()
    me = await who(update, context)
    svc = services(context)
    tips = await svc.tips.mine(me.user.id)
    if not tips:
        await say(update, me.tr("tips.mine.empty"))
        return
    lines = [me.tr("tips.mine.head")]
    for tip in tips:
        lines.append(
            f"• <code>{tip.code}</code> · {me.tr(f'tipcat.{tip.category}')} · "
            f"{me.tr(f'tipstatus.{tip.status.value}')} · "
            f"{formats.day(tip.created_at, me.locale, svc.timezone)}"
        )
    lines.append(me.tr("tips.mine.hint"))
    await say(update, "\n".join(lines))


async def answer_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """'Answer' under a coordinator's question: the next message is the answer."""
    query = update.callback_query
    me = await who(update, context)
    svc = services(context)
    tip = await svc.tips.get(int(query.data.removeprefix("ans:")))
    if tip is None or await svc.tips.sender_of(tip.id) != me.user.id or not tip.is_open:
        await query.answer(me.tr("tips.answer.closed"), show_alert=True)
        return ConversationHandler.END
    await query.answer()
    context.user_data[ANSWERING] = tip.id
    cancel = InlineKeyboardMarkup([[button(me.tr("flow.cancel"), "tipanswer:cancel")]])
    await say(update, me.tr("tips.answer.ask", code=tip.code), reply_markup=cancel)
    return ANSWER


async def answer_given(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """The answer: recorded, and copied under each coordinator's card."""
    me = await who(update, context)
    svc = services(context)
    msg = update.message
    tip_id = context.user_data.get(ANSWERING)
    tip = await svc.tips.get(tip_id) if tip_id else None
    if tip is None or await svc.tips.sender_of(tip.id) != me.user.id:
        await say(update, me.tr("tips.answer.closed"))
        return ConversationHandler.END
    if msg.sticker or msg.location or msg.contact:
        await say(update, me.tr("tips.answer.unsupported"))
        return ANSWER
    if msg.document and tip.anonymous:
        await say(update, me.tr("tips.what.file_anonymous"))
        return ANSWER
    text = (msg.text or msg.caption or "").strip()
    if msg.text is not None and not text:
        await say(update, me.tr("tips.what.empty"))
        return ANSWER
    if len(text) > MAX_ANSWER:
        await say(update, me.tr("tips.what.too_long", n=formats.number(len(text), me.locale),
                                max=formats.number(MAX_ANSWER, me.locale), left=""))
        return ANSWER
    kind = next((k for k in ("photo", "video", "voice", "document") if getattr(msg, k)), None)
    await svc.tips.add_entry(tip.id, None, "answer", svc.now(), text=text, media=kind)
    delivered = await tip_desk.relay_answer(context, tip, update.effective_chat.id,
                                            msg.message_id)
    context.user_data.pop(ANSWERING, None)
    await say(update, me.tr("tips.answer.sent" if delivered else "tips.answer.kept",
                            code=tip.code))
    return ConversationHandler.END


async def answer_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Not answering after all."""
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    me = await who(update, context)
    context.user_data.pop(ANSWERING, None)
    await say(update, me.tr("flow.cancelled"))
    return ConversationHandler.END


def conversation() -> ConversationHandler:
    """Answering a coordinator's question (before the tip flow: it takes the next message)."""
    return persistent_conversation(
        "tipanswer",
        entry_points=[CallbackQueryHandler(answer_pressed, pattern=r"^ans:\d+$")],
        states={ANSWER: [
            CallbackQueryHandler(answer_cancel, pattern=r"^tipanswer:cancel$"),
            MessageHandler(~filters.COMMAND, answer_given),
        ]},
        fallbacks=[CommandHandler("cancel", answer_cancel)],
            )


def handlers() -> list:
    """/status and /mytips."""
    return [
        CommandHandler("status", status),
        CommandHandler("mytips", mytips),
        CallbackQueryHandler(mytips, pattern=r"^menu:mytips$"),
    ]
