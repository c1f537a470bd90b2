"""Sync windows: what a history import may ask for, checked before any call is made."""

from __future__ import annotations

from datetime import datetime

from shopbridge.domain.timeutil import as_utc
from shopbridge.errors import WindowError


def _day(moment: datetime) -> str:
    moment = as_utc(moment)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def history_window(
    start: datetime, end: datetime | None, now: datetime, earliest: datetime
) -> tuple[datetime, datetime]:
    """The window [start, end) of a history import, `end` defaulting to (and clamped at) now.

    Refused with a WindowError: a start in the future (nothing was created there yet), an end
    not after the start (an empty or backwards window), a start before `earliest` (the oldest
    date the channel accepts in a query: it would refuse the call).
    """
    start, now = as_utc(start), as_utc(now)
    if start < as_utc(earliest):
        raise WindowError(
            f"--from {_day(start)} is before {_day(earliest)}, the earliest date the channel "
            f"accepts: use --from {_day(earliest)} for the whole history"
        )
    if start >= now:
        raise WindowError(
            f"--from {_day(start)} is in the future (now is {_day(now)}): there is no history "
            "to import there yet"
        )
    if end is not None and as_utc(end) <= start:
        raise WindowError(
            f"--to {_day(end)} is not after --from {_day(start)}: the window would be empty"
        )
    return start, min(as_utc(end), now) if end is not None else now
