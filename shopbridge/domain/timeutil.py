"""Time is timezone-aware UTC everywhere inside shopbridge."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_unix(seconds: int | float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def to_unix(moment: datetime) -> int:
    return int(as_utc(moment).timestamp())


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a naive datetime (as SQLite returns them); convert an aware one."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
