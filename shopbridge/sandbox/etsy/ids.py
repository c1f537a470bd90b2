"""Id allocation: one increasing counter per kind of record, like Etsy's opaque int64 ids."""

from __future__ import annotations

import itertools
import threading

_STARTS = {
    "user": 70_000_000,
    "shop": 30_000_000,
    "listing": 1_400_000_000,
    "product": 10_000_000_000,
    "offering": 20_000_000_000,
    "value": 30_000_000_000,
    "receipt": 3_100_000_000,
    "transaction": 4_200_000_000,
    "shipment": 5_300_000_000,
    "image": 6_400_000_000,
    "profile": 190_000_000,
    "destination": 290_000_000,
    "payment": 7_500_000_000,
}


class IdAllocator:
    """Hands out fresh ids per kind; thread safe because the control API runs concurrently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = {kind: itertools.count(start) for kind, start in _STARTS.items()}

    def next(self, kind: str) -> int:
        with self._lock:
            return next(self._counters[kind])
