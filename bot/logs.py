"""Logging set-up: one format, secrets never written, and nothing about a person.

httpx logs every request URL, and the Bot API puts the token in the URL
(``/bot<token>/getUpdates``), so a filter on our handler rewrites any record that
contains a secret before it is formatted out.

A person's data (their Telegram id, name, username, phone, what they wrote) must not reach a
log at any level. Our own lines name rows (``outbox item 12``), never people. Other libraries
are the risk: at DEBUG, python-telegram-bot prints every update and every request's parameters
whole, and aiosqlite every statement's parameters. So only our own packages go below INFO;
every other logger is held at INFO even when ``BINHYEN_LOG_LEVEL=DEBUG``. The few lines PTB
writes above DEBUG with the raw data of an update it could not parse ("Received data was
...") keep their text but lose that data.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

OURS = ("bot", "handlers", "storage", "locales", "__main__")  # the loggers that may go to DEBUG
FLOOR = logging.INFO  # the lowest level any other library's logger writes at


def _ours(name: str) -> bool:
    return any(name == pkg or name.startswith(pkg + ".") for pkg in OURS)


def _carries_data(value: object) -> bool:
    """An argument that may hold an update, a request or a response: withheld."""
    if isinstance(value, (dict, list, tuple, bytes, bytearray)):
        return True
    if isinstance(value, str):
        return "{" in value  # JSON text
    return type(value).__module__.startswith("telegram")  # Update, Message, User...


class RedactingFilter(logging.Filter):
    """Replaces each secret (and the token's id-less tail) with a placeholder."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets: list[str] = []
        for secret in secrets:
            if secret:
                self._secrets.append(secret)
                # The part after "123:" is the actual secret in a token.
                _, sep, tail = secret.partition(":")
                if sep and len(tail) >= 20:
                    self._secrets.append(tail)

    def filter(self, record: logging.LogRecord) -> bool:
        if not _ours(record.name) and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if any(_carries_data(arg) for arg in args):
                record.args = tuple("[withheld]" if _carries_data(arg) else arg for arg in args)
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions from httpx carry the URL too: format now, redacted.
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, "[redacted]")
            record.exc_text = text
            record.exc_info = None
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None
                  ) -> None:
    """Configure the root logger once for the process (to stderr unless ``stream``)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_binhyen", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._binhyen = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    wanted = logging.getLevelName(level) if isinstance(level, str) else level
    root.setLevel(max(wanted, FLOOR))  # every other library: INFO at the lowest
    for name in OURS:
        logging.getLogger(name).setLevel(wanted)
    # Request lines (one per poll), the scheduler's runs and the sandbox emulator's access
    # log are noise unless the operator asked for DEBUG; then they show at INFO (redacted).
    noisy = logging.INFO if wanted <= logging.DEBUG else logging.WARNING
    for name in ("httpx", "apscheduler", "tornado.access"):
        logging.getLogger(name).setLevel(noisy)
    for name in ("httpcore", "aiosqlite", "telegram", "hpack", "matplotlib", "PIL", "asyncio"):
        # Cleared so that they inherit the floor, even if something set them lower.
        logging.getLogger(name).setLevel(logging.NOTSET)
