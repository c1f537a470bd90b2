"""The benchmark suite runs at toy sizes and produces its figures (not how fast: see bench/)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.__main__ import main as run_suite
from bench.common import call_floor, machine, postgres_available, time_floor

PNG = b"\x89PNG\r\n\x1a\n"


def test_floors() -> None:
    assert [call_floor(n) for n in (0, 1, 100, 101, 10_000, 100_000)] == [1, 1, 1, 2, 100, 1000]
    # 100 calls at 10/s: the last starts 9.9 s after the first and answers 150 ms later.
    assert time_floor(100, 10, 0.15) == pytest.approx(10.05)
    assert time_floor(1, 10, 0.15) == pytest.approx(0.15)


def test_machine_names_what_figures_are_measured_on() -> None:
    info = machine()
    assert info["cores"] >= 1 and info["memory_gib"] > 0
    assert re.fullmatch(r"3\.\d+\.\d+", info["python"])


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench")
    return run_suite(["--tiny", "--out", str(out)]), out


def test_every_benchmark_produces_its_figures(suite: tuple[dict[str, Any], Path]) -> None:
    results, _ = suite
    for entry in [
        *results["orders"],
        results["baseline"],
        results["quiet"],
        results["listings"],
        results["store"],
    ]:
        assert "error" not in entry, entry
    for size, run in zip((120, 250), results["orders"], strict=True):
        assert run["imported"] == size and run["failed"] == 0
        assert run["call_floor"] == call_floor(size)
        assert run["call_ratio"] == pytest.approx(run["api_calls"] / run["call_floor"], abs=1e-3)
        assert run["wall_s"] > 0 and run["wall_ratio"] > 0 and run["peak_rss_mib"] > 0
        assert run["cpu_s"] > 0 and run["cpu_s_per_1000_receipts"] > 0
    (postgres,) = results["orders_pg"]
    if postgres_available() or os.environ.get("CI", "").lower() == "true":
        assert "error" not in postgres, postgres
        assert postgres["workload"]["ledger"] == "PostgreSQL"
        assert postgres["imported"] == 120 and postgres["api_calls"] == call_floor(120)
    baseline = results["baseline"]
    # ERPNext's algorithm: one call per page plus one transactions call per receipt.
    assert baseline["imported"] == 5 and baseline["api_calls"] == 1 + 5
    assert results["quiet"]["api_calls"] == 1 == results["quiet"]["calls_seen_by_sandbox"]
    listings = results["listings"]
    assert listings["created"] == 60 and listings["store_listings_per_s"] > 0
    sqlite = results["store"]["backends"]["sqlite"]
    assert sqlite["receipts"] == 100 and sqlite["receipts_failed"] == 0
    assert sqlite["receipts_per_s"] > 0 and sqlite["listings_per_s"] > 0


def test_results_md_and_charts_are_written(suite: tuple[dict[str, Any], Path]) -> None:
    results, out = suite
    text = (out / "RESULTS.md").read_text()
    for heading in (
        "## Historic order import",
        "### Against ERPNext",
        "## Incremental cycle",
        "## Listings import",
        "## Store side alone",
        "## 1,000 shops",
    ):
        assert heading in text
    assert f"{results['machine']['cores']} cores" in text and "Toy sizes" in text
    calls = results["orders"][1]["api_calls"]
    assert f"| 250 | {calls} | 3 | {calls / 3:.2f} |" in text  # receipts, calls, floor, ratio
    if "error" not in results["orders_pg"][0]:
        assert f"| PostgreSQL | 120 | {call_floor(120)} | 2 |" in text
    raw = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(raw)["quiet"]["api_calls"] == 1
    for chart in (report.ORDERS_CHART, report.MEMORY_CHART, report.STORE_CHART):
        assert (out / chart).read_bytes().startswith(PNG)
        assert f"]({chart})" in text


def test_a_failed_or_missing_benchmark_is_reported_not_hidden(tmp_path: Path) -> None:
    results = {
        "date": "2026-01-01",
        "machine": machine(),
        "code": "abc123",
        "orders": [{"error": "exit 1: boom"}],
        "baseline": {"skipped": "--baseline-size 0"},
        "quiet": {"error": "timed out after 10 s"},
        "listings": {"error": "exit 2: no"},
        "store": {"error": "exit 3: pg"},
        "budget": {"pending": "bench_budget.py does not exist"},
    }
    written = report.write(results, tmp_path)
    assert written == [tmp_path / "RESULTS.md"]  # no chart without figures
    text = (tmp_path / "RESULTS.md").read_text()
    assert "A size failed: `exit 1: boom`" in text
    assert "Not measured: --baseline-size 0." in text
    assert "Not measured: timed out after 10 s." in text
    assert "Pending: bench_budget.py does not exist." in text


def test_only_remeasures_what_it_names_and_keeps_the_rest(tmp_path: Path) -> None:
    earlier = {
        "date": "2026-01-01",
        "machine": machine(),
        "code": "abc123",
        "minutes": 15.0,
        "orders": [{"error": "exit 1: boom"}],
        "baseline": {"skipped": "--baseline-size 0"},
        "quiet": {"error": "kept"},
        "listings": {"error": "kept too"},
        "store": {"error": "exit 3: pg"},
        "budget": {"pending": "not yet"},
    }
    report.write(earlier, tmp_path)
    again = run_suite(["--only", "budget", "--no-budget", "--out", str(tmp_path)])
    assert again["budget"] == {"skipped": "--no-budget"}
    assert again["quiet"] == {"error": "kept"} and again["date"] == "2026-01-01"
    text = (tmp_path / "RESULTS.md").read_text()
    assert "Re-measured since: budget on " in text and "Not measured: kept too." in text
