"""Coordinators and admins make invitation links in the chat.

Role → unit → confirm (with handover when the unit already has someone in that role),
then the link and a printable QR card. The flow's draft is in the database, so a restart in
the middle resumes it; the role and the unit are checked again at every step, so someone
whose own role ended meanwhile can no longer mint an invitation with an old button.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, Who, button, pager, scope, step_header
from handlers.services import Services
from storage.models import Role, Unit

PAGE_SIZE = 8
STEPS = 3
PREFIX = "inv"


@dataclass
class InviteDraft:
    """An invitation being made."""

    step: str = "role"
    role: str | None = None
    unit_id: int | None = None
    page: int = 0

    def to_json(self) -> dict:
        """For storing."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> InviteDraft:
        """From storage."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


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


def _nav(turn: Turn, back: bool = True) -> list:
    row = [button(turn.tr("flow.cancel"), data(PREFIX, "cancel"))]
    if back:
        row.insert(0, button(turn.tr("flow.back"), data(PREFIX, "back")))
    return row


async def begin(turn: Turn) -> None:
    """/invite or the menu button: step 1, the role."""
    if not turn.me.staff:
        turn.say(turn.tr("invite.not_allowed"))
        return
    found = await flows.load(turn, FLOW)  # left for later: taken up where it was
    draft = InviteDraft()
    if found is not None and await may_invite(turn, found) is None:
        draft = found
    await flows.enter(turn, FLOW, draft, show=False)
    if draft.step != "role":
        turn.say(turn.tr("flow.resumed", what=label(turn, draft)))
    await show(turn, draft)


async def begin_for_hamlet(turn: Turn) -> None:
    """"📨 Mời" beside a hamlet with no reporter (/completeness): the flow at its confirm
    step, for a reporter of that hamlet; the coordinator still confirms, as with /invite."""
    draft = InviteDraft(step="confirm", role=Role.REPORTER.value, unit_id=turn.press.int(0))
    if not turn.me.staff:
        turn.answer(turn.tr("invite.not_allowed"), alert=True)
        return
    if draft.unit_id is None or await may_invite(turn, draft) is not None:
        turn.answer(turn.tr("invite.not_your_unit"), alert=True)  # handed over since
        return
    before = await flows.load(turn, FLOW)
    if before is not None and (before.step, before.unit_id) != (draft.step, draft.unit_id):
        # An invitation half made with /invite is replaced by this one: said, not silent.
        number = {"role": 1, "unit": 2, "confirm": 3}.get(before.step, 1)
        turn.say(turn.tr("invite.replaced_draft",
                         what=turn.tr("flow.step", step=number, total=STEPS)))
    await flows.enter(turn, FLOW, draft, show=False)
    await _ask_confirm(turn, draft, below=True)  # the completeness view stays, buttons and all


async def may_invite(turn: Turn, draft: InviteDraft) -> str | None:
    """Still allowed to invite for this role and unit (checked at every step)?"""
    me = turn.me
    if not me.staff:
        return "flow.role_ended"
    if draft.role is not None:
        role = Role(draft.role)
        if role not in _roles_for(me):
            return "flow.role_ended"
        if draft.unit_id is not None and draft.unit_id not in {
                u.id for u in await _units_for(turn.svc, me, role)}:
            return "flow.role_ended"
    return None


async def show(turn: Turn, draft: InviteDraft) -> None:
    """The current step: the role, the unit (paged), or the confirmation."""
    if draft.step == "role":
        rows = [[button(turn.tr(f"role.btn.{r.value}"), data(PREFIX, "role", r.value))]
                for r in _roles_for(turn.me)]
        rows.append(_nav(turn, back=False))
        turn.show(step_header(turn.me, 1, STEPS, turn.tr("invite.ask_role")),
                  InlineKeyboardMarkup(rows))
    elif draft.step == "unit":
        await _ask_unit(turn, draft)
    else:
        await _ask_confirm(turn, draft)


def label(turn: Turn, draft: InviteDraft) -> str:
    """'lời mời đang làm (Bước 2/3)'."""
    number = {"role": 1, "unit": 2, "confirm": 3}.get(draft.step, 1)
    return turn.tr("invite.label", step=turn.tr("flow.step", step=number, total=STEPS))


async def role_chosen(turn: Turn, draft: InviteDraft) -> None:
    """Step 2: the unit, paged."""
    value = turn.press.field(1)
    if value not in {r.value for r in _roles_for(turn.me)}:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    draft.role, draft.page, draft.step = value, 0, "unit"
    await show(turn, draft)


async def _ask_unit(turn: Turn, draft: InviteDraft) -> None:
    svc = turn.svc
    role = Role(draft.role)
    units = await _units_for(svc, turn.me, role)
    if not units:
        turn.show(turn.tr("invite.no_units"))
        flows.end(turn)
        return
    pages = (len(units) + PAGE_SIZE - 1) // PAGE_SIZE
    page = max(0, min(draft.page, pages - 1))
    tree = await svc.units.tree()
    rows = [[button(tree.path(u.id), data(PREFIX, "unit", u.id))]
            for u in units[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]]
    if pages > 1:
        rows.append(pager(page, pages, lambda p: data(PREFIX, "page", p)))
    rows.append(_nav(turn))
    title = turn.tr("invite.ask_unit", role=turn.tr(f"role.{role.value}"))
    turn.show(step_header(turn.me, 2, STEPS, title), InlineKeyboardMarkup(rows))


async def page_chosen(turn: Turn, draft: InviteDraft) -> None:
    """Another page of units."""
    draft.page = turn.press.int(1) or 0
    await show(turn, draft)


async def unit_chosen(turn: Turn, draft: InviteDraft) -> None:
    """Step 3: confirm, offering a handover when someone holds the role already."""
    unit_id = turn.press.int(1)
    if unit_id not in {u.id for u in await _units_for(turn.svc, turn.me, Role(draft.role))}:
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    draft.unit_id, draft.step = unit_id, "confirm"
    await show(turn, draft)


async def _ask_confirm(turn: Turn, draft: InviteDraft, *, below: bool = False) -> None:
    svc = turn.svc
    role = Role(draft.role)
    holders = await svc.users.members_of(draft.unit_id, role)
    tree = await svc.units.tree()
    lines = [turn.tr("invite.summary", role=turn.tr(f"role.{role.value}"),
                     unit=html.escape(tree.path(draft.unit_id)),
                     days=turn.number(svc.invite_ttl.days))]
    if holders:
        lines.append(turn.tr("invite.has_holders", count=turn.number(len(holders))))
        rows = [[button(turn.tr("invite.btn.handover"), data(PREFIX, "make", "handover"))],
                [button(turn.tr("invite.btn.add"), data(PREFIX, "make", "add"))]]
    else:
        rows = [[button(turn.tr("invite.btn.make"), data(PREFIX, "make", "add"))]]
    rows.append(_nav(turn))
    text, markup = step_header(turn.me, 3, STEPS, "\n".join(lines)), InlineKeyboardMarkup(rows)
    if below:
        turn.say(text, markup)
    else:
        turn.show(text, markup)


async def make(turn: Turn, draft: InviteDraft) -> None:
    """Create the invitation; send the link and its QR card."""
    svc = turn.svc
    how = turn.press.field(1)
    if how not in ("add", "handover") or draft.role is None or draft.unit_id is None:
        await show(turn, draft)
        return
    role = Role(draft.role)
    code, invitation = await svc.invitations.create(
        unit_id=draft.unit_id, role=role, ttl=svc.invite_ttl, handover=how == "handover",
        created_by=turn.me.user.id, now=svc.now(),
    )
    link = f"https://t.me/{turn.context.bot.username}?start={code}"
    tree = await svc.units.tree()
    unit_path = tree.path(invitation.unit_id)
    role_name = turn.tr(f"role.{role.value}")
    expires = _moment(turn, invitation.expires_at)
    caption = turn.tr("invite.created", role=role_name, unit=html.escape(unit_path),
                      expires=expires, link=html.escape(link))
    # Rendering takes a few hundred milliseconds: keep it off the event loop.
    card = await asyncio.to_thread(
        svc.invite_card, turn.tr("invite.card_title", role=role_name), unit_path, link)
    turn.drop_keyboard()
    turn.photo(card, "invitation.png", caption)
    flows.end(turn)


def _moment(turn: Turn, moment) -> str:
    from locales import formats

    return formats.moment(moment, turn.me.locale, turn.svc.timezone)


async def back(turn: Turn, draft: InviteDraft) -> None:
    """One step back."""
    if draft.step == "confirm":
        draft.unit_id, draft.step = None, "unit"
    else:
        draft.role, draft.step = None, "role"
    await show(turn, draft)


cancel = flows.cancel_saying("flow.cancelled")



async def wrong_input(turn: Turn, draft: InviteDraft) -> None:
    """Typed text where a button was expected."""
    turn.say(turn.tr("flow.use_buttons"))
    await show(turn, draft)


FLOW = flows.register(flows.Flow(
    kind="invite", prefix=PREFIX, load=InviteDraft.from_json, show=show, label=label,
    unexpected=wrong_input, allowed=may_invite, cancel=cancel,
    buttons={"back": back, "cancel": cancel},
))
FLOW.step("role", buttons={"role": role_chosen})
FLOW.step("unit", buttons={"unit": unit_chosen, "page": page_chosen})
FLOW.step("confirm", buttons={"make": make})
