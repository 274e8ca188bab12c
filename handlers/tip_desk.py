"""What coordinators do with a tip: the card's buttons, /inbox, /tip, and typed input.

Where a tip's status changes is storage.tips (:meth:`TipRepo.change_status`); this module
decides which change a button asks for and who may make it. Every change edits every card
of the tip and tells the sender, through the outbox, in the same transaction as the change.
A question, a note, tags or a case code are typed in a short flow (``desk``), entered from
the card's button; anything else the coordinator starts meanwhile drops it, and says so.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from handlers import event_desk, flows
from handlers.callbacks import data
from handlers.common import Turn, button, cut, escaped_chunks, fit, pager, scope
from handlers.services import Services
from handlers.tip_card import BODY_ON_CARD, card_keyboard, close_keyboard, facts, tip_button
from handlers.tip_recipients import allowed, recipients
from locales import formats, t
from storage.models import Role
from storage.outbox import NewItem, now_item
from storage.tip_lifecycle import Resolution, Status, deadline, event_code, normalise_code
from storage.tips import Tip, TipConflict

log = logging.getLogger(__name__)

INBOX_PAGE = 8
MAX_QUESTION = 1000
MAX_NOTE = 1000
MAX_TAGS = 10
PREFIX = "desk"
INPUTS = ("ask", "note", "tag", "dupcode", "closing")


# ---------------------------------------------------------------------- what is owed


def to_sender(tip: Tip, key: str, *, answer: bool = False, **values: object) -> NewItem:
    """A notice to the tip's sender in their language (values starting with ``@`` are
    catalog keys); ``answer`` puts the button with which they reply under it."""
    return now_item("tip.notice", f"tip:{tip.id}", None,
                    {"key": key, "values": values, "answer": answer}, tip_id=tip.id,
                    seq=secrets.token_hex(6), sealed=True)


def to_staff(tip: Tip, user_id: int, key: str, **values: object) -> NewItem:
    """A line to a coordinator about a tip (``@``-values are catalog keys): its assignee
    told it changed hands or status."""
    return now_item("tip.staff", f"tip:{tip.id}", user_id, {"key": key, "values": values},
                    tip_id=tip.id, seq=secrets.token_hex(6))


def _assignee_told(turn: Turn, tip: Tip, key: str, **values: object) -> list[NewItem]:
    """The tip's assignee, unless it is the one acting, told what changed."""
    if tip.assignee_id is None or tip.assignee_id == turn.me.user.id:
        return []
    return [to_staff(tip, tip.assignee_id, key, **values)]


def card_for(tip: Tip, user_id: int, *, media: bool) -> NewItem:
    """A (new) copy of the card for one coordinator; later changes edit the newest."""
    return now_item("tip.card", f"tip:{tip.id}", user_id, {"media": media}, tip_id=tip.id,
                    seq=secrets.token_hex(6))


async def _tip_for(turn: Turn, tip_id: int | None) -> Tip | None:
    if tip_id is None:
        return None
    tip = await turn.svc.tips.get(tip_id)
    if tip is None or not await allowed(turn.svc, turn.me, tip):
        return None
    return tip


# ---------------------------------------------------------------------- buttons on the card


async def action(turn: Turn) -> None:
    """A button on a card: tip:<id>:<action>[:<argument>]."""
    press = turn.press
    tip = await _tip_for(turn, press.int(0))
    if tip is None:
        turn.answer(turn.tr("tipdesk.not_found"), alert=True)
        return
    svc = turn.svc
    act, arg = press.field(1), press.field(2)
    locale = turn.me.locale
    if act not in ("show", "media", "closing") and turn.query is not None \
            and turn.query.message is not None:
        # A copy of the card older than those kept current (or one whose sending was never
        # confirmed) is kept current from now on: the change shows where it was pressed.
        await svc.tips.hold_card(tip.id, turn.me.user.id, turn.query.message.message_id)
    if act == "show":
        await _outbox(turn, [card_for(tip, turn.me.user.id, media=False)])
    elif act == "media":
        await _outbox(turn, [now_item("tip.media", f"tip:{tip.id}", turn.me.user.id,
                                      tip_id=tip.id, seq=secrets.token_hex(6))])
    elif act == "kb":
        turn.swap_keyboard(card_keyboard(locale, tip, await facts(svc, tip)))
    elif act == "st" and arg in {s.value for s in Status} - {Status.CLOSED.value}:
        await _move(turn, tip, Status(arg))
    elif act == "close" and tip.is_open:
        turn.swap_keyboard(close_keyboard(locale, tip))
    elif act == "cl" and arg in (Resolution.RESOLVED.value, Resolution.UNFOUNDED.value):
        await _move(turn, tip, Status.CLOSED, Resolution(arg))
    elif act == "cl" and arg == Resolution.DUPLICATE.value:
        rows = [[tip_button(code, tip, "dup", other)]
                for other, code in (await facts(svc, tip)).duplicates]
        rows.append([tip_button(turn.tr("tipdesk.btn.dupcode"), tip, "dupcode")])
        rows.append([tip_button(turn.tr("flow.back"), tip, "kb")])
        turn.swap_keyboard(InlineKeyboardMarkup(rows))
    elif act == "dup" and press.int(2) is not None:
        await _merge(turn, tip, press.int(2))
    elif act == "assign":
        rows = [[tip_button(name, tip, "as", uid)] for uid, name in await _colleagues(svc, tip)]
        rows.append([tip_button(turn.tr("flow.back"), tip, "kb")])
        turn.swap_keyboard(InlineKeyboardMarkup(rows))
    elif act == "as" and press.int(2) is not None:
        await _assign(turn, tip, press.int(2))
    elif act == "block" and tip.reachable:
        rows = [[tip_button(turn.tr("tipdesk.btn.block_yes"), tip, "blk", "yes")],
                [tip_button(turn.tr("flow.back"), tip, "kb")]]
        turn.swap_keyboard(InlineKeyboardMarkup(rows))
        turn.say(turn.tr("tipdesk.block.explain", code=tip.code))
    elif act == "blk":
        done = await svc.tips.block_sender(tip.id, turn.me.user.id, svc.now())
        turn.say(turn.tr("tipdesk.block.done" if done else "tipdesk.unreachable", code=tip.code))
    elif act == "closing" and tip.reachable and not tip.is_open:
        await _ask_input(turn, tip, act)
    elif act in INPUTS and act != "closing" and (act != "ask" or (tip.reachable and tip.is_open)):
        await _ask_input(turn, tip, act)
    elif act == "ask":  # an old card of a tip closed since: no question can be answered
        turn.answer(turn.tr("tipdesk.ask_closed", code=tip.code), alert=True)
    else:
        turn.answer(turn.tr("callback.stale"), alert=True)


async def _outbox(turn: Turn, items: list[NewItem]) -> None:
    await turn.svc.outbox.enqueue(items, turn.svc.now())


async def _move(turn: Turn, tip: Tip, target: Status,
                resolution: Resolution | None = None) -> None:
    """A status change: audited, every card edited, the sender told."""
    svc = turn.svc
    status = turn.tr(f"tipstatus.{target.value}")
    if resolution is not None:  # the outcome in words, not only its name
        notice = to_sender(tip, f"tips.notify.closed.{resolution.value}")
        status += " — " + turn.tr(f"tipresolution.{resolution.value}")
    else:
        notice = to_sender(tip, "tips.notify.status", status=f"@tipstatus.{target.value}")
    by = (await svc.users.reach(turn.me.user.id))[0].name or "—"
    told = _assignee_told(turn, tip, "tipdesk.assignee.status", by=by,
                          status=f"@tipstatus.{target.value}")
    try:
        await svc.tips.change_status(tip.id, turn.me.user.id, target, svc.now(),
                                     resolution=resolution,
                                     notices=([notice] if tip.reachable else []) + told)
    except TipConflict:
        now = await svc.tips.get(tip.id)
        if now is not None and now.status is target:  # a double tap, or a colleague's same
            turn.answer(turn.tr("tipdesk.moved", code=tip.code, status=status))
            return
        turn.answer(turn.tr("tipdesk.conflict"), alert=True)
        await _outbox(turn, [now_item("tip.edit", f"tip:{tip.id}", turn.me.user.id,
                                      tip_id=tip.id, coalesce=True)])
        return
    # Said in the press's answer: a card scrolled out of sight changes unseen.
    turn.answer(turn.tr("tipdesk.moved", code=tip.code, status=status))
    if resolution is not None and tip.reachable:
        rows = [[tip_button(turn.tr("tipdesk.btn.closing"), tip, "closing")]]
        turn.say(turn.tr("tipdesk.closed_offer", code=tip.code), InlineKeyboardMarkup(rows))


async def _merge(turn: Turn, tip: Tip, other_id: int) -> bool:
    """Close ``tip`` as a duplicate of another; both senders are told."""
    svc = turn.svc
    other = await svc.tips.get(other_id)
    if other is None or other.id == tip.id or not await allowed(svc, turn.me, other):
        turn.answer(turn.tr("tipdesk.not_found"), alert=True)
        return False
    notices = [to_sender(tip, "tips.notify.merged", other=other.code)] if tip.reachable else []
    try:
        await svc.tips.change_status(
            tip.id, turn.me.user.id, Status.CLOSED, svc.now(),
            resolution=Resolution.DUPLICATE, duplicate_of=other.id, notices=notices)
    except TipConflict:
        turn.answer(turn.tr("tipdesk.conflict"), alert=True)
        return False
    await svc.tips.add_entry(
        other.id, turn.me.user.id, "merge", svc.now(), edit_cards=True,
        notices=[to_sender(other, "tips.notify.merged_into")] if other.reachable else [],
        merged=tip.code)
    text = turn.tr("tipdesk.merged", code=tip.code, other=other.code)
    if turn.query is not None:
        turn.answer(text)
    else:
        turn.say(text)
    return True


async def _colleagues(svc: Services, tip: Tip) -> list[tuple[int, str]]:
    """Coordinators who could take the tip: (user id, the name they go by)."""
    out = []
    for user_id in (await recipients(svc, tip.unit_id))[:40]:
        name = (await svc.users.contact(user_id)).name or f"#{user_id}"
        out.append((user_id, name[:40]))
    return out


async def _assign(turn: Turn, tip: Tip, assignee_id: int) -> None:
    svc = turn.svc
    if assignee_id not in await recipients(svc, tip.unit_id):
        turn.answer(turn.tr("callback.stale"), alert=True)
        return
    notices = []
    by = (await svc.users.reach(turn.me.user.id))[0].name or "—"
    if assignee_id != turn.me.user.id:
        notices.append(now_item("tip.assigned", f"tip:{tip.id}", assignee_id, {"by": by},
                                tip_id=tip.id, seq=secrets.token_hex(6)))
    to = (await svc.users.reach(assignee_id))[0].name or "—"
    if tip.assignee_id != assignee_id:  # the one who had it is told it changed hands
        notices += _assignee_told(turn, tip, "tipdesk.assignee.moved", by=by, to=to)
    await svc.tips.assign(tip.id, turn.me.user.id, assignee_id, svc.now(), notices=notices)
    turn.answer(turn.tr("tipdesk.assigned", code=tip.code, name=to))


# ---------------------------------------------------------------------- typed input: ask, note, tag


@dataclass
class DeskDraft:
    """A question, note, tags or case code being typed for a tip (step "type"); or a text
    already written, as a Telegram reply, waiting to be told what it is (step "choose")."""

    tip_id: int
    action: str
    code: str = ""
    step: str = "type"
    text: str = ""

    def to_json(self) -> dict:
        """For storing."""
        return {"tip_id": self.tip_id, "action": self.action, "code": self.code,
                "step": self.step, "text": self.text}

    @classmethod
    def from_json(cls, data: dict) -> DeskDraft:
        """From storage."""
        return cls(tip_id=int(data["tip_id"]), action=str(data["action"]),
                   code=str(data.get("code", "")), step=str(data.get("step", "type")),
                   text=str(data.get("text", "")))


async def staff_reply(turn: Turn, tip: Tip) -> None:
    """A coordinator replied (in Telegram) to a tip's card or to the sender's answer: a
    question for the sender, or an internal note? Nothing typed is lost meanwhile."""
    await flows.enter(turn, FLOW, DeskDraft(tip.id, "choose", tip.code, step="choose",
                                            text=turn.text))


async def reply_chosen(turn: Turn, draft: DeskDraft) -> None:
    """The replied text is a question, or a note."""
    action = turn.press.field(1)
    if action not in ("ask", "note"):
        await show(turn, draft)
        return
    tip = await turn.svc.tips.get(draft.tip_id)
    if action == "ask" and (tip is None or not tip.is_open or not tip.reachable):
        turn.answer(turn.tr("tipdesk.ask_closed", code=draft.code), alert=True)
        return
    turn.drop_keyboard()
    draft.action = action
    await _apply(turn, draft, draft.text)


async def _ask_input(turn: Turn, tip: Tip, act: str) -> None:
    """A card button that needs text: the question, a note, tags, or a case code."""
    await flows.enter(turn, FLOW, DeskDraft(tip.id, act, tip.code))


async def show(turn: Turn, draft: DeskDraft) -> None:
    """The prompt for what is to be typed (or what a replied text is)."""
    if draft.step == "choose":
        rows = [[button(turn.tr("tipdesk.btn.reply_ask"), data(PREFIX, "as", "ask"))],
                [button(turn.tr("tipdesk.btn.reply_note"), data(PREFIX, "as", "note"))],
                [button(turn.tr("flow.cancel"),
                        data(PREFIX, "cancel", draft.tip_id, draft.action))]]
        turn.say(turn.tr("tipdesk.reply_what", code=draft.code), InlineKeyboardMarkup(rows))
        return
    # The button names its prompt: Cancel under an older prompt must not cancel this one.
    cancel = InlineKeyboardMarkup([[button(turn.tr("flow.cancel"),
                                           data(PREFIX, "cancel", draft.tip_id, draft.action))]])
    turn.say(turn.tr(f"tipdesk.prompt.{draft.action}", code=draft.code), cancel)


def label(turn: Turn, draft: DeskDraft) -> str:
    """'ghi chú cho TB-…'."""
    action = "note" if draft.action == "choose" else draft.action
    return turn.tr(f"tipdesk.label.{action}", code=draft.code)


async def may_type(turn: Turn, draft: DeskDraft) -> str | None:
    """Still a coordinator of this tip, and (for a question) is it still open? Checked on
    every message of the flow: a colleague may have closed it meanwhile."""
    tip = await turn.svc.tips.get(draft.tip_id)
    if tip is None or not await allowed(turn.svc, turn.me, tip):
        return "flow.role_ended"
    if draft.action == "ask" and not tip.is_open:
        return "tipdesk.ask_closed_now"
    if draft.action == "closing" and not tip.reachable:
        return "tipdesk.unreachable_now"
    return None


async def got_input(turn: Turn, draft: DeskDraft) -> None:
    """The text the coordinator typed."""
    await _apply(turn, draft, turn.text)


async def _apply(turn: Turn, draft: DeskDraft, text: str) -> None:
    """Do what the typed text was for: ask, note, tag, merge with a code, or tell the sender
    how it ended."""
    svc = turn.svc
    tip = await svc.tips.get(draft.tip_id)
    assert tip is not None  # may_type checked it
    act = draft.action
    if not text:
        turn.say(turn.tr("tipdesk.empty"))
        return
    limit = MAX_QUESTION if act in ("ask", "closing") else MAX_NOTE
    if len(text) > limit:
        turn.say(turn.tr("tipdesk.too_long", max=turn.number(limit)))
        return
    me = turn.me
    if act == "ask":
        if not tip.reachable:
            turn.say(turn.tr("tipdesk.unreachable", code=tip.code))
            flows.end(turn)
            return
        question = to_sender(tip, "tips.ask.question", answer=True, question=html.escape(text))
        await svc.tips.add_entry(tip.id, me.user.id, "ask", svc.now(), notices=[question],
                                 edit_cards=True, text=text)
        turn.say(turn.tr("tipdesk.asked", code=tip.code))
    elif act == "note":
        await svc.tips.add_entry(tip.id, me.user.id, "note", svc.now(), edit_cards=True,
                                 text=text)
        turn.say(turn.tr("tipdesk.noted", code=tip.code))
    elif act == "closing":
        if not tip.reachable:
            turn.say(turn.tr("tipdesk.unreachable", code=tip.code))
            flows.end(turn)
            return
        message = to_sender(tip, "tips.notify.closing", message=html.escape(text))
        await svc.tips.add_entry(tip.id, me.user.id, "closing", svc.now(), edit_cards=True,
                                 notices=[message], text=text)
        turn.say(turn.tr("tipdesk.closing_sent", code=tip.code))
    elif act == "tag":
        tags = parse_tags(text)
        if not tags:
            turn.say(turn.tr("tipdesk.tags_bad"))
            return
        await svc.tips.add_tags(tip.id, me.user.id, tags[:MAX_TAGS], svc.now())
        turn.say(turn.tr("tipdesk.tagged", code=tip.code))
    else:  # dupcode
        code = normalise_code(text)
        other = await svc.tips.by_code(code) if code else None
        if other is None or other.id == tip.id or not await allowed(svc, me, other):
            turn.say(turn.tr("tipdesk.dupcode_bad"))
            return
        if not await _merge(turn, tip, other.id):
            turn.say(turn.tr("tipdesk.conflict"))
    flows.end(turn)


def parse_tags(text: str) -> list[str]:
    """'#ma_tuy, chợ đêm' → ['ma_tuy', 'chợ_đêm']: lower case, words joined by '_'."""
    out = []
    for part in re.split(r"[,;#\n]+", text):
        tag = "_".join(part.strip().lower().split())[:32]
        if tag and tag.replace("_", "").isalnum() and tag not in out:
            out.append(tag)
    return out


async def input_other(turn: Turn, draft: DeskDraft) -> None:
    """Not text: the prompt wants text."""
    turn.say(turn.tr("tipdesk.empty"))


input_cancel = flows.cancel_saying("flow.cancelled")


cancel_pressed = flows.cancel_under(lambda draft: (draft.tip_id, draft.action), input_cancel)


FLOW = flows.register(flows.Flow(
    kind="desk", prefix=PREFIX, load=DeskDraft.from_json, show=show, label=label,
    unexpected=input_other, allowed=may_type, short=True, cancel=input_cancel,
    buttons={"cancel": cancel_pressed},
))
FLOW.step("type", text=got_input)
FLOW.step("choose", buttons={"as": reply_chosen})


# ---------------------------------------------------------------------- /inbox and /tip


async def inbox(turn: Turn) -> None:
    """/inbox (or its pages): open tips and events not handled yet in scope, together,
    oldest first, overdue tips marked."""
    me = turn.me
    page = turn.press.int(0) or 0 if turn.press is not None else 0
    if not me.staff:
        turn.say(turn.tr("tipdesk.not_allowed"))
        return
    svc = turn.svc
    tree = await svc.units.tree()
    unit_ids = sorted({u.id for root in await scope(svc, me) for u in tree.descendants(root.id)})
    unitless = me.role is Role.ADMIN or me.is_admin

    async def read(page: int):
        return await svc.events.desk_page(unit_ids, unitless=unitless,
                                          offset=page * INBOX_PAGE, limit=INBOX_PAGE)

    found, total, n_events = await read(page)
    if not found and total:  # fewer open than when this page was shown: its last page
        page = (total - 1) // INBOX_PAGE
        found, total, n_events = await read(page)
    if total == 0:
        turn.show(turn.tr("tipdesk.inbox.empty"))
        return
    now = svc.now()
    lines, codes, overdue = [], [], False
    for kind, item_id in found:
        if kind == "event":
            event = await svc.events.get(item_id)
            if event is None:
                continue
            unit = tree.by_id[event.unit_id].name if event.unit_id in tree.by_id else "—"
            lines.append(
                f"🚨 <b>{event.code}</b> · {me.tr(f'eventtype.{event.type}')} · "
                f"{html.escape(cut(unit, 60))} · {me.tr(f'eventstatus.{event.status.value}')}"
                f" · {age(me.locale, now - event.created_at)}")
            codes.append((event.code, data("ev", event.id, "show")))
            continue
        tip = await svc.tips.get(item_id)
        if tip is None:
            continue
        due = deadline(tip.status, tip.created_at, now, svc.tip_policy)
        overdue = overdue or bool(due and due.overdue)
        mark = "⏰ " if due and due.overdue else ""
        unit = tree.by_id[tip.unit_id].name if tip.unit_id in tree.by_id else "—"
        lines.append(
            f"{mark}<b>{tip.code}</b> · {me.tr(f'tipcat.{tip.category}')} · "
            f"{html.escape(cut(unit, 60))} · {me.tr(f'tipstatus.{tip.status.value}')} · "
            f"{age(me.locale, now - tip.created_at)}")
        codes.append((tip.code, data("tip", tip.id, "show")))
    head = me.tr("tipdesk.inbox.head", n=turn.number(total))
    if n_events:
        head += "\n" + me.tr("tipdesk.inbox.split", tips=turn.number(total - n_events),
                              events=turn.number(n_events))
    if overdue:
        lines.append(me.tr("tipdesk.inbox.overdue_note"))
    rows = [[button(code, pressed) for code, pressed in codes[i:i + 4]]
            for i in range(0, len(codes), 4)]
    rows.append(pager(page, (total + INBOX_PAGE - 1) // INBOX_PAGE, lambda p: data("inbox", p)))
    text = fit([head, *lines], lambda n: turn.tr("flow.more_lines", n=turn.number(n)))
    turn.show(text, InlineKeyboardMarkup([r for r in rows if r]))


def age(locale: str, delta) -> str:
    """How long ago, roughly: '3 ngày', '5 giờ', '12 phút'."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return t(locale, "tipdesk.age.days", n=formats.number(seconds // 86400, locale))
    if seconds >= 3600:
        return t(locale, "tipdesk.age.hours", n=formats.number(seconds // 3600, locale))
    return t(locale, "tipdesk.age.minutes", n=formats.number(seconds // 60, locale))


async def tip_command(turn: Turn) -> None:
    """/tip CODE: the card of one tip in scope, and the whole text if the card cuts it; or,
    for a code VV-…, the card of an event."""
    if not turn.me.staff:
        turn.say(turn.tr("tipdesk.not_allowed"))
        return
    if not turn.args:
        turn.say(turn.tr("tipdesk.tip_usage"))
        return
    svc = turn.svc
    typed = " ".join(turn.args)
    if event_code(typed) is not None:
        event = await svc.events.by_code(event_code(typed))
        if event is None or not await event_desk.allowed(svc, turn.me, event):
            turn.say(turn.tr("eventdesk.not_found"))
            return
        await _outbox(turn, [event_desk.card_for(event.id, turn.me.user.id, media=False)])
        return
    code = normalise_code(typed)
    if code is None and "".join(ch for ch in typed.upper() if ch.isalnum()).startswith("VV"):
        # An event's code, mistyped ("vv7k3" alone is an old tip's code: normalise_code).
        turn.say(turn.tr("eventdesk.not_found"))
        return
    tip = await svc.tips.by_code(code) if code else None
    if tip is None or not await allowed(svc, turn.me, tip):
        turn.say(turn.tr("tipdesk.not_found"))
        return
    await _outbox(turn, [card_for(tip, turn.me.user.id, media=False)])
    if len(tip.body) > BODY_ON_CARD:
        for piece in escaped_chunks(tip.body):
            turn.say(piece)
