"""Deep links: joining through an invitation, and hamlet posters.

``/start j_<code>`` redeems an invitation (see storage.invitations); a handover ends the
previous holder's role, and they are told through the outbox in the same transaction.
``/start t_<unit code>`` comes from a hamlet's QR poster: the tip flow opens with the
hamlet set.
"""

from __future__ import annotations

import html
import logging

from handlers import start
from handlers.commands import set_chat_commands
from handlers.common import Turn, person_name, who_of
from storage.invitations import RedeemOutcome, is_invite_payload
from storage.users import Contact

log = logging.getLogger(__name__)

POSTER_PREFIX = "t_"


def poster_payload(unit_code: str) -> str:
    """The /start payload printed on a hamlet's poster."""
    return POSTER_PREFIX + unit_code


async def act_on_payload(turn: Turn, payload: str) -> None:
    """Act on a /start payload (then the menu, unless a flow opened)."""
    from handlers import tips

    if is_invite_payload(payload):
        await _redeem(turn, payload)
        await start.show_menu(turn)
        return
    if payload.startswith(POSTER_PREFIX):
        unit = await turn.svc.units.by_code(payload.removeprefix(POSTER_PREFIX))
        if unit is not None:
            await tips.begin_with_unit(turn, unit)
            return
    turn.say(turn.tr("start.bad_link"))
    await start.show_menu(turn)


async def _redeem(turn: Turn, code: str) -> None:
    svc = turn.svc
    result = await svc.invitations.redeem(code, turn.me.user.id, now=svc.now())
    invitation = result.invitation
    if result.outcome is not RedeemOutcome.OK or invitation is None:
        turn.say(turn.tr(f"invite.{result.outcome.value}"))
        return
    tg_user = turn.update.effective_user
    # Staff go by a name coordinators can see; residents stay nameless.
    await svc.users.set_contact(tg_user.id, Contact(chat_id=turn.chat_id,
                                                    name=person_name(tg_user)))
    # A handover changed someone else's roles too; their Telegram id is known only as a hash.
    svc.users.forget(None if result.replaced_user_ids else tg_user.id)
    user = await svc.users.get(tg_user.id)
    assert user is not None
    turn.me = who_of(user, svc, tg_user.id)
    tree = await svc.units.tree()
    turn.say(turn.tr("invite.ok", role=turn.tr(f"role.{invitation.role.value}"),
                     unit=html.escape(tree.path(invitation.unit_id))))
    await set_chat_commands(turn.context.bot, turn.chat_id, turn.me.role, turn.me.locale)
