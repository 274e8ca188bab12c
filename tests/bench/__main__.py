"""``make bench`` (``python -m tests.bench``): every benchmark, one table, results.json.

Each ``tests/bench/bench_*.py`` runs in its own process (``--json`` hands its figures back),
so a preload's memory or a module's caches never weigh on the next one. The figures land in
``tests/bench/results.json`` beside the machine, the date and the sizes, and one table is
printed with each figure against its target. ``--quick`` scales every preload down for a
quick look; the figures recorded in tests/bench/README.md use the full sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.common import BENCH_DIR, FIGURES

ORDER = ["bench_updates", "bench_memory", "bench_digest", "bench_reminders"]


def _modules(only: list[str]) -> list[str]:
    found = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    ordered = [m for m in ORDER if m in found] + [m for m in found if m not in ORDER]
    if only:
        ordered = [m for m in ordered if m in only or m.removeprefix("bench_") in only]
    return ordered


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: platform's answer stands
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(figures: dict) -> str:
    """One line per figure: label, value, unit, target and whether it is met."""
    lines = [f"{'figure':<38} {'value':>12} {'unit':<6} {'target':>9}  met"]
    for f in FIGURES:
        if f.key not in figures:
            lines.append(f"{f.label:<38} {'—':>12}")
            continue
        value = figures[f.key]
        target = "" if f.target is None else ("≥ " if f.higher_is_better else "≤ ") + _cell(
            f.target)
        met = {True: "yes", False: "NO", None: ""}[f.met(value)]
        lines.append(f"{f.label:<38} {_cell(value):>12} {f.unit:<6} {target:>9}  {met}")
    return "\n".join(lines)


README = BENCH_DIR / "README.md"
BEGIN, END = "<!-- figures: written by make bench -->", "<!-- end of figures -->"


def record(figures: dict, meta: dict) -> None:
    """Put the table of a full run into tests/bench/README.md, between its markers."""
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README} lacks the figure markers")
    machine = meta["machine"]
    block = (f"{BEGIN}\nMeasured {meta['date'][:10]} on {machine['cpu']}, {machine['cores']}"
             f" cores, Python {machine['python']}, {machine['system']};"
             f" {meta['total_seconds']:.0f} s in all.\n\n```\n{table(figures)}\n```\n{END}")
    head, rest = text.split(BEGIN, 1)
    README.write_text(head + block + rest.split(END, 1)[1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench")
    parser.add_argument("--quick", action="store_true", help="scale the preloads down")
    parser.add_argument("only", nargs="*", help="modules to run (e.g. updates digest)")
    args = parser.parse_args()
    figures: dict = {}
    timings: dict = {}
    failed: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for name in _modules(args.only):
            print(f"== {name}", flush=True)
            out = Path(folder) / f"{name}.json"
            command = [sys.executable, "-m", f"tests.bench.{name}", "--json", str(out)]
            t0 = time.monotonic()
            done = subprocess.run(command + (["--quick"] if args.quick else []), check=False)
            timings[name] = round(time.monotonic() - t0, 1)
            if done.returncode != 0 or not out.exists():
                failed.append(name)
                print(f"!! {name} failed (exit {done.returncode})", flush=True)
                continue
            figures.update(json.loads(out.read_text()))
    results = {**figures, "_meta": {
        "date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
        "machine": _machine(), "module_seconds": timings,
        "total_seconds": round(time.monotonic() - started, 1), "failed": failed}}
    if not args.only:  # a partial run would overwrite the other modules' figures
        (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2,
                                                           ensure_ascii=False) + "\n")
        if not args.quick and not failed:
            record(figures, results["_meta"])
    print()
    print(table(figures))
    print(f"\n{results['_meta']['total_seconds']:.0f} s in all"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
