"""``python -m bot`` does what the ``binhyen`` command does."""

from bot.cli import main

raise SystemExit(main())
