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


def test_other_libraries_stay_at_info_and_their_raw_data_is_withheld() -> None:
    """At DEBUG, only our packages go below INFO; PTB's "Received data was" loses the data."""
    from bot.logs import setup_logging

    out = io.StringIO()
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    setup_logging("DEBUG", [TOKEN], stream=out)
    try:
        assert logging.getLogger("handlers.tips").getEffectiveLevel() == logging.DEBUG
        for name in ("telegram.ext.Application", "telegram.Bot", "aiosqlite", "httpcore"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.INFO, name
        update = {"update_id": 1, "message": {"text": "bí mật của người báo tin",
                                              "from": {"id": 5550123, "first_name": "Lụa"}}}
        logging.getLogger("telegram.ext.Updater").critical(
            "Error while parsing updates! Received data was %r", [update])
        logging.getLogger("telegram.Bot").debug("Calling Bot API with parameters %s", update)
        logging.getLogger("handlers.tips").debug("draft %d saved", 17)
    finally:
        for handler in list(root.handlers):
            if handler not in saved[1]:
                root.removeHandler(handler)
        root.setLevel(saved[0])
    text = out.getvalue()
    assert "Received data was '[withheld]'" in text
    assert "bí mật" not in text and "5550123" not in text and "Lụa" not in text
    assert "Calling Bot API" not in text  # DEBUG from a library: not written at all
    assert "draft 17 saved" in text  # DEBUG from our own code: written
