"""Etsy webhooks (pure, no I/O): Standard Webhooks signatures and Etsy's thin event payload.

A delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(space-separated `v1,<base64 HMAC-SHA256>` entries, one per secret the sender signs with) over
`{id}.{timestamp}.{raw body}`, keyed by the base64 bytes after `whsec_`. The signature is checked
in constant time over the raw bytes before the body is parsed at all; the payload is
`{"event_type", "resource_url", "shop_id"}`, a hint to read the receipt again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

EVENTS = ("order.paid", "order.canceled", "order.shipped", "order.delivered")
PREFIX = "whsec_"
TOLERANCE_SECONDS = 300
MAX_ID_LENGTH = 255
_RECEIPT = re.compile(r"/shops/(\d+)/receipts/(\d+)/?(?:\?.*)?$")


class WebhookRefused(Exception):
    """A delivery that changes nothing; `reason` is what it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Event:
    event_type: str
    shop_id: str
    receipt_id: str | None


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (a bare base64 secret is accepted too)."""
    body = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValueError("a webhook secret holds at least 16 bytes")
    return key


def check_secret(secret: str) -> str:
    """The secret as given, when it is one (else ValueError saying why, without the value)."""
    secret = secret.strip()
    secret_bytes(secret)
    return secret


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery."""
    mac = hmac.new(secret_bytes(secret), f"{webhook_id}.{timestamp}.".encode() + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    secrets: tuple[str, ...],
    webhook_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise WebhookRefused unless one `v1` signature matches one of `secrets` and the
    timestamp is within `tolerance` of `now`. Every candidate is compared (constant time)."""
    if not webhook_id or not timestamp or not signature:
        raise WebhookRefused("unsigned", "webhook-id, webhook-timestamp and webhook-signature "
                                         "are required")
    if len(webhook_id) > MAX_ID_LENGTH or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused("malformed", "webhook-id or webhook-timestamp is malformed")
    if not secrets:
        raise WebhookRefused("no_secret", "no webhook secret is set for this shop")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    given = []
    for entry in signature.split(" ")[:10]:
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            try:
                given.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
    matched = False
    for secret in secrets:
        try:
            expected = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
        except ValueError:
            continue
        for candidate in given:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookRefused("signature", "no valid signature")
    if abs(now - int(timestamp)) > tolerance:
        raise WebhookRefused("stale", "webhook-timestamp is outside the tolerance window")


def parse(body: bytes) -> Event:
    """The event of a verified body (WebhookRefused 'malformed' for anything else)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused("malformed", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookRefused("malformed", "the body is not a JSON object")
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or event_type.lower() not in EVENTS:
        raise WebhookRefused("malformed", "unknown event_type")
    shop_id = payload.get("shop_id")
    if isinstance(shop_id, bool) or not isinstance(shop_id, int | str) \
            or not str(shop_id).isdigit():
        raise WebhookRefused("malformed", "shop_id is missing or not a number")
    url = payload.get("resource_url")
    receipt_id = None
    if url is not None:
        if not isinstance(url, str):
            raise WebhookRefused("malformed", "resource_url is not a string")
        found = _RECEIPT.search(url)
        if found is None or found.group(1) != str(shop_id):
            raise WebhookRefused("malformed", "resource_url is not a receipt of this shop")
        receipt_id = found.group(2)
    return Event(event_type.lower(), str(shop_id), receipt_id)
