"""The emulator's chats, people and files, kept in a file across restarts (the sandbox).

A real Telegram keeps every chat when the bot restarts; the in-memory emulator forgot them,
so after a restart of the sandbox every chat on the page was empty and every person added
from the page was gone, while the bot's database still held their tips and cards. Worse,
message ids and update ids started again at 1: the bot would have edited the wrong message
for a card it remembered, and taken a new update for one it had already applied.

:func:`save` writes what a Telegram server keeps for the bot (users, chats with every message
and its versions, pins, reply keyboards, files, the next update id and file number) as JSON,
atomically (a temporary file renamed over the old one); :func:`load` puts it back into a
fresh emulator before the bot starts. Call records, callback queries and faults are not
kept: they belong to one run. :class:`Keeper` saves a running emulator a moment after each
change, and once more when it stops.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import itertools
import json
import logging
import os
from pathlib import Path
from typing import Any

from .core import Emulator
from .state import ChatState, FileRecord, StoredMessage, UserState

log = logging.getLogger(__name__)

VERSION = 1
SETTLE = 0.5  # seconds after a change before it is written (a burst is written once)


def state_of(emulator: Emulator) -> dict[str, Any]:
    """What is kept, as JSON-ready data (taken on the event loop, so it is consistent)."""
    bot = emulator._bot()
    return {
        "version": VERSION,
        "next_update_id": bot.next_update_id,
        # Files, media groups and callback queries are numbered from one counter: the next
        # number is taken (one skipped per save; they only need to be unique).
        "next_number": next(emulator._ids),
        "event_seq": emulator.event_seq,
        "users": [dataclasses.asdict(u) for u in emulator.users.values()],
        "chats": [_chat(c) for c in emulator.chats.values()],
        "files": [{**{f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)
                      if f.name != "data"},
                   "data": base64.b64encode(rec.data).decode()}
                  for rec in emulator.files.values()],
    }


def _chat(chat: ChatState) -> dict[str, Any]:
    out = {f.name: getattr(chat, f.name) for f in dataclasses.fields(chat) if f.name != "messages"}
    out["messages"] = [dataclasses.asdict(m) for m in chat.messages.values()]
    return out


def save(emulator: Emulator, path: Path) -> None:
    """Write the emulator's chats, people and files to ``path`` (atomically)."""
    write(state_of(emulator), path)


def write(state: dict[str, Any], path: Path) -> None:
    """Write a taken state (may run in a thread)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def load(emulator: Emulator, path: Path) -> bool:
    """Put back what :func:`save` wrote into a fresh emulator (its bot added, no chats yet);
    False if there is nothing to load. A damaged file, or one of another version, is set
    aside, not read."""
    if not path.exists():
        return False
    try:
        data = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError):  # a half-written or damaged file
        data = {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        aside = path.with_name(path.name + ".old")
        os.replace(path, aside)
        log.warning("%s is damaged or of another version; set aside as %s", path, aside)
        return False
    bot = emulator._bot()
    bot.next_update_id = max(bot.next_update_id, int(data["next_update_id"]))
    emulator._ids = itertools.count(int(data["next_number"]))
    emulator.event_seq = max(emulator.event_seq, int(data.get("event_seq", 0)))
    for raw in data["files"]:
        rec = FileRecord(**{**raw, "data": base64.b64decode(raw["data"])})
        emulator.files[rec.file_id] = rec
        emulator.files_by_path[rec.file_path] = rec
    for raw in data["chats"]:
        messages = raw.pop("messages")
        chat = ChatState(**raw)
        chat.messages = {m["message_id"]: StoredMessage(**m) for m in messages}
        emulator.chats[chat.id] = chat
    from .client import UserHandle

    for raw in data["users"]:
        state = UserState(**raw)
        emulator.users[state.id] = state
        emulator.chats.setdefault(state.id, ChatState(id=state.id, type="private"))
        emulator._handles[state.id] = UserHandle(emulator, state)
    return True


class Keeper:
    """Saves a running emulator to ``path`` a moment after anything changes, and on stop."""

    def __init__(self, emulator: Emulator, path: Path) -> None:
        self._emulator = emulator
        self.path = path
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._saved: tuple | None = None

    def _mark(self) -> tuple:
        emu = self._emulator
        return (emu.event_seq, emu._bot().next_update_id, len(emu.users), len(emu.files))

    def start(self) -> None:
        """Begin watching (on the running loop)."""
        self._saved = self._mark()
        self._task = asyncio.create_task(self._run(), name="emulator-snapshot")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._emulator.wait_for_change(5.0)
            if self._mark() == self._saved:
                continue
            await asyncio.sleep(SETTLE)
            await self.save_now()

    async def save_now(self) -> None:
        """Write the current state now (off the event loop)."""
        mark = self._mark()
        try:
            await asyncio.to_thread(write, state_of(self._emulator), self.path)
        except OSError:  # a full disk must not stop the sandbox; said, and tried again later
            log.exception("could not keep the sandbox's chats in %s", self.path)
            return
        self._saved = mark

    async def stop(self) -> None:
        """Stop watching and write once more."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.save_now()
