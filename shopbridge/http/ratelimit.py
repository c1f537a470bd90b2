"""A per-API-key rate limiter shared by every task and process (GCRA on a shared clock).

Each call reserves the next free slot for its key; slots are `1 / (limit * headroom)` apart, so
calls from any number of tasks and processes arrive evenly spaced and never exceed the limit.
Where the slots are kept is a backend: in memory for one process, in the store for many
(`shopbridge.store.ratelimit`). Response headers feed back: a lower `x-limit-per-second` is
adopted, an empty `x-remaining-this-second` or a `retry-after` pauses the key for everyone, and
a falling `x-remaining-today` stretches the spacing so the day's budget lasts.

Why hand-written rather than pyrate-limiter (pinned once, never imported, dropped in issue 18):
its buckets count calls against fixed rates and answer "wait" or "go"; what this limiter needs
is different. One slot schedule per API key kept in the ledger database so every worker process
on every machine shares it (pyrate-limiter's SQL backends hold a bucket per process or per
table, not a GCRA schedule in our transaction); rates that change while it runs, from response
headers (a lower per-second limit, a pause for everyone on 429 or Retry-After, spacing stretched
as the daily count falls); evenly spaced arrivals rather than bursts up to the bucket size,
which Etsy's one-second window punishes. GCRA does that in one number per key; adapting
pyrate-limiter to it would have been more code than the limiter itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from shopbridge.errors import RetryableError

# Etsy's docs misspell one header; accept both.
REMAINING_SECOND_HEADERS = ("x-remaining-this-second", "x-remaining-this-secon")
# Below this share of the daily limit left, calls are spread out.
DAILY_LOW_WATER = 0.05
MAX_SPACING = 60.0
OBSERVE_EVERY = 20  # responses between two shared remaining-today counts
# A process's first calls open new connections and arrive late, bunching up with the calls
# after them; a wider gap after each of them keeps the server's one-second window clear.
WARMUP_CALLS = 8
WARMUP_FACTOR = 1.5

Spacing = Callable[[int | None], float]


@dataclass(frozen=True)
class RateObservation:
    """What one response said about the key's limits."""

    limit_per_second: int | None = None
    remaining_this_second: int | None = None
    limit_per_day: int | None = None
    remaining_today: int | None = None
    retry_after: float | None = None

    def as_dict(self) -> dict[str, float | int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _int(value: str | None) -> int | None:
    try:
        return None if value is None else int(float(value))
    except ValueError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `retry-after` header (delta seconds only, as Etsy sends)."""
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def parse_rate_headers(headers: Mapping[str, str]) -> RateObservation:
    remaining = next((headers[h] for h in REMAINING_SECOND_HEADERS if h in headers), None)
    return RateObservation(
        limit_per_second=_int(headers.get("x-limit-per-second")),
        remaining_this_second=_int(remaining),
        limit_per_day=_int(headers.get("x-limit-per-day")),
        remaining_today=_int(headers.get("x-remaining-today")),
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


@dataclass(frozen=True)
class Reservation:
    start: float  # when the call may go (clock seconds)
    now: float  # the clock when the slot was reserved
    reserved: bool  # False when the wait exceeded max_wait: nothing was booked

    @property
    def wait(self) -> float:
        return max(0.0, self.start - self.now)


class LimiterBackend(Protocol):
    """Keeps the slots of every key; implementations must be safe across their users."""

    def reserve(self, key: str, spacing: Spacing, per_day: int, max_wait: float) -> Reservation:
        """Book the key's next slot (and count it in the day), unless it is beyond max_wait."""
        ...

    def observe(self, key: str, observation: RateObservation, pause_until: float) -> None:
        """Remember the remaining counts and pause the key until `pause_until`."""
        ...


class MemoryLimiterBackend:
    """Slots in this process only (tests, single-process tools)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._blocked: dict[str, float] = {}
        self._remaining_today: dict[str, int] = {}
        self._calls: dict[str, list[float]] = {}

    def reserve(self, key: str, spacing: Spacing, per_day: int, max_wait: float) -> Reservation:
        with self._lock:
            now = self.clock()
            calls = [t for t in self._calls.get(key, []) if t > now - 86400]
            start = max(now, self._next.get(key, 0.0), self._blocked.get(key, 0.0))
            if len(calls) >= per_day:
                start = max(start, calls[0] + 86400)
            if start - now > max_wait:
                return Reservation(start, now, reserved=False)
            left = per_day - len(calls)
            remaining = self._remaining_today.get(key)
            if remaining is not None:
                left = min(left, remaining)
            self._next[key] = start + spacing(left)
            calls.append(start)
            self._calls[key] = calls
            return Reservation(start, now, reserved=True)

    def observe(self, key: str, observation: RateObservation, pause_until: float) -> None:
        with self._lock:
            self._blocked[key] = max(self._blocked.get(key, 0.0), pause_until)
            if observation.remaining_today is not None:
                self._remaining_today[key] = observation.remaining_today


class RateLimiter:
    """The limiter of one API key, as seen by one process; `acquire()` before every call."""

    def __init__(
        self,
        backend: LimiterBackend,
        key: str,
        per_second: float = 10,
        per_day: int = 10_000,
        *,
        headroom: float = 0.90,
        max_wait: float = 120.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.backend = backend
        self.key = key
        self.per_second = float(per_second)
        self.per_day = per_day
        self.headroom = headroom
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._reserved = 0
        self._observed = 0

    @property
    def interval(self) -> float:
        """Seconds between two calls of this key at full speed."""
        return 1.0 / (self.per_second * self.headroom)

    def spacing(self, remaining_today: int | None) -> float:
        """The gap after a call, stretched as the day's budget runs low."""
        interval = self.interval * (WARMUP_FACTOR if self._reserved < WARMUP_CALLS else 1.0)
        low_water = max(1, int(self.per_day * DAILY_LOW_WATER))
        if remaining_today is None or remaining_today >= low_water:
            return interval
        return min(MAX_SPACING, interval * low_water / max(remaining_today, 1))

    async def acquire(self) -> float:
        """Wait for this key's next slot; returns the seconds waited."""
        reservation = await asyncio.to_thread(
            self.backend.reserve, self.key, self.spacing, self.per_day, self.max_wait
        )
        if not reservation.reserved:
            raise RetryableError(
                f"the API key's call budget is used up for now; next call in "
                f"{reservation.wait:.0f} s",
                retry_after=reservation.wait,
            )
        self._reserved += 1
        wait = reservation.start - self._clock()
        if wait > 0:
            await self._sleep(wait)
        return max(0.0, wait)

    async def observe(self, observation: RateObservation) -> None:
        """Learn from a response's rate headers (and a 429's retry-after)."""
        if observation.limit_per_second:
            self.per_second = min(self.per_second, float(observation.limit_per_second))
        if observation.limit_per_day:
            self.per_day = min(self.per_day, observation.limit_per_day)
        now = self._clock()
        pause_until = 0.0
        if observation.retry_after is not None:
            pause_until = now + observation.retry_after
        elif observation.remaining_this_second == 0:
            # The server's second is full: let the next call wait one full interval from now.
            pause_until = now + self.interval
        if pause_until or self._worth_sharing(observation):
            await asyncio.to_thread(self.backend.observe, self.key, observation, pause_until)

    def _worth_sharing(self, observation: RateObservation) -> bool:
        """Share the day's remaining count every few calls, and every call once it runs low:
        writing it after every response would cost a transaction per call for little news."""
        if observation.remaining_today is None:
            return False
        self._observed += 1
        low = observation.remaining_today < 0.1 * self.per_day
        return low or self._observed % OBSERVE_EVERY == 0
