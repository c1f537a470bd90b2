"""One error taxonomy for every channel and every layer.

An engine decides what to do from the class alone: retry the request, stop the run, stop the shop
until its owner re-authorises, or quarantine one record and go on.
"""

from __future__ import annotations


class ShopbridgeError(Exception):
    """Base of every error shopbridge raises on purpose; its message is safe to show a user."""


class ConfigError(ShopbridgeError):
    """Settings, data directory or database URL are wrong; the message says how to fix it."""


class SchemaError(ShopbridgeError):
    """The database schema is older or newer than this version of shopbridge."""


class WindowError(ShopbridgeError):
    """A date window that makes no sense (in the future, backwards, before what the channel
    accepts): refused before any call."""


class RetryableError(ShopbridgeError):
    """A transient failure (429, 5xx, timeout, dropped connection, truncated body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(ShopbridgeError):
    """The channel refused the request for good (4xx other than auth); retrying will not help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GoneError(FatalError):
    """The channel no longer serves a record it once listed (Etsy answers 404 for it)."""


class AuthError(FatalError):
    """Credentials are missing, revoked or lack a scope: the shop needs its owner's attention."""


class ReauthRequiredError(AuthError):
    """The grant is revoked or the refresh token expired: only re-authorisation helps."""


class RecordError(ShopbridgeError):
    """One record cannot be imported as it is: quarantined with this reason; the run goes on."""
