"""How long the `shopbridge` command takes as a whole process, the way a user runs it.

    python -m bench.bench_cli                 # 9 runs of each command after a warm-up
    python -m bench.bench_cli --runs 3 --json out.json

Each command runs as `python -m shopbridge ...` in a fresh process against a ledger of 2,000
orders on SQLite; wall time from the parent's clock, CPU (user + sys) from the kernel's
accounting of the finished child (os.wait4). The median is the figure to quote; min and max show
how noisy the machine was. Bytecode caching is on (as in an installed shopbridge) even when
PYTHONDONTWRITEBYTECODE is set around the benchmark: the warm-up run writes the cache.

Beside the commands, the import floor: a process importing only what a ledger view cannot do
without (Typer, Pydantic, SQLAlchemy's ORM, Rich) and doing nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Targets of issue 18: --version and --help under 0.3 s, a ledger view under 0.6 s.
COMMANDS: dict[str, tuple[list[str], float | None]] = {
    "python -c pass": (["-c", "pass"], None),
    "import floor of a ledger view": (
        ["-c", "import typer, pydantic, sqlalchemy.orm, rich.table"],
        None,
    ),
    "shopbridge --version": (["-m", "shopbridge", "--version"], 0.3),
    "shopbridge --help": (["-m", "shopbridge", "--help"], 0.3),
    "shopbridge orders": (["-m", "shopbridge", "orders"], 0.6),
    "shopbridge orders --json --limit 1000": (
        ["-m", "shopbridge", "orders", "--json", "--limit", "1000"],
        0.6,
    ),
    "shopbridge stock": (["-m", "shopbridge", "stock"], 0.6),
    "shopbridge shop list": (["-m", "shopbridge", "shop", "list"], None),
}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"{argv} exited {process.returncode}: {stderr.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from bench.seed import seed_ledger
    from shopbridge.store.db import Database

    results: dict[str, Any] = {"runs": args.runs, "orders": args.orders, "commands": {}}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        database = Database(f"sqlite:///{home / 'shopbridge.db'}")
        database.create_schema_if_empty()
        seed_ledger(database, args.orders)
        database.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBRIDGE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(SHOPBRIDGE_HOME=str(home), PYTHONPATH=str(ROOT), COLUMNS="100")
        for label, (command, target) in COMMANDS.items():
            run_once(command, env)  # warm-up: bytecode cache, page cache
            walls, cpus = [], []
            for _ in range(args.runs):
                wall, cpu = run_once(command, env)
                walls.append(wall)
                cpus.append(cpu)
            figures = {"wall_s": summary(walls), "cpu_s": summary(cpus), "target_s": target}
            results["commands"][label] = figures
            print(
                f"{label:40} wall {figures['wall_s']['median']:.3f} s "
                f"(min {figures['wall_s']['min']:.3f}, max {figures['wall_s']['max']:.3f})  "
                f"cpu {figures['cpu_s']['median']:.3f} s"
                + (f"  target {target} s" if target else ""),
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
