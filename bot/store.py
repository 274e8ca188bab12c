"""Which database the bot and its commands run on: the SQLite file, or PostgreSQL.

Kept apart from bot.app so that the one-shot commands open the same database without
importing the whole bot.
"""

from __future__ import annotations

from bot.settings import Settings
from storage.db import Database, Store, UnusableDatabase


async def open_store(settings: Settings, *, as_the_bot: bool = False) -> Store:
    """The database the settings name: PostgreSQL (BINHYEN_DATABASE_URL), else the SQLite
    file (BINHYEN_DB); brought to this release's schema. A server that cannot be reached
    is :class:`UnusableDatabase`, one line without the password; so is, ``as_the_bot``, a
    database another bot process holds (``PgDatabase.hold_as_the_bot``)."""
    if settings.database_url is None:
        return await Database.open(settings.db)  # (two bots on one file: not detected yet)
    import psycopg

    from storage.postgres import NewerSchema, PgDatabase

    url = settings.database_url.get_secret_value()
    shown = url.split("@")[-1]
    try:
        db = await PgDatabase.open(url)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnusableDatabase(shown, f"cannot connect ({reason})",
                               "BINHYEN_DATABASE_URL") from None
    except NewerSchema as exc:
        raise UnusableDatabase(shown, str(exc), "BINHYEN_DATABASE_URL") from None
    if as_the_bot and not await db.hold_as_the_bot():
        await db.close()
        raise UnusableDatabase(
            shown, "another bot process is running on this database; only one may, until"
            " several replicas are supported", "BINHYEN_DATABASE_URL")
    return db
