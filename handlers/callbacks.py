"""Button data: every kind declared here, built and checked here and nowhere else.

A button carries ``kind:field:field…``. The kind says who handles the press: a flow (``tipf``,
``repf``, ``evf``, ``inv``, ``desk``, ``answer``, ``evd``, ``eva``, ``offer``) or a screen that
needs no flow (``tip`` and ``ev`` cards, ``lang``, ``menu``, ``inbox``, ``ans``, ``evans``,
``cmpl``, ``repl``, ``repv``, ``repo``, ``units``, ``docx``). :data:`KINDS` lists, for each
kind, every shape its data may take: literal words and typed fields (``{int}`` a row id or
page, ``{word}`` a lower-case name the handler checks against its own list, ``{period}`` a
period key a person could mean, ``{span}`` that or a half-year's). :func:`data` refuses to
build a shape that is not listed, so the table is the whole of what the bot emits (the
authorisation test walks it), and a press whose data fits no shape is an expired button, never
an exception in a handler.

Buttons nobody can forge: Telegram hands back whatever a client puts in ``callback_data``, and
a modified client can put anything. So when a keyboard is sent (:func:`sign_markup`, called by
the turn and the outbox sender, the two places that send), each button's data gets a tag: an
HMAC-SHA256, under a key derived from ``BINHYEN_SECRET_KEY``, of the data and of the Telegram
id of the person it was sent to, cut to 8 base64url characters (48 bits) after a ``~``. A press
is read (:meth:`Signer.open`) only if its tag matches the data and the person pressing; data
that was tampered with, copied from someone else's chat, signed by another deployment's key or
sent before buttons were signed is answered "Nút này không còn hiệu lực" and changes nothing.
The payload may be at most 55 bytes, so that payload and tag fit Telegram's 64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage.lru import Lru

MAX_BYTES = 64  # Telegram's limit on callback_data
TAG_CHARS = 8  # base64url characters of the HMAC kept (48 bits)
SEP = "~"
MAX_PAYLOAD = MAX_BYTES - len(SEP) - TAG_CHARS

# Every shape of every kind the bot sends. A new button must be added here first.
KINDS: dict[str, tuple[str, ...]] = {
    # screens
    "lang": ("{word}",),
    "menu": ("{word}",),
    "inbox": ("{int}",),
    "units": ("{int}",),
    "ans": ("{int}",),
    "mine": ("{int}",),
    "cmpl": ("{period}",),
    "docx": ("{span}",),
    "nudge": ("{period}",),
    "invh": ("{int}",),
    "evans": ("{int}",),
    "repl": ("{period}:{int}",),
    "repv": ("{int}:{period}",),
    "repo": ("{int}:{period}",),
    "tip": ("{int}:show", "{int}:media", "{int}:kb", "{int}:close", "{int}:ask", "{int}:assign",
            "{int}:note", "{int}:tag", "{int}:block", "{int}:dupcode", "{int}:closing",
            "{int}:st:{word}",
            "{int}:cl:{word}", "{int}:dup:{int}", "{int}:as:{int}", "{int}:blk:yes"),
    "ev": ("{int}:show", "{int}:media", "{int}:st:{word}", "{int}:ask", "{int}:note"),
    # flows
    "tipf": ("resume", "fresh", "back", "next", "cancel", "send", "cat:{word}", "anon:{word}",
             "co:{int}", "co:none", "ul:{int}:{int}", "us:{int}", "when:{word}", "edit:{word}"),
    "repf": ("resume", "fresh", "fresh:{int}", "back", "cancel", "u:{int}", "s:{word}",
             "p:{period}", "zero", "same", "keep", "sure", "again", "send", "edit", "review",
             "line:{int}"),
    "evf": ("back", "cancel", "u:{int}", "type:{word}", "when:{word}", "skip", "people:{int}",
            "photos", "send"),
    "inv": ("back", "cancel", "role:{word}", "unit:{int}", "page:{int}", "make:{word}"),
    "desk": ("as:{word}", "cancel:{int}:{word}"),
    "evd": ("as:{word}", "cancel:{int}:{word}"),
    "eva": ("cancel:{int}", "done:{int}"),
    "answer": ("cancel:{int}", "done:{int}", "pick:{int}", "pickev:{int}", "new"),
    "offer": ("yes", "no"),
}

_INT = re.compile(r"[0-9]{1,12}")  # [0-9], not \d: \d matches other scripts' digits too
_WORD = re.compile(r"[a-z][a-z0-9_]{0,23}")  # 24 at most: every shape fits, signed


def _is_period(value: str) -> bool:
    from storage.reporting import Period  # only when a period is read

    try:
        Period.from_key(value)  # refuses years no one could mean, weeks that do not exist
    except ValueError:
        return False
    return True


_HALF_KEY = re.compile(r"(20[0-9]{2})-H[12]")


def _is_span(value: str) -> bool:
    """A digest's span: a reporting period's key, or a half-year's ('2026-H2')."""
    match = _HALF_KEY.fullmatch(value)
    return _is_period(match[1]) if match else _is_period(value)


_TYPES = {
    "{int}": lambda v: _INT.fullmatch(v) is not None,
    "{word}": lambda v: _WORD.fullmatch(v) is not None,
    "{period}": _is_period,
    "{span}": _is_span,
}


@cache
def _shapes(kind: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(shape.split(":")) for shape in KINDS.get(kind, ()))


def fits(kind: str, fields: tuple[str, ...]) -> bool:
    """Whether ``fields`` are one of the shapes declared for ``kind``."""
    for shape in _shapes(kind):
        if len(shape) == len(fields) and all(
            _TYPES[part](value) if part in _TYPES else part == value
            for part, value in zip(shape, fields, strict=True)
        ):
            return True
    return False


@dataclass(frozen=True)
class Press:
    """A pressed button's data, checked against its kind's shapes."""

    kind: str
    fields: tuple[str, ...]

    @property
    def action(self) -> str:
        """The first field ('' if there is none)."""
        return self.fields[0] if self.fields else ""

    def field(self, index: int) -> str | None:
        """Field ``index`` (0 is the action), or None."""
        return self.fields[index] if 0 <= index < len(self.fields) else None

    def int(self, index: int) -> int | None:
        """Field ``index`` as a non-negative integer of sane size, or None."""
        value = self.field(index)
        if value is None or _INT.fullmatch(value) is None:
            return None
        return int(value)


def parse(payload: str | None) -> Press | None:
    """The press behind an (already verified) payload, or None if it fits no declared shape."""
    if not payload or len(payload.encode()) > MAX_PAYLOAD:
        return None
    kind, *fields = payload.split(":")
    if not fits(kind, tuple(fields)):
        return None
    return Press(kind, tuple(fields))


@lru_cache(maxsize=4096)  # keyboards are built on every step, mostly from the same buttons
def data(kind: str, *fields: object) -> str:
    """The payload of a button of ``kind``; ValueError if it is not a declared shape or too long.

    Signed when it is sent (:func:`sign_markup`), not here: the tag needs the recipient.
    """
    values = tuple(str(f) for f in fields)
    text = ":".join((kind, *values))
    if len(text.encode()) > MAX_PAYLOAD:
        raise ValueError(f"button data over {MAX_PAYLOAD} bytes: {text!r}")
    if not fits(kind, values):
        raise ValueError(f"button data {text!r} is not a shape declared in callbacks.KINDS")
    return text


class Signer:
    """Signs button data for one recipient and checks it when pressed."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a button-signing key needs at least 16 bytes")
        self._key = key
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)
        self._forms: Lru[int, tuple[InlineKeyboardMarkup, list | None]] = Lru(_FORMS_KEPT)

    def _tag(self, payload: str, user_id: int) -> str:
        # From a keyed copy: the key's pads are computed once, not for every button.
        mac = self._keyed.copy()
        mac.update(f"{user_id}\x00{payload}".encode())
        mac = mac.digest()
        return base64.urlsafe_b64encode(mac).decode()[:TAG_CHARS]

    def sign(self, payload: str, user_id: int) -> str:
        """``payload~tag``, for a button sent to ``user_id``."""
        return f"{payload}{SEP}{self._tag(payload, user_id)}"

    def open(self, signed: str | None, user_id: int) -> str | None:
        """The payload, if ``signed`` was signed by this key for ``user_id``; else None."""
        if not signed or len(signed.encode()) > MAX_BYTES:
            return None
        payload, sep, tag = signed.rpartition(SEP)
        if not sep or not hmac.compare_digest(tag, self._tag(payload, user_id)):
            return None
        return payload

    def markup(self, markup: Any, user_id: int) -> Any:
        """``markup`` with each callback button's data signed for ``user_id``.

        Only inline keyboards carry callback data; anything else is returned as it is. The
        keyboard objects handlers build are often shared (built once, cached), so they are not
        changed: a signed copy of their JSON form is sent instead. That form, less the data,
        is kept for the keyboards used last (a shared one is read once, not per message).
        """
        if not isinstance(markup, InlineKeyboardMarkup):
            return markup
        # Keyed by id, the keyboard kept beside its form: while its entry lives, no other
        # keyboard can have that id.
        kept = self._forms.get(id(markup))
        if kept is None:
            kept = (markup, _form(markup))
            self._forms.put(id(markup), kept)
        rows = kept[1]
        if rows is None:  # no callback button
            return markup
        return _Signed(inline_keyboard=[
            [form if payload is None else {**form, "callback_data": self.sign(payload, user_id)}
             for form, payload in row] for row in rows])


# Every field of a button besides its text and data; a button with none of them set is
# {"text", "callback_data"} in JSON. A field PTB adds later is read from its slots.
_OTHER_FIELDS = tuple(f for f in InlineKeyboardButton.__slots__
                      if f not in ("text", "callback_data"))
_FORMS_KEPT = 512  # keyboards whose JSON form is kept (the shared ones are a few hundred)


def _form(markup: InlineKeyboardMarkup) -> list | None:
    """Each button's JSON form without its data, and its data (None: not a callback
    button); None if no button has callback data."""
    rows = []
    signed = False
    for row in markup.inline_keyboard:
        out = []
        for button in row:
            payload = button.callback_data
            if payload is None:
                out.append((button.to_dict(), None))
                continue
            signed = True
            if not button.api_kwargs and all(getattr(button, f) is None
                                             for f in _OTHER_FIELDS):
                form = {"text": button.text}  # nearly all: PTB's to_dict costs ~20 µs
            else:
                form = button.to_dict()
                del form["callback_data"]
            out.append((form, payload))
        rows.append(out)
    return rows if signed else None


class _Signed(dict):
    """A keyboard already in its JSON form (signed for one recipient): sent as it is (PTB
    sends a dict parameter as JSON)."""

    def to_dict(self) -> dict:
        return dict(self)


def has_callbacks(markup: Any) -> bool:
    """Whether ``markup`` has a callback button (which must be signed before it is sent)."""
    if not isinstance(markup, InlineKeyboardMarkup) or isinstance(markup, _Signed):
        return False
    return any(b.callback_data is not None for row in markup.inline_keyboard for b in row)
