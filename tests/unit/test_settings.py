"""Settings: defaults, parsing, and one clear line for each mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

GOOD_TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345"


def test_defaults() -> None:
    s = load_settings()
    assert s.token is None and s.db == Path("binhyen.db")
    assert s.timezone == "Asia/Ho_Chi_Minh" and s.default_locale == "vi"
    assert s.bot_api_url == "https://api.telegram.org/bot"
    assert s.file_url() == "https://api.telegram.org/file/bot"
    assert s.admins == frozenset()


def test_from_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BINHYEN_DB=from-dotenv.db\nBINHYEN_DEFAULT_LOCALE=en\n")
    monkeypatch.setenv("BINHYEN_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("BINHYEN_ADMINS", "111, 222 333")
    monkeypatch.setenv("BINHYEN_DEFAULT_LOCALE", "vi")  # the environment wins over .env
    s = load_settings()
    assert s.token is not None and s.token.get_secret_value() == GOOD_TOKEN
    assert s.admins == frozenset({111, 222, 333})
    assert s.db == Path("from-dotenv.db") and s.default_locale == "vi"
    assert GOOD_TOKEN not in repr(s)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BINHYEN_SECRET_KEY", "short", "BINHYEN_SECRET_KEY: must be at least 32 characters"),
        ("BINHYEN_TOKEN", "not-a-token", "BINHYEN_TOKEN: does not look like a bot token"),
        ("BINHYEN_TIMEZONE", "Mars/Olympus", "BINHYEN_TIMEZONE: unknown time zone"),
        ("BINHYEN_ADMINS", "12,abc", "BINHYEN_ADMINS: must be Telegram user ids"),
        ("BINHYEN_DEFAULT_LOCALE", "fr", "BINHYEN_DEFAULT_LOCALE: Input should be 'vi' or 'en'"),
        ("BINHYEN_WEBHOOK_PORT", "99999", "BINHYEN_WEBHOOK_PORT: Input should be less than"),
        ("BINHYEN_BOT_API_URL", "ftp://x", "BINHYEN_BOT_API_URL: must be an http(s) URL"),
    ],
)
def test_each_mistake_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_webhook_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINHYEN_WEBHOOK_URL", "https://example.org/hook")
    with pytest.raises(SettingsError, match="BINHYEN_WEBHOOK_URL is set but BINHYEN_TOKEN"):
        load_settings()


def test_missing_secret_for_the_real_bot_is_named() -> None:
    s = load_settings(token=GOOD_TOKEN)
    with pytest.raises(SettingsError, match="BINHYEN_SECRET_KEY: missing"):
        s.secret()


def test_command_line_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "BINHYEN_TOKEN": GOOD_TOKEN, "BINHYEN_SECRET_KEY": "short"}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "run"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "binhyen: BINHYEN_SECRET_KEY: must be at least 32 characters"
    )
    assert "Traceback" not in proc.stderr
