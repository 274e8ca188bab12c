"""The flow engine: load the draft → check the role → dispatch by step → save → answer.

A flow module (tips, reports, events, invitations, …) declares a :class:`Flow`: its kind, how
its draft is read back, what each step does with a button, a text, a photo or a location,
and how the current step is shown. The router hands every update of a person whose active
flow is that kind to :func:`handle`; nothing else decides where their message goes.

The order is what makes a crash harmless: the handler changes the draft and collects its
answer (``Turn.say``/``Turn.show``), the engine writes the draft and the active flow in one
transaction (storage.flows), and only then is the answer sent. Whatever a person was last
shown is therefore on disk; after a restart the same buttons and the same step work.

Roles are checked on every update, not only on entry: a reporter whose hamlet was handed
over, or a coordinator who lost their commune, is stopped with one line, and the flow's
buttons then do nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import ReplyKeyboardRemove

from handlers.common import Turn
from storage.flows import draft_text

log = logging.getLogger(__name__)


class Draft(Protocol):
    """What every flow's draft has."""

    step: str

    def to_json(self) -> dict: ...


Handler = Callable[[Turn, Any], Awaitable[None]]
Allowed = Callable[[Turn, Any], Awaitable[str | None]]
INPUTS = ("text", "media", "location", "other")


@dataclass
class Step:
    """What one step does with each kind of input (None: the flow's default)."""

    buttons: dict[str, Handler] = field(default_factory=dict)
    text: Handler | None = None
    media: Handler | None = None
    location: Handler | None = None
    other: Handler | None = None


@dataclass
class Flow:
    """One kind of flow.

    ``prefix``: the kind of its buttons' data. ``show``: puts the current step on screen.
    ``allowed``: None if the person may go on, else the catalog key of why not (checked on
    every update). ``label``: how the flow is named when it is left for later
    ("tin báo — bước 3/6"). ``short``: a short flow (an answer, a note) has nothing worth
    keeping when another flow starts, so its draft is dropped then (and the person told).
    ``unexpected``: what a text or file the step does not take gets (say so, show the step).
    """

    kind: str
    prefix: str
    load: Callable[[dict], Any]
    show: Handler
    label: Callable[[Turn, Any], str]
    unexpected: Handler
    allowed: Allowed | None = None
    short: bool = False
    steps: dict[str, Step] = field(default_factory=dict)
    buttons: dict[str, Handler] = field(default_factory=dict)  # at any step (back, cancel)
    cancel: Handler | None = None  # /cancel
    # The draft's step as the steps are named (a flow whose draft counts its steps
    # differently, as reports do, says how to read it).
    step_of: Callable[[Any], str] = lambda draft: draft.step
    # After an album (one update per item), what to say once it is complete: (text, keyboard)
    # from the person and their stored draft, or None.
    album: Callable[[Any, dict], tuple[str, Any] | None] | None = None
    # A flow that lapses on its own (the minutes after an answer): once this says so, the
    # flow ends quietly and the update is read as if no flow were open.
    expired: Callable[[Turn, Any], bool] | None = None
    # Whether a short flow left for another holds something the person should hear was
    # dropped (the minutes after an answer hold nothing: it was sent).
    holds: Callable[[Any], bool] = lambda draft: True

    def step(self, name: str, **handlers: Any) -> None:
        """Declare what step ``name`` does (buttons=…, text=…, media=…, …)."""
        self.steps[name] = Step(**handlers)


# Every flow, by kind and by button prefix: filled as flow modules are imported (router).
FLOWS: dict[str, Flow] = {}
BY_PREFIX: dict[str, Flow] = {}


def register(flow: Flow) -> Flow:
    """Make a flow known to the router."""
    FLOWS[flow.kind] = flow
    BY_PREFIX[flow.prefix] = flow
    return flow


@dataclass
class State:
    """The active flow of a turn, while the engine runs it."""

    flow: Flow
    draft: Any
    # The draft as last written, as JSON text: unchanged drafts are not written again. Text,
    # not the dict, because a draft's lists and dicts are its own (changing them in place
    # must not change the snapshot too).
    saved: str
    ended: bool = False
    keep: bool = False
    done: bool = False  # the end was written already (in the transaction that filed it)


def snapshot(data: dict) -> str:
    """A draft's JSON as text, to tell whether it changed (the text Flows.save stores)."""
    return draft_text(data)


def input_kind(turn: Turn) -> str:
    """'text', 'media', 'location' or 'other' for a message."""
    message = turn.message
    if message is None:
        return "other"
    if message.text is not None:
        return "text"
    if message.photo or message.video or message.voice or message.document \
            or message.video_note or message.audio:
        return "media"
    if message.location is not None:
        return "location"
    return "other"


async def load(turn: Turn, flow: Flow) -> Any | None:
    """The person's draft of ``flow``, or None."""
    data = await turn.svc.flows.draft(turn.tg_id, flow.kind)
    if data is None:
        return None
    try:
        return flow.load(data)
    except (KeyError, TypeError, ValueError):
        log.exception("a %s draft could not be read back; it is dropped", flow.kind)
        await turn.svc.flows.finish(turn.tg_id, flow.kind)
        return None


async def handle(turn: Turn, flow: Flow, *, command: Handler | None = None) -> bool:
    """Run the update through the person's active flow (the router calls this); False if the
    flow had lapsed and the update is to be read as if no flow were open.

    ``command``: a command that belongs to the flow (/cancel). An update that already changed
    the flow (Telegram sends an update again when the bot died before confirming it) is not
    applied twice: the step it led to is shown.
    """
    if await turn.svc.flows.applied(turn.tg_id, turn.update.update_id):
        draft = await load(turn, flow)
        if draft is not None:
            turn.answer()
            turn.in_place_ok = False
            turn.state = State(flow, draft, snapshot(draft.to_json()))
            await flow.show(turn, draft)
            return True
    draft = await load(turn, flow)
    if draft is None:
        await turn.svc.flows.finish(turn.tg_id, flow.kind)
        turn.kind = None
        turn.answer()
        turn.say(turn.tr("flow.draft_gone"))
        return True
    if flow.expired is not None and flow.expired(turn, draft):
        await turn.svc.flows.finish(turn.tg_id, flow.kind)
        turn.kind = None
        return False
    state = State(flow, draft, snapshot(draft.to_json()))
    turn.state = state
    why = await flow.allowed(turn, draft) if flow.allowed else None
    if why is not None:
        turn.answer(turn.tr(why), alert=True)
        turn.say(turn.tr(why))
        await finish(turn, keep=False)
        return True
    handler = command or _handler_for(turn, flow, draft)
    await handler(turn, draft)
    await commit(turn)
    return True


def _handler_for(turn: Turn, flow: Flow, draft: Any) -> Handler:
    step = flow.steps.get(flow.step_of(draft), Step())
    press = turn.press
    if press is not None:
        if press.kind != flow.prefix:
            return _wrong_button
        return step.buttons.get(press.action) or flow.buttons.get(press.action) or _wrong_button
    kind = input_kind(turn)
    return getattr(step, kind) or flow.unexpected


async def _wrong_button(turn: Turn, draft: Any) -> None:
    """A button of another step (an old message): say where we are and show it again."""
    state: State = turn.state
    turn.answer(turn.tr("flow.wrong_button", where=state.flow.label(turn, draft)), alert=True)
    turn.in_place_ok = False  # the old message stays as it was; the step comes below
    await state.flow.show(turn, draft)


async def commit(turn: Turn) -> None:
    """Write what the handler changed: the draft and the active flow, or the flow's end."""
    state: State | None = turn.state
    if state is None:
        return
    svc = turn.svc
    if state.ended and state.done:
        svc.flows.finished(turn.tg_id, state.flow.kind)
        if turn.kind == state.flow.kind:
            turn.kind = None
    elif state.ended:
        await svc.flows.finish(turn.tg_id, state.flow.kind, keep=state.keep)
        if turn.kind == state.flow.kind:
            turn.kind = None
    else:
        data = state.draft.to_json()
        text = snapshot(data)
        if text != state.saved or turn.kind != state.flow.kind:
            await svc.flows.save(turn.tg_id, state.flow.kind, data, svc.now(),
                                 update_id=turn.update.update_id, text=text)
            state.saved = text
        turn.kind = state.flow.kind
    turn.state = None


async def finish(turn: Turn, *, keep: bool = False) -> None:
    """End the running flow now (its draft dropped unless ``keep``)."""
    state: State | None = turn.state
    if state is None:
        return
    state.ended, state.keep = True, keep
    await commit(turn)


def end(turn: Turn, *, keep: bool = False, done: bool = False) -> None:
    """The running flow is over once the handler returns (its draft dropped unless ``keep``;
    ``done``: already dropped, in the transaction that filed it — see Flows.finishing)."""
    state: State = turn.state
    state.ended, state.keep, state.done = True, keep, done


async def enter(turn: Turn, flow: Flow, draft: Any, *, show: bool = True) -> None:
    """Make ``flow`` the person's active flow with ``draft``, and show its step.

    A long flow that was active is left for later (its draft kept) and a short one is
    dropped; either way the person is told. The new draft is written at once.
    """
    svc = turn.svc
    if turn.state is not None and turn.state.flow.kind != flow.kind:
        await commit(turn)  # what the running flow did is written first (ended, or left)
    current = turn.kind
    if current is not None and current != flow.kind and current in FLOWS:
        before = FLOWS[current]
        left = await load(turn, before)
        if left is not None:
            label = before.label(turn, left)
            # The notice also takes away a reply keyboard the left flow had on screen (the
            # "where" step's): its buttons would be read as text by the new flow.
            if before.short:
                await svc.flows.finish(turn.tg_id, before.kind)
                if before.holds(left):
                    turn.say(turn.tr("flow.dropped", what=label), ReplyKeyboardRemove())
            else:
                turn.say(turn.tr("flow.kept", what=label, command=f"/{_COMMANDS[before.kind]}"),
                         ReplyKeyboardRemove())
    turn.state = State(flow, draft, "")
    data = draft.to_json()
    text = snapshot(data)
    await svc.flows.save(turn.tg_id, flow.kind, data, svc.now(),
                         update_id=turn.update.update_id, text=text)
    turn.state.saved = text
    turn.kind = flow.kind
    turn.entered = True
    if show:
        await flow.show(turn, draft)


def cancel_saying(key: str, markup: Any = None) -> Handler:
    """A Cancel handler: the pressed step loses its buttons, ``key`` is said, the flow (and
    its draft) ends."""
    async def cancel(turn: Turn, draft: Any) -> None:
        turn.drop_keyboard()
        turn.say(turn.tr(key), markup)
        end(turn)

    cancel.__doc__ = f"Cancel: says {key}, drops the draft."
    return cancel


def cancel_under(prompt: Callable[[Any], tuple], cancel: Handler) -> Handler:
    """Cancel pressed under a prompt that names what it is for (the button carries, after
    "cancel", the fields ``prompt(draft)`` gives): this prompt's cancels, an older prompt's
    cancels nothing (it would drop what is being typed now) and says so."""
    async def pressed(turn: Turn, draft: Any) -> None:
        fields = prompt(draft)
        if tuple(turn.press.field(i + 1) for i in range(len(fields))) \
                != tuple(str(f) for f in fields):
            turn.answer(turn.tr("flow.stale"), alert=True)
            return
        await cancel(turn, draft)

    pressed.__doc__ = "Cancel under this prompt (an older prompt's Cancel cancels nothing)."
    return pressed


# How a person takes each long flow up again (told when it is left for later).
_COMMANDS = {"tip": "newtip", "report": "report", "event": "event", "invite": "invite"}
