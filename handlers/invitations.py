"""Coordinators and admins make invitation links in the chat.

Role → unit → confirm (with handover when the unit already has someone in that
role), then the link and a printable QR card. States are named constants and
the conversation persists, so a restart in the middle resumes it.
"""

from __future__ import annotations

import asyncio
import html

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers.common import (
    Who,
    button,
    pager,
    persistent_conversation,
    say,
    scope,
    step_header,
    who,
)
from handlers.services import Services, services
from locales import formats
from storage.models import Role, Unit

ROLE, UNIT, CONFIRM = "invite.role", "invite.unit", "invite.confirm"
DRAFT = "invite_draft"
PAGE_SIZE = 8
STEPS = 3


def _roles_for(me: Who) -> list[Role]:
    if me.role is Role.ADMIN:
        return [Role.REPORTER, Role.COORDINATOR, Role.ADMIN]
    return [Role.REPORTER, Role.COORDINATOR]


async def _units_for(svc: Services, me: Who, role: Role) -> list[Unit]:
    """Units in the user's scope fit for ``role``: reporters serve leaf units (hamlets)."""
    tree = await svc.units.tree()
    found: dict[int, Unit] = {}
    for root in await scope(svc, me):
        for unit in tree.descendants(root.id):
            is_leaf = not tree.children.get(unit.id)
            if (role is Role.REPORTER) == is_leaf:
                found[unit.id] = unit
    return list(found.values())


def _nav(me: Who, back: bool = True) -> list:
    row = [button(me.tr("flow.cancel"), "inv:cancel")]
    if back:
        row.insert(0, button(me.tr("flow.back"), "inv:back"))
    return row


async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str | int:
    """/invite or the menu button: step 1, the role."""
    me = await who(update, context)
    if update.callback_query:
        await update.callback_query.answer()
    if me.role not in (Role.COORDINATOR, Role.ADMIN):
        await say(update, me.tr("invite.not_allowed"))
        return ConversationHandler.END
    context.user_data[DRAFT] = {}
    await _ask_role(update, me)
    return ROLE


async def _ask_role(update: Update, me: Who) -> None:
    rows = [[button(me.tr(f"role.{r.value}"), f"inv:role:{r.value}")] for r in _roles_for(me)]
    rows.append(_nav(me, back=False))
    await say(update, step_header(me, 1, STEPS, me.tr("invite.ask_role")),
              reply_markup=InlineKeyboardMarkup(rows))


async def role_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Step 2: the unit, paged."""
    query = update.callback_query
    me = await who(update, context)
    role = Role(query.data.removeprefix("inv:role:"))
    if role not in _roles_for(me):
        await query.answer(me.tr("callback.stale"), show_alert=True)
        return ROLE
    await query.answer()
    context.user_data[DRAFT] = {"role": role.value, "page": 0}
    return await _ask_unit(update, context, me)


async def _ask_unit(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who) -> str:
    svc = services(context)
    draft = context.user_data[DRAFT]
    role = Role(draft["role"])
    units = await _units_for(svc, me, role)
    if not units:
        await say(update, me.tr("invite.no_units"))
        context.user_data.pop(DRAFT, None)
        return ConversationHandler.END
    pages = (len(units) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(draft.get("page", 0), pages - 1)
    tree = await svc.units.tree()
    rows = [
        [button(tree.path(u.id), f"inv:unit:{u.id}")]
        for u in units[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    ]
    if pages > 1:
        rows.append(pager(page, pages, lambda p: f"inv:page:{p}"))
    rows.append(_nav(me))
    title = me.tr("invite.ask_unit", role=me.tr(f"role.{role.value}"))
    await say(update, step_header(me, 2, STEPS, title), reply_markup=InlineKeyboardMarkup(rows))
    return UNIT


async def page_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Another page of units."""
    query = update.callback_query
    await query.answer()
    context.user_data[DRAFT]["page"] = int(query.data.removeprefix("inv:page:"))
    return await _ask_unit(update, context, await who(update, context))


async def unit_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """Step 3: confirm, offering a handover when someone holds the role already."""
    query = update.callback_query
    me = await who(update, context)
    svc = services(context)
    draft = context.user_data[DRAFT]
    unit_id = int(query.data.removeprefix("inv:unit:"))
    if unit_id not in {u.id for u in await _units_for(svc, me, Role(draft["role"]))}:
        await query.answer(me.tr("callback.stale"), show_alert=True)
        return UNIT
    await query.answer()
    draft["unit_id"] = unit_id
    return await _ask_confirm(update, context, me)


async def _ask_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE, me: Who) -> str:
    svc = services(context)
    draft = context.user_data[DRAFT]
    role = Role(draft["role"])
    holders = await svc.users.members_of(draft["unit_id"], role)
    tree = await svc.units.tree()
    days = svc.invite_ttl.days
    lines = [
        me.tr("invite.summary", role=me.tr(f"role.{role.value}"),
              unit=html.escape(tree.path(draft["unit_id"])), days=formats.number(days, me.locale))
    ]
    if holders:
        lines.append(me.tr("invite.has_holders", count=formats.number(len(holders), me.locale)))
        rows = [[button(me.tr("invite.btn.handover"), "inv:make:handover")],
                [button(me.tr("invite.btn.add"), "inv:make:add")]]
    else:
        rows = [[button(me.tr("invite.btn.make"), "inv:make:add")]]
    rows.append(_nav(me))
    await say(update, step_header(me, 3, STEPS, "\n".join(lines)),
              reply_markup=InlineKeyboardMarkup(rows))
    return CONFIRM


async def make(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Create the invitation; send the link and its QR card."""
    query = update.callback_query
    me = await who(update, context)
    svc = services(context)
    draft = context.user_data.pop(DRAFT)
    await query.answer()
    await query.edit_message_reply_markup(None)
    role = Role(draft["role"])
    code, invitation = await svc.invitations.create(
        unit_id=draft["unit_id"], role=role, ttl=svc.invite_ttl,
        handover=query.data == "inv:make:handover", created_by=me.user.id, now=svc.now(),
    )
    link = f"https://t.me/{context.bot.username}?start={code}"
    tree = await svc.units.tree()
    unit_path = tree.path(invitation.unit_id)
    role_name = me.tr(f"role.{role.value}")
    expires = formats.moment(invitation.expires_at, me.locale, svc.timezone)
    caption = me.tr("invite.created", role=role_name, unit=html.escape(unit_path),
                    expires=expires, link=html.escape(link))
    # Rendering takes a few hundred milliseconds: keep it off the event loop.
    card = await asyncio.to_thread(
        svc.invite_card, me.tr("invite.card_title", role=role_name), unit_path, link
    )
    await update.effective_chat.send_photo(card, caption=caption, parse_mode="HTML")
    return ConversationHandler.END


async def back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """One step back."""
    query = update.callback_query
    await query.answer()
    me = await who(update, context)
    draft = context.user_data.get(DRAFT, {})
    if "unit_id" in draft:
        draft.pop("unit_id")
        return await _ask_unit(update, context, me)
    context.user_data[DRAFT] = {}
    await _ask_role(update, me)
    return ROLE


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Cancel from a button or /cancel."""
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_reply_markup(None)
    context.user_data.pop(DRAFT, None)
    me = await who(update, context)
    await say(update, me.tr("flow.cancelled"))
    return ConversationHandler.END


async def wrong_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text where a button was expected."""
    me = await who(update, context)
    await say(update, me.tr("flow.use_buttons"))


def conversation() -> ConversationHandler:
    """The invitation conversation (persistent)."""
    nav = [
        CallbackQueryHandler(back, pattern=r"^inv:back$"),
        CallbackQueryHandler(cancel, pattern=r"^inv:cancel$"),
    ]
    return persistent_conversation(
        "invite",
        entry_points=[
            CommandHandler("invite", begin),
            CallbackQueryHandler(begin, pattern=r"^menu:invite$"),
        ],
        states={
            ROLE: [CallbackQueryHandler(role_chosen, pattern=r"^inv:role:"), *nav],
            UNIT: [
                CallbackQueryHandler(unit_chosen, pattern=r"^inv:unit:\d+$"),
                CallbackQueryHandler(page_chosen, pattern=r"^inv:page:\d+$"),
                *nav,
            ],
            CONFIRM: [CallbackQueryHandler(make, pattern=r"^inv:make:(add|handover)$"), *nav],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            MessageHandler(filters.ALL & ~filters.COMMAND, wrong_input),
        ],
    )
