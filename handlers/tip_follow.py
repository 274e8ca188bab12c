"""Residents follow their tips: /status CODE, /mytips, and answering a coordinator.

``/status`` shows a tip's history to its own sender only; anyone else gets the
same "not found" as for a code that does not exist, so codes cannot be probed.
An answer is recorded and copied (never forwarded) under every coordinator's card, through
the outbox. It is given by pressing "Trả lời" under the question (the ``answer`` flow), by
replying to the question in Telegram, or by simply writing while exactly one question is
open (handlers.outside); with several open the bot asks which tip it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import InlineKeyboardMarkup

from handlers import flows
from handlers.callbacks import data
from handlers.common import Turn, button, fit
from handlers.services import Services
from handlers.tip_recipients import recipients
from locales import formats
from storage.tip_lifecycle import normalise_code
from storage.tips import HistoryEntry, Tip

MAX_ANSWER = 4000
PREFIX = "answer"


async def status(turn: Turn) -> None:
    """/status CODE: the tip's status history, for its sender."""
    svc = turn.svc
    if not turn.args:
        turn.say(turn.tr("tips.status.usage"))
        return
    code = normalise_code(" ".join(turn.args))
    found = await svc.tips.status_for_sender(code, turn.me.user.id) if code else None
    if found is None:
        turn.say(turn.tr("tips.status.not_found"))
        return
    turn.say(_history(svc, turn, *found))


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
    turn.say("\n".join(lines))


# ---------------------------------------------------------------------- answers


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
    if msg.document and tip.anonymous:
        return "tips.what.file_anonymous"
    if msg.text is not None and not turn.text:
        return "tips.what.empty"
    if not (msg.text or msg.photo or msg.video or msg.voice or msg.document):
        return "tips.answer.unsupported"
    if len(turn.text) > MAX_ANSWER:
        return "tips.answer.too_long"
    return None


async def relay(turn: Turn, tip: Tip, *, message_id: int | None = None,
                text: str | None = None, media: str | None = None) -> None:
    """Record the answer and copy it under every card of the tip (outbox)."""
    svc = turn.svc
    msg = turn.message
    if message_id is None:
        assert msg is not None
        message_id = msg.message_id
        text = turn.text
        media = next((k for k in ("photo", "video", "voice", "document") if getattr(msg, k)),
                     None)
    await svc.tips.add_answer(tip.id, svc.now(), text=text or "", media=media,
                              message_id=message_id,
                              fallback=await recipients(svc, tip.unit_id))
    more = InlineKeyboardMarkup([[button(turn.tr("tips.btn.answer_more"),
                                         data("ans", tip.id))]])
    turn.say(turn.tr("tips.answer.sent", code=tip.code), more)


@dataclass
class AnswerDraft:
    """An answer being given: to ``tip_id`` (step "type"), or a message waiting to be told
    which tip it answers (step "pick", ``message_id`` and what it holds)."""

    step: str = "type"
    tip_id: int | None = None
    code: str = ""
    message_id: int | None = None
    text: str = ""
    media: list | None = None  # [kind, file id]
    choices: list[list] = field(default_factory=list)  # [tip id, code]

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
    """A message while several questions are open: which tip is it about?"""
    from handlers.tips import media_of

    msg = turn.message
    media = list(media_of(msg)) if msg.photo or msg.video or msg.voice or msg.document else None
    await flows.enter(turn, FLOW, AnswerDraft(
        step="pick", message_id=msg.message_id, text=turn.text, media=media,
        choices=[[tip_id, code] for tip_id, code in choices[:20]]))


async def show(turn: Turn, draft: AnswerDraft) -> None:
    """The prompt: type the answer, or pick the tip."""
    cancel = button(turn.tr("flow.cancel"), data(PREFIX, "cancel"))
    if draft.step == "pick":
        rows = [[button(code, data(PREFIX, "pick", tip_id))] for tip_id, code in draft.choices]
        rows.append([button(turn.tr("tips.answer.as_new"), data(PREFIX, "new")), cancel])
        turn.say(turn.tr("tips.answer.which"), InlineKeyboardMarkup(rows))
        return
    turn.say(turn.tr("tips.answer.ask", code=draft.code), InlineKeyboardMarkup([[cancel]]))


def label(turn: Turn, draft: AnswerDraft) -> str:
    """'câu trả lời cho TB-…'."""
    return turn.tr("tips.answer.label", code=draft.code or "—")


async def may_answer(turn: Turn, draft: AnswerDraft) -> str | None:
    """The tip must still be theirs and open (checked on every message of the flow)."""
    if draft.step == "type" and await own_open_tip(turn, draft.tip_id) is None:
        return "tips.answer.closed"
    return None


async def answer_given(turn: Turn, draft: AnswerDraft) -> None:
    """The answer: recorded, and copied under each coordinator's card."""
    tip = await own_open_tip(turn, draft.tip_id)
    assert tip is not None  # may_answer checked it
    problem = answer_problem(turn, tip)
    if problem is not None:
        turn.say(turn.tr(problem, max=turn.number(MAX_ANSWER)))
        return
    await relay(turn, tip)
    flows.end(turn)


async def picked(turn: Turn, draft: AnswerDraft) -> None:
    """The tip the waiting message answers."""
    tip = await own_open_tip(turn, turn.press.int(1))
    if tip is None or draft.message_id is None:
        turn.answer(turn.tr("tips.answer.closed"), alert=True)
        return
    turn.drop_keyboard()
    await relay(turn, tip, message_id=draft.message_id, text=draft.text,
                media=draft.media[0] if draft.media else None)
    flows.end(turn)


async def as_new_tip(turn: Turn, draft: AnswerDraft) -> None:
    """Not an answer after all: the waiting message starts a tip."""
    from handlers import tips

    turn.drop_keyboard()
    flows.end(turn)
    if await tips.may_tip(turn):
        media = [(draft.media[0], draft.media[1])] if draft.media else []
        await tips.begin_with(turn, draft.text, media)


answer_cancel = flows.cancel_saying("flow.cancelled")



async def pick_other(turn: Turn, draft: AnswerDraft) -> None:
    """Something typed while the bot asks which tip: ask again."""
    await show(turn, draft)


FLOW = flows.register(flows.Flow(
    kind="answer", prefix=PREFIX, load=AnswerDraft.from_json, show=show, label=label,
    unexpected=answer_given, allowed=may_answer, short=True, cancel=answer_cancel,
    buttons={"cancel": answer_cancel},
))
FLOW.step("type", text=answer_given, media=answer_given, location=answer_given,
          other=answer_given)
FLOW.step("pick", buttons={"pick": picked, "new": as_new_tip}, text=pick_other,
          media=pick_other, location=pick_other, other=pick_other)

