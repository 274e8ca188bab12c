"""Groups, supergroups and channels: the chats the bot shares with more than one user.

:class:`GroupChats` is mixed into :class:`~bot.emulator.core.Emulator`: it creates these chats,
keeps the bot's membership (added, removed, left — each told to the bot as ``my_chat_member``),
decides which messages the bot is given (privacy mode, as BotFather sets it by default), and
answers ``leaveChat``. Tests act in these chats through :class:`~bot.emulator.client.GroupHandle`
and :class:`~bot.emulator.client.ChannelHandle`, which ``emu.group(...)`` and
``emu.channel(...)`` return.
"""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING, Any

from .state import (
    LEADING_COMMAND_RE,
    ApiError,
    BotState,
    ChatState,
    StoredMessage,
    Upload,
    UserState,
    bad_request,
)

if TYPE_CHECKING:
    from .client import ChannelHandle, GroupHandle

__all__ = ["GROUP_KINDS", "SERVICE_KEYS", "GroupChats", "member_dict"]

GROUP_KINDS = ("group", "supergroup")
BOT_STATUSES = ("member", "administrator", "left", "kicked")
# Message fields that make it a service message; bots get these even in privacy mode.
SERVICE_KEYS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
)


def member_dict(status: str, user: dict[str, Any], chat_type: str) -> dict[str, Any]:
    """The Bot API ChatMember dict for ``user`` with ``status`` in a chat of ``chat_type``."""
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    if status != "administrator":
        return {"status": status, "user": user}
    rights: dict[str, Any] = {
        "status": status,
        "user": user,
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
    }
    if chat_type == "channel":
        rights.update(can_post_messages=True, can_edit_messages=True)
    else:
        rights["can_pin_messages"] = True
    return rights


class GroupChats:
    """Group and channel semantics of the emulator (a mixin of ``Emulator``).

    Uses the host's ``chats``, ``_chat_handles``, ``_bot()``, ``_enqueue()``, ``_find_chat()``,
    ``_add_message()`` and ``_event()``.
    """

    chats: dict[int, ChatState]
    _chat_handles: dict[int, Any]

    # ------------------------------------------------------------------ creating chats

    def group(
        self,
        chat_id: int,
        title: str,
        kind: str = "group",
        *,
        username: str | None = None,
        bot_member: bool = True,
    ) -> GroupHandle:
        """Get or create a group (``kind="group"``) or supergroup and return its handle.

        ``chat_id`` is negative, as Telegram's are (supergroups' usually start with -100).
        With ``bot_member`` the bot is already in it, as if added earlier (nothing is queued);
        without, it is not until :meth:`GroupHandle.add_bot`. Asked again for an existing
        chat, it updates the title and leaves the membership as it is.
        """
        from .client import GroupHandle

        if kind not in GROUP_KINDS:
            raise ValueError(f"kind must be one of {GROUP_KINDS}, not {kind!r}")
        self._shared_chat(chat_id, title, kind, username, "member" if bot_member else None)
        return self._chat_handles.setdefault(chat_id, GroupHandle(self, chat_id))

    def channel(
        self,
        chat_id: int,
        title: str,
        *,
        username: str | None = None,
        bot_member: bool = True,
    ) -> ChannelHandle:
        """Get or create a channel and return its handle.

        With ``bot_member`` the bot is one of its administrators (the only way a bot is in a
        channel); without, it is not until :meth:`ChannelHandle.add_bot`.
        """
        from .client import ChannelHandle

        status = "administrator" if bot_member else None
        self._shared_chat(chat_id, title, "channel", username, status)
        return self._chat_handles.setdefault(chat_id, ChannelHandle(self, chat_id))

    def _shared_chat(
        self, chat_id: int, title: str, kind: str, username: str | None, bot_status: str | None
    ) -> ChatState:
        if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id >= 0:
            raise ValueError(f"group and channel ids are negative integers, not {chat_id!r}")
        if not title:
            raise ValueError("a group or channel needs a title")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = ChatState(id=chat_id, type=kind, title=title, username=username)
            chat.bot_status = bot_status or "left"
            self.chats[chat_id] = chat
            self._event("chat", chat_id)
        elif chat.type != kind:
            raise ValueError(f"chat {chat_id} is a {chat.type}, not a {kind}")
        else:
            chat.title = title
            chat.username = username or chat.username
        return chat

    # ------------------------------------------------------------------ membership

    def set_bot_status(self, chat: ChatState, status: str, by: dict[str, Any]) -> None:
        """Change the bot's membership in ``chat`` and tell it (``my_chat_member``).

        ``by`` is the User dict of whoever made the change (the bot itself when it leaves).
        """
        if status not in BOT_STATUSES:
            raise ValueError(f"status must be one of {BOT_STATUSES}, not {status!r}")
        if not chat.shared:
            raise ValueError("the bot's membership in private chats is the user's block")
        bot = self._bot()
        old = chat.bot_status or "left"
        chat.bot_status = status
        self._enqueue(
            "my_chat_member",
            {
                "chat": chat.as_chat(),
                "from": by,
                "date": int(time.time()),
                "old_chat_member": member_dict(old, bot.as_user(), chat.type),
                "new_chat_member": member_dict(status, bot.as_user(), chat.type),
            },
        )
        self._event("member", chat.id, status=status)

    def add_bot_to(
        self, chat: ChatState, by: UserState, status: str, service_message: bool
    ) -> None:
        """``by`` adds the bot to ``chat``: ``my_chat_member``, then (in groups) the service
        message announcing the new member, as Telegram sends both."""
        if chat.bot_present:
            raise RuntimeError(
                f"the bot is already in chat {chat.id} ({chat.bot_status}); create the chat "
                "with bot_member=False to add it"
            )
        if chat.type == "channel" and status != "administrator":
            raise ValueError("a bot can only be in a channel as an administrator")
        self.set_bot_status(chat, status, by.as_user())
        if service_message and chat.type != "channel":
            self.member_message(chat, by, {"new_chat_members": [self._bot().as_user()]})

    def remove_bot_from(self, chat: ChatState, by: UserState) -> None:
        """``by`` removes the bot: "left" in a basic group, "kicked" (banned) elsewhere."""
        if not chat.bot_present:
            raise RuntimeError(f"the bot is not in chat {chat.id} ({chat.bot_status})")
        self.set_bot_status(chat, "left" if chat.type == "group" else "kicked", by.as_user())

    def _check_present(self, chat: ChatState) -> None:
        """403 with Telegram's wording unless the bot is in the group or channel."""
        if chat.bot_present:
            return
        where = f"{chat.type} chat"
        if chat.bot_status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {where}")
        raise ApiError(403, f"Forbidden: bot is not a member of the {where}")

    def _check_can_post(self, chat: ChatState) -> None:
        """What sending into a shared chat requires: presence, and admin rights in channels."""
        self._check_present(chat)
        if chat.type == "channel" and chat.bot_status != "administrator":
            raise bad_request("need administrator rights in the channel chat")

    # ------------------------------------------------------------------ what the bot is given

    def bot_sees(self, chat: ChatState, data: dict[str, Any]) -> bool:
        """Whether Telegram gives the bot this message of a shared chat.

        In privacy mode (the default) a bot that is not an administrator gets, in groups, only
        commands (``/x``, or ``/x@this_bot``, not ``/x@other_bot``), messages mentioning it,
        replies to its messages and service messages. Channels give their admins every post.
        """
        if not chat.bot_present:
            return False
        bot = self._bot()
        if chat.type == "channel" or not bot.privacy_mode or chat.bot_status == "administrator":
            return True
        if any(key in data for key in SERVICE_KEYS):
            return True
        text = str(data.get("text") or data.get("caption") or "")
        if text.startswith("/"):
            match = LEADING_COMMAND_RE.match(text)
            target = match.group(0).partition("@")[2] if match else ""
            return not target or target.lower() == bot.username.lower()
        if re.search(rf"@{re.escape(bot.username)}\b", text, re.IGNORECASE):
            return True
        replied = data.get("reply_to_message") or {}
        return bool(replied.get("from", {}).get("id") == bot.id)

    def _deliver(self, chat: ChatState, msg: StoredMessage, kind: str) -> dict[str, Any] | None:
        """Queue ``kind`` carrying ``msg`` if the bot gets it; returns the update or None."""
        if chat.shared and not self.bot_sees(chat, msg.data):
            return None
        return self._enqueue(kind, copy.deepcopy(msg.data))

    # ------------------------------------------------------------------ user side

    def member_message(
        self,
        chat: ChatState,
        user: UserState,
        content: dict[str, Any],
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """``user`` writes in a group: store the message, and queue ``message`` if the bot
        gets it (see :meth:`bot_sees`); ``StoredMessage.update_id`` says whether it did."""
        if chat.type not in GROUP_KINDS:
            raise ValueError(f"chat {chat.id} is a {chat.type}; users write in groups")
        self._bot()
        replied = None
        if reply_to is not None:
            replied = copy.deepcopy(reply_to.data)
            replied.pop("reply_to_message", None)
        msg = self._add_message(chat, user.as_user(), content, from_bot=False, reply_to=replied)
        update = self._deliver(chat, msg, "message")
        msg.update_id = update["update_id"] if update else None
        return msg

    def channel_post(self, chat: ChatState, content: dict[str, Any]) -> StoredMessage:
        """The channel publishes a post (signed by the channel: no ``from``); queue
        ``channel_post`` if the bot is one of its administrators."""
        if chat.type != "channel":
            raise ValueError(f"chat {chat.id} is a {chat.type}, not a channel")
        self._bot()
        msg = self._add_message(chat, None, content, from_bot=False)
        update = self._deliver(chat, msg, "channel_post")
        msg.update_id = update["update_id"] if update else None
        return msg

    # ------------------------------------------------------------------ Bot API

    def _api_leavechat(self, bot: BotState, p: dict[str, Any], files: dict[str, Upload]) -> Any:
        chat = self._find_chat(p)
        if not chat.shared:
            raise bad_request("chat member status can't be changed in private chats")
        self._check_present(chat)
        self.set_bot_status(chat, "left", bot.as_user())
        return True
