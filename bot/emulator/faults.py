"""Injected failures: make chosen Bot API calls fail the way Telegram and networks fail.

``emu.faults.add("sendMessage", status=502)`` makes the next ``sendMessage`` answer 502 Bad
Gateway without sending anything; ``delay`` makes a call slow (a client with a shorter read
timeout gets ``TimedOut``), ``drop`` closes the connection without an answer, and ``after``
does any of these only once the call was carried out — Telegram delivered the message, and the
answer was lost. Faults match by method and optionally by chat, are checked in the order they
were added, and the first one with uses left applies; each counts the calls it affected.

What python-telegram-bot 22 raises for each (see tests/emulator/test_faults.py):

=====================================  ==============================================
fault                                  PTB exception
=====================================  ==============================================
``status=500`` / ``502`` / other 5xx   ``NetworkError`` (the description is its message)
``status=429`` (or ``retry_after=N``)  ``RetryAfter`` with ``retry_after`` N
``status=400`` / ``403``               ``BadRequest`` / ``Forbidden``
``delay`` beyond the read timeout      ``TimedOut``
``drop``                               ``NetworkError`` ("Server disconnected without sending a
                                       response")
=====================================  ==============================================

The registry lives in the emulator's process and is consulted on every call, so a test arms
faults the same way whether the bot runs in the test's event loop or as a subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

__all__ = ["ConnectionDropped", "Fault", "Faults"]

ANY_METHOD = "*"


class ConnectionDropped(Exception):
    """Raised by :meth:`Emulator.call` when the call gets no answer at all.

    The HTTP front closes the connection; an in-process caller sees the exception.
    """


def chat_key(value: Any) -> int | str | None:
    """A chat id as faults compare it: an int when it reads as one, else the lowered text."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        return str(value).lower()


class Fault:
    """One armed fault; :meth:`Faults.add` documents the parameters."""

    def __init__(
        self,
        registry: Faults,
        method: str,
        *,
        chat_id: int | str | None,
        status: int | None,
        retry_after: int | None,
        delay: float,
        drop: bool,
        after: bool,
        times: int | None,
        description: str | None,
    ) -> None:
        self._registry = registry
        self.method = method
        self.chat_id = chat_id
        self.status = status
        self.retry_after = retry_after
        self.delay = delay
        self.drop = drop
        self.after = after
        self.times = times
        self.description = description
        self.hits = 0  # calls this fault affected
        self.removed = False

    @property
    def remaining(self) -> int | None:
        """Uses left (None: until removed)."""
        return None if self.times is None else max(0, self.times - self.hits)

    @property
    def active(self) -> bool:
        """True while it still applies to matching calls."""
        return not self.removed and self.remaining != 0

    def matches(self, method: str, chat: int | str | None) -> bool:
        """Whether a call of ``method`` concerning ``chat`` is one this fault is for."""
        if self.method not in (ANY_METHOD, method.lower()):
            return False
        return self.chat_id is None or self.chat_id == chat

    def error(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and Telegram-shaped body of this fault's error answer."""
        assert self.status is not None
        body: dict[str, Any] = {"ok": False, "error_code": self.status}
        if self.status == 429:
            seconds = self.retry_after or 1
            body["description"] = self.description or f"Too Many Requests: retry after {seconds}"
            body["parameters"] = {"retry_after": seconds}
        else:
            body["description"] = self.description or _phrase(self.status)
        return self.status, body

    def remove(self) -> None:
        """Disarm the fault (calls already affected stay affected)."""
        self._registry.remove(self)

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __str__(self) -> str:
        parts = []
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        if self.drop:
            parts.append("drop")
        if self.status is not None:
            parts.append(f"status {self.status}")
        what = ", then ".join(parts) or "nothing"
        return f"after processing: {what}" if self.after else what

    def __repr__(self) -> str:
        chat = "" if self.chat_id is None else f" chat={self.chat_id}"
        times = "∞" if self.times is None else self.times
        return f"<Fault {self.method}{chat} {self}, times={times} hits={self.hits}>"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


class Faults:
    """The emulator's armed faults (``emu.faults``)."""

    def __init__(self, notify: Callable[[], None] | None = None) -> None:
        self._faults: list[Fault] = []
        # Wakes the emulator's waiters, so a test waiting on ``fault.hits`` sees a hit at once.
        self._notify = notify or (lambda: None)

    def add(
        self,
        method: str,
        chat_id: int | str | None = None,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        after: bool = False,
        times: int | None = 1,
        description: str | None = None,
    ) -> Fault:
        """Arm a fault for calls of ``method`` (case-insensitive; ``"*"``: every method).

        - ``chat_id``: only calls for that chat (the call's ``chat_id``; for
          answerCallbackQuery the chat of the pressed message). Ints and numeric strings match
          each other; ``"@name"`` matches the same text.
        - ``status``: answer with that HTTP status and a Telegram-shaped error instead of
          carrying the call out: 500 "Internal Server Error", 502 "Bad Gateway", 429 "Too Many
          Requests: retry after N" with ``parameters.retry_after`` (``retry_after``, default 1),
          others with ``description`` (e.g. "Forbidden: bot was blocked by the user") or the
          HTTP phrase. Left out, it is 429 when ``retry_after`` is given, none when ``delay`` or
          ``drop`` is (the call is only slowed or dropped), and 500 otherwise.
        - ``delay``: wait that many seconds first. Without ``after`` the call is carried out
          only if the client is still connected when the delay ends: one that timed out and
          hung up left nothing behind.
        - ``drop``: close the connection without any answer.
        - ``after``: carry the call out first (the message is delivered and stored), then
          delay, drop or answer with ``status``: the answer was lost, not the message.
        - ``times``: how many calls it affects (None: until removed).

        Returns the :class:`Fault` (``hits``, ``remaining``, ``remove()``; usable as a context
        manager that removes it on exit).
        """
        if not method:
            raise ValueError("method is required (or '*' for every method)")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for until removed")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if status is None:
            if retry_after is not None:
                status = 429
            elif not (delay or drop):
                status = 500
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"status {status} is not an error status (400-599)")
        if drop and status is not None:
            raise ValueError("a dropped connection has no answer, so no status")
        if retry_after is not None and status != 429:
            raise ValueError("retry_after goes with status 429")
        if retry_after is not None and retry_after < 1:
            raise ValueError("retry_after must be at least 1 second")
        fault = Fault(
            self,
            ANY_METHOD if method == ANY_METHOD else method.lower(),
            chat_id=chat_key(chat_id),
            status=status,
            retry_after=retry_after,
            delay=float(delay),
            drop=drop,
            after=after,
            times=times,
            description=description,
        )
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Disarm ``fault`` (no error if it was already spent or removed)."""
        fault.removed = True
        if fault in self._faults:
            self._faults.remove(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        for fault in list(self._faults):
            self.remove(fault)

    @property
    def active(self) -> list[Fault]:
        """The faults that still apply, in the order they are checked."""
        return [f for f in self._faults if f.active]

    def take(self, method: str, chat: int | str | None) -> Fault | None:
        """The first active fault for this call, counted as a hit; None when none applies."""
        for fault in self._faults:
            if fault.active and fault.matches(method, chat):
                fault.hits += 1
                if not fault.active:
                    self._faults.remove(fault)  # spent: ``active`` and later calls skip it
                self._notify()
                return fault
        return None
