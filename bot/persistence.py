"""PTB persistence backed by our SQLite file (see storage.persisted).

Conversation states are written as soon as they change and user data on PTB's
update interval and at shutdown, so a restart in the middle of a conversation
resumes it. Chat data, bot data and callback data are not used by Bình Yên.
"""

from __future__ import annotations

import copy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage.persisted import PersistedStore


class SqlitePersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    """User data and conversation states in the bot's database, sealed."""

    def __init__(self, store: PersistedStore, *, update_interval: float = 5) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._store = store
        self._user_data: dict[int, dict[str, Any]] = {}
        self._conversations: dict[str, ConversationDict] = {}

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        """All stored user data, by Telegram user id."""
        loaded = await self._store.load("user")
        self._user_data = {int(k): dict(v) for k, v in loaded.items()}  # type: ignore[arg-type, call-overload]
        return copy.deepcopy(self._user_data)

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        """Chat data is not persisted."""
        return {}

    async def get_bot_data(self) -> dict[str, Any]:
        """Bot data is not persisted."""
        return {}

    async def get_callback_data(self) -> CDCData | None:
        """Arbitrary callback data is not used."""
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        """The stored states of conversation ``name``."""
        conversations = await self._store.conversations(name)
        self._conversations[name] = dict(conversations)  # type: ignore[arg-type]
        return dict(conversations)  # type: ignore[arg-type]

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Write a changed state at once."""
        states = self._conversations.setdefault(name, {})
        if states.get(key) == new_state:
            return
        if new_state is None:
            states.pop(key, None)
        else:
            states[key] = new_state
        await self._store.save_conversation(name, key, new_state)

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        """Write a user's data if it changed since it was last written."""
        if self._user_data.get(user_id) == data:
            return
        self._user_data[user_id] = copy.deepcopy(data)
        await self._store.save("user", user_id, data)

    async def drop_user_data(self, user_id: int) -> None:
        """Forget a user's data."""
        self._user_data.pop(user_id, None)
        await self._store.drop("user", user_id)

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        """Chat data is not persisted."""

    async def drop_chat_data(self, chat_id: int) -> None:
        """Chat data is not persisted."""

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        """Bot data is not persisted."""

    async def update_callback_data(self, data: CDCData) -> None:
        """Arbitrary callback data is not used."""

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        """The in-memory copy is authoritative within one process."""

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        """Chat data is not persisted."""

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        """Bot data is not persisted."""

    async def flush(self) -> None:
        """Everything is written as it changes; nothing is buffered here."""
