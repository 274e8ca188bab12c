"""The emulator's data model: what a Telegram server keeps for one bot, as plain dataclasses.

Users, chats (private, group, supergroup, channel), messages with their versions, files,
callback queries, the bot account with its update queue, and the record of every API call.
:mod:`bot.emulator.core` gives them their Bot API semantics; nothing here does I/O.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .faults import Fault

__all__ = [
    "DEFAULT_ALLOWED_UPDATES",
    "LEADING_COMMAND_RE",
    "ApiError",
    "BotState",
    "CallRecord",
    "CallbackRecord",
    "ChatState",
    "FileRecord",
    "StoredMessage",
    "Upload",
    "UserState",
    "bad_request",
    "command_entities",
]

# A command at the start of a text, as Telegram clients mark it with a bot_command entity.
LEADING_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[dict[str, Any]]:
    """The entities a Telegram client gives a typed text: a bot_command for a leading command."""
    match = LEADING_COMMAND_RE.match(text)
    return [{"type": "bot_command", "offset": 0, "length": match.end()}] if match else []

DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class ApiError(Exception):
    """A Bot API error answer: HTTP status ``code`` with Telegram's ``description``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram would send."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 with the "Bad Request: " prefix Telegram uses."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class Upload:
    """A file part received in a multipart request."""

    filename: str
    content_type: str
    body: bytes


@dataclass
class FileRecord:
    """A file held by the emulator (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    data: bytes
    kind: str  # photo, document, video, voice, audio, animation, sticker
    mime_type: str | None = None
    file_name: str | None = None
    file_path: str = ""
    width: int = 0
    height: int = 0
    duration: int = 0

    @property
    def size(self) -> int:
        """File size in bytes."""
        return len(self.data)

    def file_bytes(self) -> bytes:
        """The file's content."""
        return self.data


@dataclass
class CallRecord:
    """One Bot API call as the emulator received and answered it.

    ``ok`` and ``result`` say whether the method was carried out: a message delivered and then
    answered with an injected error (a fault with ``after``) is ``ok``. ``error_code`` and
    ``description`` are the error the client was answered with, ``status`` the HTTP status it
    got (None while running, and when no answer reached it: a dropped connection, or a client
    that hung up first). ``processed`` is False for calls a fault refused before running them.
    """

    method: str
    params: dict[str, Any]
    ok: bool
    error_code: int | None
    description: str | None
    timestamp: float
    result: Any = None
    files: list[str] = field(default_factory=list)
    fault: Fault | None = None  # the injected fault that affected this call
    processed: bool = False
    status: int | None = None
    done: bool = False  # the emulator is finished with the call (answered or abandoned)


@dataclass
class StoredMessage:
    """A message in a chat; ``data`` is the Bot API Message dict in its current state."""

    chat_id: int
    message_id: int
    from_bot: bool
    data: dict[str, Any]
    deleted: bool = False
    edited: bool = False
    # Every state the message had, oldest first (the first one is the original).
    versions: list[dict[str, Any]] = field(default_factory=list)
    # The full reply_markup given when sending (reply keyboards and force_reply are not part
    # of the Message object, but tests want to see what the bot asked for).
    sent_markup: dict[str, Any] | None = None
    # The update that carried the message to the bot; None when the bot never got it (privacy
    # mode in groups, a chat the bot is not in, or updates it opted out of), and for its own.
    update_id: int | None = None


@dataclass
class CallbackRecord:
    """A callback query a user made by pressing an inline button, and its answer."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class UserState:
    """A Telegram user as the emulator knows them."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    label: str | None = None
    phone_number: str | None = None
    started: bool = False  # has ever written to the bot
    blocked: bool = False

    def as_user(self) -> dict[str, Any]:
        """The Bot API User dict."""
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d


@dataclass
class ChatState:
    """A chat: private (with one user), group, supergroup or channel — messages, pins, the
    reply keyboard, and in the shared kinds the bot's membership."""

    id: int
    type: str
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    title: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    next_message_id: int = 1
    pinned_ids: list[int] = field(default_factory=list)
    reply_keyboard: dict[str, Any] | None = None
    last_action: str | None = None
    menu_button: dict[str, Any] | None = None
    # The bot's ChatMember status in a group or channel: "member", "administrator", "left" or
    # "kicked". None in private chats, where blocking is the user's side (UserState.blocked).
    bot_status: str | None = None

    @property
    def shared(self) -> bool:
        """True for groups, supergroups and channels (chats that are not one user's)."""
        return self.type != "private"

    @property
    def bot_present(self) -> bool:
        """Whether the bot is in this group or channel (always True for private chats)."""
        return not self.shared or self.bot_status in ("member", "administrator")

    def as_chat(self) -> dict[str, Any]:
        """The Bot API Chat dict."""
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "last_name", "username"):
            value = getattr(self, key)
            if value:
                d[key] = value
        return d

    @property
    def pinned(self) -> int | None:
        """The most recently pinned message id, if any."""
        return self.pinned_ids[-1] if self.pinned_ids else None


@dataclass
class BotState:
    """The bot account: identity, update queue and webhook."""

    token: str
    id: int
    username: str
    first_name: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    # Every update id ever queued, for tests that wait until the bot has handled them all.
    produced: list[int] = field(default_factory=list)
    allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_max_connections: int = 40
    webhook_last_error_date: int | None = None
    webhook_last_error_message: str | None = None
    webhook_task: asyncio.Task[None] | None = None
    poll_generation: int = 0
    long_polls: int = 0  # getUpdates calls waiting now for an update (their timeout running)
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    default_menu_button: dict[str, Any] = field(default_factory=lambda: {"type": "commands"})
    closed: bool = False
    # BotFather's /setprivacy, on by default: in groups the bot gets commands, mentions,
    # replies to it and service messages, unless it is an administrator.
    privacy_mode: bool = True

    def as_user(self) -> dict[str, Any]:
        """The Bot API User dict of the bot."""
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }
