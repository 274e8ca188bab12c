"""``python -m tests.bench``: run every benchmark module and print its figures.

No benchmark exists yet: the foundation has no throughput-critical path of its
own; update handling, digest and reminder-wave benchmarks come with their
features (issues on tips, reports and reminders).
"""

from __future__ import annotations

import importlib
import pkgutil

import tests.bench as package


def main() -> int:
    """Import each ``tests/bench/bench_*.py`` and call its ``main()``."""
    found = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_")]
    if not found:
        print("no benchmarks yet")
    for name in found:
        print(f"== {name}")
        importlib.import_module(f"tests.bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
