"""Button data: one format, built and parsed here and nowhere else.

Every inline button carries ``kind:field:field…`` (at most 64 bytes, Telegram's limit). The
kind says who handles the press: a flow (``tipf``, ``repf``, ``evf``, ``inv``, ``desk``,
``answer``, ``offer``) or a screen that needs no flow (``tip`` cards, ``lang``, ``menu``,
``inbox``, ``ans``, ``cmpl``, ``repl``, ``repv``, ``repo``). The fields are plain words and
numbers; a handler reads them with :meth:`Press.int` and friends, which give None for
anything malformed, so a forged or outdated press is answered as stale instead of raising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
_FIELD = re.compile(r"^[\w.-]*$")


@dataclass(frozen=True)
class Press:
    """A pressed button's data, parsed."""

    kind: str
    fields: tuple[str, ...]

    @property
    def action(self) -> str:
        """The first field ('' if there is none)."""
        return self.fields[0] if self.fields else ""

    def field(self, index: int) -> str | None:
        """Field ``index`` (0 is the action), or None."""
        return self.fields[index] if 0 <= index < len(self.fields) else None

    def int(self, index: int) -> int | None:
        """Field ``index`` as a non-negative integer of sane size, or None."""
        value = self.field(index)
        if value is None or not value.isdigit() or len(value) > 12:
            return None
        return int(value)


def parse(data: str | None) -> Press | None:
    """The press behind ``data``, or None if it is not ours."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    kind, *fields = data.split(":")
    if not kind or not all(_FIELD.match(f) for f in (kind, *fields)):
        return None
    return Press(kind, tuple(fields))


def data(kind: str, *fields: object) -> str:
    """Button data for ``kind`` and its fields (checked against Telegram's 64 bytes)."""
    text = ":".join((kind, *(str(f) for f in fields)))
    if len(text.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {text!r}")
    return text
