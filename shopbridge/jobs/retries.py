"""The retry queue's policy: failed records come back on a back-off of minutes, then hours, and
give up into the dead-letter state after a configured number of attempts."""

from __future__ import annotations

from datetime import timedelta

# After the n-th failed attempt the record is due again this long after its last failure.
BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
)


def delay(attempts: int) -> timedelta:
    """Wait before the next attempt of a record that failed `attempts` times (1 = first)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]
