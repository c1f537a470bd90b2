"""The virtual clock: real time plus an offset that tests can advance."""

from __future__ import annotations

import threading
import time


class VirtualClock:
    """now() = real time + offset. Every timestamp, token expiry and rate window uses it."""

    def __init__(self, start_time: int | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start_time is None else start_time - time.time()

    def now(self) -> float:
        return time.time() + self._offset

    def now_int(self) -> int:
        return int(self.now())

    def advance(self, seconds: float) -> float:
        """Move time forward (never backward) and return the new now()."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()
