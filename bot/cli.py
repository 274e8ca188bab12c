"""The command line: ``binhyen [run|sandbox|units|invite|poster|backup|send-reminders|…]``.

Every command reads the same settings as the bot; a bad setting or argument is
one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings
from storage.db import UnusableDatabase, describe

_DURATION = re.compile(r"^(\d+)([dhm])$")


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h`` or ``30m``."""
    match = _DURATION.match(text.strip())
    if not match or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and d, h or m (e.g. 7d)")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment, ``2026-11-20T16:00+07:00`` (without an offset: the settings' zone)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: use an ISO 8601 moment, e.g. 2026-11-20T16:00+07:00") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``binhyen --help`` documents every command."""
    parser = argparse.ArgumentParser(
        prog="binhyen",
        description="Bình Yên — a Telegram bot for the all-people movement for public security. "
        "Settings come from BINHYEN_* environment variables or .env (see README).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "run", help="run the bot (the default); without BINHYEN_TOKEN, the local sandbox",
        description="Long-poll Telegram, or serve a webhook when BINHYEN_WEBHOOK_URL is set. "
        "Without BINHYEN_TOKEN this starts the sandbox instead.",
    )
    sub.add_parser(
        "sandbox", help="a local Bot API emulator, the bot, and a web chat page with demo data",
        description="Starts a Bot API emulator on loopback, the real bot against it, and a web "
        "chat page (http://127.0.0.1:BINHYEN_SANDBOX_PORT, default 8080) where you can act as "
        "a resident, a hamlet reporter and a coordinator. Uses its own database file.",
    )
    units = sub.add_parser("units", help="import or list the organisation tree")
    units_sub = units.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    imp = units_sub.add_parser(
        "import", help="create or update units from a CSV (code,name,level,parent_code)",
        description="Columns code,name,level,parent_code, then optionally any of the office "
        "columns of set-office (body, parent_body, place, number_prefix, signer_authority, "
        "signer_title, signer_name, recipients; ' | ' between recipients; an empty cell "
        "changes nothing). Levels are free words (province, commune, hamlet, ...). "
        "Re-importing updates names and parents and never deletes. A bad line stops the "
        "import with its line number; nothing is half-imported.",
    )
    imp.add_argument("file", type=Path, help="the CSV file (UTF-8)")
    units_sub.add_parser("list", help="print the tree")
    office = units_sub.add_parser(
        "set-office", help="who issues a unit's reports and workbooks upward (Nghị định 30)",
        description="Sets what the header and the signature block of the unit's Word report "
        "and workbook say; prints every field, marking those still taken from the unit tree. "
        "A field not given is left as it is; an empty value ('') goes back to the default.",
    )
    office.add_argument("code", help="the unit's code (a commune, usually)")
    for flag, example in (
            ("body", "CÔNG AN XÃ TÂN HÒA"), ("parent-body", "CÔNG AN TỈNH CÀ MAU"),
            ("place", "Tân Hòa"), ("number-prefix", "CAX"),
            ("signer-authority", "KT. TRƯỞNG CÔNG AN XÃ"),
            ("signer-title", "PHÓ TRƯỞNG CÔNG AN XÃ"), ("signer-name", "Nguyễn Văn An")):
        office.add_argument(f"--{flag}", dest=flag.replace("-", "_"),
                            help=f"e.g. {example!r}")
    office.add_argument("--recipient", dest="recipients", action="append",
                        help="a line of 'Nơi nhận' (repeat for each; default: the body above, "
                        "the commune's Party Committee and People's Committee, 'Lưu: VT')")

    inv = sub.add_parser(
        "invite", help="make an invitation link for a unit and role",
        description="Prints a deep link t.me/<bot>?start=<code>. The code is shown once; only "
        "its hash is stored.",
    )
    inv.add_argument("--unit", required=True, help="the unit's code")
    inv.add_argument("--role", required=True, choices=["reporter", "coordinator", "admin"])
    inv.add_argument("--uses", type=int, default=1, help="how many people may use it (default 1)")
    inv.add_argument("--expires", type=parse_duration, default=timedelta(days=7),
                     help="validity, e.g. 7d, 12h, 30m (default 7d)")
    inv.add_argument("--handover", action="store_true",
                     help="the new holder replaces whoever holds this role for the unit now")
    inv.add_argument("--qr", type=Path, help="also write a printable QR card (PNG) here")
    inv.add_argument("--bot-username", help="the bot's username (default: asked from Telegram)")

    poster = sub.add_parser(
        "poster", help="a printable QR poster that opens the tip flow for a hamlet",
    )
    poster.add_argument("--unit", required=True, help="the hamlet's code")
    poster.add_argument("--out", required=True, type=Path, help="the PNG file to write")
    poster.add_argument("--lang", choices=["vi", "en"], help="poster language (default: settings)")
    poster.add_argument("--bot-username", help="the bot's username (default: asked from Telegram)")

    backup = sub.add_parser("backup", help="an online backup of the database (safe while running)")
    backup.add_argument("file", type=Path,
                        help="where to write the copy (a file, or a folder for a dated file)")

    reminders = sub.add_parser(
        "send-reminders", help="remind reporters whose report for the period is missing",
        description="Writes one reminder per reporter whose hamlet has not reported for the "
        "current period into the outbox, then sends them within Telegram's limits and prints "
        "how many were enqueued, sent and failed. Running it again sends nobody a second "
        "reminder for the same occasion and period; a run that was interrupted is finished. "
        "Nothing is sent in quiet hours (21:00-07:00).",
    )
    reminders.add_argument("--occasion", choices=["friday", "eve"], default="friday",
                           help="which reminder of the period (default friday)")
    reminders.add_argument(
        "--now", type=parse_moment, metavar="MOMENT",
        help="for tests, and for operators replaying a missed run: take this moment as now "
        "(ISO 8601, e.g. 2026-11-20T16:00+07:00; without an offset, BINHYEN_TIMEZONE); time "
        "runs on from it")
    digest = sub.add_parser(
        "send-digest", help="send the digest or summary of a period to the coordinators",
        description="Writes one digest per coordinator (text, chart and workbook, in their "
        "language, for their scope) into the outbox and sends them. PERIOD is a week "
        "(2026-W47), a month (2026-11), a quarter (2026-Q4), a half-year (2026-H2) or a year "
        "(2026); the default is last week. Running it again sends nobody the same digest "
        "twice. Nothing is sent in quiet hours (21:00-07:00).",
    )
    digest.add_argument("--period", metavar="PERIOD", help="default: last week")
    digest.add_argument("--unit", metavar="CODE",
                        help="only the coordinators whose scope is this unit or under it")
    digest.add_argument("--now", type=parse_moment, metavar="MOMENT",
                        help="for tests and replays: take this moment as now (ISO 8601)")

    export = sub.add_parser(
        "export", help="write a unit's workbook for a period (the official table layout)",
        description="An XLSX workbook: one row per hamlet, one column per indicator, totals, "
        "filed reports as x/y (z%%), tips, overdue tips and events. Nothing is sent.",
    )
    export.add_argument("--unit", required=True, metavar="CODE", help="a commune (or any unit)")
    export.add_argument("--period", metavar="PERIOD", help="default: last week")
    export.add_argument("--out", required=True, type=Path, help="the .xlsx file to write")
    export.add_argument("--lang", choices=["vi", "en"], help="default: the settings' language")

    report = sub.add_parser(
        "report", help="write a unit's Word report for a period (Nghị định 30 layout)",
        description="A .docx 'Báo cáo sơ kết/tổng kết': the national motto header, the "
        "unit's body, number, place and date, the figures written into sentences, places "
        "marked for the officer to write, the signature block and a per-hamlet appendix. "
        "Nothing is sent.",
    )
    report.add_argument("--unit", required=True, metavar="CODE", help="a commune (or any unit)")
    report.add_argument("--period", required=True, metavar="PERIOD",
                        help="2026-H1 (sơ kết), 2026 (tổng kết), 2026-Q4, 2026-11, 2026-W47")
    report.add_argument("--kind", metavar="KIND",
                        help="sơ-kết, tổng-kết or kết-quả (default: a half-year is a sơ kết, "
                        "a year a tổng kết, anything else a report of results)")
    report.add_argument("--out", required=True, type=Path, help="the .docx file to write")
    report.add_argument("--lang", choices=["vi", "en"], help="default: the settings' language")

    schedule = sub.add_parser(
        "schedule", help="show or change when reminders, digests and summaries go out",
        description="Without OCCASION: the schedule of a unit (default: every unit with a "
        "change). With OCCASION and WHEN: change it for the unit and everything under it. "
        "OCCASION: reminder.friday, reminder.eve, overdue, digest.week, digest.month, "
        "digest.quarter, digest.half, digest.year. WHEN: 'fri 16:00' (or 't6 16:00'), "
        "'07:30', 'off', or 'default'.",
    )
    schedule.add_argument("--unit", metavar="CODE", help="the unit (a commune, usually)")
    schedule.add_argument("occasion", nargs="?", help="what to change")
    schedule.add_argument("when", nargs="?", help="when it goes out")

    migrate = sub.add_parser(
        "migrate", help="copy this SQLite database into a new PostgreSQL database",
        description="Copies every table of BINHYEN_DB (ids, sealed columns, the outbox and "
        "its states) into an empty PostgreSQL database, makes its schema first, and checks "
        "every table's count. Stop the bot first: the copy is of the moment it starts. Then "
        "set BINHYEN_DATABASE_URL to the same URL and start the bot on it.",
    )
    migrate.add_argument("--to", required=True, metavar="URL",
                         help="postgresql://user:password@host:port/database (empty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``binhyen`` console script."""
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings()
        from bot.logs import setup_logging

        secrets = [s.get_secret_value() for s in (settings.token, settings.secret_key,
                                                  settings.webhook_secret, settings.database_url)
                   if s is not None]
        # One-shot commands print their result; their INFO logs are noise unless asked for.
        quiet = command not in ("run", "sandbox") and "log_level" not in settings.model_fields_set
        setup_logging("WARNING" if quiet else settings.log_level, secrets)
        return asyncio.run(_dispatch(command, args, settings))
    except SettingsError as exc:
        print(f"binhyen: {exc}", file=sys.stderr)
        return 2
    except UnusableDatabase as exc:
        print(f"binhyen: {exc.setting}: {exc}", file=sys.stderr)
        return 2
    except sqlite3.OperationalError as exc:
        # Past opening: another process held the lock longer than the busy timeout.
        print(f"binhyen: BINHYEN_DB: {settings.db}: {describe(exc, settings.db)}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def _dispatch(command: str, args: argparse.Namespace, settings: Settings) -> int:
    from bot import commands  # the implementations, kept out of the parser's way

    if command == "run" and settings.token is None:
        print("binhyen: BINHYEN_TOKEN is not set: starting the local sandbox", file=sys.stderr)
        command = "sandbox"
    handler = {
        "run": commands.run,
        "sandbox": commands.sandbox,
        "units": commands.units,
        "invite": commands.invite,
        "poster": commands.poster,
        "backup": commands.backup,
        "send-reminders": _send_reminders,
        "send-digest": commands.send_digest,
        "export": commands.export,
        "report": commands.report,
        "schedule": commands.schedule,
        "migrate": commands.migrate,
    }[command]
    return await handler(args, settings)


async def _send_reminders(args: argparse.Namespace, settings: Settings) -> int:
    from bot.reminders import command  # imports the handlers' wording: only when asked

    return await command(args, settings)
