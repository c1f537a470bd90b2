"""The shared limiter across processes against the sandbox on a real socket (tiny benchmark)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_two_processes_of_concurrent_tasks_get_no_429() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.bench_ratelimit import run

    result = run(calls=40, qps=20, processes=2, tasks=4)
    assert result["http_429"] == 0, result
    assert result["requests_served"] == 40  # no retries
    # Pace is not asserted here (a loaded CI machine would make it flaky): `python -m bench`
    # reports the ratio to the floor. What must hold under any load is that nothing was refused.
    # Load only slows a run down; finishing faster than the rate allows would be a limiter bug
    # ((calls - 1) / qps is the fastest legal run: ratio 0.975 here).
    assert result["ratio"] >= 0.95, result
