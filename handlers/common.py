"""Pieces every handler uses: who is writing, in which language, and the answer being built.

A handler gets a :class:`Turn`: one update as the bot handles it — who sent it, what they
sent, the command's arguments or the button's data — and collects what the bot says back
(:meth:`Turn.say`, :meth:`Turn.show`, :meth:`Turn.answer`). Nothing is sent while the handler
runs: the router first writes what the update changed (a flow's draft and step) and only then
sends the answer (:meth:`Turn.flush`), so whatever the person sees is already on disk. A
reply that cannot be sent because Telegram or the network failed (not because the person
blocked the bot) is handed to the outbox, which keeps trying.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import unicodedata
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from handlers.callbacks import Press
from handlers.services import Services
from locales import formats, t
from storage.models import Role, Unit, User
from storage.outbox import now_item

log = logging.getLogger(__name__)

# Telegram's limit is 4,096 characters of text (after entities are parsed); HTML tags do not
# count, but we keep every message under the limit as written, tags included, with room for a
# header line added later.
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH - 96


@dataclass(frozen=True)
class Who:
    """The user behind an update, their role and language."""

    user: User
    role: Role
    locale: str
    is_admin: bool

    def tr(self, key: str, /, **values: object) -> str:
        """A text in this user's language."""
        return t(self.locale, key, **values)

    @property
    def staff(self) -> bool:
        """Coordinators and admins."""
        return self.role in (Role.COORDINATOR, Role.ADMIN)


def who_of(user: User, svc: Services, tg_id: int) -> Who:
    """The :class:`Who` of a stored user."""
    is_admin = tg_id in svc.admins
    return Who(user, user.role(is_admin=is_admin), user.locale or svc.default_locale, is_admin)


class _SerialisedOnce:
    """A Telegram object that is never changed, so its JSON form is computed once.

    PTB turns every reply_markup into a dict on every call; for a keyboard that
    is sent thousands of times a day (a step of the tip flow, a menu) that was a
    fifth of the time spent on an update. The cached dict is only read (json.dumps).
    """

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict:
        cached = getattr(self, "_as_dict", None)
        if cached is None:
            cached = super().to_dict(recursive)  # type: ignore[misc]
            object.__setattr__(self, "_as_dict", cached)  # PTB objects are frozen
        return cached


class Keyboard(_SerialisedOnce, InlineKeyboardMarkup):
    """An inline keyboard serialised once; build shared ones once (``functools.cache``)."""

    __slots__ = ("_as_dict",)


class _NoPreview(_SerialisedOnce, LinkPreviewOptions):
    __slots__ = ("_as_dict",)


NO_PREVIEW = _NoPreview(is_disabled=True)


# ---------------------------------------------------------------------- the turn


@dataclass
class _Out:
    """One thing to send back, in order."""

    kind: str  # "message", "show", "markup", "drop_keyboard", "photo", "document"
    text: str = ""
    markup: Any = None
    data: bytes | None = None
    filename: str | None = None


@dataclass
class Turn:
    """One update as a handler sees it, and the answer being collected (see module docstring).

    ``args``: the words after a command. ``press``: the parsed data of a pressed button.
    ``kind``: the user's active flow (the router keeps it current).
    """

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    svc: Services
    me: Who
    args: list[str] = field(default_factory=list)
    press: Press | None = None
    kind: str | None = None
    state: Any = None  # the flow being run (handlers.flows.State), while the engine runs it
    # False when the pressed message is not the one to change (an old step's button: the
    # current step comes as a new message, below).
    in_place_ok: bool = True
    entered: bool = False  # a flow was entered (or taken up again) while handling this
    _out: list[_Out] = field(default_factory=list)
    _answer: tuple[str | None, bool] | None = None

    # ---------------------------------------------------------------- what came in

    @property
    def tg_id(self) -> int:
        """The Telegram id of the person (also their private chat's id)."""
        assert self.update.effective_user is not None
        return self.update.effective_user.id

    @property
    def chat_id(self) -> int:
        """The private chat the update came from."""
        assert self.update.effective_chat is not None
        return self.update.effective_chat.id

    @property
    def message(self):  # -> telegram.Message | None
        """The person's message (None for a button press)."""
        return self.update.message

    @property
    def query(self):  # -> telegram.CallbackQuery | None
        """The button press, if this update is one."""
        return self.update.callback_query

    @property
    def text(self) -> str:
        """What the person typed (or the caption), trimmed, never None."""
        message = self.update.message
        if message is None:
            return ""
        return clean(message.text or message.caption or "")

    def tr(self, key: str, /, **values: object) -> str:
        """A text in this user's language."""
        return self.me.tr(key, **values)

    def number(self, value: int) -> str:
        """A number in this user's format."""
        return formats.number(value, self.me.locale)

    # ---------------------------------------------------------------- what goes out

    def say(self, text: str, markup: Any = None) -> None:
        """A new message in this chat (HTML)."""
        self._out.append(_Out("message", text, markup))

    def show(self, text: str, markup: Any = None, *, in_place: bool = True) -> None:
        """Answer a button in place of the pressed message, or with a new message.

        A reply keyboard cannot be put on an edited message, and an edit can fail (the
        message is too old): then the pressed message loses its buttons and the answer
        comes as a new message. The menu stays as it is: what it opens comes below it.
        """
        from_menu = self.press is not None and self.press.kind == "menu"
        shown = any(o.kind == "show" for o in self._out)  # the pressed message became that
        if self.query is None or self.query.message is None or not in_place or from_menu \
                or shown or not self.in_place_ok \
                or isinstance(markup, ReplyKeyboardMarkup | ReplyKeyboardRemove):
            if self.query is not None and self.query.message is not None and not from_menu \
                    and not shown:
                self.drop_keyboard()
            self.say(text, markup)
            return
        self._out.append(_Out("show", text, markup))

    def swap_keyboard(self, markup: Any) -> None:
        """Change only the buttons of the pressed message."""
        if self.query is not None and self.query.message is not None:
            self._out.append(_Out("markup", markup=markup))

    def drop_keyboard(self) -> None:
        """Take the buttons off the pressed message (it has been answered)."""
        if self.query is not None and self.query.message is not None:
            self._out.append(_Out("drop_keyboard"))

    def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """The answer to the pressed button (a toast, or an alert); the first one counts."""
        if self._answer is None:
            self._answer = (cut_utf16(text, ANSWER_LIMIT) if text else None, alert)

    def photo(self, data: bytes, filename: str, caption: str | None = None) -> None:
        """A picture."""
        self._out.append(_Out("photo", caption or "", data=data, filename=filename))

    def document(self, data: bytes, filename: str, caption: str | None = None) -> None:
        """A file."""
        self._out.append(_Out("document", caption or "", data=data, filename=filename))

    async def flush(self) -> None:
        """Send what was collected, in order: the button's answer first."""
        query = self.query
        if query is not None:
            text, alert = self._answer or (None, False)
            try:
                await query.answer(text, show_alert=alert)
            except TelegramError as exc:  # too old, or already answered: nothing to mend
                log.debug("callback query not answered: %s", exc)
        out, self._out = self._out, []
        for index, item in enumerate(out):
            await self._send(item, index)

    async def _send(self, item: _Out, index: int) -> None:
        bot = self.context.bot
        chat = self.chat_id
        markup = self.svc.buttons.markup(item.markup, self.tg_id)  # signed for this person
        try:
            if item.kind == "show":
                try:
                    await post(bot, "editMessageText", _pressed(self.query), text=item.text,
                               reply_markup=markup)
                except BadRequest as exc:
                    if "not modified" in exc.message.lower():
                        return
                    log.debug("could not edit a step in place: %s", exc)
                    await self._drop(self.query.message)
                    await post(bot, "sendMessage", {"chat_id": chat}, text=item.text,
                               reply_markup=markup)
            elif item.kind == "drop_keyboard":
                await self._drop(self.query.message)
            elif item.kind == "markup":
                try:
                    await post(bot, "editMessageReplyMarkup", _pressed(self.query),
                               reply_markup=markup)
                except BadRequest as exc:  # unchanged, or too old: the buttons stay
                    log.debug("keyboard not swapped: %s", exc)
            elif item.kind == "message":
                await post(bot, "sendMessage", {"chat_id": chat}, text=item.text,
                           reply_markup=markup)
            elif item.kind == "photo":
                await bot.send_photo(chat, InputFile(item.data, filename=item.filename),
                                     caption=item.text or None)
            else:
                await bot.send_document(chat, InputFile(item.data, filename=item.filename),
                                        caption=item.text or None)
        except Forbidden:
            log.info("a user blocked the bot while being answered")
            await self.svc.users.set_active(self.tg_id, False)
        except BadRequest:
            raise  # our mistake (a malformed message): the error handler says so
        except TelegramError as exc:  # 5xx, timeouts, dropped connections
            if item.kind == "drop_keyboard" or item.kind == "markup":
                log.debug("buttons not changed: %s", exc)
                return
            # The person is owed this answer (an invitation's link, a workbook): the outbox
            # keeps trying, from the file's bytes if it is one.
            log.info("a reply could not be sent (%s); the outbox takes it", exc)
            # Unsigned: the outbox sender signs what it sends.
            payload: dict = {"text": item.text, "markup": _markup_dict(item.markup)}
            if item.data is not None:
                payload.update(file=base64.b64encode(item.data).decode(), kind=item.kind,
                               filename=item.filename)
            await self.svc.outbox.enqueue([now_item(
                "reply", f"chat:{self.me.user.id}", self.me.user.id, payload,
                seq=f"{self.update.update_id}:{index}", sealed=True)], self.svc.now())

    async def _drop(self, message) -> None:
        if message is None:
            return
        try:
            await post(self.context.bot, "editMessageReplyMarkup",
                       {"chat_id": message.chat.id, "message_id": message.message_id})
        except TelegramError as exc:  # already edited, or too old to edit: harmless
            log.debug("could not remove a keyboard: %s", exc)


# The fields PTB's Defaults (bot.app) add to every message: sent explicitly by post().
_TEXT_DEFAULTS = {"parse_mode": ParseMode.HTML, "link_preview_options": {"is_disabled": True}}


async def post(bot: Any, method: str, where: dict, *, text: str | None = None,
               reply_markup: Any = None) -> None:
    """Send or edit a text message and drop Telegram's reply unread.

    ``bot.send_message`` and its kin turn each reply into a ``Message`` (its chat, its
    sender, its keyboard rebuilt as objects): about a fifth of the time an update takes
    here (tests/bench/bench_updates.py, profiled), for an answer no handler reads. This is
    the call under all of them (``Bot._post``: the same rate limiter, timeouts and errors),
    without that reading. ``where``: ``chat_id``, and ``message_id`` for an edit.
    """
    data = dict(where)
    if text is not None:
        data.update(_TEXT_DEFAULTS, text=text)
    if reply_markup is not None:
        data["reply_markup"] = reply_markup
    await bot._post(method, data)  # PTB's own path under send_message (private)


def _pressed(query: Any) -> dict:
    """Where the pressed button's message is, for an edit."""
    message = query.message
    if message is None:  # a button under an inline message (the bot sends none)
        return {"inline_message_id": query.inline_message_id}
    return {"chat_id": message.chat.id, "message_id": message.message_id}


def _markup_dict(markup: Any) -> dict | None:
    return markup.to_dict() if markup is not None else None


# ---------------------------------------------------------------------- small helpers


def person_name(tg_user: Any) -> str:
    """A person's name as Vietnamese write it, family name first ("Nguyễn Thị Lan" from
    first name "Lan", last name "Nguyễn Thị"), the one order the bot shows everywhere."""
    return " ".join(part for part in (tg_user.last_name, tg_user.first_name) if part)


ANSWER_LIMIT = 200  # what Telegram shows of a press's answer, counted in UTF-16 units


def cut_utf16(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 code units, as Telegram counts (an emoji is two),
    without splitting a character."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return text[:i]
    return text


# Characters that show nothing: zero-width spaces and joiners, direction marks, the BOM,
# soft hyphens, variation selectors. Text made only of these is empty.
_INVISIBLE = frozenset("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d"
                       "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063"
                       "\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f"
                       "\u3164\ufeff\uffa0")


def clean(text: str) -> str:
    """Text as typed, trimmed; empty if nothing in it would show."""
    text = text.strip()
    if not text:
        return ""
    visible = any(ch not in _INVISIBLE and not ch.isspace()
                  and unicodedata.category(ch) not in ("Cf", "Mn", "Cc")
                  for ch in text)
    return text if visible else ""


def button(text: str, data: str) -> InlineKeyboardButton:
    """An inline button; callback data must fit Telegram's 64 bytes."""
    assert len(data.encode()) <= 64, data
    return InlineKeyboardButton(text[:64], callback_data=data)


def pager(page: int, pages: int, data: Callable[[int], str]) -> list[InlineKeyboardButton]:
    """◀ 2/5 ▶ under a paged list (empty when one page is enough)."""
    if pages <= 1:
        return []
    row = [button("◀", data(page - 1))] if page > 0 else []
    row.append(button(f"{page + 1}/{pages}", data(page)))
    if page < pages - 1:
        row.append(button("▶", data(page + 1)))
    return row


def step_header(who_: Who, step: int, total: int, title: str) -> str:
    """'Bước 2/3 — title' for multi-step flows."""
    return who_.tr("flow.step", step=step, total=total) + " — " + title


def fit(lines: list[str], more: Callable[[int], str], *, budget: int = MAX_TEXT) -> str:
    """Lines within one message; what does not fit is counted (``more(n)``: "… and n more
    lines"), never dropped silently. A first line too long for the message is cut."""
    if sum(len(line) + 1 for line in lines) <= budget:
        return "\n".join(lines)
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        tail = more(len(lines) - i)  # what is said if this line is left out
        if used + len(line) + 1 + len(tail) + 1 > budget:
            if not out:  # one enormous line: cut it
                out.append(cut(line, budget - len(tail) - 2))
                if i + 1 < len(lines):
                    out.append(more(len(lines) - i - 1))
                return "\n".join(out)
            out.append(tail)
            return "\n".join(out)
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def paginate(lines: list[str], *, budget: int = MAX_TEXT) -> list[list[str]]:
    """Lines in pages, each of which fits one message (a line too long is cut)."""
    pages: list[list[str]] = [[]]
    used = 0
    for line in lines:
        line = cut(line, budget)
        if pages[-1] and used + len(line) + 1 > budget:
            pages.append([])
            used = 0
        pages[-1].append(line)
        used += len(line) + 1
    return pages


def escaped_chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` HTML-escaped, in pieces of at most ``limit`` characters each."""
    import html

    pieces, current, used = [], [], 0
    for ch in text:
        escaped = html.escape(ch)
        if used + len(escaped) > limit:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(escaped)
        used += len(escaped)
    if current:
        pieces.append("".join(current))
    return pieces


def cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters as Telegram counts them (UTF-16 code units: an
    emoji is two), ending with '…' when cut."""
    if units(text) <= limit:
        return text
    return cut_utf16(text, max(limit - 1, 0)).rstrip() + "…"


def units(text: str) -> int:
    """How long Telegram counts ``text``: UTF-16 code units (an emoji is two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


async def scope(svc: Services, who_: Who) -> list[Unit]:
    """The units whose subtrees the user coordinates; every root for the settings' admins."""
    tree = await svc.units.tree()
    if who_.is_admin:
        return list(tree.children.get(None, []))
    ids = who_.user.units_for(Role.COORDINATOR, Role.ADMIN)
    return [tree.by_id[i] for i in ids if i in tree.by_id]


class KeyedLocks:
    """One asyncio lock per key (a chat, a tip), kept only while someone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the key's lock; whoever asked first goes first."""
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
