"""HTTP front of the emulator: the Bot API on loopback, file downloads, and the sandbox.

Routes:

- ``/bot{token}/{method}`` — the Bot API (GET or POST; form-urlencoded, multipart or JSON).
- ``/file/bot{token}/{file_path}`` — file downloads (what ``File.download_*`` fetches).
- ``/sandbox/api/...`` — JSON API used by the web chat page (see :class:`SandboxApi` docs).
- ``/`` — the web chat page (``static/chat.html``).

A real ``telegram.Bot`` is pointed at it with ``base_url=server.base_url`` and
``base_file_url=server.base_file_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from .client import MessageView, UserHandle
from .core import Emulator, Upload, decode_params
from .faults import ConnectionDropped

__all__ = ["DEMO_LOCATION", "EmulatorServer", "serialize_message"]

STATIC_DIR = Path(__file__).with_name("static")
# Fixed demo position used by the page's "share location" buttons: in Cà Mau, the demo
# commune's province (it was in Cần Thơ).
DEMO_LOCATION = {"latitude": 9.1527, "longitude": 105.1961}
MAX_BODY = 64 * 1024 * 1024


def _json(handler: tornado.web.RequestHandler, status: int, body: Any) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(json.dumps(body, ensure_ascii=False))


class _Base(tornado.web.RequestHandler):
    def initialize(self, server: EmulatorServer) -> None:
        self.server = server
        self.emu = server.emulator

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:  # quieter HTTPError logs
        if isinstance(value, tornado.web.HTTPError):
            return
        super().log_exception(typ, value, tb)


class BotApiHandler(_Base):
    """``/bot{token}/{method}``."""

    def initialize(self, server: EmulatorServer) -> None:
        super().initialize(server)
        self.gone = asyncio.Event()  # the client hung up (e.g. its read timeout passed)

    def on_connection_close(self) -> None:
        self.gone.set()

    async def get(self, token: str, method: str) -> None:
        raw: dict[str, Any] = {
            k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()
        }
        files: dict[str, Upload] = {}
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.startswith("application/json") and self.request.body:
            try:
                body = json.loads(self.request.body)
            except ValueError:
                body = None
            if not isinstance(body, dict):
                _json(
                    self,
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: can't parse JSON object",
                    },
                )
                return
            raw.update(body)
        else:
            for key, values in self.request.body_arguments.items():
                raw[key] = values[-1].decode("utf-8", "replace")
            for key, parts in self.request.files.items():
                part = parts[-1]
                files[key] = Upload(part.filename, part.content_type, part.body)
        self.server.inflight += 1
        self.server.idle.clear()
        try:
            status, body = await self.emu.call(
                token, method, decode_params(raw), files, gone=self.gone
            )
        except ConnectionDropped:
            if not self.gone.is_set():
                self.detach().close()  # no status line, no body: what a dead proxy gives
            return
        finally:
            self.server.inflight -= 1
            if not self.server.inflight:
                self.server.idle.set()
        if not self.gone.is_set():
            _json(self, status, body)

    async def post(self, token: str, method: str) -> None:
        await self.get(token, method)


class FileHandler(_Base):
    """``/file/bot{token}/{file_path}``."""

    def get(self, token: str, path: str) -> None:
        bot = self.emu.bot
        rec = self.emu.files_by_path.get(path)
        if bot is None or token != bot.token:
            _json(self, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        if rec is None:
            _json(self, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        self.set_header("Content-Type", rec.mime_type or "application/octet-stream")
        self.finish(rec.data)


class PageHandler(_Base):
    """``/`` — the sandbox chat page."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish((STATIC_DIR / "chat.html").read_bytes())


def _file_url(file_id: str) -> str:
    return f"/sandbox/api/file/{file_id}"


def serialize_message(view: MessageView) -> dict[str, Any]:
    """A message as the sandbox page wants it (rendered HTML, file URLs, flags)."""
    raw = view.raw
    out: dict[str, Any] = {
        "message_id": view.message_id,
        "from_bot": view.from_bot,
        "date": raw.get("date"),
        "text": view.text,
        "html": view.html,
        "edited": view.edited,
        "deleted": view.deleted,
        "pinned": view.pinned,
        "buttons": [
            [{k: b[k] for k in ("text", "callback_data", "url") if k in b} for b in row]
            for row in view.buttons
        ],
    }
    if "reply_to_message" in raw:
        reply = raw["reply_to_message"]
        out["reply_to"] = {
            "message_id": reply.get("message_id"),
            "text": reply.get("text", reply.get("caption", "")),
        }
    if view.forward_origin:
        sender = view.forward_origin.get("sender_user", {})
        out["forwarded_from"] = sender.get("first_name", "?")
    if view.media_group_id:
        out["media_group_id"] = view.media_group_id
    for key in ("photo", "document", "video", "voice", "audio", "animation", "sticker"):
        if key in raw:
            rec = view.media
            if rec is not None:
                out["file"] = {
                    "kind": key,
                    "url": _file_url(rec.file_id),
                    "name": rec.file_name or f"{key}-{view.message_id}",
                    "mime_type": rec.mime_type,
                    "size": rec.size,
                    "width": rec.width,
                    "height": rec.height,
                }
            break
    if view.location:
        out["location"] = view.location
    if "contact" in raw:
        out["contact"] = raw["contact"]
    return out


class SandboxApi(_Base):
    """``/sandbox/api/{name}`` — JSON endpoints for the web chat page.

    GET  state                     → {bot, users, seq, demo_location}
    GET  users                     → {users: [{id, label, name, username, unread, blocked}]}
    POST users  {first_name, last_name?, username?, label?, language_code?} → {user}
    GET  chat?user_id=N            → {user, messages, pinned, reply_keyboard, seq}; marks read
    POST send     {user_id, text, reply_to?}          → {message}
    POST location {user_id, latitude?, longitude?}    → {message} (default: demo location)
    POST keyboard {user_id, text}                     → {message}  (reply-keyboard press)
    POST press    {user_id, message_id, button}       → {callback_query_id}
    POST upload   multipart: user_id, file, caption?, kind=auto|photo|document → {message}
    POST block    {user_id, blocked}                  → {user}
    GET  answer?id=Q                                  → {answered, answer}
    GET  events?since=N&timeout=S  (long poll)        → {seq, events: [{seq, type, chat_id}]}
    GET  file/{file_id}                               → the file's bytes
    """

    def _body(self) -> dict[str, Any]:
        ctype = self.request.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            try:
                data = json.loads(self.request.body or b"{}")
            except ValueError:
                raise tornado.web.HTTPError(400, "invalid JSON") from None
            if not isinstance(data, dict):
                raise tornado.web.HTTPError(400, "JSON object expected")
            return data
        return {k: v[-1].decode("utf-8", "replace") for k, v in self.request.arguments.items()}

    def _user(self, data: dict[str, Any]) -> UserHandle:
        try:
            uid = int(data.get("user_id", ""))
        except (TypeError, ValueError):
            raise tornado.web.HTTPError(400, "user_id required") from None
        if uid not in self.emu.users:
            raise tornado.web.HTTPError(404, "unknown user")
        return self.emu.user(uid)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or str(exc or self._reason)
        _json(self, status_code, {"ok": False, "error": message})

    async def get(self, name: str) -> None:
        if name.startswith("file/"):
            rec = self.emu.files.get(name[len("file/") :])
            if rec is None:
                raise tornado.web.HTTPError(404, "no such file")
            mime = rec.mime_type
            if rec.kind == "photo" and not mime:
                mime = mimetypes.guess_type(rec.file_path)[0] or "image/jpeg"
            self.set_header("Content-Type", mime or "application/octet-stream")
            if rec.kind == "document":
                disposition = f"inline; filename*=UTF-8''{_quote(rec.file_name or 'file')}"
                self.set_header("Content-Disposition", disposition)
            self.finish(rec.data)
            return
        data = self._body()
        if name == "state":
            bot = self.emu.bot
            _json(
                self,
                200,
                {
                    "ok": True,
                    "bot": bot.as_user() if bot else None,
                    "users": self.server.users_json(),
                    "seq": self.emu.event_seq,
                    "demo_location": DEMO_LOCATION,
                },
            )
        elif name == "users":
            _json(self, 200, {"ok": True, "users": self.server.users_json()})
        elif name == "chat":
            user = self._user(data)
            self.server.mark_read(user)
            _json(self, 200, {"ok": True, **self.server.chat_json(user)})
        elif name == "events":
            since = int(data.get("since", 0) or 0)
            timeout = min(float(data.get("timeout", 25) or 0), 55.0)
            await self.emu.wait_until(lambda: self.emu.event_seq > since, timeout)
            events = [
                {
                    k: e.get(k)
                    for k in ("seq", "type", "chat_id", "callback_query_id", "text", "show_alert")
                }
                for e in self.emu.events
                if e["seq"] > since
            ]
            _json(self, 200, {"ok": True, "seq": self.emu.event_seq, "events": events})
        elif name == "answer":
            record = self.emu.callbacks.get(str(data.get("id", "")))
            if record is None:
                raise tornado.web.HTTPError(404, "unknown callback query")
            _json(self, 200, {"ok": True, "answered": record.answered, "answer": record.answer})
        else:
            raise tornado.web.HTTPError(404, "unknown endpoint")

    async def post(self, name: str) -> None:
        data = self._body()
        try:
            result = self._post(name, data)
        except (LookupError, ValueError, RuntimeError) as exc:
            # Bad input from the page (unknown button, empty text, blocked user): a 400 with the
            # reason, shown as a toast.
            _json(self, 400, {"ok": False, "error": str(exc)})
            return
        _json(self, 200, {"ok": True, **result})

    def _post(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        if name == "users":
            first = str(data.get("first_name") or "").strip()
            if not first:
                raise ValueError("first_name required")
            uid = self.server.next_user_id()
            user = self.emu.user(
                uid,
                first,
                last_name=data.get("last_name") or None,
                username=data.get("username") or None,
                language_code=data.get("language_code") or "vi",
                label=data.get("label") or None,
            )
            return {"user": self.server.user_json(user)}
        user = self._user(data)
        if name == "send":
            text = str(data.get("text") or "")
            if not text.strip():
                raise ValueError("text required")
            reply = data.get("reply_to")
            reply_view = user._view(int(reply)) if reply else None
            return {"message": serialize_message(user.send(text, reply_to=reply_view))}
        if name == "location":
            lat = float(data.get("latitude", DEMO_LOCATION["latitude"]))
            lon = float(data.get("longitude", DEMO_LOCATION["longitude"]))
            return {"message": serialize_message(user.send_location(lat, lon))}
        if name == "keyboard":
            lat = float(data.get("latitude", DEMO_LOCATION["latitude"]))
            lon = float(data.get("longitude", DEMO_LOCATION["longitude"]))
            view = user.reply_keyboard_press(str(data.get("text", "")), lat, lon)
            return {"message": serialize_message(view)}
        if name == "press":
            cq = user.press(int(data.get("message_id", 0)), str(data.get("button", "")))
            return {"callback_query_id": cq.id}
        if name == "upload":
            parts = self.request.files.get("file")
            if not parts:
                raise ValueError("file required")
            part = parts[-1]
            caption = str(data.get("caption") or "") or None
            kind = str(data.get("kind") or "auto")
            if kind == "auto":
                kind = "photo" if part.content_type.startswith("image/") else "document"
            if kind == "photo":
                view = user.send_photo(part.body, caption=caption)
            elif kind == "video":
                view = user.send_video(part.body, caption=caption)
            elif kind == "voice":
                view = user.send_voice(part.body)
            else:
                view = user.send_document(
                    part.body,
                    filename=part.filename or "file",
                    mime_type=part.content_type,
                    caption=caption,
                )
            return {"message": serialize_message(view)}
        if name == "block":
            blocked = data.get("blocked") in (True, "true", "1", 1)
            (user.block if blocked else user.unblock)()
            return {"user": self.server.user_json(user)}
        raise LookupError(f"unknown endpoint {name!r}")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


class EmulatorServer:
    """Serves an :class:`Emulator` over HTTP on ``host``:``port`` (0 = pick a free port)."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emulator = emulator
        self.host = host
        self.port = port
        self._http: tornado.httpserver.HTTPServer | None = None
        self.inflight = 0  # Bot API requests being answered (long polls included)
        self.idle = asyncio.Event()
        self.idle.set()
        self._read_upto: dict[int, int] = {}  # sandbox page read markers per user
        args = {"server": self}
        self.app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z0-9_]+)", BotApiHandler, args),
                (r"/file/bot([^/]+)/(.+)", FileHandler, args),
                (r"/sandbox/api/(.+)", SandboxApi, args),
                (r"/", PageHandler, args),
            ],
            default_handler_class=_NotFound,
            default_handler_args=args,
        )

    async def start(self) -> int:
        """Start listening; returns the bound port."""
        sockets = tornado.netutil.bind_sockets(self.port, address=self.host)
        self._http = tornado.httpserver.HTTPServer(self.app, max_body_size=MAX_BODY)
        self._http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening, end long polls (closes the emulator) and close connections."""
        if self._http is None:
            return
        self._http.stop()
        await self.emulator.aclose()  # wakes long polls so their connections can finish
        # Let woken long polls answer before connections are closed (tornado would otherwise
        # cancel those handlers and log a 500).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), 2.0)
        with contextlib.suppress(Exception):
            await self._http.close_all_connections()
        self._http = None

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``base_url`` for ``telegram.Bot`` / ``ApplicationBuilder``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """``base_file_url`` for ``telegram.Bot`` / ``ApplicationBuilder``."""
        return f"{self.url}/file/bot"

    # sandbox helpers
    def next_user_id(self) -> int:
        """A free user id for a resident added from the page."""
        return max([*self.emulator.users, 9000]) + 1

    def mark_read(self, user: UserHandle) -> None:
        """The page displayed this chat: everything the bot sent so far is read."""
        ids = [m.message_id for m in user.messages(include_deleted=True)]
        self._read_upto[user.id] = max(ids, default=0)

    def user_json(self, user: UserHandle) -> dict[str, Any]:
        """One user for the page's list."""
        upto = self._read_upto.get(user.id, 0)
        unread = sum(1 for m in user.messages() if m.message_id > upto)
        return {
            "id": user.id,
            "label": user.label,
            # Family name first, as the bot shows names (handlers.common.person_name).
            "name": " ".join(x for x in (user.state.last_name, user.state.first_name) if x),
            "username": user.state.username,
            "language_code": user.state.language_code,
            "unread": unread,
            "blocked": user.blocked,
        }

    def users_json(self) -> list[dict[str, Any]]:
        """All users for the page's list."""
        return [self.user_json(u) for u in self.emulator.handles()]

    def chat_json(self, user: UserHandle) -> dict[str, Any]:
        """A user's whole chat for the page."""
        pinned = user.pinned
        return {
            "user": self.user_json(user),
            "messages": [serialize_message(m) for m in user.history()],
            "pinned": serialize_message(pinned) if pinned else None,
            "reply_keyboard": user.reply_keyboard,
            "seq": self.emulator.event_seq,
        }


class _NotFound(_Base):
    def prepare(self) -> None:
        _json(self, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
