"""The Bot API emulator's semantics, independent of HTTP.

:class:`Emulator` keeps everything a Telegram server would keep for one bot — users, private
chats, groups and channels (:mod:`bot.emulator.groups`), messages (both directions, with edits
and deletions), files, pending updates, webhook settings, commands; the data model is in
:mod:`bot.emulator.state` — and implements the Bot API methods the product uses with
Telegram's response shapes, limits and error wording, or with the failures a test arms
(:mod:`bot.emulator.faults`). :mod:`bot.emulator.server` exposes it over HTTP so the real
python-telegram-bot ``Application`` can talk to it; :mod:`bot.emulator.client` is the other
side: test code (or the sandbox web page) acting as Telegram users.

Everything runs on one asyncio event loop; the client-side methods are synchronous enqueues and
the waits are ``async``. One bot per emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import io
import itertools
import json
import logging
import mimetypes
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from .faults import ConnectionDropped, Fault, Faults, chat_key
from .groups import GroupChats
from .limits import Clock, RateLimiter
from .markup import MarkupError, parse_text, utf16_len
from .state import (
    DEFAULT_ALLOWED_UPDATES,
    ApiError,
    BotState,
    CallbackRecord,
    CallRecord,
    ChatState,
    FileRecord,
    StoredMessage,
    Upload,
    UserState,
    bad_request,
    command_entities,
)

if TYPE_CHECKING:
    from .client import UserHandle

__all__ = [
    "ApiError",
    "BotState",
    "CallRecord",
    "CallbackRecord",
    "ChatState",
    "Emulator",
    "FileRecord",
    "StoredMessage",
    "Upload",
    "UserState",
    "decode_params",
    "tiny_png",
]

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_ANSWER = 200
CALLBACK_QUERY_TTL = 15 * 60  # Telegram drops unanswered callback queries after ~15 minutes

# Parameters that are strings in the Bot API. PTB (and other clients) send strings as-is and
# JSON-encode everything else, so these must not be JSON-decoded ("123" text stays text).
STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "query",
        "secret_token",
        "file_id",
        "photo",
        "document",
        "video",
        "voice",
        "audio",
        "animation",
        "sticker",
        "video_note",
        "thumbnail",
        "language_code",
        "action",
        "title",
        "description",
        "short_description",
        "name",
        "address",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "ip_address",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "result_id",
        "error_message",
        "custom_title",
        "payload",
        "currency",
        "question",
        "explanation",
        "certificate",
    }
)

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)



def decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Decode request fields the way Telegram does.

    Form fields arrive as strings; non-string parameters were JSON-encoded by the client. Known
    string parameters stay as they are; other values are JSON-decoded when they parse, else kept.
    """
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in STRING_FIELDS:
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            out[key] = value
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = value
    return out


def tiny_png(width: int = 2, height: int = 2, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of the given size, for tests and demo data (pure stdlib)."""
    import struct
    import zlib

    row = b"\x00" + bytes(color) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG/JPEG/GIF/WebP image, or None if it is not a readable image."""
    try:
        from PIL import Image  # optional; installed with the product's matplotlib dependency

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except ImportError:  # pragma: no cover - Pillow is normally present
        if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
    except Exception:  # Pillow raises many types for garbage input
        return None


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"invalid {name} specified") from exc


@dataclass
class _Hold:
    """Calls being held by :meth:`Emulator.hold`."""

    methods: frozenset[str]
    released: asyncio.Event
    drop: bool = False
    count: int = 0


# sendPhoto, sendDocument, ...: one implementation, the media kind named by the method.
# Messages whose caption a user can edit.
_CAPTIONED = ("photo", "document", "video", "voice", "audio", "animation")

_MEDIA_METHODS = {
    f"send{kind}": kind
    for kind in ("photo", "document", "video", "voice", "audio", "animation", "sticker")
} | {"sendvideonote": "video_note"}


class Emulator(GroupChats):
    """An in-memory Telegram Bot API server for one bot, plus the user side of the chats.

    ``global_rate``/``global_burst`` and ``chat_rate``/``chat_burst`` configure flood control
    (messages per second); ``clock`` is the monotonic clock used for flood control and
    callback-query expiry, injectable so tests can move time instead of sleeping.
    """

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        global_burst: float = 30,
        chat_rate: float = 1.0,
        chat_burst: float = 3,
        clock: Clock | None = None,
        rate_limits: bool = True,
    ) -> None:
        self.clock: Clock = clock or time.monotonic
        self.limiter = RateLimiter(
            global_rate=global_rate,
            global_burst=global_burst,
            chat_rate=chat_rate,
            chat_burst=chat_burst,
            clock=self.clock,
        )
        self.rate_limits = rate_limits
        self.bot: BotState | None = None
        self.users: dict[int, UserState] = {}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.call_log: list[CallRecord] = []
        self.events: list[dict[str, Any]] = []  # change feed for the sandbox page
        self.event_seq = 0
        self._handles: dict[int, UserHandle] = {}
        self._chat_handles: dict[int, Any] = {}  # group and channel handles (groups.py)
        self._waiters: set[asyncio.Future[None]] = set()
        self._ids = itertools.count(1)
        # Where a new chat's message ids start (the sandbox starts them high when the chats
        # of an earlier run are lost but the bot's database, which remembers ids, is kept).
        self.first_message_id = 1
        self._closed = False
        self._hold: _Hold | None = None
        self.faults = Faults(notify=self._notify)

    # ------------------------------------------------------------------ setup

    def add_bot(
        self,
        token: str,
        bot_id: int | None = None,
        username: str = "emulator_bot",
        first_name: str = "Emulator Bot",
    ) -> BotState:
        """Register the bot account (one per emulator). ``bot_id`` defaults to the token prefix."""
        if self.bot is not None:
            raise RuntimeError("this emulator already has a bot; use one Emulator per bot")
        if bot_id is None:
            prefix = token.split(":", 1)[0]
            bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot = BotState(token=token, id=bot_id, username=username, first_name=first_name)
        return self.bot

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        label: str | None = None,
        phone_number: str | None = None,
    ) -> UserHandle:
        """Get or create a user and return its handle (idempotent; given fields update)."""
        from .client import UserHandle

        state = self.users.get(user_id)
        if state is None:
            state = UserState(id=user_id, first_name=first_name or f"User {user_id}")
            self.users[user_id] = state
            self.chats[user_id] = ChatState(id=user_id, type="private",
                                            next_message_id=self.first_message_id)
            self._handles[user_id] = UserHandle(self, state)
            self._event("user", user_id)
        updates = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "label": label,
            "phone_number": phone_number,
        }
        for key, value in updates.items():
            if value is not None:
                setattr(state, key, value)
        chat = self.chats[user_id]
        chat.first_name, chat.last_name, chat.username = (
            state.first_name,
            state.last_name,
            state.username,
        )
        return self._handles[user_id]

    def handles(self) -> list[UserHandle]:
        """All user handles, in creation order."""
        return list(self._handles.values())

    def long_polling(self) -> bool:
        """Whether the bot is waiting in a long poll (getUpdates with a timeout, nothing yet)."""
        return self._bot().long_polls > 0

    def _bot(self) -> BotState:
        if self.bot is None:
            raise RuntimeError("call Emulator.add_bot(...) first")
        return self.bot

    # ------------------------------------------------------------------ records

    def calls(self, method: str | None = None) -> list[CallRecord]:
        """Recorded API calls, optionally only those of ``method`` (case-insensitive)."""
        if method is None:
            return list(self.call_log)
        low = method.lower()
        return [c for c in self.call_log if c.method.lower() == low]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """The command list set for ``scope`` (default scope if None) and ``language_code``."""
        return list(self._bot().commands.get(self._commands_key(scope, language_code), []))

    def chat(self, chat_id: int) -> ChatState:
        """The chat with ``chat_id`` (KeyError if unknown)."""
        return self.chats[chat_id]

    def file(self, file_id: str) -> FileRecord:
        """The stored file with ``file_id`` (KeyError if unknown)."""
        return self.files[file_id]

    # ------------------------------------------------------------------ change notification

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _event(self, kind: str, chat_id: int | None, **extra: Any) -> None:
        self.event_seq += 1
        self.events.append({"seq": self.event_seq, "type": kind, "chat_id": chat_id, **extra})
        if len(self.events) > 2000:  # the page only needs recent history
            del self.events[:1000]
        self._notify()

    async def wait_for_change(self, timeout: float) -> None:
        """Sleep until anything changes (a message, an update, an answer) or ``timeout``."""
        if self._closed or timeout <= 0:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        try:
            await asyncio.wait([fut], timeout=timeout)
        finally:
            self._waiters.discard(fut)

    def produced(self) -> list[int]:
        """The id of every update queued for the bot so far (whether fetched or not)."""
        return list(self._bot().produced)

    async def wait_until(
        self, predicate: Callable[[], Any], timeout: float, poll: float | None = 0.05
    ) -> bool:
        """Wait until ``predicate()`` is truthy; returns its final truthiness after ``timeout``.

        Re-checks on every emulator change and, unless ``poll`` is None, every ``poll`` seconds
        too, so predicates over state the emulator does not own (a test's list filled by a bot
        handler) also work.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if predicate():
                return True
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closed:
                return bool(predicate())
            await self.wait_for_change(remaining if poll is None else min(remaining, poll))

    async def aclose(self) -> None:
        """Stop webhook delivery and wake every waiter (long polls return at once)."""
        self._closed = True
        if self._hold is not None:
            self.release(drop=True)
        bot = self.bot
        if bot is not None and bot.webhook_task is not None:
            bot.webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot.webhook_task
            bot.webhook_task = None
        self._notify()

    # ------------------------------------------------------------------ test hooks

    def hold(self, *methods: str) -> None:
        """Test hook: from now on, calls of ``methods`` wait, unprocessed, until :meth:`release`.

        A server that stops answering: a test can then kill its client mid-request.
        """
        if self._hold is not None:
            raise RuntimeError("already holding; release() first")
        self._hold = _Hold(frozenset(m.lower() for m in methods), asyncio.Event())

    def release(self, *, drop: bool = False) -> int:
        """End :meth:`hold`; returns how many calls were held.

        The held calls then go on as usual, or with ``drop`` are answered with an error
        without being processed or recorded: what becomes of a dead client's requests.
        """
        hold, self._hold = self._hold, None
        if hold is None:
            return 0
        hold.drop = drop
        hold.released.set()
        return hold.count

    @property
    def held(self) -> int:
        """How many calls the current :meth:`hold` is holding (0 when not holding)."""
        return self._hold.count if self._hold is not None else 0

    # ------------------------------------------------------------------ updates

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        bot = self._bot()
        if kind not in bot.allowed_updates:
            return None  # Telegram does not even store updates the bot opted out of
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        bot.produced.append(update["update_id"])
        self._notify()
        return update

    # ------------------------------------------------------------------ files

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int = 0,
        height: int = 0,
        duration: int = 0,
    ) -> FileRecord:
        """Store bytes as a new file and return its record (fresh file_id)."""
        n = next(self._ids)
        file_id = f"EMU{kind[:2].upper()}{n:06d}{secrets.token_hex(6)}"
        unique = f"U{n:06d}{secrets.token_hex(3)}"
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1].lower()
        elif mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        folder = {"photo": "photos", "voice": "voice", "sticker": "stickers"}.get(kind, kind + "s")
        rec = FileRecord(
            file_id=file_id,
            file_unique_id=unique,
            data=data,
            kind=kind,
            mime_type=mime_type,
            file_name=file_name,
            file_path=f"{folder}/file_{n}{ext}",
            width=width,
            height=height,
            duration=duration,
        )
        self.files[file_id] = rec
        self.files_by_path[rec.file_path] = rec
        return rec

    @staticmethod
    def media_dict(rec: FileRecord) -> Any:
        """The Bot API object for a file in a message (a list of PhotoSize for photos)."""
        base: dict[str, Any] = {
            "file_id": rec.file_id,
            "file_unique_id": rec.file_unique_id,
            "file_size": rec.size,
        }
        if rec.kind == "photo":
            return [{**base, "width": rec.width, "height": rec.height}]
        if rec.kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": rec.width or 512,
                "height": rec.height or 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "🙂",
            }
        if rec.kind in {"video", "animation"}:
            base.update(width=rec.width, height=rec.height, duration=rec.duration)
        if rec.kind in {"voice", "audio"}:
            base["duration"] = rec.duration
        if rec.kind == "video_note":  # a round video: a square of ``length`` pixels
            base.update(length=rec.width or 240, duration=rec.duration)
        if rec.mime_type:
            base["mime_type"] = rec.mime_type
        if rec.file_name and rec.kind in {"document", "video", "audio", "animation"}:
            base["file_name"] = rec.file_name
        return base

    def _input_file(
        self, p: dict[str, Any], files: dict[str, Upload], fieldname: str, kind: str
    ) -> FileRecord:
        value = p.get(fieldname)
        upload = files.get(fieldname)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"can't find attached file {value!r}")
        if upload is not None:
            return self._file_from_upload(upload, kind)
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                raise bad_request(
                    "failed to get HTTP URL content (this emulator has no internet access; "
                    "upload the file's bytes instead)"
                )
            rec = self.files.get(value)
            if rec is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return rec
        raise bad_request(f"there is no {fieldname} in the request")

    def _file_from_upload(self, upload: Upload, kind: str) -> FileRecord:
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename or "")[0] or mime or None
        width = height = 0
        if kind == "photo":
            size = image_size(upload.body)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
            mime = None  # PhotoSize has no mime type
        elif kind in {"video", "animation", "sticker"}:
            width, height = image_size(upload.body) or (0, 0)
        if not upload.body:
            raise bad_request("file must be non-empty")
        return self.store_file(
            upload.body,
            kind,
            mime_type=mime,
            file_name=upload.filename or None,
            width=width,
            height=height,
        )

    # ------------------------------------------------------------------ dispatch

    async def call(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, Upload] | None = None,
        *,
        gone: asyncio.Event | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call; returns (HTTP status, JSON body). Always recorded.

        An armed fault (:attr:`faults`) may delay the call, refuse it, or leave it without an
        answer: then :class:`~bot.emulator.faults.ConnectionDropped` is raised. ``gone`` is set
        by the HTTP front when the client hangs up; a delay ends there, since nobody waits.
        """
        files = files or {}
        hold = self._hold
        if hold is not None and method.lower() in hold.methods:
            hold.count += 1
            await hold.released.wait()
            if hold.drop:
                return 500, {"ok": False, "error_code": 500,
                             "description": "Internal Server Error: dropped by the emulator"}
        bot = self.bot
        fault = None
        if bot is not None and token == bot.token:  # a wrong token is refused, not faulted
            fault = self.faults.take(method, self._call_chat(params))
        record = CallRecord(
            method=method,
            params=params,
            ok=False,
            error_code=None,
            description=None,
            timestamp=time.time(),
            files=sorted(files),
            fault=fault,
        )
        self.call_log.append(record)
        try:
            if fault is not None and not fault.after:
                answer = await self._fault(record, fault, gone)
                if answer is not None:
                    return answer
            status, body = await self._process(record, bot, token, method, params, files)
            if fault is not None and fault.after:
                answer = await self._fault(record, fault, gone)
                if answer is not None:
                    return answer
            record.status = status
            return status, body
        finally:
            record.done = True
            self._notify()

    def _call_chat(self, params: dict[str, Any]) -> int | str | None:
        """The chat a call concerns, for per-chat faults."""
        if params.get("chat_id") not in (None, ""):
            return chat_key(params["chat_id"])
        pressed = self.callbacks.get(str(params.get("callback_query_id") or ""))
        return pressed.chat_id if pressed is not None else None

    async def _fault(
        self, record: CallRecord, fault: Fault, gone: asyncio.Event | None
    ) -> tuple[int, dict[str, Any]] | None:
        """Apply ``fault`` to the call: its error answer, or None to go on as usual.

        Raises ConnectionDropped when the client is to get no answer.
        """
        if fault.delay:
            await self.wait_until(lambda: gone is not None and gone.is_set(), fault.delay)
            if gone is not None and gone.is_set():
                raise ConnectionDropped(f"the client hung up during the delay of {fault}")
        if fault.drop:
            raise ConnectionDropped(str(fault))
        if fault.status is None:
            return None
        status, body = fault.error()
        record.error_code, record.description, record.status = status, body["description"], status
        return status, body

    async def _process(
        self,
        record: CallRecord,
        bot: BotState | None,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, Upload],
    ) -> tuple[int, dict[str, Any]]:
        """Carry the call out and fill ``record`` with the outcome."""
        record.processed = True
        try:
            if bot is None or token != bot.token:
                raise ApiError(401, "Unauthorized")
            kind = _MEDIA_METHODS.get(method.lower())
            handler = getattr(self, f"_api_{method.lower()}", None)
            if kind is not None:
                result = self._send_media(bot, params, files, kind)
            elif handler is None:
                raise ApiError(404, "Not Found")
            else:
                result = handler(bot, params, files)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as err:
            record.error_code, record.description = err.code, err.description
            return err.code, err.body()
        except Exception as exc:  # a bug in the emulator must not look like a Telegram answer
            log.exception("emulator failed on %s", method)
            record.error_code, record.description = 500, f"Internal emulator error: {exc!r}"
            return 500, {"ok": False, "error_code": 500, "description": record.description}
        record.ok = True
        record.result = result
        body: dict[str, Any] = {"ok": True, "result": result}
        if method.lower() == "setwebhook":
            body["description"] = "Webhook was set" if params.get("url") else "Webhook was deleted"
        elif method.lower() == "deletewebhook":
            body["description"] = "Webhook was deleted"
        return 200, body

    # ------------------------------------------------------------------ chat resolution

    def _find_chat(self, p: dict[str, Any], key: str = "chat_id") -> ChatState:
        raw = p.get(key)
        if raw is None or raw == "":
            raise bad_request(f"{key} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == raw[1:].lower():
                    return chat
            raise bad_request("chat not found")
        chat = self.chats.get(_int(raw, key))
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _writable_chat(self, p: dict[str, Any], key: str = "chat_id") -> ChatState:
        chat = self._find_chat(p, key)
        if chat.type == "private":
            user = self.users[chat.id]
            if user.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not user.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        else:
            self._check_can_post(chat)
        return chat

    def _message(self, chat: ChatState, message_id: Any, missing: str) -> StoredMessage:
        try:
            mid = int(message_id)
        except (TypeError, ValueError):
            raise bad_request(missing) from None
        msg = chat.messages.get(mid)
        if msg is None or msg.deleted:
            raise bad_request(missing)
        return msg

    def _rate(self, chat: ChatState, n: int = 1) -> None:
        if not self.rate_limits:
            return
        retry = self.limiter.acquire(chat.id, n)
        if retry:
            raise ApiError(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})

    # ------------------------------------------------------------------ validation helpers

    def _text(self, p: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        raw = p.get("text")
        if raw is None or raw == "":
            raise bad_request("message text is empty")
        try:
            text, entities = parse_text(str(raw), p.get("parse_mode"), p.get("entities"))
        except MarkupError as err:
            raise bad_request(str(err)) from None
        if not text:
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text, entities

    def _caption(
        self, p: dict[str, Any], key: str = "caption", entities_key: str = "caption_entities"
    ) -> dict[str, Any]:
        raw = p.get(key)
        if raw is None or raw == "":
            return {}
        try:
            text, entities = parse_text(str(raw), p.get("parse_mode"), p.get(entities_key))
        except MarkupError as err:
            raise bad_request(str(err)) from None
        if utf16_len(text) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        out: dict[str, Any] = {}
        if text:
            out["caption"] = text
            if entities:
                out["caption_entities"] = entities
        return out

    def _markup(self, p: dict[str, Any]) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
            normalized = []
            for row in rows:
                new_row = []
                for button in row:
                    if isinstance(button, str):
                        button = {"text": button}
                    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                        raise bad_request("keyboard button text must be non-empty")
                    new_row.append(button)
                normalized.append(new_row)
            markup = {**markup, "keyboard": normalized}
        elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
            )
        if sum(len(r) for r in rows) > 100:
            raise bad_request("reply markup is too long")
        for row in rows:
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request("can't parse inline keyboard button: object expected")
                if not str(button.get("text", "")).strip():
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                actions = [a for a in INLINE_BUTTON_ACTIONS if a in button]
                if not actions:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                        raise bad_request("BUTTON_URL_INVALID")

    def _reply_to(self, chat: ChatState, p: dict[str, Any]) -> dict[str, Any] | None:
        params = p.get("reply_parameters")
        if isinstance(params, dict):
            target, allow = params.get("message_id"), params.get("allow_sending_without_reply")
        else:
            target, allow = p.get("reply_to_message_id"), p.get("allow_sending_without_reply")
        if target is None:
            return None
        msg = chat.messages.get(_int(target, "reply message identifier"))
        if msg is None or msg.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        replied = copy.deepcopy(msg.data)
        replied.pop("reply_to_message", None)
        return replied

    # ------------------------------------------------------------------ message creation

    def _add_message(
        self,
        chat: ChatState,
        sender: dict[str, Any] | None,
        content: dict[str, Any],
        *,
        from_bot: bool,
        reply_to: dict[str, Any] | None = None,
        sent_markup: dict[str, Any] | None = None,
    ) -> StoredMessage:
        mid = chat.next_message_id
        chat.next_message_id += 1
        data: dict[str, Any] = {"message_id": mid}
        if chat.type == "channel":
            data["sender_chat"] = chat.as_chat()  # posts are signed by the channel, even the bot's
        elif sender is not None:
            data["from"] = sender
        data.update(chat=chat.as_chat(), date=int(time.time()))
        if reply_to is not None:
            data["reply_to_message"] = reply_to
        data.update(content)
        msg = StoredMessage(
            chat_id=chat.id,
            message_id=mid,
            from_bot=from_bot,
            data=data,
            versions=[copy.deepcopy(data)],
            sent_markup=sent_markup,
        )
        chat.messages[mid] = msg
        chat.order.append(mid)
        self._event("message", chat.id, message_id=mid, from_bot=from_bot)
        return msg

    def _bot_send(
        self,
        bot: BotState,
        chat: ChatState,
        p: dict[str, Any],
        content: dict[str, Any],
        markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        reply_to = self._reply_to(chat, p)
        if markup is not None:
            if "inline_keyboard" in markup:
                content["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
            elif "keyboard" in markup:
                chat.reply_keyboard = markup
                self._event("keyboard", chat.id)
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
                self._event("keyboard", chat.id)
        for flag in ("protect_content", "has_protected_content"):
            if p.get(flag) is True:
                content["has_protected_content"] = True
        msg = self._add_message(
            chat,
            bot.as_user(),
            content,
            from_bot=True,
            reply_to=reply_to,
            sent_markup=markup,
        )
        return msg.data

    # ------------------------------------------------------------------ Bot API: bot & updates

    def _api_getme(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        return {
            **bot.as_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": not bot.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getupdates(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        if bot.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = p.get("offset")
        if offset is not None:
            offset = _int(offset, "offset")
            if offset < 0:
                bot.updates = bot.updates[offset:]
            else:
                bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        limit = max(1, min(100, _int(p.get("limit", 100), "limit")))
        timeout = max(0.0, float(p.get("timeout") or 0))
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        bot.poll_generation += 1
        generation = bot.poll_generation
        if timeout and not bot.updates:
            bot.long_polls += 1
            self._notify()  # a test may wait for the bot to be in its long poll
            try:
                await self.wait_until(
                    lambda: bot.updates or bot.poll_generation != generation or bot.webhook_url,
                    timeout,
                    poll=None,  # everything it waits for notifies
                )
            finally:
                bot.long_polls -= 1
            if bot.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
        allowed_now = bot.allowed_updates
        return [
            u for u in bot.updates[:limit] if any(k in allowed_now for k in u if k != "update_id")
        ]

    def _api_setwebhook(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        url = str(p.get("url") or "")
        secret = p.get("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if url and not re.match(r"^https?://", url):
            raise bad_request("bad webhook: An HTTP(S) URL must be provided for webhook")
        if p.get("drop_pending_updates") is True:
            bot.updates.clear()
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if p.get("max_connections") is not None:
            bot.webhook_max_connections = _int(p["max_connections"], "max_connections")
        self._set_webhook(bot, url, str(secret) if secret else None)
        return True

    def _api_deletewebhook(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        if p.get("drop_pending_updates") is True:
            bot.updates.clear()
        self._set_webhook(bot, "", None)
        return True

    def _set_webhook(self, bot: BotState, url: str, secret: str | None) -> None:
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None
        bot.webhook_url, bot.webhook_secret = url, secret
        bot.webhook_last_error_date = bot.webhook_last_error_message = None
        if url:
            bot.webhook_task = asyncio.get_running_loop().create_task(
                self._deliver_webhook(bot, url, secret), name="emulator-webhook"
            )
        self._notify()

    async def _deliver_webhook(self, bot: BotState, url: str, secret: str | None) -> None:
        # Telegram delivers one update at a time per bot, in order, retrying with backoff
        # until the receiver answers 2xx; we do the same (sequential, capped backoff).
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        failures = 0
        async with httpx.AsyncClient(timeout=10.0) as client:
            while bot.webhook_url == url and not self._closed:
                if not bot.updates:
                    await self.wait_until(
                        lambda: bot.updates or bot.webhook_url != url or self._closed,
                        30.0,
                        poll=None,
                    )
                    continue
                update = bot.updates[0]
                error = None
                try:
                    response = await client.post(url, json=update, headers=headers)
                    if not 200 <= response.status_code < 300:
                        error = f"Wrong response from the webhook: {response.status_code}"
                except httpx.HTTPError as exc:
                    error = f"Connection failed: {exc!r}"
                if error is None:
                    if bot.updates and bot.updates[0] is update:
                        bot.updates.pop(0)
                        self._notify()
                    failures = 0
                    continue
                bot.webhook_last_error_date = int(time.time())
                bot.webhook_last_error_message = error
                self._event("webhook_error", None, text=error)
                failures += 1
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))

    def _api_getwebhookinfo(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        info: dict[str, Any] = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook_url:
            info["max_connections"] = bot.webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if bot.allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(bot.allowed_updates)
        if bot.webhook_last_error_date:
            info["last_error_date"] = bot.webhook_last_error_date
            info["last_error_message"] = bot.webhook_last_error_message
        return info

    def _api_close(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        bot.closed = True
        return True

    def _api_logout(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        return True

    # ------------------------------------------------------------------ Bot API: sending

    def _api_sendmessage(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._writable_chat(p)
        text, entities = self._text(p)
        markup = self._markup(p)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        lpo = p.get("link_preview_options")
        if isinstance(lpo, dict) and lpo:
            content["link_preview_options"] = lpo
        self._reply_to(chat, p)  # validate before spending rate budget
        self._rate(chat)
        return self._bot_send(bot, chat, p, content, markup)

    def _send_media(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload], kind: str
    ) -> Any:
        chat = self._writable_chat(p)
        caption = self._caption(p) if kind not in {"sticker", "video_note"} else {}
        markup = self._markup(p)
        self._reply_to(chat, p)
        rec = self._input_file(p, files, kind, kind)
        if p.get("duration") is not None and rec.kind in {"video", "voice", "audio", "animation",
                                                          "video_note"}:
            rec.duration = _int(p["duration"], "duration")
        self._rate(chat)
        content: dict[str, Any] = {kind: self.media_dict(rec), **caption}
        if p.get("has_spoiler") is True:
            content["has_media_spoiler"] = True
        return self._bot_send(bot, chat, p, content, markup)

    def _api_sendmediagroup(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._writable_chat(p)
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("media must include 2-10 items")
        prepared = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in {
                "photo",
                "video",
                "document",
                "audio",
            }:
                raise bad_request("can't parse InputMedia: media type is invalid")
            kind = item["type"]
            caption = self._caption(
                {
                    "caption": item.get("caption"),
                    "parse_mode": item.get("parse_mode"),
                    "caption_entities": item.get("caption_entities"),
                }
            )
            prepared.append((kind, item, caption))
        kinds = {k for k, _, _ in prepared}
        if ("document" in kinds or "audio" in kinds) and len(kinds) > 1:
            raise bad_request("documents and audio can't be mixed with other media types")
        self._reply_to(chat, p)
        records = [
            self._input_file({kind: item.get("media")}, files, kind, kind)
            for kind, item, _ in prepared
        ]
        self._rate(chat, len(prepared))  # Telegram counts every item of an album
        group_id = str(10**17 + next(self._ids))
        results = []
        for (kind, _item, caption), rec in zip(prepared, records, strict=True):
            content = {"media_group_id": group_id, kind: self.media_dict(rec), **caption}
            results.append(self._bot_send(bot, chat, p, content, None))
        return results

    def _api_sendlocation(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._writable_chat(p)
        try:
            lat, lon = float(p["latitude"]), float(p["longitude"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("wrong latitude/longitude specified") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise bad_request("wrong latitude/longitude specified")
        markup = self._markup(p)
        self._reply_to(chat, p)
        self._rate(chat)
        location: dict[str, Any] = {"latitude": lat, "longitude": lon}
        if p.get("horizontal_accuracy") is not None:
            location["horizontal_accuracy"] = float(p["horizontal_accuracy"])
        return self._bot_send(bot, chat, p, {"location": location}, markup)

    @staticmethod
    def _copyable_content(data: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "text",
            "entities",
            "photo",
            "document",
            "video",
            "voice",
            "video_note",  # Telegram copies round videos too
            "audio",
            "animation",
            "sticker",
            "location",
            "contact",
            "caption",
            "caption_entities",
            "venue",
        )
        return {k: copy.deepcopy(data[k]) for k in keys if k in data}

    def _source_message(self, p: dict[str, Any], missing: str) -> StoredMessage:
        source_chat = self._find_chat(p, "from_chat_id")
        return self._message(source_chat, p.get("message_id"), missing)

    def _api_copymessage(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._writable_chat(p)
        source = self._source_message(p, "message to copy not found")
        content = self._copyable_content(source.data)
        if not content:
            raise bad_request("message can't be copied")
        if "caption" in p:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            if "text" not in content:
                content.update(self._caption(p))
        markup = self._markup(p)
        self._reply_to(chat, p)
        self._rate(chat)
        # A copy carries no trace of the original sender: that is the point of copyMessage.
        data = self._bot_send(bot, chat, p, content, markup)
        return {"message_id": data["message_id"]}

    def _api_forwardmessage(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._writable_chat(p)
        source = self._source_message(p, "message to forward not found")
        content = self._copyable_content(source.data)
        if not content:
            raise bad_request("message can't be forwarded")
        original_sender = source.data.get("from") or bot.as_user()
        content["forward_origin"] = {
            "type": "user",
            "sender_user": copy.deepcopy(original_sender),
            "date": source.data.get("date", int(time.time())),
        }
        self._rate(chat)
        return self._bot_send(bot, chat, p, content, None)

    # ------------------------------------------------------------------ Bot API: editing

    def _editable(self, bot: BotState, p: dict[str, Any]) -> tuple[ChatState, StoredMessage]:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline mode is not emulated
        chat = self._find_chat(p)
        if chat.type == "private" and self.users[chat.id].blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self._check_present(chat)
        msg = self._message(chat, p.get("message_id"), "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        return chat, msg

    def _apply_edit(self, msg: StoredMessage, new: dict[str, Any]) -> dict[str, Any]:
        new["edit_date"] = int(time.time())
        msg.data = new
        msg.edited = True
        msg.versions.append(copy.deepcopy(new))
        self._event("edit", msg.chat_id, message_id=msg.message_id)
        return msg.data

    @staticmethod
    def _inline_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
        if markup is None:
            return None
        if "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")  # only inline keyboards are editable
        return {"inline_keyboard": markup["inline_keyboard"]}

    def _api_editmessagetext(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        _chat, msg = self._editable(bot, p)
        if "text" not in msg.data:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._text(p)
        markup = self._inline_markup(self._markup(p))
        new = copy.deepcopy(msg.data)
        new["text"] = text
        new.pop("entities", None)
        if entities:
            new["entities"] = entities
        lpo = p.get("link_preview_options")
        if isinstance(lpo, dict) and lpo:
            new["link_preview_options"] = lpo
        return self._finish_edit(msg, new, markup, ("text", "entities", "reply_markup"))

    def _finish_edit(
        self,
        msg: StoredMessage,
        new: dict[str, Any],
        markup: dict[str, Any] | None,
        compared: tuple[str, ...],
    ) -> Any:
        """Like Telegram: an edit without reply_markup removes the inline keyboard, and an
        edit that changes none of ``compared`` is refused as not modified."""
        new.pop("reply_markup", None)
        if markup is not None:
            new["reply_markup"] = markup
        if self._same(msg.data, new, compared):
            raise bad_request(NOT_MODIFIED[len("Bad Request: ") :])
        return self._apply_edit(msg, new)

    def _api_editmessagecaption(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        _chat, msg = self._editable(bot, p)
        if "text" in msg.data or "location" in msg.data:
            raise bad_request("there is no caption in the message to edit")
        caption = self._caption(p)
        markup = self._inline_markup(self._markup(p))
        new = copy.deepcopy(msg.data)
        new.pop("caption", None)
        new.pop("caption_entities", None)
        new.update(caption)
        return self._finish_edit(msg, new, markup, ("caption", "caption_entities", "reply_markup"))

    def _api_editmessagereplymarkup(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        _chat, msg = self._editable(bot, p)
        markup = self._inline_markup(self._markup(p))
        new = copy.deepcopy(msg.data)
        return self._finish_edit(msg, new, markup, ("reply_markup",))

    @staticmethod
    def _same(old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]) -> bool:
        def norm(value: Any) -> Any:
            if value in (None, [], {"inline_keyboard": []}):
                return None
            return value

        return all(norm(old.get(k)) == norm(new.get(k)) for k in keys)

    def _api_deletemessage(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._find_chat(p)
        msg = self._message(chat, p.get("message_id"), "message to delete not found")
        self._delete(chat, msg)
        return True

    def _api_deletemessages(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._find_chat(p)
        ids = p.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be an array of 1-100 identifiers")
        for mid in ids:
            msg = chat.messages.get(_int(mid, "message identifier"))
            if msg is not None and not msg.deleted:
                self._delete(chat, msg)
        return True

    def _delete(self, chat: ChatState, msg: StoredMessage) -> None:
        msg.deleted = True
        if msg.message_id in chat.pinned_ids:
            chat.pinned_ids.remove(msg.message_id)
        self._event("delete", chat.id, message_id=msg.message_id)

    # ------------------------------------------------------------------ Bot API: callbacks

    def _api_answercallbackquery(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        qid = str(p.get("callback_query_id") or "")
        record = self.callbacks.get(qid)
        expired = record is not None and self.clock() - record.created > CALLBACK_QUERY_TTL
        if record is None or record.answered or expired:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.get("text")
        if text is not None and utf16_len(str(text)) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.answer = {
            "text": text,
            "show_alert": bool(p.get("show_alert") is True),
            "url": p.get("url"),
            "cache_time": p.get("cache_time"),
        }
        self._event(
            "callback_answer",
            record.chat_id,
            callback_query_id=qid,
            text=text,
            show_alert=record.answer["show_alert"],
        )
        return True

    # ------------------------------------------------------------------ Bot API: files

    def _api_getfile(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        rec = self.files.get(str(p.get("file_id") or ""))
        if rec is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": rec.file_id,
            "file_unique_id": rec.file_unique_id,
            "file_size": rec.size,
            "file_path": rec.file_path,
        }

    # ------------------------------------------------------------------ Bot API: chats

    def _api_pinchatmessage(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._writable_chat(p)
        msg = self._message(chat, p.get("message_id"), "message to pin not found")
        if msg.message_id in chat.pinned_ids:
            chat.pinned_ids.remove(msg.message_id)
        chat.pinned_ids.append(msg.message_id)
        self._event("pin", chat.id, message_id=msg.message_id)
        return True

    def _api_unpinchatmessage(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._find_chat(p)
        if p.get("message_id") is not None:
            mid = _int(p["message_id"], "message identifier")
            if mid not in chat.pinned_ids:
                raise bad_request("message to unpin not found")
            chat.pinned_ids.remove(mid)
        elif chat.pinned_ids:
            chat.pinned_ids.pop()
        self._event("pin", chat.id)
        return True

    def _api_unpinallchatmessages(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._find_chat(p)
        chat.pinned_ids.clear()
        self._event("pin", chat.id)
        return True

    def _api_sendchataction(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        chat = self._writable_chat(p)
        action = p.get("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.last_action = action
        return True

    def _api_getchat(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._find_chat(p)
        info = {
            **chat.as_chat(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.pinned is not None:
            info["pinned_message"] = chat.messages[chat.pinned].data
        return info

    # ------------------------------------------------------------------ Bot API: commands & menu

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        if not scope:
            scope = {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _api_setmycommands(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        clean = []
        for c in commands:
            if not isinstance(c, dict):
                raise bad_request("can't parse BotCommand")
            name, desc = str(c.get("command", "")), str(c.get("description", ""))
            if not _COMMAND_RE.match(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(desc) <= 256:
                raise bad_request("command description must be 1-256 characters")
            clean.append({"command": name, "description": desc})
        self._check_scope(p.get("scope"))
        key = self._commands_key(p.get("scope"), p.get("language_code"))
        if clean:
            bot.commands[key] = clean
        else:
            bot.commands.pop(key, None)
        return True

    def _check_scope(self, scope: Any) -> None:
        if scope in (None, ""):
            return
        valid = {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        }
        if not isinstance(scope, dict) or scope.get("type") not in valid:
            raise bad_request("can't parse BotCommandScope JSON object")
        if scope["type"].startswith("chat"):
            self._find_chat(scope)

    def _api_getmycommands(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        self._check_scope(p.get("scope"))
        key = self._commands_key(p.get("scope"), p.get("language_code"))
        return list(bot.commands.get(key, []))

    def _api_deletemycommands(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        self._check_scope(p.get("scope"))
        bot.commands.pop(self._commands_key(p.get("scope"), p.get("language_code")), None)
        return True

    def _api_setchatmenubutton(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in {
            "default",
            "commands",
            "web_app",
        }:
            raise bad_request("can't parse menu button JSON object")
        if p.get("chat_id") is not None:
            self._find_chat(p).menu_button = button
        else:
            bot.default_menu_button = button
        return True

    def _api_getchatmenubutton(
        self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]
    ) -> Any:
        if p.get("chat_id") is not None:
            chat = self._find_chat(p)
            if chat.menu_button and chat.menu_button.get("type") != "default":
                return chat.menu_button
        if bot.default_menu_button.get("type") == "default":
            return {"type": "commands"}
        return bot.default_menu_button

    def _accept(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        return True

    # Profile texts: accepted and recorded (visible in calls()), nothing to emulate.
    _api_setmydescription = _accept
    _api_setmyshortdescription = _accept
    _api_setmyname = _accept

    # ------------------------------------------------------------------ user side (used by client)

    def user_message(
        self,
        user: UserState,
        content: dict[str, Any],
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """A user sends a message to the bot: store it and queue the ``message`` update."""
        self._bot()
        if user.blocked:
            raise RuntimeError(f"user {user.id} has blocked the bot; call unblock() before sending")
        user.started = True
        chat = self.chats[user.id]
        replied = None
        if reply_to is not None:
            replied = copy.deepcopy(reply_to.data)
            replied.pop("reply_to_message", None)
        msg = self._add_message(chat, user.as_user(), content, from_bot=False, reply_to=replied)
        update = self._enqueue("message", copy.deepcopy(msg.data))
        msg.update_id = update["update_id"] if update else None
        return msg

    def user_edit(
        self, msg: StoredMessage, *, text: str | None = None, caption: str | None = None
    ) -> StoredMessage:
        """A user edits their own message (or a channel its post): the new ``text`` of a
        text message, or the ``caption`` of a media message ("" removes it). Queues
        ``edited_message`` (``edited_channel_post`` in channels) with the same message_id, an
        ``edit_date`` and the current content, if the bot gets the chat's messages."""
        chat = self.chats[msg.chat_id]
        if msg.from_bot:
            raise ValueError("the bot's messages are edited through the Bot API")
        if msg.deleted:
            raise LookupError(f"message {msg.message_id} was deleted")
        if chat.type == "private" and self.users[chat.id].blocked:
            raise RuntimeError(f"user {chat.id} has blocked the bot; call unblock() first")
        if (text is None) == (caption is None):
            raise ValueError("give the new text, or the new caption, of the message")
        new = copy.deepcopy(msg.data)
        if text is not None:
            if "text" not in new:
                raise ValueError(f"message {msg.message_id} has no text; edit its caption")
            if not text:
                raise ValueError("Telegram clients cannot make a message empty")
            new["text"] = text
            new.pop("entities", None)
            if entities := command_entities(text):
                new["entities"] = entities
        else:
            if not any(key in new for key in _CAPTIONED):
                raise ValueError(f"message {msg.message_id} has no caption to edit")
            new.pop("caption", None)
            new.pop("caption_entities", None)
            if caption:
                new["caption"] = caption
        if self._same(msg.data, new, ("text", "entities", "caption")):
            raise ValueError("not modified: a Telegram client sends no edit that changes nothing")
        self._apply_edit(msg, new)
        if chat.type == "private":
            self._enqueue("edited_message", copy.deepcopy(msg.data))
        else:
            kind = "edited_channel_post" if chat.type == "channel" else "edited_message"
            self._deliver(chat, msg, kind)
        return msg

    def press_button(self, user: UserState, msg: StoredMessage, button: dict[str, Any]) -> str:
        """A user presses an inline callback button: queue the ``callback_query`` update."""
        bot = self._bot()
        qid = str(4_000_000_000_000_000_000 + next(self._ids) * 7919 + user.id)
        record = CallbackRecord(
            id=qid,
            user_id=user.id,
            chat_id=msg.chat_id,
            message_id=msg.message_id,
            data=button.get("callback_data"),
            created=self.clock(),
        )
        self.callbacks[qid] = record
        payload: dict[str, Any] = {
            "id": qid,
            "from": user.as_user(),
            "message": copy.deepcopy(msg.data),
            "chat_instance": str(-(bot.id * 1000 + msg.chat_id)),
        }
        if record.data is not None:
            payload["data"] = record.data
        self._enqueue("callback_query", payload)
        self._event("press", msg.chat_id, message_id=msg.message_id, callback_query_id=qid)
        return qid

    def set_blocked(self, user: UserState, blocked: bool) -> None:
        """Block/unblock the bot as ``user``; Telegram tells the bot via ``my_chat_member``."""
        if user.blocked == blocked:
            return
        bot = self._bot()
        user.blocked = blocked
        member = {"status": "member", "user": bot.as_user()}
        kicked = {"status": "kicked", "user": bot.as_user(), "until_date": 0}
        old, new = (member, kicked) if blocked else (kicked, member)
        if user.started:
            self._enqueue(
                "my_chat_member",
                {
                    "chat": self.chats[user.id].as_chat(),
                    "from": user.as_user(),
                    "date": int(time.time()),
                    "old_chat_member": old,
                    "new_chat_member": new,
                },
            )
        self._event("user", user.id)
