"""A bounded cache that forgets the entry used longest ago: what the per-process caches of
the repositories are made of, so that none grows with the number of users or tips.

``functools.lru_cache`` caches a function's results and cannot forget one key when a row
changes; the repositories need exactly that (every write updates or drops its entry).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class Lru(Generic[K, V]):
    """At most ``bound`` entries; reading or writing one makes it the most recently used,
    and a write past the bound drops the least recently used."""

    __slots__ = ("_entries", "bound")

    def __init__(self, bound: int) -> None:
        if bound < 1:
            raise ValueError("bound must be at least 1")
        self.bound = bound
        self._entries: OrderedDict[K, V] = OrderedDict()

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        """The entry, or ``default`` when it is not (or no longer) cached."""
        try:
            self._entries.move_to_end(key)
            return self._entries[key]
        except KeyError:  # not cached (or dropped meanwhile by a write on the database thread)
            return default

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key`` (replacing what was there)."""
        self._entries.pop(key, None)
        self._entries[key] = value  # a new key goes last: the most recent
        if len(self._entries) > self.bound:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        """Forget ``key`` (nothing happens when it is not cached)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()

    def items(self) -> list[tuple[K, V]]:
        """What is cached, least recently used first (a look, not a use)."""
        return list(self._entries.items())

    def __contains__(self, key: object) -> bool:
        return key in self._entries  # without making it recent: a look, not a use

    def __len__(self) -> int:
        return len(self._entries)
