"""What each command-line command does (see bot.cli for the parser)."""

from __future__ import annotations

import argparse
import sys

from telegram import Bot
from telegram.error import TelegramError

from bot.settings import Settings, SettingsError
from handlers.enrolment import poster_payload
from locales import t
from storage.crypto import Vault
from storage.db import Database
from storage.invitations import InvitationRepo
from storage.models import Role
from storage.units import UnitRepo, UnitsCsvError, parse_units_csv


def _fail(message: str) -> int:
    print(f"binhyen: {message}", file=sys.stderr)
    return 1


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """The bot against Telegram (polling, or webhook when configured)."""
    from bot.app import run_until_signalled

    settings.secret()  # fail before connecting if the key is missing
    await run_until_signalled(settings)
    return 0


async def sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """The local emulator, the bot and the web chat page."""
    from bot.sandbox import run_sandbox

    await run_sandbox(settings)
    return 0


async def units(args: argparse.Namespace, settings: Settings) -> int:
    """``units import FILE`` / ``units list``."""
    db = await Database.open(settings.db)
    try:
        repo = UnitRepo(db)
        if args.units_command == "import":
            try:
                text = args.file.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                return _fail(f"{args.file}: cannot read as UTF-8 text ({exc})")
            try:
                result = await repo.import_rows(parse_units_csv(text))
            except UnitsCsvError as exc:
                return _fail(f"{args.file}: {exc}; nothing was imported")
            print(f"{result.created} created, {result.updated} updated, "
                  f"{result.unchanged} unchanged")
            return 0
        tree = await repo.tree()

        def show(parent: int | None, depth: int) -> None:
            for unit in tree.children.get(parent, []):
                print(f"{'  ' * depth}{unit.code}\t{unit.name}\t{unit.level}")
                show(unit.id, depth + 1)

        show(None, 0)
        return 0
    finally:
        await db.close()


async def _bot_username(args: argparse.Namespace, settings: Settings) -> str:
    if args.bot_username:
        return args.bot_username.lstrip("@")
    if settings.token is None:
        raise SettingsError("BINHYEN_TOKEN: missing (the link needs the bot's username: "
                            "set the token or pass --bot-username)")
    bot = Bot(settings.token_value(), base_url=settings.bot_api_url)
    try:
        async with bot:
            return bot.username
    except TelegramError as exc:
        raise SettingsError(f"BINHYEN_TOKEN: Telegram did not accept it ({exc})") from None


async def invite(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new invitation link (and write its QR card)."""
    if args.uses < 1:
        return _fail("--uses must be at least 1")
    vault = Vault(settings.secret())
    username = await _bot_username(args, settings)
    db = await Database.open(settings.db)
    try:
        unit = await UnitRepo(db).by_code(args.unit)
        if unit is None:
            return _fail(f"no unit with code {args.unit!r} (see: binhyen units list)")
        code, invitation = await InvitationRepo(db, vault).create(
            unit_id=unit.id, role=Role(args.role), uses=args.uses, ttl=args.expires,
            handover=args.handover,
        )
    finally:
        await db.close()
    link = f"https://t.me/{username}?start={code}"
    print(link)
    print(f"{args.role} for {unit.name} ({unit.code}), {args.uses} use(s), "
          f"expires {invitation.expires_at:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    if args.qr:
        from bot.printing import invite_card_png

        locale = settings.default_locale
        title = t(locale, "invite.card_title", role=t(locale, f"role.{args.role}"))
        args.qr.write_bytes(invite_card_png(title, unit.name, link))
        print(f"QR card written to {args.qr}", file=sys.stderr)
    return 0


async def poster(args: argparse.Namespace, settings: Settings) -> int:
    """Write a hamlet's printable tip poster."""
    from bot.printing import PosterText, poster_png

    username = await _bot_username(args, settings)
    db = await Database.open(settings.db)
    try:
        repo = UnitRepo(db)
        unit = await repo.by_code(args.unit)
        if unit is None:
            return _fail(f"no unit with code {args.unit!r} (see: binhyen units list)")
        place = (await repo.tree()).path(unit.id)
    finally:
        await db.close()
    locale = args.lang or settings.default_locale
    link = f"https://t.me/{username}?start={poster_payload(unit.code)}"
    text = PosterText(
        title=t(locale, "poster.title"),
        place=place,
        instructions=[t(locale, f"poster.line{i}") for i in (1, 2, 3)],
        emergency=t(locale, "poster.emergency"),
        link=link,
    )
    args.out.write_bytes(poster_png(text))
    print(f"poster for {place} written to {args.out} ({link})", file=sys.stderr)
    return 0


async def backup(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the database with SQLite's online backup."""
    if not settings.db.exists():
        return _fail(f"{settings.db}: no such database")
    db = await Database.open(settings.db, migrate=False)
    try:
        await db.backup(args.file)
    finally:
        await db.close()
    print(f"backed up {settings.db} to {args.file}", file=sys.stderr)
    return 0
