"""WooSandboxConfig: everything that shapes one sandboxed WooCommerce site."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass
class WooSandboxConfig:
    """Settings of one sandboxed WordPress + WooCommerce site.

    `timezone` is the site's (WordPress `timezone_string`): every date the API shows without
    `_gmt` is in it, and the date filters compare it unless `dates_are_gmt=true`.
    `start_time` pins the virtual clock's start (Unix seconds); with it, the same seed yields
    the same site. `https`: the site is reached over TLS (Basic auth allowed); over plain HTTP
    only OAuth 1.0a one-legged signatures are accepted, as WooCommerce does.
    """

    seed: int = 7
    products: int = 40
    orders: int = 300
    customers: int | None = None  # default: a third of the orders
    guest_share: float = 0.3  # orders placed without an account
    timezone: str = "Europe/Berlin"
    currency: str = "EUR"
    decimals: int = 2
    tax_rate: str = "20.0000"  # one standard rate, percent
    history_days: int = 365
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    start_time: int | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    woocommerce_active: bool = True  # False: a WordPress site without WooCommerce
    nonce_window: int = 15 * 60  # OAuth timestamps older or newer than this are refused

    def key(self) -> str:
        return self.consumer_key or "ck_" + _derive(self.seed, "ck", 40)

    def secret(self) -> str:
        return self.consumer_secret or "cs_" + _derive(self.seed, "cs", 40)

    def read_key(self) -> str:
        return "ck_" + _derive(self.seed, "ck-read", 40)

    def read_secret(self) -> str:
        return "cs_" + _derive(self.seed, "cs-read", 40)


def _derive(seed: int, label: str, length: int) -> str:
    """A stable credential from the seed, so a restarted sandbox keeps its keys."""
    return hashlib.sha256(f"shopbridge-woo-sandbox:{label}:{seed}".encode()).hexdigest()[:length]
