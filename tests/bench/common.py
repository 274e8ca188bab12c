"""What every benchmark module shares: its command line, its figures file, the machine.

Each ``tests/bench/bench_*.py`` defines ``run(quick: bool) -> dict`` returning its figures
under the keys of ``tests/bench/results.json`` (``FIGURES`` below lists them, with units and
targets), and ends with ``if __name__ == "__main__": cli(run)``. ``make bench`` runs each
module in its own process (so one module's preload and memory do not weigh on the next),
reads back what it printed as JSON, and prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
# Preloads are built once per size and reused by later runs (a preload at full size takes
# minutes); the key names the schema's last migration so a new migration rebuilds them.
CACHE_DIR = Path(os.environ.get("BINHYEN_BENCH_CACHE", BENCH_DIR / ".cache"))


@dataclass(frozen=True)
class Figure:
    """One figure of results.json: its unit, which direction is good, and the target."""

    key: str
    label: str
    unit: str
    target: float | None = None
    higher_is_better: bool = True

    def met(self, value: float) -> bool | None:
        if self.target is None:
            return None
        return value >= self.target if self.higher_is_better else value <= self.target


FIGURES = [
    Figure("update_per_s", "updates/s, Bình Yên", "/s"),
    Figure("echo_update_per_s", "updates/s, bare PTB echo", "/s"),
    Figure("update_ratio_vs_echo", "ratio to the echo bot", "×", 0.5),
    Figure("update_p50_ms", "update p50", "ms", None, False),
    Figure("update_p99_ms", "update p99", "ms", 20, False),
    Figure("update_people_stuck", "people whose flow went astray", "", 0, False),
    Figure("update_tips_lost", "tips sent but not stored", "", 0, False),
    Figure("digest_commune_ms", "weekly digest, 30 hamlets", "ms", 50, False),
    Figure("digest_year_ms", "year summary, 30 hamlets", "ms", 50, False),
    Figure("digest_all_communes_s", "every commune's weekly digest", "s", None, False),
    Figure("reminder_msgs_per_s", "reminder wave", "msg/s", 27),
    Figure("reminder_429s", "reminder wave: 429 answers", "", 0, False),
    Figure("reminder_lost", "reminder wave: lost", "", 0, False),
    Figure("reminder_duplicates", "reminder wave: sent twice", "", 0, False),
    Figure("rss_mb", "peak RSS, binhyen run, 100k users", "MB", 200, False),
    Figure("cold_start_s", "cold start to first answer", "s", 2, False),
]
KEYS = {f.key for f in FIGURES}


def quick_from_env() -> bool:
    return os.environ.get("BINHYEN_BENCH_QUICK", "") not in ("", "0")


def cli(run: Callable[[bool], dict]) -> None:
    """``python -m tests.bench.bench_x [--quick] [--json FILE]``: run, print, save figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="scaled-down preload")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    figures = run(args.quick or quick_from_env())
    unknown = set(figures) - KEYS
    if unknown:
        raise SystemExit(f"unknown figure keys: {sorted(unknown)}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    json.dump(figures, sys.stdout, indent=2)
    print()
