"""The token never reaches a log line, even inside an exception."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFilter

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"


def _handler() -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(RedactingFilter([TOKEN]))
    return handler, out


def test_url_with_token_is_redacted() -> None:
    handler, out = _handler()
    log = logging.getLogger("test.redact.url")
    log.addHandler(handler)
    log.propagate = False
    log.warning('HTTP Request: POST %s "HTTP/1.1 200 OK"',
                f"https://api.telegram.org/bot{TOKEN}/getUpdates")
    assert TOKEN not in out.getvalue() and "ABCdefGHI" not in out.getvalue()
    assert "bot[redacted]/getUpdates" in out.getvalue()


def test_exception_text_is_redacted() -> None:
    handler, out = _handler()
    log = logging.getLogger("test.redact.exc")
    log.addHandler(handler)
    log.propagate = False
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
    except ConnectionError:
        log.exception("failed")
    assert "ConnectionError" in out.getvalue()
    assert TOKEN not in out.getvalue() and "ABCdefGHI" not in out.getvalue()
