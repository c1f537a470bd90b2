"""WooCommerce webhooks: the topics shopbridge registers, and the signature check (pure).

WooCommerce signs a delivery with base64(HMAC-SHA256(secret, raw body)) in
X-WC-Webhook-Signature; the check runs on the raw bytes, in constant time, before anything is
parsed. The creation ping carries no signature: a form body `webhook_id=<id>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

TOPICS = ("order.created", "order.updated", "order.deleted", "product.updated")
PING = re.compile(rb"^webhook_id=\d+$")


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())


def is_ping(body: bytes) -> bool:
    return bool(PING.match(body.strip()))
