"""bench_order_cpu splits a whole import's CPU by thread (figures only, no timing assertions)."""

from __future__ import annotations

from bench import bench_order_cpu
from shopbridge.sync import pull
from shopbridge.sync.runs import RunRecorder


def test_every_part_is_measured_and_the_patches_are_undone() -> None:
    before = (RunRecorder.write_page, pull.PullEngine._map_orders, pull.store_orders)
    result = bench_order_cpu.measure(120, listings=30)
    assert result["status"] == "succeeded" and result["api_calls"] == 2
    parts = result["cpu_ms_per_receipt"]
    assert parts["process"] > 0 and parts["page_writer"] > 0 and parts["mapping"] > 0
    assert 0 < parts["write_orders"] <= parts["page_writer"]
    assert (RunRecorder.write_page, pull.PullEngine._map_orders, pull.store_orders) == before
