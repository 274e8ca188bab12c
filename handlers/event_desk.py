"""What coordinators do with an event, and how its reporter answers them.

An event reaches the same people a tip of its hamlet would (handlers.tip_recipients), as a
card with its code and buttons: acknowledge, handled, ask the reporter, note, and the
photos. Every change is written with who did it and when (storage.events), edits every
copy of the card and tells the reporter, through the outbox, in the same transaction.

A question or a note is typed in a short flow (``evdesk``) entered from the card's button.
The reporter gets the question with an "Answer" button (the ``evanswer`` flow); replying to
it in Telegram, or writing while it is the one question open for them (handlers.outside),
answers it too. The answer is recorded on the event and copied under each card; what
follows for a few minutes (a second line, a photo) goes to the same event.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, Who, button
from handlers.services import Services
from handlers.tip_recipients import allowed_in, in_charge, recipients
from storage.events import (
    Event,
    EventConflict,
    EventStatus,
    card_holders,
)
from storage.outbox import NewItem, now_item

MAX_QUESTION = 1000
MAX_NOTE = 1000
MAX_ANSWER = 4000
MORE_FOR = timedelta(minutes=10)  # as for a tip's answer
PREFIX = "evd"
ANSWER_PREFIX = "eva"


# ---------------------------------------------------------------------- what is owed


def card_for(event_id: int, user_id: int, *, media: bool) -> NewItem:
    """A (new) copy of the card for one coordinator, with the photos first if ``media``."""
    return now_item("event.card", f"event:{event_id}", user_id,
                    {"event": event_id, "media": media}, seq=secrets.token_hex(6))


def to_reporter(event: Event, key: str, **values: object) -> NewItem:
    """A notice to the event's reporter (values starting with ``@`` are catalog keys)."""
    return now_item("event.notice", f"event:{event.id}", event.reporter_id,
                    {"event": event.id, "key": key, "values": values},
                    seq=secrets.token_hex(6))


async def allowed(svc: Services, me: Who, event: Event) -> bool:
    """Whether this coordinator may see and act on the event: as for a tip of its hamlet."""
    return await allowed_in(svc, me, event.unit_id)


async def _event_for(turn: Turn, event_id: int | None) -> Event | None:
    if event_id is None:
        return None
    event = await turn.svc.events.get(event_id)
    if event is None or not await allowed(turn.svc, turn.me, event):
        return None
    return event


async def _name(svc: Services, user_id: int) -> str:
    return (await svc.users.reach(user_id))[0].name or "—"


# ---------------------------------------------------------------------- the card's buttons


async def action(turn: Turn) -> None:
    """A button on a card: ev:<id>:<action>[:<argument>]."""
    press = turn.press
    event = await _event_for(turn, press.int(0))
    if event is None:
        turn.answer(turn.tr("eventdesk.not_found"), alert=True)
        return
    svc = turn.svc
    act, arg = press.field(1), press.field(2)
    if act not in ("show", "media") and turn.query is not None \
            and turn.query.message is not None:  # an older copy: kept current from now on
        await svc.events.hold_card(event.id, turn.me.user.id, turn.query.message.message_id)
    if act == "show":
        await svc.outbox.enqueue([card_for(event.id, turn.me.user.id, media=False)], svc.now())
    elif act == "media" and event.media:
        await svc.outbox.enqueue([now_item("event.media", f"event:{event.id}", turn.me.user.id,
                                           {"event": event.id}, seq=secrets.token_hex(6))],
                                 svc.now())
    elif act == "st" and arg in (EventStatus.ACKNOWLEDGED.value, EventStatus.HANDLED.value):
        await _move(turn, event, EventStatus(arg))
    elif act == "ask" and event.is_open:
        await flows.enter(turn, FLOW, DeskDraft(event.id, "ask", event.code))
    elif act == "ask":  # an old card of an event handled since
        turn.answer(turn.tr("eventdesk.ask_handled", code=event.code), alert=True)
    elif act == "note":
        await flows.enter(turn, FLOW, DeskDraft(event.id, "note", event.code))
    else:
        turn.answer(turn.tr("callback.stale"), alert=True)


async def _move(turn: Turn, event: Event, target: EventStatus) -> None:
    """Acknowledged or handled: written with who and when, every card edited, the reporter
    told who took it up."""
    svc = turn.svc
    by = await _name(svc, turn.me.user.id)
    notice = to_reporter(event, f"eventdesk.notify.{target.value}", by=by)
    try:
        await svc.events.change_status(event.id, turn.me.user.id, target, svc.now(),
                                       notices=[notice])
    except EventConflict:
        now = await svc.events.get(event.id)
        status = turn.tr(f"eventstatus.{now.status.value}") if now else "—"
        if now is not None and now.status is target:  # a double tap, or a colleague's same
            turn.answer(turn.tr("eventdesk.moved", code=event.code, status=status))
        else:
            turn.answer(turn.tr("eventdesk.conflict", code=event.code, status=status),
                        alert=True)
        await svc.outbox.enqueue([now_item("event.edit", f"event:{event.id}",
                                           turn.me.user.id, {"event": event.id},
                                           coalesce=True)], svc.now())
        return
    # Said in the press's answer too: a card scrolled out of sight changes unseen.
    turn.answer(turn.tr("eventdesk.moved", code=event.code,
                        status=turn.tr(f"eventstatus.{target.value}")))


# ---------------------------------------------------------------------- a question or a note


@dataclass
class DeskDraft:
    """A question for the reporter, or a note, being typed for an event (step "type"); or a
    text already written, as a Telegram reply to the card, waiting to be told which it is
    (step "choose")."""

    event_id: int
    action: str  # "ask" or "note" ("choose" while not told)
    code: str = ""
    step: str = "type"
    text: str = ""

    def to_json(self) -> dict:
        """For storing."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> DeskDraft:
        """From storage (as AnswerDraft below: keys of an older version are ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


async def staff_reply(turn: Turn, event: Event) -> None:
    """A coordinator replied (in Telegram) to an event's card, or to the reporter's answer
    under it: a question for the reporter, or a note? What was typed is kept meanwhile."""
    await flows.enter(turn, FLOW, DeskDraft(event.id, "choose", event.code, step="choose",
                                            text=turn.text))


async def reply_chosen(turn: Turn, draft: DeskDraft) -> None:
    """The replied text is a question, or a note."""
    action = turn.press.field(1)
    if action not in ("ask", "note"):
        await show(turn, draft)
        return
    event = await turn.svc.events.get(draft.event_id)
    if action == "ask" and (event is None or not event.is_open):
        turn.answer(turn.tr("eventdesk.ask_handled", code=draft.code), alert=True)
        return
    turn.drop_keyboard()
    draft.action = action
    await _apply(turn, draft, draft.text)


async def show(turn: Turn, draft: DeskDraft) -> None:
    """The prompt for what is to be typed (or what a replied text is)."""
    cancel = button(turn.tr("flow.cancel"), data(PREFIX, "cancel", draft.event_id,
                                                 draft.action))
    if draft.step == "choose":
        rows = [[button(turn.tr("eventdesk.btn.reply_ask"), data(PREFIX, "as", "ask"))],
                [button(turn.tr("tipdesk.btn.reply_note"), data(PREFIX, "as", "note"))],
                [cancel]]
        turn.say(turn.tr("eventdesk.reply_what", code=draft.code), InlineKeyboardMarkup(rows))
        return
    turn.say(turn.tr(f"eventdesk.prompt.{draft.action}", code=draft.code),
             InlineKeyboardMarkup([[cancel]]))


def label(turn: Turn, draft: DeskDraft) -> str:
    """'câu hỏi về VV-…'."""
    action = "note" if draft.action == "choose" else draft.action
    return turn.tr(f"eventdesk.label.{action}", code=draft.code)


async def may_type(turn: Turn, draft: DeskDraft) -> str | None:
    """Still a coordinator of this event, and (for a question) not handled meanwhile."""
    event = await turn.svc.events.get(draft.event_id)
    if event is None or not await allowed(turn.svc, turn.me, event):
        return "flow.role_ended"
    if draft.action == "ask" and not event.is_open:
        return "eventdesk.ask_handled_now"
    return None


async def typed(turn: Turn, draft: DeskDraft) -> None:
    """The question or the note."""
    await _apply(turn, draft, turn.text)


async def _apply(turn: Turn, draft: DeskDraft, text: str) -> None:
    """Ask the reporter, or note it on the event."""
    svc = turn.svc
    if not text:
        turn.say(turn.tr("tipdesk.empty"))
        return
    limit = MAX_QUESTION if draft.action == "ask" else MAX_NOTE
    if len(text) > limit:
        turn.say(turn.tr("tipdesk.too_long", max=turn.number(limit)))
        return
    event = await svc.events.get(draft.event_id)
    assert event is not None  # may_type checked it
    me = turn.me
    if draft.action == "ask":
        by = await _name(svc, me.user.id)
        question = now_item("event.question", f"event:{event.id}", event.reporter_id,
                            {"event": event.id, "by": by, "text": text},
                            seq=secrets.token_hex(6))
        await svc.events.add_entry(event.id, me.user.id, "ask", svc.now(), text=text,
                                   notices=[question])
        turn.say(turn.tr("eventdesk.asked", code=event.code))
    else:
        await svc.events.add_entry(event.id, me.user.id, "note", svc.now(), text=text)
        turn.say(turn.tr("eventdesk.noted", code=event.code))
    flows.end(turn)


async def not_text(turn: Turn, draft: DeskDraft) -> None:
    """Not text: the prompt wants text."""
    turn.say(turn.tr("tipdesk.empty"))


desk_cancel = flows.cancel_saying("flow.cancelled")


cancel_pressed = flows.cancel_under(lambda draft: (draft.event_id, draft.action), desk_cancel)

FLOW = flows.register(flows.Flow(
    kind="evdesk", prefix=PREFIX, load=DeskDraft.from_json, show=show, label=label,
    unexpected=not_text, allowed=may_type, short=True, cancel=desk_cancel,
    buttons={"cancel": cancel_pressed},
))
FLOW.step("type", text=typed)
FLOW.step("choose", buttons={"as": reply_chosen})


# ---------------------------------------------------------------------- the reporter answers


@dataclass
class AnswerDraft:
    """The reporter's answer about ``event_id`` being given (step "type"), or more of it for
    a few minutes after (step "more", until ``until``)."""

    event_id: int
    code: str = ""
    step: str = "type"
    until: str | None = None
    album: str | None = None  # the album whose first item was relayed

    def to_json(self) -> dict:
        """For storing."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> AnswerDraft:
        """From storage."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


async def own_event(turn: Turn, event_id: int | None) -> Event | None:
    """The event, if the person reported it. Handled or not: what its reporter still has to
    say about it (an answer typed as a colleague closed it) reaches the card."""
    if event_id is None:
        return None
    event = await turn.svc.events.get(event_id)
    if event is None or event.reporter_id != turn.me.user.id:
        return None
    return event


async def answer_pressed(turn: Turn) -> None:
    """'Answer' under an officer's question: the next message is the answer."""
    event = await own_event(turn, turn.press.int(0))
    if event is None:
        turn.answer(turn.tr("eventdesk.answer.closed"), alert=True)
        return
    await flows.enter(turn, ANSWER, AnswerDraft(event.id, event.code))


async def answer_show(turn: Turn, draft: AnswerDraft) -> None:
    """The prompt: type the answer."""
    cancel = button(turn.tr("flow.cancel"), data(ANSWER_PREFIX, "cancel", draft.event_id))
    turn.say(turn.tr("eventdesk.answer.ask", code=draft.code), InlineKeyboardMarkup([[cancel]]))


def answer_label(turn: Turn, draft: AnswerDraft) -> str:
    """'câu trả lời về VV-…'."""
    return turn.tr("eventdesk.answer.label", code=draft.code)


async def may_answer(turn: Turn, draft: AnswerDraft) -> str | None:
    """The event must still be theirs (checked on every message)."""
    if await own_event(turn, draft.event_id) is None:
        return "eventdesk.answer.closed"
    return None


def over(turn: Turn, draft: AnswerDraft) -> bool:
    """The few minutes after an answer are over: what comes now is read afresh."""
    return draft.step == "more" and draft.until is not None \
        and turn.svc.now() >= datetime.fromisoformat(draft.until)


def answer_problem(turn: Turn) -> str | None:
    """Why this message cannot be an answer (a catalog key), or None: text, or a photo or
    video (with or without a caption)."""
    msg = turn.message
    if msg is None or not (msg.text is not None or msg.photo or msg.video):
        return "eventdesk.answer.unsupported"
    if msg.text is not None and not turn.text:
        return "tips.what.empty"
    if len(turn.text) > MAX_ANSWER:
        return "tips.answer.too_long"
    return None


def kept(turn: Turn) -> list:
    """[message id, text, whether it is a photo or video] of the person's message."""
    msg = turn.message
    return [msg.message_id, turn.text, bool(msg.photo or msg.video)]


async def relay(turn: Turn, event: Event, messages: list[list] | None = None, *,
                said: bool = True, unasked: bool = False, album: str | None = None) -> None:
    """Record the answer on the event (the person's message, or ``messages`` kept earlier,
    each [message id, text, media]) and copy it under the cards of those still in charge of
    it, else to everyone it reaches now (outbox, one transaction each); what follows for a
    few minutes goes to the same event. ``said``: the first of an album (the rest follow
    without a line of their own, and without a history entry each)."""
    svc = turn.svc
    fallback = await recipients(svc, event.unit_id)
    current = await in_charge(svc, event.unit_id)
    by = await _name(svc, turn.me.user.id)
    for index, (message_id, text, media) in enumerate(messages or [kept(turn)]):
        head = said if messages is None else index == 0 or not media

        def copies(conn, message_id=message_id, text=text, media=media, head=head
                   ) -> list[NewItem]:
            holders = [u for u in card_holders(conn, event.id) if u in current]
            return [now_item("event.answer", f"event:{event.id}", user_id,
                             {"event": event.id, "by": by, "message_id": message_id,
                              "chat_id": turn.chat_id, "text": text, "media": media,
                              "head": head}, seq=message_id)
                    for user_id in holders or fallback]

        await svc.events.add_entry(event.id, turn.me.user.id, "answer", svc.now(),
                                   text=text or turn.tr("eventdesk.answer.photo"),
                                   also=copies, record=head)
    draft = AnswerDraft(event.id, event.code, step="more", album=album,
                        until=(svc.now() + MORE_FOR).isoformat())
    await flows.enter(turn, ANSWER, draft, show=False)
    if said:
        done = InlineKeyboardMarkup([[button(turn.tr("tips.btn.answer_done"),
                                             data(ANSWER_PREFIX, "done", event.id))]])
        reply = turn.tr("eventdesk.answer.sent", code=event.code) + "\n" \
            + turn.tr("eventdesk.answer.more")
        if unasked:
            reply += "\n\n" + turn.tr("emergency")
        turn.say(reply, done)


async def answer_given(turn: Turn, draft: AnswerDraft) -> None:
    """The answer (or more of it)."""
    event = await own_event(turn, draft.event_id)
    assert event is not None  # may_answer checked it
    problem = answer_problem(turn)
    if problem is not None:
        turn.say(turn.tr(problem, max=turn.number(MAX_ANSWER)))
        return
    album = turn.message.media_group_id
    await relay(turn, event, said=album is None or album != draft.album, album=album)


async def more_done(turn: Turn, draft: AnswerDraft) -> None:
    """'Done': nothing more to add."""
    turn.drop_keyboard()
    turn.answer(turn.tr("tips.answer.done"))
    flows.end(turn)


answer_cancel = flows.cancel_saying("flow.cancelled")


answer_cancel_pressed = flows.cancel_under(lambda draft: (draft.event_id,), answer_cancel)

ANSWER = flows.register(flows.Flow(
    kind="evanswer", prefix=ANSWER_PREFIX, load=AnswerDraft.from_json, show=answer_show,
    label=answer_label, unexpected=answer_given, allowed=may_answer, short=True,
    cancel=answer_cancel, expired=over, holds=lambda draft: draft.step != "more",
    buttons={"cancel": answer_cancel_pressed, "done": more_done},
))
for _step in ("type", "more"):
    ANSWER.step(_step, text=answer_given, media=answer_given, location=answer_given,
                other=answer_given)


def question_markup(locale: str, event_id: int) -> InlineKeyboardMarkup:
    """The Answer button under a question (bot.notices)."""
    from locales import t

    return InlineKeyboardMarkup([[button(t(locale, "tips.btn.answer"),
                                         data("evans", event_id))]])


def question_text(locale: str, event: Event, by: str, text: str) -> str:
    """The question as the reporter reads it (HTML)."""
    from locales import t

    return t(locale, "eventdesk.question", code=event.code,
             type=t(locale, f"eventtype.{event.type}"), by=html.escape(by),
             question=html.escape(text))
