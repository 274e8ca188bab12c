"""Logging set-up: one format, and secrets never written.

httpx logs every request URL, and the Bot API puts the token in the URL
(``/bot<token>/getUpdates``), so a filter on our handler rewrites any record that
contains a secret before it is formatted out.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable


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


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once for the process."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_binhyen", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._binhyen = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    # A request line per poll is noise at INFO; DEBUG still shows them (redacted).
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # The sandbox's emulator logs every long poll.
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
