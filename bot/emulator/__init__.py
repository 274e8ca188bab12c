"""A local Telegram Bot API emulator: the sandbox's backend and the end-to-end tests' Telegram.

Typical use::

    emu = Emulator()
    emu.add_bot(token="123:ABC", username="binhyen_sandbox_bot", first_name="Bình Yên")
    server = EmulatorServer(emu)
    await server.start()
    app = ApplicationBuilder().token("123:ABC").base_url(server.base_url)
          .base_file_url(server.base_file_url).build()
    lan = emu.user(1001, "Lan")
    lan.send("/start")
    reply = await lan.next_message()
"""

from .client import CallbackQueryRef, MessageView, UserHandle
from .core import ApiError, CallRecord, Emulator, FileRecord, tiny_png
from .limits import ManualClock, RateLimiter, TokenBucket
from .server import DEMO_LOCATION, EmulatorServer

__all__ = [
    "DEMO_LOCATION",
    "ApiError",
    "CallRecord",
    "CallbackQueryRef",
    "Emulator",
    "EmulatorServer",
    "FileRecord",
    "ManualClock",
    "MessageView",
    "RateLimiter",
    "TokenBucket",
    "UserHandle",
    "tiny_png",
]
