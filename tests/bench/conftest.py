"""The benchmarks live in the top-level `bench/` package, beside `tests/`: make it importable
(ahead of this directory, which shares its name)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
