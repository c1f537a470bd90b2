"""`python -m bench` (what `make bench` runs): every benchmark, then RESULTS.md and its charts.

    python -m bench                                   # the full suite (about 20 minutes)
    python -m bench --sizes 1000,10000                # skip the 100,000-receipt import
    python -m bench --baseline-size 0                 # skip the ERPNext-style baseline
    python -m bench --only store                      # re-measure one, keep the others
    python -m bench --tiny --out /tmp/b               # everything at toy sizes (the test suite)

Each measurement runs in a fresh process (`python -m bench.<script> ... --json FILE`), so its peak
RSS is its own; a benchmark that fails is reported as failed and the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.common import machine

HERE = Path(__file__).resolve().parent
STEPS = ("orders", "orders_pg", "baseline", "quiet", "listings", "store", "budget")


def measure(module: str, args: list[str], timeout: float = 3600) -> dict[str, Any]:
    """Run `python -m bench.<module> <args> --json FILE`; its result, or why there is none."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", f"bench.{module}", *args, "--json", str(out)]
        print(f"$ {' '.join(command[1:-2])}", flush=True)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                cwd=HERE.parent,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        took = time.perf_counter() - started
        if done.returncode != 0 or not out.exists():
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            print(f"  failed ({done.returncode}): {tail}", flush=True)
            return {"error": f"exit {done.returncode}: {tail}"}
        print(f"  done in {took:.0f} s", flush=True)
        return dict(json.loads(out.read_text()))


def code_version() -> str:
    """The commit measured, and whether product code had uncommitted changes at the time."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "shopbridge")
    changed = len(dirty.splitlines())
    return f"{commit} (+ {changed} uncommitted files in shopbridge/)" if changed else commit


def budget(timeout: float) -> dict[str, Any]:
    """1,000 shops on one key: `bench/bench_budget.py` by the operations work, when it exists."""
    if not (HERE / "bench_budget.py").exists():
        return {"pending": "bench/bench_budget.py does not exist yet"}
    command = [sys.executable, "-m", "bench.bench_budget"]
    print(f"$ {' '.join(command[1:])}", flush=True)
    try:
        done = subprocess.run(
            command, cwd=HERE.parent, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    return {
        "exit": done.returncode,
        "output": done.stdout.strip()[-6000:],
        "stderr": done.stderr.strip()[-1000:] if done.returncode else "",
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="receipts per import")
    parser.add_argument(
        "--pg-sizes", default="10000", help="receipts per import into PostgreSQL (empty: none)"
    )
    parser.add_argument("--baseline-size", type=int, default=1000, help="0 skips the baseline")
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--store-receipts", type=int, default=10_000)
    parser.add_argument("--store-listings", type=int, default=2_000)
    parser.add_argument("--catalog-listings", type=int, default=300, help="before order imports")
    parser.add_argument("--quiet-receipts", type=int, default=1000)
    parser.add_argument("--qps", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--listings-latency-ms", type=float, default=100)
    parser.add_argument("--no-budget", action="store_true", help="skip bench_budget")
    parser.add_argument(
        "--only",
        help=f"re-measure only these ({','.join(STEPS)}); keep the rest from --out's RESULTS.md",
    )
    parser.add_argument("--tiny", action="store_true", help="toy sizes: proves the suite runs")
    parser.add_argument("--out", default=str(HERE), help="where RESULTS.md and charts go")
    args = parser.parse_args(argv)
    if args.tiny:
        args.sizes, args.pg_sizes, args.baseline_size, args.listings = "120,250", "120", 5, 60
        args.store_receipts, args.store_listings, args.quiet_receipts = 100, 30, 100
        args.qps, args.latency_ms, args.listings_latency_ms = 50, 5, 5
        args.no_budget, args.catalog_listings = True, 30

    only = set(args.only.split(",")) if args.only else set(STEPS)
    if only - set(STEPS):
        parser.error(f"--only takes {', '.join(STEPS)}")
    previous = report.read(Path(args.out)) if args.only else {}
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    pg_sizes = [int(s) for s in args.pg_sizes.split(",") if s.strip()]
    rate = ["--qps", str(args.qps), "--latency-ms", str(args.latency_ms)]
    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "date": started.strftime("%Y-%m-%d"),
        "machine": machine(),
        "tiny": args.tiny,
    }
    results["code"] = code_version()
    catalog = ["--listings", str(args.catalog_listings)]
    steps: dict[str, Callable[[], Any]] = {
        "orders": lambda: [
            measure("bench_orders", ["--size", str(n), *rate, *catalog]) for n in sizes
        ],
        "orders_pg": lambda: [
            measure("bench_orders", ["--size", str(n), "--ledger", "postgresql", *rate, *catalog])
            for n in pg_sizes
        ],
        "baseline": lambda: (
            measure("baseline_erpnext", ["--size", str(args.baseline_size), *rate])
            if args.baseline_size
            else {"skipped": "--baseline-size 0"}
        ),
        "quiet": lambda: measure("bench_orders", ["--quiet", "--size", str(args.quiet_receipts)]),
        "listings": lambda: measure(
            "bench_listings",
            [
                "--size",
                str(args.listings),
                "--qps",
                str(args.qps),
                "--latency-ms",
                str(args.listings_latency_ms),
            ],
        ),
        "store": lambda: measure(
            "bench_store",
            ["--receipts", str(args.store_receipts), "--listings", str(args.store_listings)],
        ),
        "budget": lambda: {"skipped": "--no-budget"} if args.no_budget else budget(3600),
    }
    remeasured = []
    for name in STEPS:
        if name in only:
            results[name] = steps[name]()
            remeasured.append(name)
        else:
            results[name] = previous.get(name, {"skipped": "not measured"})
    if args.only and previous:
        results["date"] = previous.get("date", results["date"])
        results["code"] = previous.get("code", results["code"])
        results["remeasured"] = f"{', '.join(remeasured)} on {started:%Y-%m-%d} at {code_version()}"
    results["minutes"] = (
        previous.get("minutes")
        if args.only
        else round((datetime.now(UTC) - started).total_seconds() / 60, 1)
    )
    written = report.write(results, Path(args.out))
    print("wrote " + ", ".join(str(p) for p in written))
    return results


if __name__ == "__main__":
    main()
