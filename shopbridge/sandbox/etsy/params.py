"""Strict query and form parsing with Etsy's 400 `{"error": ...}` for anything unexpected.

Booleans accept true/false/1/0 (any case). Arrays accept comma-separated values and repeated keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request

from .errors import bad_request

TRUE = frozenset({"true", "1"})
FALSE = frozenset({"false", "0"})


class Params:
    """Typed access to query (or form) values; unknown names are rejected up front."""

    def __init__(self, values: Mapping[str, Sequence[str]], allowed: frozenset[str]) -> None:
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise bad_request(f"Unexpected parameter(s): {', '.join(unknown)}")
        self.values = values

    @classmethod
    def from_query(cls, request: Request, allowed: frozenset[str]) -> Params:
        grouped: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            grouped.setdefault(key, []).append(value)
        return cls(grouped, allowed)

    def raw(self, name: str) -> str | None:
        found = self.values.get(name)
        if not found:
            return None
        if len(found) > 1:
            raise bad_request(f"Parameter {name} may be given only once")
        return found[0]

    def integer(
        self,
        name: str,
        default: int | None = None,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = False,
    ) -> int | None:
        raw = self.raw(name)
        if raw is None or raw == "":
            if required:
                raise bad_request(f"Missing required parameter: {name}")
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise bad_request(f"Expected int for {name}, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise bad_request(f"{name} must be greater than or equal to {minimum}")
        if maximum is not None and value > maximum:
            raise bad_request(f"{name} must be less than or equal to {maximum}")
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.raw(name)
        if raw is None or raw == "":
            return None
        low = raw.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise bad_request(f"Expected boolean for {name}, got {raw!r}")

    def enum(self, name: str, choices: Sequence[str], default: str) -> str:
        raw = self.raw(name)
        if raw is None or raw == "":
            return default
        if raw not in choices:
            raise bad_request(f"{name} must be one of: {', '.join(choices)}")
        return raw

    def text(self, name: str, required: bool = False) -> str | None:
        raw = self.raw(name)
        if (raw is None or raw == "") and required:
            raise bad_request(f"Missing required parameter: {name}")
        return raw

    def items(self, name: str) -> list[str]:
        return [
            part.strip()
            for value in self.values.get(name, [])
            for part in value.split(",")
            if part.strip()
        ]

    def enum_list(self, name: str, choices: Sequence[str]) -> list[str]:
        items = self.items(name)
        for item in items:
            if item not in choices:
                raise bad_request(f"{name} must be a list of: {', '.join(choices)}")
        return items

    def int_list(self, name: str, max_items: int) -> list[int]:
        items = self.items(name)
        if not items:
            raise bad_request(f"Missing required parameter: {name}")
        if len(items) > max_items:
            raise bad_request(f"{name} may hold at most {max_items} ids")
        try:
            ids = [int(i) for i in items]
        except ValueError:
            raise bad_request(f"{name} must be a comma-separated list of integers") from None
        if any(i < 1 for i in ids):
            raise bad_request(f"{name} must hold positive integers")
        return ids


async def form_params(request: Request, allowed: frozenset[str]) -> Params:
    """A form (urlencoded or multipart) body; a JSON object body is accepted as well."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        body = await json_body(request)
        if not isinstance(body, dict):
            raise bad_request("Request body must be an object")
        return Params({k: [_form_text(v)] for k, v in body.items()}, allowed)
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        try:
            form = await request.form()
        except Exception:  # malformed multipart or urlencoded body
            raise bad_request("Request body is not a valid form") from None
        grouped: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            grouped.setdefault(key, []).append(value if isinstance(value, str) else "")
        return Params(grouped, allowed)
    raise bad_request(f"Unsupported content type {ctype!r}: send application/x-www-form-urlencoded")


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request body is not valid JSON") from None


def path_id(request: Request, name: str) -> int:
    raw = request.path_params[name]
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Expected int for {name}, got {raw!r}") from None
    if value < 1:
        raise bad_request(f"{name} must be a positive integer")
    return value
