"""Tests of the local Telegram Bot API emulator (bot.emulator)."""
