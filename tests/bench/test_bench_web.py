"""bench/bench_web.py runs end to end at a toy size (the figures come from the full size)."""

from __future__ import annotations

from pathlib import Path

from bench import bench_web


def test_bench_web_measures_every_page(tmp_path: Path) -> None:
    out = tmp_path / "web.json"
    result = bench_web.main(["--orders", "120", "--items", "10", "--runs", "60",
                             "--requests", "2", "--json", str(out)])
    assert out.exists()
    assert set(result["pages"]) >= {"orders list", "order detail", "runs list", "overview"}
    assert all(page["p95_ms"] > 0 for page in result["pages"].values())
