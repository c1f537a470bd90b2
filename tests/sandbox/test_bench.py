"""The sandbox benchmark runs end to end, as `python -m bench.bench_sandbox`, at a tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_at_a_tiny_size():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_sandbox",
            "--receipts",
            "300",
            "--listings",
            "40",
            "--pages",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["pages"] == 8 and result["receipts"] == 300
    assert 0 < result["page_ms_median"] <= result["page_ms_p95"] <= result["page_ms_max"]
    assert result["memory_mib"] > 0 and result["build_seconds"] >= 0
