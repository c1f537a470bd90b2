"""The cyclic garbage collector, tuned once a process for imports.

An order page allocates hundreds of thousands of short-lived objects (JSON, pydantic models,
records, rows) and no cycles worth collecting early: at CPython's default threshold (a young
collection every 700 net allocations) the collector was a fifth of an import's CPU, most of it
walking the objects that live as long as the process (modules, the schema, the engine).
`tune()` freezes what is alive when the first sync service is made (never collected, never
walked again) and collects the young generation every 10,000 allocations.
"""

from __future__ import annotations

import gc
import threading

YOUNG_THRESHOLD = 10_000
_lock = threading.Lock()
_tuned = False


def tune() -> bool:
    """Once a process; True when this call did it."""
    global _tuned
    with _lock:
        if _tuned:
            return False
        _tuned = True
    gc.collect()  # what is garbage already is not frozen
    gc.freeze()
    _young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(_young, YOUNG_THRESHOLD), older, oldest)
    return True
