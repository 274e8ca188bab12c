"""Token-bucket rate limits modelled on Telegram's flood control.

Telegram answers a bot that sends too fast with ``429 Too Many Requests: retry after N``. The
documented guidance is about 30 messages per second overall and about one message per second
per chat (short bursts in private chats are tolerated). The emulator enforces the same shape so
that the product's sending code (broadcast waves, reminders) is tested against it.

The clock is injectable so tests can advance time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["ManualClock", "RateLimiter", "TokenBucket"]

Clock = Callable[[], float]


class ManualClock:
    """A monotonic clock for tests: call it to read, :meth:`advance` to move forward."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


class TokenBucket:
    """A bucket refilled at ``rate`` tokens/s holding at most ``burst`` tokens.

    A request for more tokens than ``burst`` (a big media group) is allowed once the bucket is
    full and drives it negative, so it is delayed, never starved.
    """

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    def wait_time(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens may be taken (0.0 when they may be taken now)."""
        self._refill()
        need = min(float(n), float(self.burst))
        if self._tokens >= need:
            return 0.0
        return (need - self._tokens) / self.rate

    def take(self, n: float = 1) -> None:
        """Remove ``n`` tokens (call after :meth:`wait_time` returned 0)."""
        self._refill()
        self._tokens -= n


class RateLimiter:
    """Global + per-chat buckets; :meth:`acquire` is all-or-nothing across both."""

    def __init__(
        self,
        global_rate: float = 30.0,
        global_burst: float = 30,
        chat_rate: float = 1.0,
        chat_burst: float = 3,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.global_bucket = TokenBucket(global_rate, global_burst, clock)
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self._chats: dict[int | str, TokenBucket] = {}

    def _chat(self, chat_id: int | str) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = self._chats[chat_id] = TokenBucket(self.chat_rate, self.chat_burst, self.clock)
        return bucket

    def acquire(self, chat_id: int | str, n: int = 1) -> int:
        """Take ``n`` message slots for ``chat_id``.

        Returns 0 when allowed (tokens consumed), else the whole number of seconds (≥ 1) to
        retry after; nothing is consumed in that case, as a refused call sends nothing.
        """
        chat = self._chat(chat_id)
        wait = max(self.global_bucket.wait_time(n), chat.wait_time(n))
        if wait > 0:
            return max(1, math.ceil(wait))
        self.global_bucket.take(n)
        chat.take(n)
        return 0
