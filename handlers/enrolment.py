"""Deep links: joining through an invitation, and hamlet posters.

``/start j_<code>`` redeems an invitation (see storage.invitations); a handover
ends the previous holder's role and tells them. ``/start t_<unit code>`` comes
from a hamlet's QR poster: the hamlet is remembered for the resident's tip.
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from handlers.commands import set_chat_commands
from handlers.common import Who, button, say, who
from handlers.services import services
from locales import t
from storage.invitations import RedeemOutcome, is_invite_payload
from storage.users import Contact

log = logging.getLogger(__name__)

POSTER_PREFIX = "t_"
# Where a poster's hamlet waits for the tip flow.
TIP_UNIT = "tip_unit_id"


def poster_payload(unit_code: str) -> str:
    """The /start payload printed on a hamlet's poster."""
    return POSTER_PREFIX + unit_code


async def act_on_payload(
    update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, payload: str
) -> Who:
    """Act on a /start payload; returns the user as they are afterwards."""
    if is_invite_payload(payload):
        return await _redeem(update, context, me, payload)
    if payload.startswith(POSTER_PREFIX):
        unit = await services(context).units.by_code(payload.removeprefix(POSTER_PREFIX))
        if unit is not None:
            context.user_data[TIP_UNIT] = unit.id
            start_tip = InlineKeyboardMarkup([[button(me.tr("menu.btn.tip"), "menu:tip")]])
            await say(update, me.tr("poster.welcome", unit=html.escape(unit.name)),
                      reply_markup=start_tip)
            return me
    await say(update, me.tr("start.bad_link"))
    return me


async def _redeem(
    update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who, code: str
) -> Who:
    svc = services(context)
    result = await svc.invitations.redeem(code, me.user.id, now=svc.now())
    invitation = result.invitation
    if result.outcome is not RedeemOutcome.OK or invitation is None:
        await say(update, me.tr(f"invite.{result.outcome.value}"))
        return me
    tg_user = update.effective_user
    # Staff go by a name coordinators can see; residents stay nameless.
    await svc.users.set_contact(
        tg_user.id, Contact(chat_id=update.effective_chat.id, name=tg_user.full_name)
    )
    # A handover changed someone else's roles too; their Telegram id is known only as a hash.
    svc.users.forget(None if result.replaced_user_ids else tg_user.id)
    me = await who(update, context)
    tree = await svc.units.tree()
    unit_path = tree.path(invitation.unit_id)
    await say(
        update,
        me.tr("invite.ok", role=me.tr(f"role.{invitation.role.value}"),
              unit=html.escape(unit_path)),
    )
    await set_chat_commands(context.bot, update.effective_chat.id, me.role, me.locale)
    for old_user in result.replaced_user_ids:
        await _tell_replaced(context, old_user, invitation.role.value, unit_path)
    return me


async def _tell_replaced(
    context: ContextTypes.DEFAULT_TYPE, user_id: int, role: str, unit_path: str
) -> None:
    """Tell a previous holder their role ended; their past reports stay theirs."""
    svc = services(context)
    contact, known = await svc.users.reach(user_id)
    locale = known or svc.default_locale
    text = t(locale, "invite.replaced", role=t(locale, f"role.{role}"),
             unit=html.escape(unit_path))
    try:
        await context.bot.send_message(contact.chat_id, text, parse_mode="HTML")
    except Forbidden:
        log.info("previous holder %s has blocked the bot; handover not told", user_id)
    except TelegramError as exc:
        log.warning("could not tell previous holder %s of the handover: %s", user_id, exc)
