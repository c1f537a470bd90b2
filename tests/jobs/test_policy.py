"""Schedule validation, the retry back-off and the budget plan (pure functions)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopbridge.jobs.retries import delay
from shopbridge.jobs.schedule import ScheduleError, parse_interval, stagger
from shopbridge.sync.budget import DAY, OrdersDemand, daily_budget, plan


def test_intervals_parse_in_the_streams_units_and_ranges() -> None:
    assert parse_interval("orders", "5") == 300
    assert parse_interval("orders", "15m") == 900
    assert parse_interval("listings", "2") == 7200
    assert parse_interval("reconcile", "off") == 0


@pytest.mark.parametrize(("stream", "text", "hint"), [
    ("orders", "90m", "1m to 1h"), ("orders", "30s", "1m to 1h"), ("listings", "30m", "1h to 24h"),
    ("orders", "every day", "not an interval"), ("payments", "5m", "unknown stream"),
])
def test_bad_intervals_say_what_is_allowed(stream: str, text: str, hint: str) -> None:
    with pytest.raises(ScheduleError, match=hint):
        parse_interval(stream, text)


def test_stagger_spreads_the_shops_of_a_key() -> None:
    offsets = {stagger(f"shop{i}:orders", 300) for i in range(50)}
    assert len(offsets) > 40 and all(0 <= o < 300 for o in offsets)


def test_backoff_goes_from_minutes_to_hours() -> None:
    assert delay(1) == timedelta(minutes=5)
    assert delay(3) == timedelta(hours=1)
    assert delay(50) == timedelta(hours=12)


def test_plan_keeps_under_budget_and_favours_busy_shops() -> None:
    budget = daily_budget(10_000, 0.1)
    demands = [OrdersDemand(rate=40, base=300)] * 10 + [OrdersDemand(rate=0, base=300)] * 990
    result = plan(demands, fixed_calls_per_day=1000, budget=budget, cap=6 * 3600)
    assert result.forecast <= budget * 1.001
    busy, idle = result.orders_intervals[0], result.orders_intervals[-1]
    assert busy < idle
    assert max(result.orders_intervals) <= max(6 * 3600, 990 * DAY / budget) + 1  # no starving
