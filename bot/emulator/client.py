"""The user side of the emulator: act as Telegram users in tests (and in the sandbox page).

:class:`UserHandle` sends, edits, presses buttons and blocks the bot as one user in their
private chat; :class:`GroupHandle` and :class:`ChannelHandle` are a group's or a channel's
side, where several users (or the channel itself) write. All three read what the bot sent
the same way (:class:`ChatReader`). :class:`MessageView` is a small *live* view over a stored
message for assertions (after an edit, the same view shows the new text). Sending is a
synchronous enqueue (the bot receives it on its next ``getUpdates`` or webhook delivery);
waiting for the bot's answer is ``async``.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .core import FileRecord, StoredMessage, UserState, image_size
from .markup import entities_to_html
from .state import command_entities

if TYPE_CHECKING:
    from .core import CallbackRecord, ChatState, Emulator

__all__ = [
    "CallbackQueryRef",
    "ChannelHandle",
    "ChatReader",
    "GroupHandle",
    "MessageView",
    "UserHandle",
]


class MessageView:
    """A live view of one message in a chat (bot's or user's)."""

    def __init__(self, emulator: Emulator, record: StoredMessage) -> None:
        self._emu = emulator
        self.record = record

    # identity
    @property
    def message_id(self) -> int:
        """The message id within its chat."""
        return self.record.message_id

    @property
    def chat_id(self) -> int:
        """The chat the message is in."""
        return self.record.chat_id

    @property
    def from_bot(self) -> bool:
        """True for messages the bot sent."""
        return self.record.from_bot

    @property
    def raw(self) -> dict[str, Any]:
        """The Bot API Message dict in its current state."""
        return self.record.data

    @property
    def edited(self) -> bool:
        """True once the message was edited (by the bot, or by the user who wrote it)."""
        return self.record.edited

    @property
    def delivered(self) -> bool:
        """For a user's message: whether the bot was given it (in groups, privacy mode and
        membership decide)."""
        return self.record.update_id is not None

    @property
    def deleted(self) -> bool:
        """True once the message was deleted."""
        return self.record.deleted

    @property
    def versions(self) -> list[dict[str, Any]]:
        """Every state of the message, oldest first."""
        return self.record.versions

    # content
    @property
    def text(self) -> str | None:
        """Plain text, or the caption for media messages (markup already parsed away)."""
        return self.raw.get("text", self.raw.get("caption"))

    @property
    def entities(self) -> list[dict[str, Any]]:
        """Entities of the text (or of the caption)."""
        if "text" in self.raw:
            return self.raw.get("entities", [])
        return self.raw.get("caption_entities", [])

    @property
    def html(self) -> str | None:
        """Text re-rendered as HTML from its entities (escaped), handy for formatting checks."""
        text = self.text
        return None if text is None else entities_to_html(text, self.entities)

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        """The inline keyboard currently attached (None if none)."""
        return self.raw.get("reply_markup")

    @property
    def sent_markup(self) -> dict[str, Any] | None:
        """The reply_markup the bot passed when sending (any kind, e.g. a reply keyboard)."""
        return self.record.sent_markup

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """Current inline keyboard rows (lists of button dicts); [] if none."""
        markup = self.reply_markup or {}
        return markup.get("inline_keyboard", [])

    @property
    def button_texts(self) -> list[str]:
        """Texts of the current inline buttons, flattened row by row."""
        return [b.get("text", "") for row in self.buttons for b in row]

    def button(self, text_or_data: str) -> dict[str, Any]:
        """The current inline button whose text or callback_data is ``text_or_data``."""
        for row in self.buttons:
            for b in row:
                if b.get("text") == text_or_data or b.get("callback_data") == text_or_data:
                    return b
        raise LookupError(
            f"no inline button {text_or_data!r} in message {self.message_id}; "
            f"buttons: {self.button_texts}"
        )

    def _file(self, key: str) -> FileRecord | None:
        value = self.raw.get(key)
        if not value:
            return None
        if isinstance(value, list):  # photo: list of sizes, the last is the largest
            value = value[-1]
        return self._emu.files.get(value["file_id"])

    @property
    def photo(self) -> FileRecord | None:
        """The photo's file record (bytes via ``.file_bytes()``), if a photo message."""
        return self._file("photo")

    @property
    def document(self) -> FileRecord | None:
        """The document's file record, if a document message."""
        return self._file("document")

    @property
    def video(self) -> FileRecord | None:
        """The video's file record, if a video message."""
        return self._file("video")

    @property
    def voice(self) -> FileRecord | None:
        """The voice note's file record, if a voice message."""
        return self._file("voice")

    @property
    def media(self) -> FileRecord | None:
        """Whatever file the message carries (photo, document, video, voice, ...)."""
        for key in ("photo", "document", "video", "voice", "audio", "animation", "sticker"):
            rec = self._file(key)
            if rec is not None:
                return rec
        return None

    def file_bytes(self) -> bytes:
        """Bytes of the message's file; raises if it has none."""
        rec = self.media
        if rec is None:
            raise LookupError(f"message {self.message_id} has no file")
        return rec.data

    @property
    def location(self) -> dict[str, Any] | None:
        """The location dict ({"latitude", "longitude"}) if a location message."""
        return self.raw.get("location")

    @property
    def forward_origin(self) -> dict[str, Any] | None:
        """forward_origin if the message is a forward (copies have none)."""
        return self.raw.get("forward_origin")

    @property
    def media_group_id(self) -> str | None:
        """The album id shared by messages of one media group."""
        return self.raw.get("media_group_id")

    @property
    def pinned(self) -> bool:
        """True if this message is currently pinned in its chat."""
        return self.message_id in self._emu.chats[self.chat_id].pinned_ids

    def __repr__(self) -> str:
        flags = "".join(
            f" {name}" for name, on in (("edited", self.edited), ("deleted", self.deleted)) if on
        )
        kind = next(
            (
                k
                for k in ("photo", "document", "video", "voice", "location", "sticker")
                if k in self.raw
            ),
            "text",
        )
        who = "bot" if self.from_bot else "user"
        extra = f" buttons={self.button_texts}" if self.buttons else ""
        return f"<{who} message {self.message_id} {kind}{flags} {self.text!r}{extra}>"


@dataclass
class CallbackQueryRef:
    """A button press: the callback query id and what was pressed."""

    id: str
    data: str | None
    message_id: int
    user_id: int
    _emulator: Emulator

    @property
    def record(self) -> CallbackRecord:
        """The emulator's record (answered flag and answer)."""
        return self._emulator.callbacks[self.id]

    @property
    def answer(self) -> dict[str, Any] | None:
        """The answerCallbackQuery parameters ({text, show_alert, url, cache_time}) or None."""
        return self.record.answer


def _press(emu: Emulator, user: UserState, view: MessageView, button: str) -> CallbackQueryRef:
    """``user`` presses a callback button of the bot message ``view`` (in any chat)."""
    if view.deleted:
        raise LookupError(f"message {view.message_id} was deleted")
    found = view.button(button)
    if "callback_data" not in found:
        raise LookupError(f"button {button!r} is not a callback button: {found}")
    qid = emu.press_button(user, view.record, found)
    return CallbackQueryRef(
        id=qid,
        data=found["callback_data"],
        message_id=view.message_id,
        user_id=user.id,
        _emulator=emu,
    )


def text_content(text: str) -> dict[str, Any]:
    """A typed text as a Telegram client sends it (with a leading command's entity)."""
    if not text:
        raise ValueError("Telegram clients cannot send an empty message")
    content: dict[str, Any] = {"text": text}
    if entities := command_entities(text):
        content["entities"] = entities
    return content


class ChatReader:
    """What the bot sent to one chat, read as its members see it (base of the handles)."""

    def __init__(self, emulator: Emulator) -> None:
        self._emu = emulator
        self._cursor = 0  # index into the bot messages already returned by next_message
        self._versions_read: dict[int, int] = {}  # message id → versions seen (next_edit)

    @property
    def chat_id(self) -> int:
        """The chat's id."""
        raise NotImplementedError

    @property
    def chat(self) -> ChatState:
        """The emulator's chat state."""
        return self._emu.chats[self.chat_id]

    async def callback_answer(
        self, cq: CallbackQueryRef | str, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait for the bot's answerCallbackQuery to ``cq``; returns the answer parameters."""
        qid = cq.id if isinstance(cq, CallbackQueryRef) else cq
        record = self._emu.callbacks[qid]
        if not await self._emu.wait_until(lambda: record.answered, timeout):
            raise TimeoutError(
                f"callback query {qid} ({record.data!r}) was not answered within {timeout}s; "
                f"chat: {self._dump()}"
            )
        assert record.answer is not None
        return record.answer


    # ---------------------------------------------------------------- reading
    def _view(self, message: MessageView | int) -> MessageView:
        if isinstance(message, MessageView):
            return message
        return MessageView(self._emu, self.chat.messages[message])

    def _bot_records(self) -> list[StoredMessage]:
        chat = self.chat
        return [chat.messages[i] for i in chat.order if chat.messages[i].from_bot]

    def messages(self, include_deleted: bool = False) -> list[MessageView]:
        """All bot messages in this chat, current state, oldest first."""
        return [
            MessageView(self._emu, r)
            for r in self._bot_records()
            if include_deleted or not r.deleted
        ]

    def history(self) -> list[MessageView]:
        """Every message in the chat, both directions, including deleted ones."""
        chat = self.chat
        return [MessageView(self._emu, chat.messages[i]) for i in chat.order]

    def last_message(self) -> MessageView | None:
        """The latest (non-deleted) bot message, or None."""
        msgs = self.messages()
        return msgs[-1] if msgs else None

    @property
    def pinned(self) -> MessageView | None:
        """The currently pinned message (latest pin), or None."""
        mid = self.chat.pinned
        return None if mid is None else MessageView(self._emu, self.chat.messages[mid])

    def unread(self) -> int:
        """Bot messages not yet returned by :meth:`next_message`."""
        return len(self._bot_records()) - self._cursor

    async def next_message(self, timeout: float = 5.0) -> MessageView:
        """The next bot message in this chat not yet returned here (waits up to ``timeout``)."""
        if not await self._emu.wait_until(lambda: self.unread() > 0, timeout):
            raise TimeoutError(
                f"no new bot message for {self!r} within {timeout}s; chat so far: {self._dump()}"
                f"; last calls: {self._recent_calls()}"
            )
        record = self._bot_records()[self._cursor]
        self._cursor += 1
        self._versions_read[record.message_id] = len(record.versions)
        return MessageView(self._emu, record)

    async def next_edit(self, message: MessageView, timeout: float = 5.0) -> MessageView:
        """``message`` once the bot has edited it again since it was last read here.

        For flows that answer a button by replacing the pressed message (the next
        step shown in place) instead of sending a new one.
        """
        record = message.record
        seen = self._versions_read.get(record.message_id, 1)
        if not await self._emu.wait_until(lambda: len(record.versions) > seen, timeout):
            raise TimeoutError(
                f"message {record.message_id} was not edited within {timeout}s; chat so far: "
                f"{self._dump()}; last calls: {self._recent_calls()}"
            )
        self._versions_read[record.message_id] = len(record.versions)
        return message

    async def messages_until_quiet(
        self, quiet: float = 0.3, timeout: float = 10.0
    ) -> list[MessageView]:
        """Collect new bot messages until none arrives for ``quiet`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        out: list[MessageView] = []
        while loop.time() < deadline:
            try:
                out.append(await self.next_message(timeout=quiet))
            except TimeoutError:
                break
        return out

    def skip_messages(self) -> None:
        """Mark every bot message so far as read for :meth:`next_message`."""
        self._cursor = len(self._bot_records())

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (e.g. ``lambda: msg.edited``); TimeoutError if not."""
        if not await self._emu.wait_until(predicate, timeout):
            raise TimeoutError(f"condition not met within {timeout}s; chat: {self._dump()}")

    def _dump(self) -> str:
        lines = [repr(m) for m in self.history()[-10:]]
        return "[" + "; ".join(lines) + "]" if lines else "[no messages]"

    def _recent_calls(self) -> str:
        calls = [
            f"{c.method}->{'ok' if c.ok else c.description}"
            for c in self._emu.call_log[-8:]
            if c.method.lower() != "getupdates"
        ]
        return json.dumps(calls, ensure_ascii=False)


class UserHandle(ChatReader):
    """One Telegram user talking to the bot in a private chat."""

    def __init__(self, emulator: Emulator, state: UserState) -> None:
        super().__init__(emulator)
        self.state = state

    # identity
    @property
    def id(self) -> int:
        """User id (also the private chat id)."""
        return self.state.id

    @property
    def chat_id(self) -> int:
        """The private chat id (equal to the user id, as in Telegram)."""
        return self.state.id

    @property
    def label(self) -> str:
        """Human label for the sandbox (defaults to the full name)."""
        return self.state.label or self.full_name

    @property
    def full_name(self) -> str:
        """First and last name."""
        return " ".join(x for x in (self.state.first_name, self.state.last_name) if x)

    def __repr__(self) -> str:
        return f"<UserHandle {self.id} {self.label!r}>"

    # ---------------------------------------------------------------- sending
    def _send(self, content: dict[str, Any], reply_to: MessageView | None = None) -> MessageView:
        record = self._emu.user_message(
            self.state, content, reply_to.record if reply_to is not None else None
        )
        return MessageView(self._emu, record)

    def send(self, text: str, *, reply_to: MessageView | None = None) -> MessageView:
        """Send a text message; a leading ``/command`` gets its bot_command entity."""
        return self._send(text_content(text), reply_to)

    def edit(
        self, message: MessageView | int, text: str | None = None, *, caption: str | None = None
    ) -> MessageView:
        """Edit one of this user's messages: its ``text``, or the ``caption`` of a photo,
        document, video... ("" removes it). The bot gets ``edited_message``."""
        view = self._view(message)
        if view.from_bot or view.chat_id != self.id:
            raise ValueError(f"{self!r} can only edit its own messages, not {view!r}")
        self._emu.user_edit(view.record, text=text, caption=caption)
        return view

    def send_location(self, latitude: float, longitude: float) -> MessageView:
        """Share a location."""
        return self._send({"location": {"latitude": latitude, "longitude": longitude}})

    def send_contact(self, phone_number: str | None = None) -> MessageView:
        """Share a contact (the user's own by default, as a request_contact button does)."""
        contact = {
            "phone_number": phone_number or self.state.phone_number or f"+849{self.id:08d}"[-12:],
            "first_name": self.state.first_name,
            "user_id": self.id,
        }
        if self.state.last_name:
            contact["last_name"] = self.state.last_name
        return self._send({"contact": contact})

    def send_photo(
        self,
        data: bytes,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> MessageView:
        """Send a photo (bytes of an image); ``media_group_id`` groups several into an album."""
        width, height = image_size(data) or (0, 0)
        rec = self._emu.store_file(data, "photo", width=width, height=height)
        content: dict[str, Any] = {"photo": self._emu.media_dict(rec)}
        return self._send(self._with(content, caption, media_group_id))

    def send_document(
        self,
        data: bytes,
        filename: str = "file.bin",
        mime_type: str | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> MessageView:
        """Send a file as a document."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        rec = self._emu.store_file(data, "document", mime_type=mime, file_name=filename)
        content: dict[str, Any] = {"document": self._emu.media_dict(rec)}
        return self._send(self._with(content, caption, media_group_id))

    def send_video(
        self,
        data: bytes = b"\x00\x00\x00\x18ftypmp42",
        caption: str | None = None,
        duration: int = 3,
        media_group_id: str | None = None,
    ) -> MessageView:
        """Send a video (content is not inspected)."""
        rec = self._emu.store_file(
            data, "video", mime_type="video/mp4", file_name="video.mp4", duration=duration
        )
        content: dict[str, Any] = {"video": self._emu.media_dict(rec)}
        return self._send(self._with(content, caption, media_group_id))

    def send_video_note(self, data: bytes = b"\x00\x00\x00\x18ftypmp42",
                        duration: int = 5) -> MessageView:
        """Send a round video message (no caption: Telegram allows none)."""
        rec = self._emu.store_file(data, "video_note", mime_type="video/mp4", duration=duration)
        return self._send({"video_note": self._emu.media_dict(rec)})

    def send_audio(self, data: bytes = b"ID3\x03audio", filename: str = "ghi_am.mp3",
                   caption: str | None = None, duration: int = 30) -> MessageView:
        """Send an audio file (a recording shared as music, not a voice note)."""
        rec = self._emu.store_file(data, "audio", mime_type="audio/mpeg", file_name=filename,
                                   duration=duration)
        return self._send(self._with({"audio": self._emu.media_dict(rec)}, caption, None))

    def send_voice(self, data: bytes = b"OggS\x00voice", duration: int = 2) -> MessageView:
        """Send a voice note (content is not inspected)."""
        rec = self._emu.store_file(data, "voice", mime_type="audio/ogg", duration=duration)
        return self._send({"voice": self._emu.media_dict(rec)})

    def send_sticker(self) -> MessageView:
        """Send a sticker — useful to test how the bot handles unexpected input."""
        rec = self._emu.store_file(b"RIFF\x00\x00\x00\x00WEBP", "sticker", mime_type="image/webp")
        return self._send({"sticker": self._emu.media_dict(rec)})

    @staticmethod
    def _with(
        content: dict[str, Any], caption: str | None, media_group_id: str | None
    ) -> dict[str, Any]:
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id
        return content

    # ---------------------------------------------------------------- keyboards
    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        """The ReplyKeyboardMarkup the bot last set in this chat (None once removed)."""
        return self.chat.reply_keyboard

    @property
    def reply_keyboard_texts(self) -> list[str]:
        """Texts of the current reply-keyboard buttons, flattened."""
        kb = self.reply_keyboard or {}
        return [b.get("text", "") for row in kb.get("keyboard", []) for b in row]

    def reply_keyboard_press(
        self,
        text: str,
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> MessageView:
        """Press a reply-keyboard button: sends its text, or a location/contact if it asks."""
        kb = self.reply_keyboard
        if kb is None:
            raise LookupError(f"{self!r} has no reply keyboard; bot messages: {self._dump()}")
        for row in kb.get("keyboard", []):
            for button in row:
                if button.get("text") != text:
                    continue
                if button.get("request_location"):
                    if latitude is None or longitude is None:
                        raise ValueError("this button shares a location: pass latitude/longitude")
                    return self.send_location(latitude, longitude)
                if button.get("request_contact"):
                    return self.send_contact()
                return self.send(text)
        raise LookupError(f"no reply keyboard button {text!r}; have {self.reply_keyboard_texts}")

    def press(self, message: MessageView | int, button: str) -> CallbackQueryRef:
        """Press an inline callback button (by text or callback_data) in a bot message."""
        return _press(self._emu, self.state, self._view(message), button)

    def press_forged(self, message: MessageView | int, data: str) -> CallbackQueryRef:
        """Press a bot message with any ``callback_data``, as a modified client can: Telegram
        hands the bot whatever data the client sends, button or not."""
        view = self._view(message)
        qid = self._emu.press_button(self.state, view.record, {"callback_data": data})
        return CallbackQueryRef(id=qid, data=data, message_id=view.message_id,
                                user_id=self.state.id, _emulator=self._emu)

    # ---------------------------------------------------------------- blocking
    def block(self) -> None:
        """Block the bot (its sends to this user now fail with 403)."""
        self._emu.set_blocked(self.state, True)

    def unblock(self) -> None:
        """Unblock the bot."""
        self._emu.set_blocked(self.state, False)

    @property
    def blocked(self) -> bool:
        """Whether the user currently blocks the bot."""
        return self.state.blocked


class _SharedChat(ChatReader):
    """A group's or a channel's side: the bot's membership, and button presses by users."""

    kind = "chat"

    def __init__(self, emulator: Emulator, chat_id: int) -> None:
        super().__init__(emulator)
        self._chat_id = chat_id

    @property
    def id(self) -> int:
        """The chat id (negative)."""
        return self._chat_id

    @property
    def chat_id(self) -> int:
        """The chat id (negative)."""
        return self._chat_id

    @property
    def title(self) -> str:
        """The chat's title."""
        return self.chat.title or ""

    @property
    def type(self) -> str:
        """"group", "supergroup" or "channel"."""
        return self.chat.type

    @property
    def bot_status(self) -> str:
        """The bot's status here: "member", "administrator", "left" or "kicked"."""
        return self.chat.bot_status or "left"

    @property
    def bot_present(self) -> bool:
        """Whether the bot is (still) in this chat."""
        return self.chat.bot_present

    def remove_bot(self, by: UserHandle) -> None:
        """``by`` removes the bot (it gets ``my_chat_member``: "left" in a basic group,
        "kicked" in a supergroup or channel)."""
        self._emu.remove_bot_from(self.chat, by.state)

    def press(self, user: UserHandle, message: MessageView | int, button: str) -> CallbackQueryRef:
        """``user`` presses an inline callback button of a bot message here; the callback
        query's message is in this chat."""
        return _press(self._emu, user.state, self._view(message), button)

    def _check_author(self, user: UserHandle | None, view: MessageView) -> None:
        author = view.raw.get("from", {}).get("id")
        if view.from_bot or view.chat_id != self.chat_id or author != (user and user.id):
            who = user if user is not None else "the channel"
            raise ValueError(f"{who!r} can only edit its own messages in {self!r}, not {view!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.chat_id} {self.title!r} bot={self.bot_status}>"


class GroupHandle(_SharedChat):
    """A group or supergroup: users write in it, the bot answers there (``emu.group(...)``).

    What users write is stored whatever happens; the bot is given it only if it is in the
    group and, in privacy mode, only commands, mentions, replies to it and service messages
    (``MessageView.delivered`` tells).
    """

    def add_bot(
        self, by: UserHandle, *, status: str = "member", service_message: bool = True
    ) -> None:
        """``by`` adds the bot (``status`` "member" or "administrator"): it gets
        ``my_chat_member``, then the ``new_chat_members`` service message."""
        self._emu.add_bot_to(self.chat, by.state, status, service_message)

    def send(
        self, user: UserHandle, text: str, *, reply_to: MessageView | None = None
    ) -> MessageView:
        """``user`` writes ``text`` here (a leading ``/command`` gets its entity, as
        :meth:`UserHandle.send`)."""
        return self._send(user, text_content(text), reply_to)

    def send_photo(
        self, user: UserHandle, data: bytes, caption: str | None = None
    ) -> MessageView:
        """``user`` posts a photo (bytes of an image) here."""
        width, height = image_size(data) or (0, 0)
        rec = self._emu.store_file(data, "photo", width=width, height=height)
        content: dict[str, Any] = {"photo": self._emu.media_dict(rec)}
        if caption:
            content["caption"] = caption
        return self._send(user, content, None)

    def edit(
        self,
        user: UserHandle,
        message: MessageView | int,
        text: str | None = None,
        *,
        caption: str | None = None,
    ) -> MessageView:
        """``user`` edits one of their messages here; the bot gets ``edited_message`` if it
        would have been given the message so edited."""
        view = self._view(message)
        self._check_author(user, view)
        self._emu.user_edit(view.record, text=text, caption=caption)
        return view

    def _send(
        self, user: UserHandle, content: dict[str, Any], reply_to: MessageView | None
    ) -> MessageView:
        record = self._emu.member_message(
            self.chat, user.state, content, reply_to.record if reply_to is not None else None
        )
        return MessageView(self._emu, record)


class ChannelHandle(_SharedChat):
    """A channel: it publishes posts (signed by the channel, no ``from``); the bot, one of its
    administrators, gets each as ``channel_post`` and may post too (``emu.channel(...)``)."""

    def add_bot(self, by: UserHandle) -> None:
        """``by`` (the channel's owner) makes the bot an administrator: ``my_chat_member``."""
        self._emu.add_bot_to(self.chat, by.state, "administrator", service_message=False)

    def post(self, text: str) -> MessageView:
        """Publish a text post."""
        return MessageView(self._emu, self._emu.channel_post(self.chat, text_content(text)))

    def edit(
        self, message: MessageView | int, text: str | None = None, *, caption: str | None = None
    ) -> MessageView:
        """Edit one of the channel's posts; the bot gets ``edited_channel_post``."""
        view = self._view(message)
        self._check_author(None, view)
        self._emu.user_edit(view.record, text=text, caption=caption)
        return view
