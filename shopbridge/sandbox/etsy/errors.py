"""Etsy's error shape: an HTTP status and `{"error": ..., ["error_description": ...]}`."""

from __future__ import annotations


class EtsyError(Exception):
    """Raised anywhere in the sandbox; rendered as Etsy renders its errors."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error if description is None else f"{error}: {description}")
        self.status = status
        self.body: dict[str, str] = {"error": error}
        if description is not None:
            self.body["error_description"] = description
        self.headers = headers or {}


def bad_request(message: str) -> EtsyError:
    return EtsyError(400, message)


def not_found(message: str) -> EtsyError:
    return EtsyError(404, message)
