"""The collector is tuned once a process, for imports (sync/gctune.py)."""

from __future__ import annotations

import gc

from shopbridge.sync import gctune


def test_tuned_once_with_a_larger_young_generation() -> None:
    gctune.tune()  # this process's first sync service may have done it already
    assert gc.get_threshold()[0] >= gctune.YOUNG_THRESHOLD
    assert gc.isenabled()
    assert gctune.tune() is False  # never again: what is alive later is collected as usual
