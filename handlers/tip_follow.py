"""Residents follow their tips: /status CODE, /mytips, and answering a coordinator.

``/status`` shows a tip's history to its own sender only; anyone else gets the
same "not found" as for a code that does not exist, so codes cannot be probed.
An answer is recorded and copied (never forwarded) under every coordinator's card, through
the outbox. It is given by pressing "Trả lời" under the question (the ``answer`` flow), by
replying to the question in Telegram, or by simply writing while exactly one question asked
in the last day is open (handlers.outside); with several open, or an older one, the bot asks
which tip it is about, or whether it is a new tip, and keeps every message meanwhile. After
an answer, what follows for a few minutes (the rest of an album, a second line) goes to the
same tip; then the bot is back to normal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, button, cut, fit
from handlers.services import Services
from handlers.tip_recipients import in_charge, recipients
from locales import formats
from storage.tip_lifecycle import EVENT_PREFIX, event_code, normalise_code
from storage.tips import HistoryEntry, Tip

MAX_ANSWER = 4000
PREFIX = "answer"


async def status(turn: Turn) -> None:
    """/status CODE: the tip's status history, for its sender."""
    svc = turn.svc
    if not turn.args:
        turn.say(turn.tr("tips.status.usage"))
        return
    if event_code(" ".join(turn.args)) is not None:
        await _event_status(turn, event_code(" ".join(turn.args)))
        return
    code = normalise_code(" ".join(turn.args))
    found = await svc.tips.status_for_sender(code, turn.me.user.id) if code else None
    if found is None:
        turn.say(turn.tr("tips.status.not_found"))
        return
    turn.say(_history(svc, turn, *found))


async def _event_status(turn: Turn, code: str) -> None:
    """/status VV-…: where an event stands, for the reporter who reported it (who took it up
    and when; questions, answers and notes are on the card, not here)."""
    from handlers.event_card import entry_line

    svc = turn.svc
    event = await svc.events.by_code(code)
    if event is None or event.reporter_id != turn.me.user.id:
        turn.say(turn.tr("eventdesk.status.not_found"))
        return
    me = turn.me
    lines = [me.tr("eventdesk.status.head", code=event.code,
                   type=me.tr(f"eventtype.{event.type}"),
                   status=me.tr(f"eventstatus.{event.status.value}"))]
    for entry in await svc.events.history(event.id):
        if entry.kind == "status":
            name = (await svc.users.reach(entry.actor_id))[0].name or "—" \
                if entry.actor_id is not None else "—"
            lines.append(entry_line(svc, me.locale, entry, name))
    turn.say("\n".join(lines))


def _history(svc: Services, turn: Turn, tip: Tip, history: list[HistoryEntry]) -> str:
    me = turn.me
    lines = [me.tr("tips.status.head", code=tip.code, category=me.tr(f"tipcat.{tip.category}"))]
    for entry in history:
        name = me.tr(f"tipstatus.{entry.to_status.value}") if entry.to_status else entry.kind
        if entry.detail.get("resolution"):
            name += " — " + me.tr(f"tipresolution.{entry.detail['resolution']}")
        lines.append(f"• {formats.moment(entry.at, me.locale, svc.timezone)} — {name}")
    return fit(lines, lambda n: turn.tr("flow.more_lines", n=turn.number(n)))


async def mytips(turn: Turn) -> None:
    """/mytips (or the menu button): the user's own tips, newest first."""
    svc = turn.svc
    tips = await svc.tips.mine(turn.me.user.id)
    if not tips:
        turn.say(turn.tr("tips.mine.empty"))
        return
    lines = [turn.tr("tips.mine.head")]
    for tip in tips:
        lines.append(
            f"• <code>{tip.code}</code> · {turn.tr(f'tipcat.{tip.category}')} · "
            f"{turn.tr(f'tipstatus.{tip.status.value}')} · "
            f"{formats.day(tip.created_at, turn.me.locale, svc.timezone)}")
    lines.append(turn.tr("tips.mine.hint"))
    rows = [[button(f"{tip.code} · {cut(turn.tr(f'tipcat.{tip.category}'), 40)}",
                    data("mine", tip.id))] for tip in tips]
    turn.say("\n".join(lines), InlineKeyboardMarkup(rows))


async def mine_pressed(turn: Turn) -> None:
    """A tip's button under /mytips: what /status shows, for its sender only."""
    svc = turn.svc
    tip_id = turn.press.int(0)
    tip = await svc.tips.get(tip_id) if tip_id is not None else None
    found = await svc.tips.status_for_sender(tip.code, turn.me.user.id) if tip else None
    if found is None:
        turn.answer(turn.tr("tips.status.not_found"), alert=True)
        return
    turn.say(_history(svc, turn, *found))


# ---------------------------------------------------------------------- answers

# After an answer, further messages go to the same tip for this long (the rest of an album, a
# second line); then what is sent is read afresh.
MORE_FOR = timedelta(minutes=10)
MEDIA_KINDS = ("photo", "video", "voice", "document", "video_note", "audio")


async def own_open_tip(turn: Turn, tip_id: int | None) -> Tip | None:
    """The tip, if the person sent it and it is still open."""
    if tip_id is None:
        return None
    svc = turn.svc
    tip = await svc.tips.get(tip_id)
    if tip is None or not tip.is_open or await svc.tips.sender_of(tip.id) != turn.me.user.id:
        return None
    return tip


def answer_problem(turn: Turn, tip: Tip) -> str | None:
    """Why this message cannot be an answer (a catalog key), or None."""
    msg = turn.message
    if msg is None or msg.sticker or msg.location or msg.contact or msg.venue or msg.poll:
        return "tips.answer.unsupported"
    if (msg.document or msg.audio) and tip.anonymous:
        return "tips.what.file_anonymous"
    if msg.text is not None and not turn.text:
        return "tips.what.empty"
    if msg.text is None and not any(getattr(msg, k) for k in MEDIA_KINDS):
        return "tips.answer.unsupported"
    if len(turn.text) > MAX_ANSWER:
        return "tips.answer.too_long"
    return None


def _kept(turn: Turn) -> list:
    """[message id, text, media kind] of the person's message, to relay later."""
    msg = turn.message
    media = next((k for k in MEDIA_KINDS if getattr(msg, k)), None)
    return [msg.message_id, turn.text, media]


async def relay(turn: Turn, tip: Tip, messages: list[list] | None = None, *,
                said: bool = True, album: str | None = None, unasked: bool = False) -> None:
    """Record the answer (the person's message, or ``messages`` kept earlier) and copy it
    under every card of the tip (outbox); then further messages go to the same tip for a
    few minutes (the ``more`` step). ``said``: tell the person (once per album); ``unasked``:
    the person did not say it was an answer (they replied, or just wrote), so the emergency
    numbers come with it."""
    svc = turn.svc
    to = await recipients(svc, tip.unit_id)
    current = await in_charge(svc, tip.unit_id)  # not a coordinator whose role ended since
    for message_id, text, media in messages or [_kept(turn)]:
        await svc.tips.add_answer(tip.id, svc.now(), text=text or "", media=media,
                                  message_id=message_id, fallback=to, current=current,
                                  head=said)
    draft = AnswerDraft(step="more", tip_id=tip.id, code=tip.code, album=album,
                        until=(svc.now() + MORE_FOR).isoformat())
    await flows.enter(turn, FLOW, draft, show=False)
    if said:
        done = InlineKeyboardMarkup([[button(turn.tr("tips.btn.answer_done"),
                                             data(PREFIX, "done", tip.id))]])
        text = turn.tr("tips.answer.sent", code=tip.code) + "\n" + turn.tr("tips.answer.more")
        if unasked:
            text += "\n\n" + turn.tr("emergency")
        turn.say(text, done)


@dataclass
class AnswerDraft:
    """An answer being given: to ``tip_id`` (step "type"), more of it for a while (step
    "more", until ``until``), or messages waiting to be told which tip they answer (step
    "pick", ``messages``)."""

    step: str = "type"
    tip_id: int | None = None
    code: str = ""
    until: str | None = None
    messages: list[list] = field(default_factory=list)  # [message id, text, media kind]
    media: list[list] = field(default_factory=list)  # [kind, file id] of those messages
    choices: list[list] = field(default_factory=list)  # [tip id, code]
    album: str | None = None  # the album whose first item was relayed (the rest follow it)

    def to_json(self) -> dict:
        """For storing."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict) -> AnswerDraft:
        """From storage."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


async def answer_pressed(turn: Turn) -> None:
    """'Answer' under a coordinator's question: the next message is the answer."""
    tip = await own_open_tip(turn, turn.press.int(0))
    if tip is None:
        turn.answer(turn.tr("tips.answer.closed"), alert=True)
        return
    await flows.enter(turn, FLOW, AnswerDraft(tip_id=tip.id, code=tip.code))


async def ask_which(turn: Turn, choices: list[tuple[int, str]]) -> None:
    """A message while several questions are open (or one asked long ago): which tip is it
    about, or is it a new tip? The message waits, with any that follow."""
    if _too_long(turn):
        return
    draft = AnswerDraft(step="pick", choices=[[tip_id, code] for tip_id, code in choices[:20]])
    _keep(turn, draft)
    await flows.enter(turn, FLOW, draft)


def _too_long(turn: Turn) -> bool:
    """A message longer than an answer may be is not kept (it could be neither an answer nor,
    whole, a tip): the person is told, as when answering."""
    if len(turn.text) <= MAX_ANSWER:
        return False
    turn.say(turn.tr("tips.answer.too_long", max=turn.number(MAX_ANSWER)))
    return True


def _keep(turn: Turn, draft: AnswerDraft) -> None:
    from handlers.tips import has_media, media_of

    draft.messages.append(_kept(turn))
    if has_media(turn.message):
        draft.media.append(list(media_of(turn.message)))


async def show(turn: Turn, draft: AnswerDraft) -> None:
    """The prompt: type the answer, or pick the tip."""
    cancel = button(turn.tr("flow.cancel"), data(PREFIX, "cancel", draft.tip_id or 0))
    if draft.step == "pick":
        # An event's code (a reporter asked about an event) is picked as one.
        rows = [[button(code, data(PREFIX, "pickev" if code.startswith(EVENT_PREFIX) else "pick",
                                   tip_id))] for tip_id, code in draft.choices]
        rows.append([button(turn.tr("tips.answer.as_new"), data(PREFIX, "new")), cancel])
        turn.say(turn.tr("tips.answer.which", n=turn.number(len(draft.messages))),
                 InlineKeyboardMarkup(rows))
        return
    turn.say(turn.tr("tips.answer.ask", code=draft.code), InlineKeyboardMarkup([[cancel]]))


def label(turn: Turn, draft: AnswerDraft) -> str:
    """'câu trả lời cho TB-…'."""
    if draft.step == "pick":
        return turn.tr("tips.answer.label_pick")
    return turn.tr("tips.answer.label", code=draft.code or "—")


async def may_answer(turn: Turn, draft: AnswerDraft) -> str | None:
    """The tip must still be theirs and open (checked on every message of the flow)."""
    if draft.step in ("type", "more") and await own_open_tip(turn, draft.tip_id) is None:
        return "tips.answer.closed"
    return None


def over(turn: Turn, draft: AnswerDraft) -> bool:
    """The few minutes after an answer are over: what comes now is read afresh."""
    return draft.step == "more" and draft.until is not None \
        and turn.svc.now() >= datetime.fromisoformat(draft.until)


async def answer_given(turn: Turn, draft: AnswerDraft) -> None:
    """The answer (or more of it): recorded, and copied under each coordinator's card."""
    tip = await own_open_tip(turn, draft.tip_id)
    assert tip is not None  # may_answer checked it
    problem = answer_problem(turn, tip)
    if problem is not None:
        turn.say(turn.tr(problem, max=turn.number(MAX_ANSWER)))
        return
    album = turn.message.media_group_id
    later_in_album = album is not None and album == draft.album
    await relay(turn, tip, said=not later_in_album, album=album)


async def more_done(turn: Turn, draft: AnswerDraft) -> None:
    """'Done': nothing more to add."""
    turn.drop_keyboard()
    turn.answer(turn.tr("tips.answer.done"))
    flows.end(turn)


async def picked(turn: Turn, draft: AnswerDraft) -> None:
    """The tip the waiting messages answer."""
    tip = await own_open_tip(turn, turn.press.int(1))
    if tip is None or not draft.messages:
        turn.answer(turn.tr("tips.answer.closed"), alert=True)
        return
    turn.drop_keyboard()
    flows.end(turn)
    await relay(turn, tip, draft.messages)


async def picked_event(turn: Turn, draft: AnswerDraft) -> None:
    """The event the waiting messages answer (its reporter was asked about it)."""
    from handlers import event_desk

    event = await event_desk.own_event(turn, turn.press.int(1))
    if event is None or not draft.messages:
        turn.answer(turn.tr("eventdesk.answer.closed"), alert=True)
        return
    turn.drop_keyboard()
    flows.end(turn)
    # Text in words, anything else copied (a voice note too) under the event's cards.
    await event_desk.relay(turn, event, [[m[0], m[1], m[2] is not None]
                                         for m in draft.messages])


async def as_new_tip(turn: Turn, draft: AnswerDraft) -> None:
    """Not an answer after all: the waiting messages start a tip."""
    from handlers import tips

    turn.drop_keyboard()
    flows.end(turn)
    if await tips.may_tip(turn):
        text = "\n".join(m[1] for m in draft.messages if m[1])
        await tips.begin_with(turn, text, [(m[0], m[1]) for m in draft.media])


async def pick_more(turn: Turn, draft: AnswerDraft) -> None:
    """Another message while the bot asks which tip: kept with the first."""
    msg = turn.message
    if msg is None or not (turn.text or any(getattr(msg, k) for k in MEDIA_KINDS)):
        await show(turn, draft)
        return
    if _too_long(turn):
        return
    _keep(turn, draft)
    if msg.media_group_id is None:
        await show(turn, draft)


answer_cancel = flows.cancel_saying("flow.cancelled")


cancel_pressed = flows.cancel_under(lambda draft: (draft.tip_id or 0,), answer_cancel)

FLOW = flows.register(flows.Flow(
    kind="answer", prefix=PREFIX, load=AnswerDraft.from_json, show=show, label=label,
    unexpected=answer_given, allowed=may_answer, short=True, cancel=answer_cancel,
    expired=over, holds=lambda draft: draft.step != "more",
    buttons={"cancel": cancel_pressed, "done": more_done},
))
FLOW.step("type", text=answer_given, media=answer_given, location=answer_given,
          other=answer_given)
FLOW.step("more", text=answer_given, media=answer_given, location=answer_given,
          other=answer_given)
FLOW.step("pick", buttons={"pick": picked, "pickev": picked_event, "new": as_new_tip},
          text=pick_more,
          media=pick_more, location=pick_more, other=pick_more)
