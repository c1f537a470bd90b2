"""Per-API-key rate limits: a sliding one-second window and a sliding 24-hour window."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from .clock import VirtualClock
from .errors import EtsyError

DAY = 86400


@dataclass(frozen=True)
class LimitState:
    """What the four x-limit/x-remaining headers report after a request was admitted."""

    per_second: int
    remaining_second: int
    per_day: int
    remaining_day: int

    def headers(self) -> dict[str, str]:
        return {
            "x-limit-per-second": str(self.per_second),
            "x-remaining-this-second": str(self.remaining_second),
            "x-limit-per-day": str(self.per_day),
            "x-remaining-today": str(self.remaining_day),
        }


class _KeyWindow:
    def __init__(self) -> None:
        self.recent: deque[float] = deque()  # admission times within the last second
        self.daily: deque[list[int]] = deque()  # [whole second, admissions] within 24 h
        self.daily_total = 0


class RateLimiter:
    """Admits a request or raises Etsy's 429. The per-second limit is checked first.

    Rejected requests do not consume budget. Both windows slide on the virtual clock.
    """

    def __init__(self, clock: VirtualClock, per_second: int, per_day: int) -> None:
        self.clock = clock
        self.per_second = per_second
        self.per_day = per_day
        self._keys: dict[str, _KeyWindow] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> LimitState:
        with self._lock:
            now = self.clock.now()
            w = self._keys.setdefault(key, _KeyWindow())
            self._expire(w, now)
            if len(w.recent) >= self.per_second:
                wait = max(1, math.ceil(w.recent[0] + 1.0 - now))
                raise EtsyError(429, "Exceeded per second rate limit", headers=_retry(wait))
            if w.daily_total >= self.per_day:
                wait = max(1, math.ceil(w.daily[0][0] + DAY - now))
                raise EtsyError(429, "Exceeded daily rate limit", headers=_retry(wait))
            w.recent.append(now)
            second = int(now)
            if w.daily and w.daily[-1][0] == second:
                w.daily[-1][1] += 1
            else:
                w.daily.append([second, 1])
            w.daily_total += 1
            return LimitState(
                self.per_second,
                self.per_second - len(w.recent),
                self.per_day,
                self.per_day - w.daily_total,
            )

    def remaining_today(self, key: str) -> int:
        with self._lock:
            w = self._keys.setdefault(key, _KeyWindow())
            self._expire(w, self.clock.now())
            return self.per_day - w.daily_total

    @staticmethod
    def _expire(w: _KeyWindow, now: float) -> None:
        while w.recent and w.recent[0] <= now - 1.0:
            w.recent.popleft()
        while w.daily and w.daily[0][0] <= now - DAY:
            w.daily_total -= w.daily.popleft()[1]


def _retry(seconds: int) -> dict[str, str]:
    return {"retry-after": str(seconds)}
