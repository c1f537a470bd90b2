"""The API budget simulation at a tiny size: under budget, and it beats its own naive baseline
on calls while every measured order is accounted for."""

from __future__ import annotations

import pytest

from bench import bench_budget


def test_tiny_simulation_stays_under_budget(capsys: pytest.CaptureFixture[str]) -> None:
    result = bench_budget.main(["--shops", "40", "--limit", "1000", "--seed", "3"])
    assert result.budget == 900
    assert 0 < result.calls <= result.budget
    assert result.orders_calls + result.fixed_calls == result.calls
    assert result.orders > 0
    assert result.naive_calls == 40 * 288 > result.calls
    assert 0 < result.median_delay <= result.p95_delay <= bench_budget.IDLE_CAP * 2
    assert 0 < result.naive_median_delay <= result.naive_p95_delay <= 300
    out = capsys.readouterr().out
    assert "40 shops on one key of 1000 calls/day" in out
    assert "naive fixed 5-minute polling: 11520 calls/day" in out


def test_the_planner_spends_where_the_orders_are() -> None:
    # Same seed, double the key: more calls go to polling, so orders arrive sooner.
    small = bench_budget.simulate(shops=40, limit=1000, seed=5)
    large = bench_budget.simulate(shops=40, limit=4000, seed=5)
    assert large.calls <= large.budget
    assert large.orders_calls > small.orders_calls
    assert large.median_delay < small.median_delay
