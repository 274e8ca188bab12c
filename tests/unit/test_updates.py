"""The update processor: different chats at once, one chat in order, a bound on both."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Update

from bot.updates import ChatOrderedProcessor


def _update(n: int, chat: int) -> Update:
    return Update.de_json({"update_id": n, "message": {
        "message_id": n, "date": 0, "text": "x", "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "U"}}}, None)


async def test_one_chat_waits_while_others_go_on() -> None:
    processor = ChatOrderedProcessor(limit=8)
    release = asyncio.Event()
    log: list[str] = []

    b1_done = asyncio.Event()

    async def work(name: str, wait: bool = False) -> None:
        log.append(f"start {name}")
        if wait:
            await release.wait()
        log.append(f"end {name}")
        if name == "b1":
            b1_done.set()

    tasks = [
        asyncio.create_task(processor.process_update(_update(1, 10), work("a1", wait=True))),
        asyncio.create_task(processor.process_update(_update(2, 10), work("a2"))),
        asyncio.create_task(processor.process_update(_update(3, 20), work("b1"))),
    ]
    await asyncio.wait_for(b1_done.wait(), 5)
    # b1 went past the blocked chat; a2 has not started behind a1.
    assert log == ["start a1", "start b1", "end b1"]
    release.set()
    await asyncio.gather(*tasks)
    assert log[3:] == ["end a1", "start a2", "end a2"]
    assert len(processor._chats) == 0  # nothing kept for chats with nothing pending


async def test_at_most_limit_at_once_and_each_chat_in_arrival_order() -> None:
    processor = ChatOrderedProcessor(limit=3)
    running = peak = 0
    seen: dict[int, list[int]] = {}

    async def work(n: int, chat: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        seen.setdefault(chat, []).append(n)
        running -= 1

    await asyncio.gather(*(processor.process_update(_update(n, n % 7), work(n, n % 7))
                           for n in range(200)))
    assert peak == 3
    for chat, order in seen.items():
        assert order == sorted(order), chat
    assert sum(len(v) for v in seen.values()) == 200


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        ChatOrderedProcessor(limit=0)
