"""Updates of different chats at once; the updates of one chat in the order they came.

PTB processes updates one by one unless told otherwise, and a person's flow must see
their updates in order (handlers.router). But then every update waits for the one before it,
including its round trips to Telegram (tens of milliseconds each) and its
database hops: on a Friday afternoon, when a province's hamlet heads file their
reports, they would queue behind each other. This processor lets the updates of
different chats run concurrently (at most ``limit`` at a time) and keeps each
chat strictly sequential, so a conversation still sees its updates one by one.
All our handlers are for private chats, where chat and user are the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from handlers.common import KeyedLocks

# PTB's own gate is acquired before we see the update; keeping it wide open means
# updates reach the per-chat locks in the order they arrived (an asyncio lock then
# serves them first come, first served), and ``limit`` bounds the real work.
_GATE = 1 << 20


class ChatOrderedProcessor(BaseUpdateProcessor):
    """At most ``limit`` updates at once, never two of the same chat."""

    __slots__ = ("_chats", "_limit", "_running", "observer")

    def __init__(self, limit: int) -> None:
        super().__init__(max_concurrent_updates=_GATE)
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._running = asyncio.Semaphore(limit)
        self._chats = KeyedLocks()
        # Told the id of each update once it has been handled (tests wait on it); or None.
        self.observer: Callable[[int], None] | None = None

    @property
    def limit(self) -> int:
        """How many updates may be processed at the same time."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's earlier updates, then for a free slot, then process."""
        chat = update.effective_chat if isinstance(update, Update) else None
        try:
            if chat is None:  # nothing to keep in order with
                async with self._running:
                    await coroutine
                return
            async with self._chats.hold(chat.id), self._running:
                await coroutine
        finally:
            if self.observer is not None and isinstance(update, Update):
                self.observer(update.update_id)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for running updates itself."""
