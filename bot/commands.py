"""What each command-line command does (see bot.cli for the parser)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.settings import TOKEN_REJECTED, Settings, SettingsError
from bot.store import open_store
from handlers.enrolment import poster_payload
from locales import t
from storage.crypto import Vault
from storage.db import Database, probe
from storage.invitations import InvitationRepo
from storage.models import Role, Unit
from storage.units import UnitRepo, UnitsCsvError, parse_units_csv

if TYPE_CHECKING:
    from handlers.services import Services

T = TypeVar("T")


def _fail(message: str) -> int:
    print(f"binhyen: {message}", file=sys.stderr)
    return 1


async def run(args: argparse.Namespace, settings: Settings) -> int:
    """The bot against Telegram (polling, or webhook when configured)."""
    if settings.database_url is None:
        probe(settings.db)  # a bad BINHYEN_DB is refused before the bot is even imported
    from bot.app import run_until_signalled

    settings.secret()  # fail before connecting if the key is missing
    try:
        await run_until_signalled(settings)
    except InvalidToken:  # its message holds the whole token: never print it
        raise SettingsError(TOKEN_REJECTED) from None
    return 0


async def sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """The local emulator, the bot and the web chat page."""
    if "db" in settings.model_fields_set:  # the operator's own file: refuse it at once
        probe(settings.db)
    from bot.sandbox import run_sandbox

    await run_sandbox(settings)
    return 0


async def units(args: argparse.Namespace, settings: Settings) -> int:
    """``units import FILE`` / ``units list`` / ``units set-office CODE …``."""
    if args.units_command == "set-office":
        return await set_office(args, settings)
    db = await open_store(settings)
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
                  f"{result.unchanged} unchanged"
                  + (f"; office details set for {result.offices}" if result.offices else ""))
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
    except InvalidToken:  # its message holds the whole token: never print it
        raise SettingsError(TOKEN_REJECTED) from None
    except TelegramError as exc:
        raise SettingsError(f"cannot reach the Bot API at {settings.bot_api_url} ({exc});"
                            " or pass --bot-username") from None


async def invite(args: argparse.Namespace, settings: Settings) -> int:
    """Print a new invitation link (and write its QR card)."""
    if args.uses < 1:
        return _fail("--uses must be at least 1")
    vault = Vault(settings.secret())
    username = await _bot_username(args, settings)
    db = await open_store(settings)
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
    db = await open_store(settings)
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
    """Copy the database with SQLite's online backup (safe while the bot runs).

    A folder as target gets a dated file inside it; an existing backup is replaced, any
    other existing file is refused; the copy is written beside the target and renamed into
    place, so a backup cut short never looks whole.
    """
    from storage.db import utcnow

    if settings.database_url is not None:
        return _fail("backup copies the SQLite file; this bot runs on PostgreSQL"
                     " (BINHYEN_DATABASE_URL): back it up with the server's own pg_dump")
    if not settings.db.exists():
        return _fail(f"{settings.db}: no such database")
    target = args.file
    if target.is_dir():
        target = target / f"binhyen-{utcnow().astimezone(settings.zone):%Y%m%d-%H%M}.db"
    refusal = backup_refusal(target, settings.db)
    if refusal:
        return _fail(f"{target}: {refusal}")
    partial = target.with_name(target.name + ".partial")
    db = await Database.open(settings.db, migrate=False)
    try:
        await db.backup(partial)
        partial.replace(target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        return _fail(f"{target}: the backup could not be written ({exc})")
    finally:
        await db.close()
    print(f"backed up {settings.db} to {target}", file=sys.stderr)
    return 0


def backup_refusal(target: Path, live: Path) -> str | None:
    """Why ``target`` must not receive a backup of ``live``, or None."""
    if not target.parent.is_dir():
        return f"the folder {target.parent} does not exist"
    if target.exists():
        if target.resolve() == live.resolve():
            return "is the live database itself; give another file"
        with target.open("rb") as fh:
            if fh.read(16) not in (b"", b"SQLite format 3\x00"):
                return "exists and is not a database; it was left as it is"
    if not os.access(target.parent, os.W_OK):
        return f"the folder {target.parent} is not writable"
    return None


# ---------------------------------------------------------------------- digests and schedules


def _span(text: str | None, settings: Settings, now=None):
    from bot.digest import SpanKind, span_from_text, span_of
    from storage.db import utcnow

    today = (now or utcnow()).astimezone(settings.zone).date()
    if text is None:
        return span_of(SpanKind.WEEK, today).previous()
    return span_from_text(text, SpanKind.WEEK, today)


async def _for_unit(settings: Settings, code: str, work: Callable[[Services, Unit], Awaitable[T]]
                    ) -> T | None:
    """Open the database with the services and indicator sets loaded, find the unit ``code``
    and return ``await work(svc, unit)``; None (said on stderr) when there is no such unit."""
    from bot.app import make_services
    from storage.reporting import indicator_sets

    db = await open_store(settings)
    try:
        svc = make_services(settings, db, Vault(settings.secret()))
        await svc.reports.sync_sets(indicator_sets())
        unit = await svc.units.by_code(code)
        if unit is None:
            _fail(f"no unit with code {code!r} (see: binhyen units list)")
            return None
        return await work(svc, unit)
    finally:
        await db.close()


def _write(path: Path, data: bytes) -> bool:
    """Write a document's bytes; False (said on stderr) when the file cannot be written."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        _fail(f"{path}: cannot write ({exc})")
        return False
    return True


async def export(args: argparse.Namespace, settings: Settings) -> int:
    """``export --unit CODE [--period P] --out FILE.xlsx``."""
    from bot.deliveries import make_digest, office_for
    from bot.digest_workbook import workbook_xlsx

    try:
        span = _span(args.period, settings)
    except ValueError as exc:
        return _fail(f"--period: {exc}; write e.g. 2026-W47, 2026-11, 2026-Q4, 2026-H2, 2026")
    locale = args.lang or settings.default_locale

    async def work(svc, unit):
        return unit, await make_digest(svc, [unit], span), await office_for(svc, [unit], locale)

    made = await _for_unit(settings, args.unit, work)
    if made is None:
        return 1
    unit, digest, office = made
    if not _write(args.out, workbook_xlsx(digest, locale, office=office, tz=settings.zone)):
        return 1
    print(f"{args.out}: {unit.name}, {span.key}, {len(digest.hamlets)} hamlets, "
          f"{digest.reports_filed}/{digest.reports_expected} reports")
    return 0


# What --kind accepts, with and without diacritics.
REPORT_KINDS = {"sơ-kết": "so_ket", "so-ket": "so_ket", "tổng-kết": "tong_ket",
                "tong-ket": "tong_ket", "kết-quả": "ket_qua", "ket-qua": "ket_qua"}


async def report(args: argparse.Namespace, settings: Settings) -> int:
    """``report --unit CODE --period P [--kind K] --out FILE.docx``: the Word report."""
    from bot.deliveries import word_report

    try:
        span = _span(args.period, settings)
    except ValueError as exc:
        return _fail(f"--period: {exc}; write e.g. 2026-H1, 2026, 2026-Q4, 2026-11")
    kind = REPORT_KINDS.get(args.kind.lower()) if args.kind else None
    if args.kind and kind is None:
        return _fail(f"--kind {args.kind!r}: use sơ-kết, tổng-kết or kết-quả")
    locale = args.lang or settings.default_locale

    async def work(svc, unit):
        return await word_report(svc, [unit], span, locale, kind=kind)

    made = await _for_unit(settings, args.unit, work)
    if made is None:
        return 1
    data, digest, office = made
    if not _write(args.out, data):
        return 1
    print(f"{args.out}: {office.body}, {span.key}, {len(digest.hamlets)} hamlets, "
          f"{digest.reports_filed}/{digest.reports_expected} reports")
    if office.missing:
        print(f"note: the signer's name is not set; its line is left to be written by hand "
              f"(binhyen units set-office {args.unit} --signer-name '…')", file=sys.stderr)
    return 0


async def set_office(args: argparse.Namespace, settings: Settings) -> int:
    """``units set-office CODE [--body …] [--signer-name …] …``: who issues its documents."""
    from bot.official import resolve
    from storage.offices import FIELD_NAMES, RECIPIENT_SEP, OfficeFields, OfficeRepo, check_field

    changes = {}
    for name in FIELD_NAMES:
        value = getattr(args, name)
        if name == "recipients" and value is not None:
            value = RECIPIENT_SEP.join(v.strip() for v in value if v.strip())
        if value is not None:
            try:
                changes[name] = check_field(name, value)
            except ValueError as exc:
                return _fail(f"--{name.replace('_', '-')}: {exc}")
    db = await open_store(settings)
    try:
        units = UnitRepo(db)
        unit = await units.by_code(args.code)
        if unit is None:
            return _fail(f"no unit with code {args.code!r} (see: binhyen units list)")
        repo = OfficeRepo(db)
        stored = await repo.set(unit.id, OfficeFields(**changes)) if changes \
            else await repo.get(unit.id)
        office = resolve(unit, await units.tree(), stored, settings.default_locale)
    finally:
        await db.close()
    for name in FIELD_NAMES:
        value = getattr(office, name)
        shown = " | ".join(value) if isinstance(value, tuple) else value
        origin = "  (default)" if name in office.defaulted else ""
        print(f"{name.replace('_', '-')}: {shown or '—'}{origin}")
    if office.missing:
        print("note: no signer's name: documents leave its line to be written by hand",
              file=sys.stderr)
    return 0


async def send_digest(args: argparse.Namespace, settings: Settings) -> int:
    """``send-digest [--period P] [--unit CODE]``: enqueue, then send until done."""
    from telegram.error import NetworkError

    from bot import deliveries, reminders
    from bot.app import make_services
    from bot.outbox import OutboxSender
    from storage.outbox import NewItem, OutboxRepo
    from storage.reporting import indicator_sets

    start = args.now
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=settings.zone)
    now = reminders.replay_clock(start)
    try:
        span = _span(args.period, settings, now())
    except ValueError as exc:
        return _fail(f"--period: {exc}; write e.g. 2026-W47, 2026-11, 2026-Q4, 2026-H2, 2026")
    kind = f"{deliveries.DIGEST_PREFIX}{span.kind.value}"
    tz = settings.zone
    if reminders.in_quiet_hours(now().astimezone(tz)):
        print(f"{kind} {span.key}: quiet hours (21:00–07:00), nothing sent")
        return 0
    db = await open_store(settings)
    try:
        svc = make_services(settings, db, Vault(settings.secret()), now=now)
        await svc.reports.sync_sets(indicator_sets())
        tree = await svc.units.tree()
        within = None
        if args.unit:
            unit = tree.by_code.get(args.unit)
            if unit is None:
                return _fail(f"no unit with code {args.unit!r} (see: binhyen units list)")
            within = unit.id
        people = await deliveries.coordinators(svc, tree)
        items = [NewItem(kind, span.key, user_id, {
                     "roots": [r.id for r in roots], "span": span.kind.value,
                     "start": span.start.isoformat()})
                 for user_id, roots in people.items()
                 if within is None or all(tree.contains(within, r.id) for r in roots)]
        repo = OutboxRepo(db)
        if await repo.sender_alive():
            # The running bot sends the outbox; taking back its in-flight items would send
            # them twice. Enqueue only.
            enqueued = await repo.enqueue(items, now())
            print(f"{kind} {span.key}: {len(items)} coordinators, {enqueued} new;"
                  f" the running bot sends them")
            return 0
        await repo.recover(now())
        enqueued = await repo.enqueue(items, now())
        bot = Bot(settings.token_value(), base_url=settings.bot_api_url,
                  base_file_url=settings.file_url())
        try:
            await bot.initialize()
        except InvalidToken:  # its message holds the whole token: never print it
            raise SettingsError(TOKEN_REJECTED) from None
        except NetworkError as exc:
            return _fail(f"cannot reach the Bot API at {settings.bot_api_url} ({exc})")
        try:
            sender = OutboxSender(bot, repo, svc.users, deliveries.make_render(svc), now=now,
                                  quiet=reminders.quiet_until(tz, prefixes=(kind,)),
                                  buttons=svc.buttons)
            await sender.drain(kind, deadline=reminders.quiet_begins(now(), tz))
        finally:
            await bot.shutdown()
        counts = await repo.counts(kind, span.key)
    finally:
        await db.close()
    print(f"{kind} {span.key}: {len(items)} coordinators, {enqueued} new, "
          f"{counts['sent']} sent, {counts['failed']} failed")
    return 0


async def schedule(args: argparse.Namespace, settings: Settings) -> int:
    """``schedule [--unit CODE] [OCCASION WHEN]``."""
    from bot.schedule import DEFAULTS, Occasion, format_when, parse_when
    from storage.db import utcnow
    from storage.schedules import ScheduleRepo

    db = await open_store(settings)
    try:
        tree = await UnitRepo(db).tree()
        repo = ScheduleRepo(db)
        unit = None
        if args.unit:
            unit = tree.by_code.get(args.unit)
            if unit is None:
                return _fail(f"no unit with code {args.unit!r} (see: binhyen units list)")
        if args.occasion is None:
            overrides = await repo.all()
            for occasion in Occasion:
                line = f"{occasion.value:<16} {format_when(DEFAULTS[occasion]):<10} (default)"
                changed = [(tree.by_id[u].code, spec) for (u, o), spec in overrides.items()
                           if o == occasion.value and u in tree.by_id
                           and (unit is None or tree.contains(unit.id, u))]
                for code, spec in sorted(changed):
                    line += f"; {code}: {spec}"
                print(line)
            return 0
        if unit is None or args.when is None:
            return _fail("to change a schedule give --unit CODE, OCCASION and WHEN")
        try:
            occasion = Occasion(args.occasion)
        except ValueError:
            return _fail(f"{args.occasion!r}: one of " + ", ".join(o.value for o in Occasion))
        if args.when == "default":
            spec = None
        else:
            try:
                spec = format_when(parse_when(args.when))
            except ValueError as exc:
                return _fail(str(exc))
        await repo.set(unit.id, occasion.value, spec, None, utcnow())
    finally:
        await db.close()
    print(f"{unit.code}: {occasion.value} → {spec or 'default'}")
    return 0


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """``migrate --to URL``: this SQLite database copied into an empty PostgreSQL one."""
    import psycopg

    from storage import moving, postgres

    url = args.to
    if not url.startswith(("postgresql://", "postgres://")):
        return _fail(f"--to {url!r}: a PostgreSQL URL is postgresql://user@host/database")
    if not settings.db.exists():
        return _fail(f"{settings.db}: no such database")
    db = await Database.open(settings.db)  # brings the file to this release's schema
    await db.close()
    shown = url.split("@")[-1]  # the password stays out of what is printed
    try:
        refused = await asyncio.to_thread(moving.refusal, url)
        if refused:
            return _fail(f"{shown}: {refused}")
        await postgres.migrate(url)
        moved = await asyncio.to_thread(moving.copy_to_postgresql, settings.db, url)
    except psycopg.OperationalError as exc:
        return _fail(f"{shown}: cannot connect ({str(exc).strip().splitlines()[0]})")
    except (moving.CannotMove, postgres.NewerSchema) as exc:
        return _fail(f"{shown}: {exc}")
    print(f"{moved.rows:,} rows in {len(moved.tables)} tables copied to {shown};"
          " every table's count checked")
    return 0
