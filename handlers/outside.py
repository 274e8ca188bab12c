"""What people send when no flow is open: nothing is thrown away.

This is how people use Zalo: they just write, or send a photo or a voice note. So, with no
flow open:

1. A Telegram reply to one of the bot's messages about the person's own open tip (a
   question from an officer, a status notice) is an answer about that tip, relayed to the
   coordinators' cards; the same for a reporter's own event not handled yet.
2. Otherwise, if exactly one of their open tips has a question not yet answered, asked in
   the last day, the message is the answer to it; with several, or an older one, the bot
   asks which tip it is about, or whether it is a new tip. With no tip question open, a
   reporter's one fresh question about an event they reported is answered the same way.
3. A coordinator or admin who replies (in Telegram) to a tip's or an event's card, or to
   the answer copied under it, is asked whether the text is a question for the sender (the
   reporter) or an internal note; anything else they type outside a flow gets their menu
   (it is not a tip).
4. Anyone else's text, photo, album, video, voice note or file is offered as a tip
   ("Gửi nội dung này thành tin báo?"): kept in a short ``offer`` flow, added to as more
   comes, and on "yes" it starts the tip flow carrying what was sent (or is added to the
   tip draft in progress).
5. A sticker, a contact or a location alone is not understood: the menu, with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from telegram import InlineKeyboardMarkup

from handlers import event_desk, flows, start, tip_desk, tip_follow, tips
from handlers.callbacks import data
from handlers.common import Turn, Who, button
from handlers.tip_card import media_counts
from handlers.tip_recipients import allowed
from locales import formats
from storage.tip_lifecycle import EVENT_PREFIX, code_pattern

PREFIX = "offer"
# A question asked within this long is answered by just writing; after that the bot asks
# whether a message is the answer or a new tip (an urgent new story must not vanish into an
# old case).
ANSWER_WITHOUT_ASKING = timedelta(hours=24)
_CODE = code_pattern()  # a tip's code in the bot's own message, five characters or more
_EVENT_CODE = code_pattern(EVENT_PREFIX)


async def handle(turn: Turn) -> None:
    """A message (not a command) from someone with no flow open."""
    tip = await _replied_tip(turn)
    if tip is not None:
        await _answer(turn, tip)
        return
    event = await _replied_event(turn)
    if event is not None:
        await _answer_event(turn, event)
        return
    if not turn.me.staff and _content(turn):
        # Questions about their tips, and (a reporter) about events they reported: one
        # fresh question is answered by writing; several, or an old one: which — or new?
        questions = [*await turn.svc.tips.open_questions(turn.me.user.id),
                     *await turn.svc.events.open_questions(turn.me.user.id)]
        fresh = [q for q in questions if turn.svc.now() - q[2] <= ANSWER_WITHOUT_ASKING]
        if len(questions) == 1 and fresh:
            question_id, code, _ = questions[0]
            if code.startswith(EVENT_PREFIX):
                event = await event_desk.own_event(turn, question_id)
                if event is not None:
                    await _answer_event(turn, event)
                    return
            else:
                tip = await tip_follow.own_open_tip(turn, question_id)
                if tip is not None:
                    await _answer(turn, tip)
                    return
        if questions:
            questions.sort(key=lambda q: q[2], reverse=True)  # the newest question first
            await tip_follow.ask_which(turn, [(q[0], q[1]) for q in questions])
            return
    if turn.me.staff and turn.text:
        tip = await _replied_card(turn)
        if tip is not None:  # a coordinator answering a card, or the sender's answer
            await tip_desk.staff_reply(turn, tip)
            return
        event = await _replied_event_card(turn)
        if event is not None:
            await event_desk.staff_reply(turn, event)
            return
    if turn.me.staff or not _content(turn):
        turn.say(turn.tr("fallback.text"))
        await start.show_menu(turn)
        return
    await _offer(turn)


async def _replied_card(turn: Turn):
    """The tip of the bot message a coordinator replied to: a card (it names the code) or an
    answer copied under it (the outbox knows which tip it relayed)."""
    replied = turn.message.reply_to_message if turn.message is not None else None
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    svc = turn.svc
    codes = _CODE.findall(replied.text or replied.caption or "")
    tip_id = None
    if codes:
        found = await svc.tips.by_code(codes[0])
        tip_id = found.id if found else None
    else:
        tip_id = await svc.outbox.tip_relayed(turn.me.user.id, replied.message_id)
    tip = await svc.tips.get(tip_id) if tip_id is not None else None
    if tip is None or not await allowed(svc, turn.me, tip):
        return None
    return tip


async def _replied_tip(turn: Turn):
    """The person's open tip named in the bot message they replied to, if any."""
    msg = turn.message
    replied = msg.reply_to_message if msg is not None else None
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    for code in _CODE.findall(replied.text or replied.caption or ""):
        found = await turn.svc.tips.status_for_sender(code, turn.me.user.id)
        if found is not None and found[0].is_open:
            return found[0]
    return None


async def _replied_event(turn: Turn):
    """The person's open event named in the bot message they replied to (a question about
    it, a notice), if they reported it."""
    msg = turn.message
    replied = msg.reply_to_message if msg is not None else None
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    for code in _EVENT_CODE.findall(replied.text or replied.caption or ""):
        found = await turn.svc.events.by_code(code)
        if found is not None:
            event = await event_desk.own_event(turn, found.id)
            if event is not None:
                return event
    return None


async def _replied_event_card(turn: Turn):
    """The event of the card (or the reporter's answer under it) a coordinator replied to."""
    replied = turn.message.reply_to_message if turn.message is not None else None
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    svc = turn.svc
    for code in _EVENT_CODE.findall(replied.text or replied.caption or ""):
        event = await svc.events.by_code(code)
        if event is not None and await event_desk.allowed(svc, turn.me, event):
            return event
    return None


async def _answer_event(turn: Turn, event) -> None:
    problem = event_desk.answer_problem(turn)
    if problem is not None:
        turn.say(turn.tr(problem, max=turn.number(event_desk.MAX_ANSWER)))
        return
    await event_desk.relay(turn, event, unasked=True, album=turn.message.media_group_id)


async def _answer(turn: Turn, tip) -> None:
    problem = tip_follow.answer_problem(turn, tip)
    if problem is not None:
        turn.say(turn.tr(problem, max=turn.number(tip_follow.MAX_ANSWER)))
        return
    await tip_follow.relay(turn, tip, album=turn.message.media_group_id, unasked=True)


def _content(turn: Turn) -> bool:
    """Whether the message could be (part of) a tip: text, photo, video, voice or file."""
    msg = turn.message
    if msg is None:
        return False
    if msg.text is not None:
        return bool(turn.text)
    return tips.has_media(msg)


# ---------------------------------------------------------------------- the offer


@dataclass
class OfferDraft:
    """What was sent outside a flow, offered as a tip."""

    step: str = "offer"
    body: str = ""
    media: list[tuple[str, str]] = field(default_factory=list)
    shown: bool = False  # the offer was shown once (with the emergency numbers)

    def to_json(self) -> dict:
        """For storing."""
        return {"step": self.step, "body": self.body, "media": [list(m) for m in self.media],
                "shown": self.shown}

    @classmethod
    def from_json(cls, data: dict) -> OfferDraft:
        """From storage."""
        return cls(step=data.get("step", "offer"), body=data.get("body", ""),
                   media=[(m[0], m[1]) for m in data.get("media", [])],
                   shown=bool(data.get("shown", False)))


async def _offer(turn: Turn) -> None:
    draft = OfferDraft()
    if not _take(turn, draft):
        return
    await flows.enter(turn, FLOW, draft, show=not _in_album(turn))
    if _in_album(turn):
        tips.acknowledge_later(turn, turn.message.media_group_id, kind=FLOW.kind)


def _in_album(turn: Turn) -> bool:
    return turn.message is not None and turn.message.media_group_id is not None


def _take(turn: Turn, draft: OfferDraft) -> bool:
    """Add the message to the offer (what fits a tip); False if nothing could be taken."""
    policy = turn.svc.tip_policy
    msg = turn.message
    text = turn.text
    if text:
        joined = f"{draft.body}\n{text}" if draft.body else text
        if len(joined) > policy.max_text:
            turn.say(turn.tr("tips.what.too_long_total" if draft.body else "tips.what.too_long",
                             n=turn.number(len(text)), max=turn.number(policy.max_text),
                             left=turn.number(max(policy.max_text - len(draft.body) - 1, 0))))
            return bool(draft.body or draft.media)
        draft.body = joined
    if tips.has_media(msg):
        if len(draft.media) >= policy.max_media:
            turn.say(turn.tr("tips.what.too_many", max=turn.number(policy.max_media)))
        else:
            draft.media.append(tips.media_of(msg))
    return bool(draft.body or draft.media)


def offer_prompt(me: Who, stored: dict, *, first: bool = False
                 ) -> tuple[str, InlineKeyboardMarkup]:
    """'Gửi nội dung này thành tin báo?' with what it holds, and the two buttons (the
    emergency numbers the first time)."""
    draft = OfferDraft.from_json(stored)
    parts = []
    if draft.body:
        parts.append(me.tr("tips.count.chars", n=formats.number(len(draft.body), me.locale)))
    if draft.media:
        parts.append(media_counts(me.locale, draft.media))
    text = me.tr("offer.ask", parts=", ".join(parts))
    if first:
        text += "\n\n" + me.tr("emergency")
    rows = [[button(me.tr("offer.btn.yes"), data(PREFIX, "yes"))],
            [button(me.tr("offer.btn.no"), data(PREFIX, "no"))]]
    return text, InlineKeyboardMarkup(rows)


async def show(turn: Turn, draft: OfferDraft) -> None:
    """The offer, with what it holds so far (the emergency numbers the first time)."""
    text, markup = offer_prompt(turn.me, draft.to_json(), first=not draft.shown)
    draft.shown = True
    turn.show(text, markup, in_place=False)


def label(turn: Turn, draft: OfferDraft) -> str:
    """'nội dung chưa gửi thành tin báo'."""
    return turn.tr("offer.label")


async def more(turn: Turn, draft: OfferDraft) -> None:
    """More text or media while the offer is open: added to it."""
    if not _take(turn, draft):
        turn.say(turn.tr("tips.what.empty"))
        return
    if _in_album(turn):
        tips.acknowledge_later(turn, turn.message.media_group_id, kind=FLOW.kind)
        return
    await show(turn, draft)


async def not_content(turn: Turn, draft: OfferDraft) -> None:
    """A sticker or a location while the offer is open."""
    turn.say(turn.tr("tips.what.unsupported"))
    await show(turn, draft)


async def yes(turn: Turn, draft: OfferDraft) -> None:
    """Make it a tip (its first step replaces the offer)."""
    flows.end(turn)
    if await tips.may_tip(turn):
        await tips.begin_with(turn, draft.body, draft.media)


no = flows.cancel_saying("offer.dropped")



FLOW = flows.register(flows.Flow(
    kind="offer", prefix=PREFIX, load=OfferDraft.from_json, show=show, label=label,
    unexpected=not_content, short=True, cancel=no,
    album=lambda me, stored: offer_prompt(me, stored, first=not stored.get("shown")),
    buttons={"yes": yes, "no": no},
))
FLOW.step("offer", text=more, media=more)
