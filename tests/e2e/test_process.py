"""The bot as an operator runs it: a separate process, real settings, real logs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.emulator.core import Emulator
from bot.emulator.server import EmulatorServer

TOKEN = "7000000003:PROCESS-test-token-zyxwvutsrqpo"


async def test_run_against_a_custom_bot_api_keeps_the_token_out_of_logs(tmp_path: Path) -> None:
    emu = Emulator(chat_burst=10)
    emu.add_bot(TOKEN, username="binhyen_proc_bot")
    server = EmulatorServer(emu)
    await server.start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BINHYEN_TOKEN": TOKEN,
        "BINHYEN_SECRET_KEY": "process-test-secret-0123456789abcdef",
        "BINHYEN_BOT_API_URL": server.base_url,
        "BINHYEN_DB": str(tmp_path / "proc.db"),
        "BINHYEN_LOG_LEVEL": "DEBUG",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        lan = emu.user(4242, "Lan")
        lan.send("/start")
        prompt = await lan.next_message(timeout=30)
        assert "Vui lòng chọn ngôn ngữ" in prompt.text
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
        await server.stop()
    logs = stdout.decode() + stderr.decode()
    assert proc.returncode == 0, logs[-2000:]
    assert "getUpdates" in logs  # httpx did log its requests (at DEBUG) ...
    secret_part = TOKEN.split(":")[1]
    assert TOKEN not in logs and secret_part not in logs  # ... with the token redacted
    assert "bot @binhyen_proc_bot started (polling)" in logs


async def test_a_rejected_or_malformed_token_is_one_line_without_the_token(
    tmp_path: Path
) -> None:
    """One character off (rejected by Telegram), or not a token at all: one line, exit 2."""
    from bot.settings import TOKEN_REJECTED

    emu = Emulator()
    emu.add_bot(TOKEN, username="binhyen_proc_bot")
    server = EmulatorServer(emu)
    await server.start()
    one_off = TOKEN[:-1] + ("a" if TOKEN[-1] != "a" else "b")
    try:
        for token, expected in ((one_off, f"binhyen: {TOKEN_REJECTED}"),
                                ("7000000003 PROCESS-test-token", "binhyen: BINHYEN_TOKEN: does not"
                                 " look like a bot token from BotFather (123456:ABC-...)")):
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "BINHYEN_TOKEN": token,
                "BINHYEN_SECRET_KEY": "process-test-secret-0123456789abcdef",
                "BINHYEN_BOT_API_URL": server.base_url,
                "BINHYEN_DB": str(tmp_path / "proc.db"),
                "BINHYEN_LOG_LEVEL": "DEBUG",
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
            logs = stdout.decode() + stderr.decode()
            assert proc.returncode == 2, logs
            assert token.split(":")[-1] not in logs and "PROCESS-test" not in logs, logs
            assert "Traceback" not in logs, logs
            # At DEBUG the start-up lines come first; the error is the last line, and alone.
            assert logs.splitlines()[-1] == expected, logs
            assert sum(line.startswith("binhyen:") for line in logs.splitlines()) == 1
    finally:
        await server.stop()


async def test_webhook_mode_receives_updates_from_the_bot_api(tmp_path: Path) -> None:
    """With BINHYEN_WEBHOOK_URL the bot registers its webhook and answers what is POSTed."""
    import socket

    from bot.app import start_bot, stop_bot
    from bot.settings import load_settings

    emu = Emulator(chat_burst=10)
    emu.add_bot(TOKEN, username="binhyen_hook_bot")
    server = EmulatorServer(emu)
    await server.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(
        token=TOKEN, secret_key="webhook-test-secret-0123456789abcdef",
        db=tmp_path / "hook.db", bot_api_url=server.base_url,
        webhook_url=f"http://127.0.0.1:{port}/hook/path", webhook_listen="127.0.0.1",
        webhook_port=port, webhook_secret="s3cret-header",
    )
    running = await start_bot(settings)
    try:
        set_hook = emu.calls("setWebhook")[-1].params
        assert set_hook["url"] == f"http://127.0.0.1:{port}/hook/path"
        assert set_hook["secret_token"] == "s3cret-header"
        lan = emu.user(4343, "Lan")
        lan.send("/start")
        prompt = await lan.next_message(timeout=10)
        assert "Vui lòng chọn ngôn ngữ" in prompt.text
        assert not emu.calls("getUpdates")  # nothing polled
    finally:
        await stop_bot(running)
        await server.stop()
