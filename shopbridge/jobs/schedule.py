"""Schedules: which streams run for a shop, how often, and the clear error for a bad interval.

Intervals are seconds inside; people write `5m`, `2h`, `90s`, or a bare number in the stream's
unit (minutes for orders, reconcile and stock, hours for listings). 0 (or `off`) turns a stream off.
A shop's own intervals live in its settings (`shop.settings["schedule"]`); the rest come from the
global defaults in Settings, whose `scheduler_enabled` is the global switch.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from shopbridge.config import Settings
from shopbridge.errors import ShopbridgeError

MINUTE = 60
HOUR = 3600


@dataclass(frozen=True)
class StreamRule:
    name: str
    unit: int  # seconds in a bare number
    low: int  # allowed range in seconds (0 is always allowed: off)
    high: int

    def describe_range(self) -> str:
        return f"{_human(self.low)} to {_human(self.high)}, or 0 for off"


STREAMS: dict[str, StreamRule] = {
    "orders": StreamRule("orders", MINUTE, 1 * MINUTE, 60 * MINUTE),
    "listings": StreamRule("listings", HOUR, 1 * HOUR, 24 * HOUR),
    "reconcile": StreamRule("reconcile", MINUTE, 15 * MINUTE, 24 * HOUR),
    # Pull the shop's orders, then push its stock (issue 14).
    "stock": StreamRule("stock", MINUTE, 1 * MINUTE, 24 * HOUR),
}
SETTINGS_KEY = "schedule"
_INTERVAL = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")


class ScheduleError(ShopbridgeError):
    pass


def rule_for(stream: str) -> StreamRule:
    try:
        return STREAMS[stream]
    except KeyError:
        raise ScheduleError(
            f"unknown stream {stream!r}: use one of {', '.join(STREAMS)}"
        ) from None


def parse_interval(stream: str, text: str) -> int:
    """Seconds for `text` on `stream`, or a ScheduleError that says what is allowed."""
    rule = rule_for(stream)
    if text.strip().lower() in ("off", "0"):
        return 0
    match = _INTERVAL.match(text.lower())
    if not match:
        raise ScheduleError(
            f"{text!r} is not an interval: write 5m, 2h, 90s or a number of "
            f"{'hours' if rule.unit == HOUR else 'minutes'} ({stream}: {rule.describe_range()})"
        )
    number, unit = int(match.group(1)), match.group(2)
    seconds = number * {"s": 1, "m": MINUTE, "h": HOUR, "": rule.unit}[unit]
    return validate_interval(stream, seconds)


def validate_interval(stream: str, seconds: int) -> int:
    rule = rule_for(stream)
    if seconds != 0 and not rule.low <= seconds <= rule.high:
        raise ScheduleError(
            f"{stream} every {_human(seconds)} is out of range: {rule.describe_range()}"
        )
    return seconds


def default_intervals(settings: Settings) -> dict[str, int]:
    return {
        "orders": settings.schedule_orders_minutes * MINUTE,
        "listings": settings.schedule_listings_hours * HOUR,
        "reconcile": settings.schedule_reconcile_minutes * MINUTE,
        "stock": settings.schedule_stock_minutes * MINUTE,
    }


def intervals_for(shop_settings: dict[str, Any] | None, defaults: dict[str, int]) -> dict[str, int]:
    """The shop's intervals: its own where set, the defaults elsewhere."""
    own = (shop_settings or {}).get(SETTINGS_KEY) or {}
    return {stream: int(own.get(stream, defaults[stream])) for stream in STREAMS}


def stagger(key: str, interval: int) -> float:
    """A stable offset in [0, interval) for a job, so the shops of one API key are spread over
    the interval instead of starting in the same second (the key's rate limit is shared)."""
    if interval <= 0:
        return 0.0
    return float(zlib.crc32(key.encode()) % max(interval, 1))


def _human(seconds: int) -> str:
    if seconds and seconds % HOUR == 0:
        return f"{seconds // HOUR}h"
    if seconds and seconds % MINUTE == 0:
        return f"{seconds // MINUTE}m"
    return f"{seconds}s"


def human(seconds: float) -> str:
    return "off" if seconds <= 0 else _human(round(seconds))
