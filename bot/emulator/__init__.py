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

    emu.faults.add("sendMessage", status=502)        # the next sendMessage: 502 Bad Gateway
    hamlet = emu.group(-1001, "Ấp An Phú")          # a group the bot is in
    hamlet.send(lan, "/inbox")
    lan.edit(lan.send("typo"), "fixed")              # an edited_message update

Modules: ``state`` (the data model), ``core`` (Bot API semantics), ``groups`` (groups and
channels), ``faults`` (injected failures), ``client`` (the users' side), ``server`` (HTTP),
``markup`` and ``limits``.
"""

from .client import (
    CallbackQueryRef,
    ChannelHandle,
    ChatReader,
    GroupHandle,
    MessageView,
    UserHandle,
)
from .core import ApiError, CallRecord, Emulator, FileRecord, tiny_png
from .faults import ConnectionDropped, Fault, Faults
from .limits import ManualClock, RateLimiter, TokenBucket
from .server import DEMO_LOCATION, EmulatorServer

__all__ = [
    "DEMO_LOCATION",
    "ApiError",
    "CallRecord",
    "CallbackQueryRef",
    "ChannelHandle",
    "ChatReader",
    "ConnectionDropped",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "Faults",
    "FileRecord",
    "GroupHandle",
    "ManualClock",
    "MessageView",
    "RateLimiter",
    "TokenBucket",
    "UserHandle",
    "tiny_png",
]
