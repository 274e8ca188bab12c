"""The one router: everything a person sends lands in exactly one place.

PTB hands every update to :func:`route` (the only handler the application has). In order:

1. **Private chats only.** In a group or supergroup the bot answers a command, or a press
   on one of its buttons, with one line saying it works in private chat, and when it is
   added to a group it says so and leaves; a channel post gets nothing. Nobody in a group
   is stored, so a group never becomes anyone's contact.
2. **Blocking.** A person who blocks the bot is marked inactive (and active again when they
   come back).
3. **The person and their active flow** (storage.flows): read once per update.
4. **A button.** A flow's button (``tipf:…``, ``repf:…``, …) goes to that flow when it is
   the active one, else it is stale and does nothing but say so. Any other button (a card,
   the menu, a view's pages) has its handler, which checks the person's role itself.
5. **A command.** /cancel ends the active flow. A command that starts a flow leaves the
   active one for later (its draft kept) and says so; any other command runs and the flow
   stays where it was, with a reminder. An unknown command is answered.
6. **An edited message**: one line — edits are not read; what was sent first is kept.
7. **Anything else** goes to the active flow's current step (handlers.flows), or, with no
   flow open, to handlers.outside (an answer to an officer, a tip offered, the menu).

Nothing here depends on PTB's private attributes, and no conversation state lives in PTB:
every decision is made from the database. What a second bot process would need from this
(issue: PostgreSQL and replicas): the per-process caches read here (users and their roles,
the unit tree, the active-flow index of storage.flows) invalidated when another process
writes; one chat's updates handled in order across processes (today bot.updates keeps them
in order within one); and the album acknowledgement job, which is in PTB's in-memory
JobQueue, moved to a shared schedule or made harmless to lose (it only repeats what the
draft holds).
"""

from __future__ import annotations

import html
import logging

from telegram import Chat, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers import (
    event_desk,
    events,
    flows,
    invitations,
    outside,
    report_desk,
    reports,
    start,
    summaries,
    tip_desk,
    tip_follow,
    tips,
    units,
)
from handlers.callbacks import parse
from handlers.common import Turn, who_of
from handlers.services import services
from locales import t

log = logging.getLogger(__name__)

COMMANDS = {
    "start": start.start,
    "help": start.help_command,
    "language": start.language_command,
    "newtip": tips.begin,
    "mytips": tip_follow.mytips,
    "status": tip_follow.status,
    "report": reports.begin,
    "event": events.begin,
    "inbox": tip_desk.inbox,
    "tip": tip_desk.tip_command,
    "completeness": report_desk.completeness,
    "reports": report_desk.reports,
    "summary": summaries.summary,
    "export": summaries.export,
    "invite": invitations.begin,
    "units": units.units_command,
}

MENU = {
    "tip": tips.begin,
    "mytips": tip_follow.mytips,
    "report": reports.begin,
    "event": events.begin,
    "inbox": tip_desk.inbox,
    "invite": invitations.begin,
    "units": units.units_command,
    "language": start.language_command,
    "help": start.help_command,
}


async def _menu(turn: Turn) -> None:
    handler = MENU.get(turn.press.action)
    if handler is None:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    await _beside_the_flow(turn, handler)


CALLBACKS = {
    "lang": start.language_chosen,
    "menu": _menu,
    "inbox": tip_desk.inbox,
    "tip": tip_desk.action,
    "ev": event_desk.action,
    "evans": event_desk.answer_pressed,
    "ans": tip_follow.answer_pressed,
    "mine": tip_follow.mine_pressed,
    "cmpl": report_desk.completeness,
    "docx": summaries.word_pressed,
    "nudge": report_desk.nudge,
    "invh": invitations.begin_for_hamlet,
    "repl": report_desk.hamlet_page,
    "repv": report_desk.view_pressed,
    "repo": report_desk.reopen,
    "units": units.units_command,
}


async def route(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route one update (see the module docstring)."""
    if not isinstance(update, Update):
        return
    chat = update.effective_chat
    if chat is None or update.effective_user is None:
        return
    if chat.type != Chat.PRIVATE:
        await _not_private(update, context, chat)
        return
    if update.my_chat_member is not None:
        await _membership(update, context)
        return
    message = update.message or update.edited_message
    if update.callback_query is None and message is None:
        return  # polls, reactions…: nothing a person asked of us
    if update.effective_user.is_bot:
        return
    svc = services(context)
    tg_id = update.effective_user.id
    user = await svc.users.ensure(tg_id, chat.id)
    if not user.active:  # they wrote to us, so they have unblocked the bot
        await svc.users.set_active(tg_id, True)
        user = await svc.users.ensure(tg_id, chat.id)
    turn = Turn(update, context, svc, who_of(user, svc, tg_id))
    turn.kind = await svc.flows.active(tg_id)
    command = _command(update)
    if update.callback_query is not None:
        await _press(turn)
    elif update.edited_message is not None:
        turn.say(turn.tr("flow.edited"))
    elif command is not None:
        await _run_command(turn, *command)
    elif turn.kind not in flows.FLOWS or not await flows.handle(turn, flows.FLOWS[turn.kind]):
        await outside.handle(turn)
    await flows.commit(turn)
    await turn.flush()


def _command(update: Update) -> tuple[str, list[str]] | None:
    """(name, arguments) of a command message, or None."""
    message = update.message
    text = message.text if message is not None else None
    if not text or not text.startswith("/"):
        return None
    head, *args = text.split()
    name = head[1:].split("@", 1)[0].lower()
    return (name, args) if name else None


async def _run_command(turn: Turn, name: str, args: list[str]) -> None:
    turn.args = args
    if name == "cancel":
        flow = flows.FLOWS.get(turn.kind or "")
        if flow is None or flow.cancel is None \
                or not await flows.handle(turn, flow, command=flow.cancel):
            turn.say(turn.tr("flow.nothing"))
        return
    handler = COMMANDS.get(name)
    if handler is None:
        turn.say(turn.tr("fallback.command", command=html.escape(f"/{name[:32]}")))
        await _still(turn)
        return
    await _beside_the_flow(turn, handler)


async def _beside_the_flow(turn: Turn, handler) -> None:
    """Run a command or menu button; if it left an open flow as it was, say so (the next
    thing typed still goes there)."""
    before = turn.kind
    await handler(turn)
    if before is not None and turn.kind == before and not turn.entered:
        await _still(turn)


async def _still(turn: Turn) -> None:
    """A reminder of the flow still open after a command that did not touch it."""
    flow = flows.FLOWS.get(turn.kind or "")
    draft = await flows.load(turn, flow) if flow is not None else None
    if flow is not None and draft is not None:
        turn.say(turn.tr("flow.still", what=flow.label(turn, draft)))


async def _press(turn: Turn) -> None:
    # Signed for this person by this deployment, and a shape the bot sends: else expired.
    press = parse(turn.svc.buttons.open(turn.query.data, turn.tg_id))
    turn.press = press
    if press is None:
        turn.answer(turn.tr("callback.invalid"), alert=True)
        return
    flow = flows.BY_PREFIX.get(press.kind)
    if flow is not None:
        if turn.kind != flow.kind or not await flows.handle(turn, flow):
            turn.answer(turn.tr("flow.stale"), alert=True)
        return
    handler = CALLBACKS.get(press.kind)
    if handler is None:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    await handler(turn)


async def _membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A person blocked the bot (or came back): what we may send them changes."""
    member = update.my_chat_member
    svc = services(context)
    user = await svc.users.get(update.effective_user.id)
    if user is None:
        return
    blocked = member.new_chat_member.status in ("kicked", "left")
    if user.active == blocked:
        await svc.users.set_active(update.effective_user.id, not blocked)


async def _not_private(update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> None:
    """Groups and channels: one line where someone asked something of the bot, no more."""
    if chat.type == Chat.CHANNEL:
        return
    text = t(None, "private.only", bot=context.bot.username or "")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.my_chat_member is not None:
            if update.my_chat_member.new_chat_member.status in ("member", "administrator"):
                await context.bot.send_message(chat.id, text)
                await context.bot.leave_chat(chat.id)
        elif update.message is not None and _command(update) is not None:
            await context.bot.send_message(chat.id, text)
    except TelegramError as exc:  # a group that removed us meanwhile: nothing to do
        log.info("could not answer in a group: %s", exc)
