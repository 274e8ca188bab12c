"""Settings from the environment and `.env`, prefix ``BINHYEN_``.

A missing or malformed setting must stop the bot with one clear line, not a
traceback: :func:`load_settings` raises :class:`SettingsError` whose message is
that line, and the command line prints it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.tip_lifecycle import TipPolicy

TELEGRAM_API_URL = "https://api.telegram.org/bot"
SUPPORTED_LOCALES = ("vi", "en")
# Only for the sandbox, whose database holds demo data: a real deployment must set its own.
SANDBOX_SECRET_KEY = "sandbox-only-not-secret-0123456789abcdef"

_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")


TOKEN_REJECTED = ("BINHYEN_TOKEN: Telegram rejected this token; copy it again from BotFather"
                  " (/mybots, API Token)")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="BINHYEN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = None
    db: Path = Path("binhyen.db")
    # A PostgreSQL server instead of the SQLite file (postgresql://user:password@host/db).
    database_url: SecretStr | None = None
    bot_api_url: str = TELEGRAM_API_URL
    bot_file_url: str | None = None
    secret_key: SecretStr | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    admins: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: Literal["vi", "en"] = "vi"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    sandbox_port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Updates of different chats processed at the same time (one chat's always in order).
    concurrent_updates: int = Field(default=64, ge=1, le=1024)
    # Scheduled reminders, digests and summaries (off: only on demand and from the CLI).
    schedule: bool = True
    # Tips: a resident's daily limit, the SLAs (BLTTHS 2015 art. 147 gives 20 days), and how
    # long after closing the link to an anonymous sender is kept.
    tip_daily_limit: int = Field(default=10, ge=1)
    tip_ack_hours: int = Field(default=24, ge=1)
    tip_close_days: int = Field(default=20, ge=1)
    tip_retention_days: int = Field(default=90, ge=1)

    @field_validator("database_url")
    @classmethod
    def _postgresql(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().strip().startswith(("postgresql://", "postgres://")):
            raise ValueError("is not a PostgreSQL URL (postgresql://user:password@host/db);"
                             " leave it unset for the SQLite file BINHYEN_DB")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not _TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token from BotFather (123456:ABC-...)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("secret_key")
    @classmethod
    def _secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _parse_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            if not all(p.isdigit() for p in parts):
                raise ValueError("must be Telegram user ids separated by commas")
            return frozenset(int(p) for p in parts)
        return value

    @field_validator("bot_api_url", "webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value:
            return None
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value

    @model_validator(mode="after")
    def _webhook_needs_token(self) -> Settings:
        if self.webhook_url and self.token is None:
            raise ValueError("BINHYEN_WEBHOOK_URL is set but BINHYEN_TOKEN is not")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def tip_policy(self) -> TipPolicy:
        """Limits and deadlines for tips."""
        return TipPolicy(
            daily_limit=self.tip_daily_limit,
            acknowledge_within=timedelta(hours=self.tip_ack_hours),
            close_within=timedelta(days=self.tip_close_days),
            retention=timedelta(days=self.tip_retention_days),
        )

    def secret(self) -> str:
        """The secret key; the caller has checked that one is set (see :func:`require_secret`)."""
        if self.secret_key is None:
            raise SettingsError("BINHYEN_SECRET_KEY: missing (any string of 32 or more characters)")
        return self.secret_key.get_secret_value()

    def token_value(self) -> str:
        """The bot token, or a :class:`SettingsError` naming the setting."""
        if self.token is None:
            raise SettingsError("BINHYEN_TOKEN: missing (the token BotFather gave you)")
        return self.token.get_secret_value()

    def file_url(self) -> str:
        """Base URL for file downloads, derived from the API URL unless set."""
        if self.bot_file_url:
            return self.bot_file_url
        return re.sub(r"/bot$", "/file/bot", self.bot_api_url)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; any problem becomes one :class:`SettingsError` line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        name = f"BINHYEN_{loc[0].upper()}" if loc else "settings"
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        problems.append(f"{name}: {msg}" if loc else msg)
    return "; ".join(problems)
